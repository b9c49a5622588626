"""Throttling on demand: the emulator refuses work for capacity as DynamoDB does on a hot partition.

Neither moto nor DynamoDB Local ever throttles, so nothing else could show what a caller sees when
DynamoDB does. :func:`throttle` arms the next requests of an action to be refused (nothing done):
a ``TransactWriteItems`` cancelled with ``ThrottlingError``, any other action answered
``ProvisionedThroughputExceededException``. :func:`leave_unprocessed` arms batch reads to serve
only some of their keys and return the rest as ``UnprocessedKeys``. The emulator's request hook
(:mod:`devstack.emulator`) consults :func:`take` for every DynamoDB request, in server mode (the
local stack) and in-process alike; :func:`calm` disarms everything.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException, TransactionCanceledException
from moto.utilities.aws_headers import gen_amz_crc32

MESSAGE = ("Throughput exceeds the current capacity of your table or index. DynamoDB is automatically "
           "scaling your table or index so please try again shortly.")


@dataclass
class Fault:
    """The next ``times`` requests of ``action`` (that name ``touching`` somewhere, if given: a
    member's id, say, so that the stream consumer's requests pass by): refused (``serve`` None) or,
    for a batch read, served only their first ``serve`` keys."""

    action: str
    times: int
    serve: int | None = None
    touching: str | None = None

    @property
    def refuses(self) -> bool:
        """Whether the request is refused whole (else it is served in part)."""
        return self.serve is None


_LOCK = threading.Lock()
_FAULTS: list[Fault] = []


def throttle(action: str, times: int = 1, touching: str | None = None) -> None:
    """Refuse the next ``times`` requests of ``action`` for capacity. botocore retries a
    ``ProvisionedThroughputExceededException`` by itself: each of its attempts is one of the
    ``times`` (a transaction cancelled for throttling is not retried)."""
    with _LOCK:
        _FAULTS.append(Fault(action, times, touching=touching))


def leave_unprocessed(times: int = 1, serve: int = 1, touching: str | None = None) -> None:
    """Serve only the first ``serve`` keys of each of the next ``times`` ``BatchGetItem`` requests;
    the others come back as ``UnprocessedKeys``."""
    with _LOCK:
        _FAULTS.append(Fault("BatchGetItem", times, serve, touching))


def calm() -> int:
    """Disarm every fault; how many armed answers were left unused."""
    with _LOCK:
        left = sum(f.times for f in _FAULTS)
        _FAULTS.clear()
        return left


def take(action: str, params: dict[str, Any]) -> Fault | None:
    """The fault armed for this request of ``action`` with ``params`` (counted as used), or None."""
    with _LOCK:
        if not _FAULTS:
            return None
        text = json.dumps(params)
        for fault in _FAULTS:
            if fault.action == action and fault.times > 0 and (fault.touching is None or fault.touching in text):
                fault.times -= 1
                return fault
        return None


def refusal(handler: Any, action: str, params: dict[str, Any]) -> tuple[int, dict[str, Any], str]:
    """The answer DynamoDB gives a request it throttles: status, headers and body."""
    if action == "TransactWriteItems":
        items = params.get("TransactItems") or [None]
        error: DynamodbException = TransactionCanceledException(
            [("ThrottlingError", MESSAGE, None)] + [(None, None, None)] * (len(items) - 1))
    else:
        error = DynamodbException(ERROR_TYPE_PREFIX + "ProvisionedThroughputExceededException", MESSAGE)
    return error.code, {**handler.response_headers, **dict(error.get_headers()), "status": error.code}, error.get_body()


def unprocessed(backend: Any, params: dict[str, Any], headers: dict[str, Any], body: str, serve: int | None) -> str:
    """A batch read's reply with all but the first ``serve`` keys asked for moved to
    ``UnprocessedKeys`` (and ``headers``' checksum of it made again: botocore checks it)."""
    reply = json.loads(body)
    served, left_over = serve or 0, {}
    for name, asked in params.get("RequestItems", {}).items():
        table = backend.get_table(name)
        names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
        kept, left = asked["Keys"][:served], asked["Keys"][served:]
        served -= len(kept)
        reply.setdefault("Responses", {})[name] = [
            item for item in reply.get("Responses", {}).get(name, []) if {n: item[n] for n in names} in kept]
        if left:
            left_over[name] = {**asked, "Keys": left}
    reply["UnprocessedKeys"] = left_over
    served_body = json.dumps(reply)
    gen_amz_crc32(served_body, headers)
    return served_body
