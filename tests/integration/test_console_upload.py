"""`python -m infra.console_upload` against the emulator's S3: every file of a build under
console/ with its media type and cache lifetime, index.html naming the API and put last, and the
stack's outputs read when a stack is named (infra/console_upload.py; docs/engineers/deploy.md)."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from infra import console_upload

API = "https://abc123.execute-api.cn-north-1.amazonaws.com.cn/prod"
INDEX = """<!doctype html>
<html lang="zh-CN">
  <head>
    <meta name="loyalty-api" content="" />
    <script type="module" crossorigin src="/console/assets/index-B1x2y3z4.js"></script>
    <link rel="stylesheet" crossorigin href="/console/assets/index-C5d6e7f8.css">
  </head>
  <body><div id="app"></div></body>
</html>
"""


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(INDEX)
    (tmp_path / "assets" / "index-B1x2y3z4.js").write_text("console.log('app')")
    (tmp_path / "assets" / "index-C5d6e7f8.css").write_text("body{}")
    (tmp_path / "assets" / "MembersPage-D9e8f7a6.js").write_text("export{}")
    (tmp_path / "assets" / "logo-E1f2a3b4.svg").write_text("<svg/>")
    return tmp_path


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="cn-north-1")
        client.create_bucket(Bucket="loyalty-prod-console",
                             CreateBucketConfiguration={"LocationConstraint": "cn-north-1"})
        yield client


def test_each_file_gets_its_type_and_cache_and_index_names_the_api_last(s3, dist):
    put = console_upload.upload(s3, "loyalty-prod-console", dist, API + "/")
    assert [e["key"] for e in put][-1] == "console/index.html"        # never an index naming missing assets
    assert len(put) == 5
    expected = {
        "console/index.html": ("text/html; charset=utf-8", "no-cache"),
        "console/assets/index-B1x2y3z4.js": ("text/javascript", "public, max-age=31536000, immutable"),
        "console/assets/MembersPage-D9e8f7a6.js": ("text/javascript", "public, max-age=31536000, immutable"),
        "console/assets/index-C5d6e7f8.css": ("text/css", "public, max-age=31536000, immutable"),
        "console/assets/logo-E1f2a3b4.svg": ("image/svg+xml", "public, max-age=31536000, immutable"),
    }
    listed = {o["Key"] for o in s3.list_objects_v2(Bucket="loyalty-prod-console")["Contents"]}
    assert listed == set(expected)
    for key, (kind, cache) in expected.items():
        head = s3.head_object(Bucket="loyalty-prod-console", Key=key)
        assert (head["ContentType"], head["CacheControl"]) == (kind, cache), key
    index = s3.get_object(Bucket="loyalty-prod-console", Key="console/index.html")["Body"].read().decode()
    assert f'<meta name="loyalty-api" content="{API}" />' in index          # no trailing slash: paths follow
    assert index.replace(API, "") == INDEX                                 # nothing else changed
    js = s3.get_object(Bucket="loyalty-prod-console", Key="console/assets/index-B1x2y3z4.js")["Body"].read()
    assert js == b"console.log('app')"


def test_the_api_url_is_escaped_and_a_build_without_the_meta_element_is_refused(dist):
    assert b'content="https://x.test/a?b=1&amp;c=&quot;d"' in console_upload.with_api(
        INDEX.encode(), 'https://x.test/a?b=1&c="d')
    with pytest.raises(SystemExit, match="loyalty-api"):
        console_upload.with_api(b"<html><head></head></html>", API)


def test_a_missing_build_uploads_nothing(s3, tmp_path):
    with pytest.raises(SystemExit, match="make console"):
        console_upload.upload(s3, "loyalty-prod-console", tmp_path, API)
    assert s3.list_objects_v2(Bucket="loyalty-prod-console")["KeyCount"] == 0


def test_the_stacks_outputs_name_the_bucket_and_the_api(s3, dist, monkeypatch, capsys):
    outputs = {"ConsoleBucketName": "loyalty-prod-console", "ConsoleApiUrl": API}

    class Stacks:
        def describe_stacks(self, StackName):  # noqa: N803 - boto3's name
            assert StackName == "loyalty-prod"
            return {"Stacks": [{"Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()]}]}

    real = boto3.client
    monkeypatch.setattr(boto3, "client", lambda name, **kw: Stacks() if name == "cloudformation"
                        else real(name, region_name="cn-north-1", **kw))
    assert console_upload.main(["--stack", "loyalty-prod", "--dist", str(dist)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[-1] == "console/index.html\ttext/html; charset=utf-8\tno-cache"
    index = s3.get_object(Bucket="loyalty-prod-console", Key="console/index.html")["Body"].read().decode()
    assert API in index
    del outputs["ConsoleBucketName"]                                      # ConsoleHosting=off
    with pytest.raises(SystemExit, match="hosts no console"):
        console_upload.main(["--stack", "loyalty-prod", "--dist", str(dist)])
