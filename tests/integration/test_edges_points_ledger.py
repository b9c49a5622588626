"""Edges of one points account's lots and balances, through the app on every backend: a debt of
exactly one point repaid exactly, the ids of the lots a change creates, the spendable balance a
refusal reports, and give-backs into more than one lot whose last day has passed."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.db.uow import UnitOfWork
from chalicelib.points import repository as points_repository
from chalicelib.shared import clock
from tests.integration.test_edges_points import postings
from tests.integration.test_points_features import T0, balanced, earn, rules


def test_a_debt_of_exactly_one_point_is_repaid_by_exactly_one_point_leaving_no_empty_lot(api):
    clock.freeze(T0)
    mid = api.member("13800141001")
    earn(api, mid, "O1", 10_000)
    api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 100, "reward": "gift"})
    api.ok("POST", "/v1/orders/O1/refunds", {"refund_id": "r1", "amount_fen": 100, "merchant_id": "m1"})
    assert balanced(mid)["debt"] == 1
    assert earn(api, mid, "O2", 100)["points"] == 1
    account = balanced(mid)
    assert (account["available"], account["debt"], account["earned"]) == (0, 0, 101)
    assert list(points_repository.of(UnitOfWork()).live_lots(mid, "points")) == []
    (touched,) = postings(api, mid)[0]["lots"]
    assert (touched["delta"], touched["debt_repaid"]) == (0, 1)


def test_points_earned_with_no_debt_record_no_repayment_and_keep_a_one_point_lot(api):
    clock.freeze(T0)
    mid = api.member("13800141002")
    earn(api, mid, "O1", 100)
    (touched,) = postings(api, mid)[0]["lots"]
    assert touched == {"lot_id": "0000000001-01", "expires_on": touched["expires_on"], "delta": 1,
                       "bucket": "available"}
    (lot,) = points_repository.of(UnitOfWork()).live_lots(mid, "points")
    assert (lot.lot_id, int(lot.remaining), int(lot.original)) == ("0000000001-01", 1, 1)
    assert lot.earned_at == clock.iso(T0)


def test_a_refusal_reports_exactly_the_spendable_balance(api):
    clock.freeze(T0)
    mid = api.member("13800141003")
    api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 30, "reason": "stock"})
    status, problem = api.call("POST", f"/v1/members/{mid}/points/redeem", {"points": 31, "reward": "gift"})
    assert status == 409 and problem["available"] == 30
    api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 30, "reward": "gift"})
    assert balanced(mid)["available"] == 0


def test_points_given_back_to_two_lots_past_their_last_day_all_expire_at_once(api):
    clock.freeze(T0)
    mid = api.member("13800141004")
    rules(api, expiry={"policy": "days", "days": 30})
    api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 10, "reason": "first"})
    clock.freeze(T0 + timedelta(days=1))
    api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 10, "reason": "second"})
    api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 20, "order_id": "X1", "merchant_id": "m1",
                                                        "order_amount_fen": 10_000})
    clock.freeze(T0 + timedelta(days=40))
    reply = api.ok("POST", "/v1/orders/X1/refunds", {"refund_id": "r1", "amount_fen": 10_000, "merchant_id": "m1"})
    assert (reply["restored"], reply["restored_expired"]) == (20, 20)
    account = balanced(mid)
    assert (account["available"], account["expired"]) == (0, 20)


# --- earning: caps and the return window --------------------------------------------------------

def test_the_daily_cap_is_reached_exactly_without_being_explained_as_capped_then_earns_nothing(api):
    clock.freeze(T0)
    mid = api.member("13800141005")
    rules(api, caps={"per_day": 150})
    assert earn(api, mid, "C1", 10_000)["points"] == 100
    exact = earn(api, mid, "C2", 5_000)
    assert exact["points"] == 50 and not any("capped" in line for line in exact["explanation"])
    over = earn(api, mid, "C3", 100)
    assert over["points"] == 0 and "capped by day limit to 0" in over["explanation"]
    clock.freeze(T0 + timedelta(days=1))
    assert earn(api, mid, "C4", 100)["points"] == 1
    assert balanced(mid)["available"] == 151


def test_a_monthly_cap_alone_applies_across_days(api):
    clock.freeze(T0)
    mid = api.member("13800141006")
    rules(api, caps={"per_month": 120})
    assert earn(api, mid, "M1", 10_000)["points"] == 100
    clock.freeze(T0 + timedelta(days=1))
    capped = earn(api, mid, "M2", 10_000)
    assert capped["points"] == 20 and "capped by month limit to 20" in capped["explanation"]
    assert balanced(mid)["available"] == 120


def test_a_return_window_of_one_day_holds_points_until_the_next_day(api):
    clock.freeze(T0)
    mid = api.member("13800141007")
    rules(api, pending_days=1)
    assert earn(api, mid, "P1", 10_000)["pending"] is True
    assert api.run_job("points-expiry")["points_unlocked"] == 0
    clock.freeze(T0 + timedelta(days=1))
    assert api.run_job("points-expiry")["points_unlocked"] == 100
    assert balanced(mid)["available"] == 100
