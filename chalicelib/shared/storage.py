"""Objects in the reports bucket (exports): put, read, presign, delete, and write a large object
as a stream of parts (:meth:`Storage.open_writer`: an S3 multipart upload) that a job may carry on
across Lambda invocations.

S3 through boto3 (the emulator locally: ``AWS_ENDPOINT_URL``), or an in-memory store for the
tests that run on the in-memory or DynamoDB Local backends. Keys are the caller's; every
export lives under ``exports/`` (the bucket's lifecycle rule deletes them) and carries its
program in the key, so one program's export is never another's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from typing import Any, Protocol

from typing_extensions import override

from chalicelib.shared import clock
from chalicelib.shared.config import settings

PREFIX = "exports/"
MIB = 1024 * 1024
# A part is uploaded once this much is buffered; S3 refuses parts under 5 MiB but the last (its
# minimum is the store's ``min_part``), so a writer holds at most about PART_BYTES + one row.
PART_BYTES = 8 * MIB
S3_MIN_PART = 5 * MIB


@dataclass
class Upload:
    """Where a streamed object stands: its key, the store's upload id, the parts uploaded so far
    (``[part number, etag]``) and their bytes. Recorded by the caller after each part, so a later
    invocation resumes the upload with the next part (:meth:`Storage.open_writer`)."""

    key: str
    upload_id: str
    parts: list[list] = field(default_factory=list)
    size: int = 0

    def dump(self) -> dict:
        """What the caller records (JSON)."""
        return {"key": self.key, "upload_id": self.upload_id, "parts": self.parts, "size": self.size}

    @classmethod
    def load(cls, data: dict) -> Upload:
        """An upload as :meth:`dump` recorded it."""
        return cls(str(data["key"]), str(data["upload_id"]), [list(p) for p in data["parts"]], int(data["size"]))


class Writer:
    """Bytes streamed to one object in parts of :data:`PART_BYTES`: :meth:`write` buffers and
    uploads a part when the buffer is full (True: everything written so far is stored, record
    :attr:`upload` now), :meth:`close` uploads the rest and completes the object (its size),
    :meth:`abort` drops it. Memory: one part's buffer, whatever the object's size."""

    def __init__(self, store: Storage, upload: Upload, part_bytes: int) -> None:
        self.store, self.upload, self.part_bytes = store, upload, part_bytes
        self.buffer = bytearray()

    def write(self, data: bytes) -> bool:
        """Append ``data``; True when a part was uploaded (nothing is left buffered)."""
        self.buffer += data
        if len(self.buffer) < self.part_bytes:
            return False
        self.flush()
        return True

    def buffered(self) -> int:
        """Bytes written but not yet uploaded (lost if the invocation ends before the next part)."""
        return len(self.buffer)

    def flush(self) -> None:
        """Upload what is buffered as the next part (the caller makes sure it is big enough)."""
        if not self.buffer:
            return
        number = len(self.upload.parts) + 1
        etag = self.store.upload_part(self.upload, number, bytes(self.buffer))
        self.upload.parts.append([number, etag])
        self.upload.size += len(self.buffer)
        self.buffer = bytearray()

    def close(self) -> int:
        """Upload the last part and complete the object; its size in bytes."""
        self.flush()
        self.store.complete_upload(self.upload)
        return self.upload.size

    def abort(self) -> None:
        """Drop the upload and its parts."""
        self.buffer = bytearray()
        self.store.abort_upload(self.upload)


class Storage(Protocol):
    """Where exports are kept."""

    def put(self, key: str, body: bytes, content_type: str = "text/csv") -> None:
        """Store ``body`` at ``key`` (replacing what was there)."""

    def get(self, key: str) -> bytes | None:
        """The object at ``key``, or None."""

    def delete(self, key: str) -> None:
        """Delete the object at ``key`` (nothing if absent)."""

    def presign(self, key: str, seconds: int, filename: str | None = None) -> str:
        """A URL that fetches ``key`` without credentials for ``seconds`` (saved as ``filename``)."""

    def exists(self, key: str) -> bool:
        """Whether an object is stored at ``key`` (its data is not read)."""

    def start_upload(self, key: str, content_type: str) -> Upload:
        """Begin a streamed object at ``key``."""

    def upload_part(self, upload: Upload, number: int, body: bytes) -> str:
        """Store part ``number`` (again, if it was stored before: it replaces it); its etag."""

    def complete_upload(self, upload: Upload) -> None:
        """Make the parts one object."""

    def abort_upload(self, upload: Upload) -> None:
        """Drop an upload's parts."""

    def open_writer(self, key: str, content_type: str, resume: Upload | None = None,
                    part_bytes: int | None = None) -> Writer:
        """A :class:`Writer` to ``key``: a new upload, or ``resume`` carried on with its next part."""


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
    def presign(self, key: str, seconds: int, filename: str | None = None) -> str:
        params = {"Bucket": self.bucket, "Key": key}
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        return str(_s3().generate_presigned_url("get_object", Params=params, ExpiresIn=seconds))

    @override
    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError
        try:
            _s3().head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    @override
    def start_upload(self, key: str, content_type: str) -> Upload:
        reply = _s3().create_multipart_upload(Bucket=self.bucket, Key=key, ContentType=content_type,
                                              ServerSideEncryption="AES256")
        return Upload(key, str(reply["UploadId"]))

    @override
    def upload_part(self, upload: Upload, number: int, body: bytes) -> str:
        return str(_s3().upload_part(Bucket=self.bucket, Key=upload.key, UploadId=upload.upload_id,
                                     PartNumber=number, Body=body)["ETag"])

    @override
    def complete_upload(self, upload: Upload) -> None:
        _s3().complete_multipart_upload(
            Bucket=self.bucket, Key=upload.key, UploadId=upload.upload_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etag} for n, etag in upload.parts]})

    @override
    def abort_upload(self, upload: Upload) -> None:
        _s3().abort_multipart_upload(Bucket=self.bucket, Key=upload.key, UploadId=upload.upload_id)

    @override
    def open_writer(self, key: str, content_type: str, resume: Upload | None = None,
                    part_bytes: int | None = None) -> Writer:
        return Writer(self, resume or self.start_upload(key, content_type), max(S3_MIN_PART, part_bytes or PART_BYTES))


class MemoryStorage(Storage):
    """Objects in a dict; a presigned URL is ``memory://<key>?expires=<instant>``."""

    def __init__(self, min_part: int = S3_MIN_PART) -> None:
        self.objects: dict[str, bytes] = {}
        self.uploads: dict[str, dict[int, bytes]] = {}     # upload id -> parts (as S3 keeps them)
        self.min_part = min_part                            # S3's rule for every part but the last
        self.requests = 0                                   # parts, starts, completions (what S3 would bill)

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
    def presign(self, key: str, seconds: int, filename: str | None = None) -> str:
        return f"memory://{key}?expires={clock.iso(clock.now() + timedelta(seconds=seconds))}"

    @override
    def exists(self, key: str) -> bool:
        return key in self.objects

    @override
    def start_upload(self, key: str, content_type: str) -> Upload:
        self.requests += 1
        upload = Upload(key, f"mem-{len(self.uploads) + 1}")
        self.uploads[upload.upload_id] = {}
        return upload

    @override
    def upload_part(self, upload: Upload, number: int, body: bytes) -> str:
        self.requests += 1
        self.uploads[upload.upload_id][number] = bytes(body)
        return f'"{number}-{len(body)}"'

    @override
    def complete_upload(self, upload: Upload) -> None:
        self.requests += 1
        parts = self.uploads.pop(upload.upload_id)
        numbers = [n for n, _ in upload.parts]
        if numbers != list(range(1, len(numbers) + 1)) or any(n not in parts for n in numbers):
            raise ValueError("an upload completes with the parts it uploaded, numbered from 1")
        if any(len(parts[n]) < self.min_part for n in numbers[:-1]):
            raise ValueError(f"EntityTooSmall: every part but the last must be at least {self.min_part} bytes")
        self.objects[upload.key] = b"".join(parts[n] for n in numbers)

    @override
    def abort_upload(self, upload: Upload) -> None:
        self.uploads.pop(upload.upload_id, None)

    @override
    def open_writer(self, key: str, content_type: str, resume: Upload | None = None,
                    part_bytes: int | None = None) -> Writer:
        return Writer(self, resume or self.start_upload(key, content_type), max(self.min_part, part_bytes or PART_BYTES))


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
