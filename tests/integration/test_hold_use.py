"""A hold is a use of its order and of its checkout (attack E, findings 2 and 3), through the app on
every backend:

* a points hold whose order has been refunded so far that what is left may no longer be paid with
  what is spent and held on it is not confirmed (409 ``hold-order-refunded``): its points are not
  spent on a refunded order, never to come back; the hold's cancel gives them back. A partial
  refund that leaves room lets it confirm, and the last refund gives its points back;
* a checkout's own holds (points, stored value, coupons) are confirmed only by its completion: a
  direct confirm is 409 ``hold-of-checkout`` and changes nothing, so a cancel racing it gives
  everything back.

1 point a fen, at most 50% of an order in points (figures by hand)."""

from __future__ import annotations

from chalicelib.shared import clock
from tests.integration.test_checkout_commit import CHECKOUTS, _balances, _quote, _till
from tests.integration.test_checkout_quote import _member
from tests.integration.test_points_features import T0, balanced
from tests.integration.test_points_hold_orders import HOLDS, stocked

ON = {"merchant_id": "m1", "order_amount_fen": 1_000}                    # at most 500 points on the order


def refused_then_cancelled(api, mid: str, hold_id: str) -> dict:
    """The hold's confirm refused (409 hold-order-refunded), the hold still open, then cancelled."""
    status, problem = api.call("POST", f"{HOLDS.format(mid)}/{hold_id}/confirm", {})
    assert status == 409 and problem["type"].endswith("/hold-order-refunded"), problem
    assert api.ok("GET", f"{HOLDS.format(mid)}/{hold_id}")["status"] == "open"
    api.ok("POST", f"{HOLDS.format(mid)}/{hold_id}/cancel", {})
    return problem


def test_a_hold_on_an_order_refunded_in_full_is_not_confirmed_and_its_cancel_gives_the_points_back(api):
    clock.freeze(T0)
    mid = stocked(api, "13800491001")
    hold = api.ok("POST", HOLDS.format(mid), {"points": 300, "order_id": "F1", **ON})
    refund = api.ok("POST", "/v1/orders/F1/refunds", {"refund_id": "rf1", "amount_fen": 1_000, "merchant_id": "m1"})
    assert refund["restored"] == 0                                        # nothing spent yet
    problem = refused_then_cancelled(api, mid, hold["hold_id"])
    assert (problem["refunded_fen"], problem["limit_points"]) == (1_000, 0)
    order = api.ok("GET", "/v1/orders/F1?merchant_id=m1")
    assert (order["spent"], order["restored_points"]) == ([], 0)
    account = balanced(mid)
    assert (account["available"], account["held"], account["redeemed"]) == (10_000, 0, 0)


def test_a_partial_refund_that_leaves_room_lets_the_hold_confirm_and_the_last_refund_gives_it_back(api):
    clock.freeze(T0)
    mid = stocked(api, "13800491002")
    ok = api.ok("POST", HOLDS.format(mid), {"points": 300, "order_id": "P1", **ON})
    api.ok("POST", "/v1/orders/P1/refunds", {"refund_id": "rp1", "amount_fen": 400, "merchant_id": "m1"})
    assert api.ok("POST", f"{HOLDS.format(mid)}/{ok['hold_id']}/confirm", {})["status"] == "confirmed"   # 600 left: 300
    assert api.ok("POST", "/v1/orders/P1/refunds", {"refund_id": "rp2", "amount_fen": 600,
                                                    "merchant_id": "m1"})["restored"] == 300
    over = api.ok("POST", HOLDS.format(mid), {"points": 300, "order_id": "P2", **ON})
    api.ok("POST", "/v1/orders/P2/refunds", {"refund_id": "rp3", "amount_fen": 500, "merchant_id": "m1"})
    assert refused_then_cancelled(api, mid, over["hold_id"])["limit_points"] == 250        # 500 left: 250
    account = balanced(mid)
    assert (account["available"], account["held"], account["redeemed"]) == (10_000, 0, 300)


def test_a_checkouts_holds_are_confirmed_only_by_its_completion_and_its_cancel_gives_everything_back(api):
    clock.freeze(T0)
    mid = _member(api, "13800491003")
    before = _balances(api, mid)
    c = api.ok("POST", CHECKOUTS, {"quote_id": _quote(api, mid)["quote_id"], "stored_value_fen": 500}, key="hu-1",
               token=_till())
    held = _balances(api, mid)
    tries = [(f"{HOLDS.format(mid)}/{c['holds']['points']['hold_id']}/confirm", {}),
             (f"/v1/members/{mid}/stored-value/holds/{c['holds']['stored_value']['hold_id']}/confirm", {}),
             *((f"/v1/coupons/holds/{h['hold_id']}/confirm", {}) for h in c["holds"]["coupons"])]
    for i, (path, body) in enumerate(tries):
        status, problem = api.call("POST", path, body, key=f"hu-x{i}", token=_till())
        assert status == 409 and problem["type"].endswith("/hold-of-checkout"), (path, problem)
        assert problem["checkout_id"] == c["checkout_id"]
    assert _balances(api, mid) == held                                    # nothing spent: all still held
    assert api.ok("POST", f"{CHECKOUTS}/{c['checkout_id']}/cancel", {}, key="hu-c", token=_till())["status"] == \
        "cancelled"
    assert _balances(api, mid) == before                                  # every hold given back
    account = balanced(mid)
    assert (account["held"], account["redeemed"]) == (0, 0)


def test_a_checkouts_holds_are_not_cancelled_one_by_one_so_its_completion_is_never_half_done(api):
    """Attack F finding 4: a till's cancel of one of a checkout's holds (its stored value) while the
    completion ran left the checkout ``completing`` with its points spent and no call to undo it.
    A checkout's holds are given back only by its cancel (or the lapse): 409 hold-of-checkout."""
    clock.freeze(T0)
    mid = _member(api, "13800491007")
    c = api.ok("POST", CHECKOUTS, {"quote_id": _quote(api, mid)["quote_id"], "stored_value_fen": 500}, key="hu-7",
               token=_till())
    held = _balances(api, mid)
    tries = [f"{HOLDS.format(mid)}/{c['holds']['points']['hold_id']}/cancel",
             f"/v1/members/{mid}/stored-value/holds/{c['holds']['stored_value']['hold_id']}/cancel",
             *(f"/v1/coupons/holds/{h['hold_id']}/cancel" for h in c["holds"]["coupons"])]
    for i, path in enumerate(tries):
        status, problem = api.call("POST", path, {}, key=f"hu-y{i}", token=_till())
        assert status == 409 and problem["type"].endswith("/hold-of-checkout"), (path, problem)
    assert _balances(api, mid) == held
    done = api.ok("POST", f"{CHECKOUTS}/{c['checkout_id']}/complete", {"payment_ref": "pay-hu7"}, key="hu-7d",
                  token=_till())
    assert done["status"] == "completed"
    account = balanced(mid)
    assert (account["held"], account["redeemed"]) == (0, 5_000)


def test_a_checkout_holds_own_completion_confirms_them(api):
    clock.freeze(T0)
    mid = _member(api, "13800491005")
    c = api.ok("POST", CHECKOUTS, {"quote_id": _quote(api, mid)["quote_id"]}, key="hu-5", token=_till())
    done = api.ok("POST", f"{CHECKOUTS}/{c['checkout_id']}/complete", {"payment_ref": "pay-hu5"}, key="hu-5d",
                  token=_till())
    assert done["status"] == "completed"
    assert api.ok("GET", f"{HOLDS.format(mid)}/{c['holds']['points']['hold_id']}")["status"] == "confirmed"
    account = balanced(mid)
    assert (account["held"], account["redeemed"]) == (0, 5_000)
