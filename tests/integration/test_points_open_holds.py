"""The points account names its open holds (``open_holds``: hold id -> expires_at), so a read of a
member's points finds the holds past their time by key, without reading every hold the member
ever had: before, every read of an account holding points (getPointsAccount, a quote, the members
list, a spend on an order) queried all its holds, settled ones included, and its cost grew with
the member's checkout history. An account from before (holds open, none named) reads its holds
as before until nothing is held. The reconciliation checks the names against the holds. Through
the app on every backend; figures by hand."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from chalicelib.db.uow import UnitOfWork
from chalicelib.points import reconcile
from chalicelib.points.repository import PointsRepository
from chalicelib.points.tables import AccountItem
from chalicelib.shared import clock
from tests.integration.test_points_features import T0, balanced
from tests.integration.test_points_hold_orders import HOLDS, stocked


def _account(mid: str) -> AccountItem:
    return UnitOfWork("test").get(AccountItem, AccountItem.key(mid, "points"), consistent=True)


def points(api, mid):
    return api.ok("GET", f"/v1/members/{mid}/points")["accounts"]["points"]


@pytest.fixture
def no_hold_history(monkeypatch):
    """Every read of all of an account's holds counted (the reconciliation's own reads aside)."""
    reads = []
    original = PointsRepository.holds

    def counted(self, member_id, point_type):
        reads.append(member_id)
        return original(self, member_id, point_type)
    monkeypatch.setattr(PointsRepository, "holds", counted)
    return reads


def test_reads_of_an_account_with_a_long_hold_history_read_no_hold_but_the_one_past_its_time(api, no_hold_history):
    clock.freeze(T0)
    mid = stocked(api, "13800501001", 1_000)
    for i in range(12):                                   # a history: six confirmed, six cancelled
        h = api.ok("POST", HOLDS.format(mid), {"points": 10, "ttl_seconds": 60})
        api.ok("POST", f"{HOLDS.format(mid)}/{h['hold_id']}/{'confirm' if i % 2 else 'cancel'}", {})
    assert json.loads(_account(mid).open_holds) == {}
    short = api.ok("POST", HOLDS.format(mid), {"points": 100, "ttl_seconds": 60})
    long = api.ok("POST", HOLDS.format(mid), {"points": 50, "ttl_seconds": 3_600})
    assert set(json.loads(_account(mid).open_holds)) == {short["hold_id"], long["hold_id"]}
    del no_hold_history[:]
    now = points(api, mid)
    assert (now["available"], now["held"], now["balance"]) == (790, 150, 790)   # 1,000 - 60 spent - 150 held
    clock.freeze(T0 + timedelta(minutes=5))               # the short one is past its time; no job has run
    now = points(api, mid)
    assert (now["available"], now["held"], now["balance"]) == (890, 50, 890)     # its 100 back at once
    assert no_hold_history == []                          # neither read went through the hold history
    spent = api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 890, "reward": "all"})
    assert spent["balance"] == 0                          # the lapsed hold was given back to spend it
    assert json.loads(_account(mid).open_holds) == {long["hold_id"]: long["expires_at"]}
    assert no_hold_history == []
    assert balanced(mid)["held"] == 50


def test_an_account_from_before_reads_its_holds_until_nothing_is_held_then_names_them(api, no_hold_history):
    clock.freeze(T0)
    mid = stocked(api, "13800501002", 1_000)
    old = api.ok("POST", HOLDS.format(mid), {"points": 100, "ttl_seconds": 60})
    uow = UnitOfWork("test")                               # as written before accounts named their holds
    item = uow.get(AccountItem, AccountItem.key(mid, "points"), consistent=True)
    item.open_holds = None
    uow.save(item)
    uow.commit()
    newer = api.ok("POST", HOLDS.format(mid), {"points": 30, "ttl_seconds": 3_600})
    assert _account(mid).open_holds is None               # not named: one from before may be open
    clock.freeze(T0 + timedelta(minutes=5))
    assert (points(api, mid)["available"], points(api, mid)["held"]) == (970, 30)   # 1,000 - 30: the old one lapsed
    assert no_hold_history                                  # by reading the holds
    api.ok("POST", f"{HOLDS.format(mid)}/{old['hold_id']}/cancel", {})
    api.ok("POST", f"{HOLDS.format(mid)}/{newer['hold_id']}/confirm", {})
    assert _account(mid).open_holds is None and balanced(mid)["held"] == 0
    again = api.ok("POST", HOLDS.format(mid), {"points": 20, "ttl_seconds": 60})
    assert json.loads(_account(mid).open_holds) == {again["hold_id"]: again["expires_at"]}
    del no_hold_history[:]
    assert points(api, mid)["held"] == 20 and no_hold_history == []


def test_the_reconciliation_checks_the_holds_the_account_names(api):
    clock.freeze(T0)
    mid = stocked(api, "13800501003", 1_000)
    h = api.ok("POST", HOLDS.format(mid), {"points": 100, "ttl_seconds": 60})
    assert balanced(mid)["held"] == 100
    uow = UnitOfWork("test")
    item = uow.get(AccountItem, AccountItem.key(mid, "points"), consistent=True)
    item.open_holds = json.dumps({h["hold_id"]: h["expires_at"], "NOSUCHHOLD": h["expires_at"]})
    uow.save(item)
    uow.commit()
    result = reconcile.account(UnitOfWork(), mid, "points")
    assert not result["balanced"] and not result["checks"]["the account names its open holds"]
