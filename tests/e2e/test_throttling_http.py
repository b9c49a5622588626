"""DynamoDB throttling, over HTTP against the local stack's emulator made to throttle (#24 item 4):
the caller gets 503 over-capacity with Retry-After, never a 500, and nothing is changed, so the
same Idempotency-Key goes through later and posts once; every request answers by its deadline."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from chalicelib.api import contention
from chalicelib.points import service as points_service
from chalicelib.shared.config import settings
from chalicelib.shared.errors import ConcurrentUpdate
from devstack import throttling
from tests.e2e.conftest import fresh_phone


@pytest.fixture(autouse=True)
def calm():
    yield
    throttling.calm()


def _member(api) -> str:
    r = api.call("POST", "/v1/members", {"phone": fresh_phone()}, pos=True, key=fresh_phone())
    assert r.status_code == 201
    return r.json()["member_id"]


def _points(api, mid: str) -> dict:
    r = api.call("GET", f"/v1/members/{mid}/points", pos=True)
    assert r.status_code == 200
    return r.json()["accounts"]["points"]


def test_a_throttled_transaction_is_a_503_with_retry_after_that_changed_nothing(api, stack):
    mid = _member(api)
    stack.drain()                                     # the stream consumer's writes are done
    earn = {"order_id": f"{mid}-t1", "amount_fen": 10_000}
    throttling.throttle("TransactWriteItems", touching=mid)
    refused = api.call("POST", f"/v1/members/{mid}/points/earn", earn, pos=True, key=f"throttled-{mid}")
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "2"
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.json()["type"].endswith("/over-capacity") and throttling.calm() == 0
    assert _points(api, mid)["available"] == 0                                   # nothing written
    again = api.call("POST", f"/v1/members/{mid}/points/earn", earn, pos=True, key=f"throttled-{mid}")
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers   # no record was kept
    replayed = api.call("POST", f"/v1/members/{mid}/points/earn", earn, pos=True, key=f"throttled-{mid}")
    assert replayed.headers["Idempotent-Replayed"] == "true" and replayed.json() == again.json()
    assert _points(api, mid)["available"] == 100                                 # posted once


def test_a_batch_read_left_unprocessed_is_asked_again_then_answered_or_refused_with_503(api):
    mid = _member(api)
    api.call("POST", f"/v1/members/{mid}/points/earn", {"order_id": f"{mid}-u1", "amount_fen": 500}, pos=True,
             key=f"unprocessed-{mid}")
    throttling.leave_unprocessed(times=2, touching=mid)            # a few times: asked again, then served
    assert _points(api, mid)["available"] == 5 and throttling.calm() == 0
    throttling.leave_unprocessed(times=50, serve=0, touching=mid)  # every time: a bounded number of asks
    refused = api.call("GET", f"/v1/members/{mid}/points", pos=True)
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "2"
    assert refused.json()["type"].endswith("/over-capacity")
    assert 0 < throttling.calm() < 50


@contextmanager
def _budget(seconds: float) -> Iterator[None]:
    """Requests work to a deadline ``seconds`` after they start (REQUEST_BUDGET_SECONDS)."""
    before = os.environ.get("REQUEST_BUDGET_SECONDS")
    os.environ["REQUEST_BUDGET_SECONDS"] = str(seconds)
    settings.cache_clear()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("REQUEST_BUDGET_SECONDS", None)
        else:
            os.environ["REQUEST_BUDGET_SECONDS"] = before
        settings.cache_clear()


def test_a_request_that_keeps_losing_answers_503_at_its_deadline_not_after_its_whole_wait(api, monkeypatch):
    mid = _member(api)
    api.call("POST", f"/v1/members/{mid}/points/earn", {"order_id": f"{mid}-d1", "amount_fen": 10_000},
             pos=True, key=fresh_phone())

    def always_loses(*args, **kwargs):
        raise ConcurrentUpdate("the points account changed while the request ran; retry")

    monkeypatch.setattr(points_service, "redeem", always_loses)
    with _budget(1.0), contention.queued(f"default/{mid}"):       # another request holds the turn
        started = time.monotonic()
        busy = api.call("POST", f"/v1/members/{mid}/points/redeem", {"points": 1, "reward": "pin"},
                        pos=True, key=f"deadline-{mid}")
        took = time.monotonic() - started
    assert busy.status_code == 503 and busy.json()["type"].endswith("/busy") and busy.headers["Retry-After"] == "1"
    assert took < contention.WAIT_SECONDS / 4                     # the deadline, not the 20 s wait for a turn
