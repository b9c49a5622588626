"""DynamoDB's item reads answered without moto's shape-walking serializer (patch 8 of :mod:`devstack.emulator`).

moto 5.2 serializes every reply by walking botocore's shape of the operation for every attribute of
every item: a page of 500 postings took about a second of the emulator's one lock, so reading a
day of 1,000,000 postings (the export benchmark) took an hour, and every query of the test suite
paid the same per item. An item read's reply is plain JSON of what moto already holds (its
attribute values are strings, booleans, lists and maps; binary values are bytes, sent in base64),
so ``Query``, ``Scan``, ``GetItem`` and ``BatchGetItem`` replies are written with ``json.dumps``;
errors and every other operation keep moto's serializer. ``tests/integration/test_emulator.py``
compares the two on every attribute type; ``DEVSTACK_COMPARE_REPLIES=1`` compares them on every
reply of a run (a check for a moto upgrade).
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from moto.dynamodb.responses import DynamoHandler, DynamoResult

ITEM_READS = {"Query", "Scan", "GetItem", "BatchGetItem"}
_MOTO_SERIALIZED = DynamoHandler.serialized


def _binary(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    raise TypeError(f"not JSON: {type(value).__name__}")


def _plain(handler: DynamoHandler, result: DynamoResult) -> tuple[int, dict[str, Any], str]:
    headers: dict[str, Any] = {"Content-Type": "application/x-amz-json-1.0"}
    headers.update(handler.response_headers)
    return 200, headers, json.dumps(result.result, default=_binary)


def serialized(self: DynamoHandler, action_result: Any) -> Any:
    """moto's ``serialized``, but plain JSON for an item read's reply."""
    if not isinstance(action_result, DynamoResult) or self._get_action() not in ITEM_READS:
        return _MOTO_SERIALIZED(self, action_result)
    reply = _plain(self, action_result)
    if os.environ.get("DEVSTACK_COMPARE_REPLIES"):
        moto = _MOTO_SERIALIZED(self, action_result)
        if json.loads(moto[2]) != json.loads(reply[2]):
            raise AssertionError(f"{self._get_action()}: {moto[2][:500]} != {reply[2][:500]}")
    return reply


def install() -> None:
    """Answer item reads in plain JSON."""
    DynamoHandler.serialized = serialized  # type: ignore[method-assign]
