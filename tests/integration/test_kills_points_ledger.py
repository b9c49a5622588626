"""Earning, one account's lots and the ledger mechanism at their edges, through the app on the
in-memory fake: orders of another store or another member, an order paid exactly at the edge of
the till clock's allowed drift, an order too small to earn, points earned into a return window
while in debt, what a refusal tells a cashier, and the lot trail every expiry posting records."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger.journal import Journal
from chalicelib.ledger.lots import take_soonest
from chalicelib.points import earning
from chalicelib.points.schemas import EarnForOrder
from chalicelib.shared import clock
from chalicelib.shared.credentials import mint_token
from chalicelib.shared.errors import Problem
from chalicelib.shared.principal import Principal
from tests.integration.conftest import AppClient
from tests.integration.test_points_features import T0, balanced, earn, rules


@pytest.fixture
def api(memory):
    yield AppClient()
    clock.freeze(None)


@pytest.fixture
def tills(api):
    """Store managers of stores s1 and s2 of merchant m1."""
    from chalicelib.merchants.tables import StoreItem
    UnitOfWork("test").put(StoreItem(*StoreItem.key("m1", "s2"), merchant_id="m1", store_id="s2", name="s2",
                                     created_at="2026-01-01"))
    tokens = {store: mint_token("staff", f"t-{store}", 60 * 24 * 400, role="store_manager", merchant_id="m1",
                                store_id=store) for store in ("s1", "s2")}

    def send(store, method, path, body=None):
        return api.call(method, path, body, token=tokens[store])
    return send


def postings(api, mid, point_type="points"):
    return api.ok("GET", f"/v1/members/{mid}/points/ledger?limit=50&point_type={point_type}")["postings"]


# --- earning ------------------------------------------------------------------------------------

def _till(store):
    return Principal("merchant", f"key-{store}", None, "m1", store, capabilities=("pos",))


def _key_earn(member_id, order_id, store):
    """An order's points taken by store ``store``'s till key, called as the route would."""
    uow = UnitOfWork(_till(store).ref, "corr-key")
    try:
        reply = earning.earn(member_id, EarnForOrder(order_id=order_id, amount_fen=10_000), _till(store), uow, None)
        uow.commit()
    except Problem as problem:
        return problem
    return reply


def test_an_order_of_another_store_does_not_exist_for_a_store_earning_on_it(api, tills):
    """Order P1 earned at store s1, order P2 paid with points at s1: store s2's till earning on
    either is told there is no such order (not that it earned already), and nothing is credited."""
    clock.freeze(T0)
    mid = api.member("13800160001")
    api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 50, "reason": "stock"})
    earn(api, mid, "P1", 10_000, store_id="s1")
    status, _ = tills("s1", "POST", f"/v1/members/{mid}/points/redeem",
                      {"points": 5, "order_id": "P2", "order_amount_fen": 10_000})
    assert status == 200
    before = balanced(mid)
    for order in ("P1", "P2"):
        refused = _key_earn(mid, order, "s2")
        assert isinstance(refused, Problem) and (refused.status, refused.slug) == (404, "not-found"), refused
    assert balanced(mid) == before
    assert api.ok("GET", "/v1/orders/P2?merchant_id=m1")["earned_at"] is None
    assert _key_earn(mid, "P2", "s1")["points"] == 99    # its own store's till earns on it (not on the 5 fen of points)


def test_an_order_earned_at_a_store_stays_that_stores(api, tills):
    clock.freeze(T0)
    mid = api.member("13800160002")
    earn(api, mid, "S1", 10_000, store_id="s1")                  # HQ books it to store s1
    status, order = tills("s1", "GET", "/v1/orders/S1")
    assert status == 200 and order["store_id"] == "s1"
    assert tills("s2", "GET", "/v1/orders/S1")[0] == 404


def test_an_order_another_member_spent_points_on_earns_nothing_for_this_one(api):
    clock.freeze(T0)
    spender, other = api.member("13800160003"), api.member("13800160004")
    api.ok("POST", f"/v1/members/{spender}/points/adjustments", {"points": 50, "reason": "stock"})
    api.ok("POST", f"/v1/members/{spender}/points/redeem", {"points": 20, "order_id": "M1", "merchant_id": "m1",
                                                            "order_amount_fen": 10_000})
    status, problem = api.call("POST", f"/v1/members/{other}/points/earn", {"order_id": "M1", "amount_fen": 10_000,
                                                                            "merchant_id": "m1"})
    assert status == 409 and problem["type"].endswith("/conflict") and "another member" in problem["detail"]
    assert (balanced(other)["available"], balanced(other, "growth")["available"]) == (0, 0)
    order = api.ok("GET", "/v1/orders/M1?merchant_id=m1")
    assert (order["member_id"], order["earned_at"], order["earned"]) == (spender, None, {})
    assert earn(api, spender, "M1", 10_000)["points"] == 99   # its own member earns on it (not on the 20 fen of points)


def test_an_order_paid_exactly_at_the_tills_allowed_drift_earns_and_a_millisecond_later_is_refused(api):
    clock.freeze(T0)
    mid = api.member("13800160005")
    edge = T0 + timedelta(seconds=300)
    assert earn(api, mid, "F1", 10_000, occurred_at=clock.iso(edge))["points"] == 100
    status, problem = api.call("POST", f"/v1/members/{mid}/points/earn", {
        "order_id": "F2", "amount_fen": 10_000, "merchant_id": "m1",
        "occurred_at": clock.iso(edge + timedelta(milliseconds=1))})
    assert status == 422 and "future" in problem["detail"]
    assert balanced(mid)["available"] == 100


def test_an_order_too_small_to_earn_posts_nothing_to_either_account(api):
    clock.freeze(T0)
    mid = api.member("13800160006")
    reply = earn(api, mid, "T1", 99)
    assert (reply["points"], reply["growth"]) == (0, 0)
    assert "posting_id" not in reply and "balance" not in reply
    assert postings(api, mid) == [] and postings(api, mid, "growth") == []
    assert api.ok("GET", "/v1/orders/T1?merchant_id=m1")["earned"] == {}
    assert (balanced(mid)["version"], balanced(mid, "growth")["version"]) == (0, 0)


# --- debt and pending points --------------------------------------------------------------------

def _one_point_owed(api, mid):
    earn(api, mid, "D1", 10_000)
    api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 100, "reward": "gift"})
    api.ok("POST", "/v1/orders/D1/refunds", {"refund_id": "r1", "amount_fen": 100, "merchant_id": "m1"})
    assert balanced(mid)["debt"] == 1


def test_points_earned_into_a_return_window_repay_a_debt_only_when_they_unlock(api):
    clock.freeze(T0)
    mid = api.member("13800160007")
    _one_point_owed(api, mid)
    rules(api, pending_days=7)
    reply = earn(api, mid, "P1", 10_000)
    assert reply["pending"] is True and reply["balance"] == -1
    account = balanced(mid)
    assert (account["pending"], account["available"], account["debt"]) == (100, 0, 1)
    (touched,) = postings(api, mid)[0]["lots"]
    assert (touched["delta"], touched["bucket"], "debt_repaid" in touched) == (100, "pending", False)
    clock.freeze(T0 + timedelta(days=7))
    assert api.run_job("points-expiry")["points_unlocked"] == 100
    account = balanced(mid)
    assert (account["pending"], account["available"], account["debt"]) == (0, 99, 0)


# --- what a refusal tells the cashier -----------------------------------------------------------

def test_a_refusal_says_how_many_points_are_spendable_and_owed(api):
    clock.freeze(T0)
    rich, owing = api.member("13800160008"), api.member("13800160009")
    api.ok("POST", f"/v1/members/{rich}/points/adjustments", {"points": 30, "reason": "stock"})
    status, problem = api.call("POST", f"/v1/members/{rich}/points/redeem", {"points": 31, "reward": "gift"})
    assert status == 409 and problem["type"].endswith("/insufficient-points")
    assert (problem["detail"], problem["available"]) == ("31 points needed, 30 spendable", 30)
    _one_point_owed(api, owing)
    status, problem = api.call("POST", f"/v1/members/{owing}/points/redeem", {"points": 1, "reward": "gift"})
    assert status == 409 and problem["type"].endswith("/insufficient-points")
    assert (problem["detail"], problem["available"]) == ("1 points needed, 0 spendable (1 owed)", 0)


# --- the lot trail of expiries ------------------------------------------------------------------

def test_an_expiry_posting_records_each_lot_leaving_as_expired(api):
    clock.freeze(T0)
    mid = api.member("13800160010")
    rules(api, expiry={"policy": "days", "days": 30})
    api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 10, "reason": "stock"})
    (lot,) = api.ok("GET", f"/v1/members/{mid}/points")["accounts"]["points"]["next_lots"]
    clock.freeze(T0 + timedelta(days=31))
    assert api.run_job("points-expiry")["points_expired"] == 10
    expiry = postings(api, mid)[0]
    assert (expiry["kind"], expiry["amount"]) == ("expire", 10)
    assert expiry["lots"] == [{"lot_id": "0000000001-01", "expires_on": lot["expires_on"], "delta": -10,
                               "bucket": "available", "expired": True}]
    assert balanced(mid)["expired"] == 10


def test_points_given_back_past_their_lots_last_day_are_recorded_as_returned_then_expired(api):
    clock.freeze(T0)
    mid = api.member("13800160011")
    rules(api, expiry={"policy": "days", "days": 30})
    api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 10, "reason": "stock"})
    spent = api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 10, "order_id": "X1", "merchant_id": "m1",
                                                                "order_amount_fen": 10_000})
    (lot,) = spent["lots"]
    clock.freeze(T0 + timedelta(days=40))
    reply = api.ok("POST", "/v1/orders/X1/refunds", {"refund_id": "r1", "amount_fen": 10_000, "merchant_id": "m1"})
    assert (reply["restored"], reply["restored_expired"]) == (10, 10)
    refund = postings(api, mid)[0]
    assert refund["lots"] == [
        {"lot_id": lot["lot_id"], "expires_on": lot["expires_on"], "delta": 10, "bucket": "available"},
        {"lot_id": lot["lot_id"], "expires_on": lot["expires_on"], "delta": -10, "bucket": "available",
         "expired": True}]
    assert (refund["available_delta"], balanced(mid)["expired"]) == (0, 10)


# --- the journal --------------------------------------------------------------------------------

def test_a_journal_line_of_a_negative_amount_is_refused_and_records_nothing():
    journal = Journal()
    with pytest.raises(ValueError, match="positive amount"):
        journal.move("member:principal", "cash_clearing", -1)
    assert journal.lines == []
    journal.move("member:principal", "cash_clearing", 0)
    assert journal.lines == []
    journal.move("member:principal", "cash_clearing", 1)
    assert journal.lines == [{"account": "member:principal", "fen": 1}, {"account": "cash_clearing", "fen": -1}]


# --- lot arithmetic -----------------------------------------------------------------------------

def test_a_plan_to_take_nothing_touches_no_lot_and_one_point_takes_from_the_first_lot_only():
    lots = [SimpleNamespace(lot_id="a", expires_on="2026-03-31", remaining=5),
            SimpleNamespace(lot_id="b", expires_on=None, remaining=5)]
    assert take_soonest(lots, 0) == []
    assert take_soonest(lots, 1) == [(lots[0], 1)]
    assert take_soonest(lots, 10) == [(lots[0], 5), (lots[1], 5)]
