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


def _each_try_costs(monkeypatch, seconds: float):
    """The request works to a 20 s deadline, and each of its transactions costs ``seconds`` on
    the deadline's clock (as on a loaded machine); the staged clock."""
    from chalicelib.api import endpoint
    from chalicelib.db import backend
    from chalicelib.shared import deadline
    from tests.integration.conftest import StagedClock
    staged = StagedClock()
    monkeypatch.setattr(deadline, "time", staged)           # the deadline's only use of time: monotonic()
    monkeypatch.setattr(endpoint, "_seconds_to_work", lambda bp: 20.0)

    def slow(**_: Any) -> None:
        staged.ahead += seconds
    events = backend._connection().client.meta.events
    events.register_first("before-call.dynamodb.TransactWriteItems", slow)      # before the conflict answers
    return lambda: events.unregister("before-call.dynamodb.TransactWriteItems", slow)


def test_a_request_that_keeps_losing_races_stops_when_its_deadline_has_no_room_for_another_try(
        conflicts, monkeypatch):
    """Each try of the earn takes 8 s and loses its race: after the first, 12 s are left, room for
    another as slow; after the second, 4 s: no room for a third, so the request answers 503
    ``busy`` with ``Retry-After`` after two tries (a fixed count of 8 would have tried on past
    its deadline), and nothing is written. Sent again under the same key, it earns once."""
    from tests.integration.conftest import AppClient
    api = AppClient()
    mid = api.member("13800137002")
    conflicts.times = 100                                  # every try loses
    stop = _each_try_costs(monkeypatch, 8.0)
    try:
        r = api.client.http.post(f"/v1/members/{mid}/points/earn", headers={
            "Authorization": f"Bearer {api.token}", "Content-Type": "application/json", "Idempotency-Key": "tc-room"},
            body=json.dumps({"order_id": "tc2", "amount_fen": 10_000, "merchant_id": "m1"}))
    finally:
        stop()
    assert r.status_code == 503 and r.headers["Retry-After"] == "1", (r.status_code, r.body)
    assert json.loads(r.body)["type"].endswith("/busy") and conflicts.sent == 2
    assert api.ok("GET", f"/v1/members/{mid}/points")["accounts"]["points"]["available"] == 0
    conflicts.times = conflicts.sent                       # the race is over
    reply = api.ok("POST", f"/v1/members/{mid}/points/earn", {"order_id": "tc2", "amount_fen": 10_000,
                                                               "merchant_id": "m1"}, key="tc-room")
    assert reply["points"] == 100


def test_a_request_that_keeps_losing_races_tries_again_while_its_deadline_has_room(conflicts, monkeypatch):
    """Quick tries are not counted out: twelve lost races (more than the eight a fixed count
    allowed) and the thirteenth try earns, once."""
    from tests.integration.conftest import AppClient
    api = AppClient()
    mid = api.member("13800137003")
    conflicts.times = 12
    stop = _each_try_costs(monkeypatch, 0.1)
    try:
        reply = api.ok("POST", f"/v1/members/{mid}/points/earn", {"order_id": "tc3", "amount_fen": 10_000,
                                                                   "merchant_id": "m1"})
    finally:
        stop()
    assert reply["points"] == 100 and conflicts.sent == 12
    assert api.ok("GET", f"/v1/members/{mid}/points")["accounts"]["points"]["version"] == 1
