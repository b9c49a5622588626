"""Idempotent transactions, as DynamoDB makes them (patch 9 of :mod:`devstack.emulator`).

A ``TransactWriteItems`` call may carry a ``ClientRequestToken``. DynamoDB remembers a token for
10 minutes after the call that first used it completed: the same token with the same request again
succeeds without applying anything (botocore's retry of a transaction whose answer was lost); the
same token with any other request is refused with ``IdempotentParameterMismatchException``; after
the 10 minutes the token is new again. moto ignores the token and applies every repeat, so a retry
of an applied transaction failed its own conditions, which AWS would not do.

Only a call that succeeded is remembered: a cancelled one changed nothing, and its repeat is
evaluated afresh. Every DynamoDB request runs under the emulator's one lock, so no two calls with
one token are ever in progress at once (DynamoDB's ``TransactionInProgressException``).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from typing import Any

from moto.core.responses import ActionResult
from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
from moto.dynamodb.responses import DynamoHandler

WINDOW_SECONDS = 600.0
# token -> (digest of the request, when the token lapses), oldest first
_SEEN: OrderedDict[str, tuple[str, float]] = OrderedDict()
_now = time.monotonic                   # tests move it
_installed = False


class IdempotentParameterMismatch(DynamodbException):
    """The token was used within 10 minutes for another request."""

    error_type = ERROR_TYPE_PREFIX + "IdempotentParameterMismatchException"

    def __init__(self) -> None:
        super().__init__(self.error_type, "The request uses the same client token as a previous, but "
                                          "non-identical request. Do not reuse a client token with different "
                                          "requests, unless the requests are identical.")


def _digest(body: dict[str, Any]) -> str:
    request = {k: v for k, v in body.items() if k != "ClientRequestToken"}
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()


def _forget_lapsed(now: float) -> None:
    while _SEEN:
        token, (_, lapses) = next(iter(_SEEN.items()))
        if lapses > now:
            return
        del _SEEN[token]


def forget() -> None:
    """Forget every token (a test's fresh tables)."""
    _SEEN.clear()


def install() -> None:
    """Make ``TransactWriteItems`` honour its ``ClientRequestToken`` (idempotent)."""
    global _installed
    if _installed:
        return
    original = DynamoHandler.transact_write_items

    def transact_write_items(self: DynamoHandler) -> ActionResult:
        token = self.body.get("ClientRequestToken")
        if not token:
            return original(self)
        digest, now = _digest(self.body), _now()
        _forget_lapsed(now)
        seen = _SEEN.get(token)
        if seen is not None:
            if seen[0] != digest:
                raise IdempotentParameterMismatch()
            return ActionResult({"ConsumedCapacity": [], "ItemCollectionMetrics": {}})
        result = original(self)
        _SEEN.pop(token, None)
        _SEEN[token] = (digest, _now() + WINDOW_SECONDS)
        return result
    DynamoHandler.transact_write_items = transact_write_items  # type: ignore[method-assign]
    _installed = True
