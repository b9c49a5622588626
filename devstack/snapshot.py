"""Local data that survives a restart: DynamoDB items and S3 objects written to a folder.

moto keeps everything in memory. On start the stack loads the folder; while it runs it writes a
snapshot whenever data changed (and on a clean stop), atomically, one JSON-lines file per table.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from moto.dynamodb.models import dynamodb_backends

from devstack import emulator

ACCOUNT = "123456789012"


def backend(region: str):
    """The emulator's DynamoDB (in this process)."""
    return dynamodb_backends[ACCOUNT][region]


def wire(value: Any) -> str:
    """A binary value where the emulator kept it as bytes (in a list, a map or a set): as the wire
    carries it, base64 (what the emulator keeps when it is sent so, and answers as it should)."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def save(folder: Path, region: str, tables: list[str], s3_client: Any = None, buckets: list[str] = ()) -> int:
    """Write every item of ``tables`` (and objects of ``buckets``); returns the item count."""
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    with emulator.LOCK:
        dumps = {}
        for name in tables:
            table = backend(region).get_table(name)
            dumps[name] = [json.dumps(item.to_json()["Attributes"], separators=(",", ":"), default=wire)
                           for item in table.all_items()]
    for name, lines in dumps.items():
        tmp = folder / f".{name}.jsonl.tmp"
        tmp.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
        os.replace(tmp, folder / f"{name}.jsonl")
        count += len(lines)
    for bucket in buckets:
        target = folder / "s3" / bucket
        paginator = s3_client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                path = target / obj["Key"]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(s3_client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
    return count


def load(folder: Path, region: str, tables: list[str], s3_client: Any = None, buckets: list[str] = ()) -> int:
    """Put saved items back, without producing stream records for them."""
    count = 0
    with emulator.LOCK:
        for name in tables:
            path = folder / f"{name}.jsonl"
            if not path.exists():
                continue
            table = backend(region).get_table(name)
            shard = table.stream_shard
            with path.open(encoding="utf-8") as lines:
                for line in lines:
                    if line.strip():
                        backend(region).put_item(name, json.loads(line))
                        count += 1
            if shard is not None:
                shard.items.clear()   # restored data is not news: the pump must not redeliver it
            emulator.forget_indexes(name)
    for bucket in buckets:
        source = folder / "s3" / bucket
        if source.exists():
            for path in source.rglob("*"):
                if path.is_file():
                    s3_client.put_object(Bucket=bucket, Key=str(path.relative_to(source)), Body=path.read_bytes())
    return count
