"""``TransactionConflict`` (issue #10 item 11): neither emulator produces it, so it is injected at
the botocore layer, under PynamoDB, exactly as DynamoDB sends it: a ``TransactionCanceledException``
whose cancellation reasons name a conflict. The code that handles it must turn it into a retry."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.db.audit import AuditItem
from chalicelib.db.uow import UnitOfWork
from chalicelib.shared.errors import ConcurrentUpdate


class _Http:
    status_code = 400
    headers: dict[str, str] = {}


class Conflicts:
    """A botocore ``before-call`` handler answering the next ``times`` TransactWriteItems calls with a
    conflict (and letting every other call through to the emulator)."""

    def __init__(self, times: int) -> None:
        self.times, self.sent = times, 0

    def __call__(self, params: Any = None, **_: Any) -> Any:
        if self.sent >= self.times:
            return None
        self.sent += 1
        items = len(json.loads(params["body"])["TransactItems"])
        reasons = [{"Code": "None"}] * (items - 1) + [{"Code": "TransactionConflict",
                                                       "Message": "Transaction is ongoing for the item"}]
        return _Http(), {"Error": {"Code": "TransactionCanceledException",
                                   "Message": "Transaction cancelled, please refer cancellation reasons for "
                                              "specific reasons [None, TransactionConflict]"},
                         "CancellationReasons": reasons, "ResponseMetadata": {"HTTPStatusCode": 400}}


def _two_items(n: int) -> UnitOfWork:
    uow = UnitOfWork("test")
    for i in range(2):
        uow.create(AuditItem(*AuditItem.key(f"m{n}", "2026-01-01", str(i)), actor="t", action="a", detail="d",
                             at="2026-01-01"))
    return uow


def test_a_transaction_conflict_becomes_a_retryable_concurrent_update(conflicts):
    conflicts.times = 1
    with pytest.raises(ConcurrentUpdate):
        _two_items(1).commit()
    assert conflicts.sent == 1
    assert list(UnitOfWork().query(AuditItem, "AUDIT#m1")) == []              # nothing was written
    _two_items(1).commit()                                                    # the retry goes through
    assert len(list(UnitOfWork().query(AuditItem, "AUDIT#m1"))) == 2


def test_the_api_retries_a_conflicted_request_and_answers_once(conflicts):
    from tests.integration.conftest import AppClient
    api = AppClient()                                     # on moto only: the conflict comes through botocore
    mid = api.member("13800137001")
    conflicts.times = 2                                   # the earn's transaction conflicts twice
    reply = api.ok("POST", f"/v1/members/{mid}/points/earn", {"order_id": "tc1", "amount_fen": 10_000,
                                                               "merchant_id": "m1"})
    assert reply["points"] == 100 and conflicts.sent == 2
    account = api.ok("GET", f"/v1/members/{mid}/points")["accounts"]["points"]
    assert account["available"] == 100 and account["version"] == 1
