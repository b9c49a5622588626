"""Upload the built console to a deployed stack's bucket (docs/engineers/deploy.md).

``python -m infra.console_upload --stack loyalty-prod`` reads the stack's outputs (the bucket,
``ConsoleBucketName``, and where the console's calls go, ``ConsoleApiUrl``) and puts every file of
``console/dist`` under ``console/`` with its media type and cache lifetime
(:func:`infra.console.content_type`, :func:`infra.console.cache_control`): hashed assets kept a
year, ``index.html`` revalidated every time. ``index.html`` is written with the API's URL in its
``loyalty-api`` meta element (the console reads it: ``console/src/api/session.ts``) and last, so a
browser never loads an ``index.html`` naming assets not yet there. Earlier builds' assets are left
in place: a tab opened before the upload still loads the chunks its ``index.html`` named.
``--bucket`` and ``--api-url`` instead of ``--stack`` upload anywhere (the tests use the emulator's S3).
"""

from __future__ import annotations

import argparse
import html
import re
import sys
from pathlib import Path
from typing import Any

from infra import console

ROOT = Path(__file__).resolve().parent.parent
META = re.compile(r'(<meta name="loyalty-api" content=")[^"]*(")')


def with_api(index: bytes, api_url: str) -> bytes:
    """``index.html`` with the API's URL in its ``loyalty-api`` meta element (which the build
    leaves empty: the console then calls its own origin, as locally)."""
    text = index.decode()
    if not META.search(text):
        raise SystemExit("index.html has no <meta name=\"loyalty-api\"> to name the API in: rebuild the console")
    value = html.escape(api_url.rstrip("/"), quote=True)
    return META.sub(lambda m: m.group(1) + value + m.group(2), text, count=1).encode()


def files(dist: Path) -> list[Path]:
    """The build's files in upload order: ``index.html`` last."""
    found = sorted(p for p in dist.rglob("*") if p.is_file())
    return sorted(found, key=lambda p: p.relative_to(dist).as_posix() == "index.html")


def upload(s3: Any, bucket: str, dist: Path, api_url: str) -> list[dict[str, str]]:  # noqa: ANN401 - a boto3 client
    """Put the build in ``bucket``; returns what was put (key, type, cache), in order."""
    if not (dist / "index.html").is_file():
        raise SystemExit(f"{dist}/index.html is missing: build the console first (make console)")
    put = []
    for path in files(dist):
        relative = path.relative_to(dist).as_posix()
        body = path.read_bytes()
        if relative == "index.html":
            body = with_api(body, api_url)
        entry = {"key": f"{console.PREFIX}/{relative}", "type": console.content_type(path.name),
                 "cache": console.cache_control(relative)}
        s3.put_object(Bucket=bucket, Key=entry["key"], Body=body, ContentType=entry["type"],
                      CacheControl=entry["cache"])
        put.append(entry)
    return put


def stack_outputs(cloudformation: Any, stack: str) -> dict[str, str]:  # noqa: ANN401 - a boto3 client
    """A stack's outputs by key."""
    found = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    return {o["OutputKey"]: o["OutputValue"] for o in found}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="infra.console_upload")
    parser.add_argument("--stack", help="the deployed stack (its ConsoleBucketName and ConsoleApiUrl outputs)")
    parser.add_argument("--bucket", help="the bucket, in place of the stack's")
    parser.add_argument("--api-url", help="the API's URL with its stage, in place of the stack's")
    parser.add_argument("--dist", type=Path, default=ROOT / "console" / "dist")
    args = parser.parse_args(argv)
    import boto3
    bucket, api_url = args.bucket, args.api_url
    if args.stack:
        outputs = stack_outputs(boto3.client("cloudformation"), args.stack)
        if "ConsoleBucketName" not in outputs:
            raise SystemExit(f"{args.stack} hosts no console (ConsoleHosting=off)")
        bucket, api_url = bucket or outputs["ConsoleBucketName"], api_url or outputs["ConsoleApiUrl"]
    if not bucket or not api_url:
        parser.error("give --stack, or --bucket and --api-url")
    for entry in upload(boto3.client("s3"), bucket, args.dist, api_url):
        print(entry["key"], entry["type"], entry["cache"], sep="\t")
    return 0


if __name__ == "__main__":
    sys.exit(main())
