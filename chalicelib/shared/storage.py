"""Objects in the reports bucket (exports): put, read, presign, delete.

S3 through boto3 (the emulator locally: ``AWS_ENDPOINT_URL``), or an in-memory store for the
tests that run on the in-memory or DynamoDB Local backends. Keys are the caller's; every
export lives under ``exports/`` (the bucket's lifecycle rule deletes them) and carries its
program in the key, so one program's export is never another's.
"""

from __future__ import annotations

import os
from datetime import timedelta
from functools import lru_cache
from typing import Any, Protocol

from typing_extensions import override

from chalicelib.shared import clock
from chalicelib.shared.config import settings

PREFIX = "exports/"


class Storage(Protocol):
    """Where exports are kept."""

    def put(self, key: str, body: bytes, content_type: str = "text/csv") -> None:
        """Store ``body`` at ``key`` (replacing what was there)."""

    def get(self, key: str) -> bytes | None:
        """The object at ``key``, or None."""

    def delete(self, key: str) -> None:
        """Delete the object at ``key`` (nothing if absent)."""

    def presign(self, key: str, seconds: int) -> str:
        """A URL that fetches ``key`` without credentials for ``seconds``."""


@lru_cache(maxsize=1)
def _s3() -> Any:
    import boto3
    from botocore.config import Config

    from chalicelib.shared import aws
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    return boto3.client("s3", region_name=settings().region, endpoint_url=endpoint,
                        config=aws.config().merge(Config(s3={"addressing_style": "path"} if endpoint else {},
                                                         signature_version="s3v4")))


class S3Storage(Storage):
    """The stage's reports bucket."""

    def __init__(self, bucket: str | None = None) -> None:
        self.bucket = bucket or settings().reports_bucket

    @override
    def put(self, key: str, body: bytes, content_type: str = "text/csv") -> None:
        _s3().put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type,
                         ServerSideEncryption="AES256")

    @override
    def get(self, key: str) -> bytes | None:
        try:
            return bytes(_s3().get_object(Bucket=self.bucket, Key=key)["Body"].read())
        except _s3().exceptions.NoSuchKey:
            return None

    @override
    def delete(self, key: str) -> None:
        _s3().delete_object(Bucket=self.bucket, Key=key)

    @override
    def presign(self, key: str, seconds: int) -> str:
        return str(_s3().generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": key},
                                                ExpiresIn=seconds))


class MemoryStorage(Storage):
    """Objects in a dict; a presigned URL is ``memory://<key>?expires=<instant>``."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    @override
    def put(self, key: str, body: bytes, content_type: str = "text/csv") -> None:
        self.objects[key] = bytes(body)

    @override
    def get(self, key: str) -> bytes | None:
        return self.objects.get(key)

    @override
    def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    @override
    def presign(self, key: str, seconds: int) -> str:
        return f"memory://{key}?expires={clock.iso(clock.now() + timedelta(seconds=seconds))}"


_current: list[Storage] = []


def current() -> Storage:
    """The storage exports go to."""
    if not _current:
        _current.append(S3Storage())
    return _current[0]


def use(storage: Storage | None) -> Storage | None:
    """Send exports to ``storage`` (None: back to S3); the previous one."""
    previous = _current[0] if _current else None
    _current[:] = [storage] if storage is not None else []
    return previous
