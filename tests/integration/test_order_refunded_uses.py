"""Every use of an order by points follows one rule once the order has refunds (attack F, findings
1 and 6), through the app on every backend:

* a redemption or a new hold on an order whose refunds leave a share (of what is left of it)
  smaller than what would then be spent and held on it net of what they gave back is refused
  (409 ``order-refunded``) and changes nothing: points are never spent on refunded goods, never to
  come back (a hold's confirm follows the same rule: ``hold-order-refunded``);
* points spent after refunds come back, on the order's later refunds, in the share of what was
  left of the order when they were spent, not of its original amount: a refund of 1 fen of the
  last 10 gives back nothing of 5 points spent on them.

1 point a fen, at most 50% of an order in points (figures by hand)."""

from __future__ import annotations

from chalicelib.shared import clock
from tests.integration.test_points_features import T0, balanced
from tests.integration.test_points_hold_orders import HOLDS, REDEEM, stocked

ON = {"merchant_id": "m1", "order_amount_fen": 1_000}                    # at most 500 points on the order


def _refund(api, order_id: str, refund_id: str, fen: int) -> dict:
    return api.ok("POST", f"/v1/orders/{order_id}/refunds", {"refund_id": refund_id, "amount_fen": fen,
                                                            "merchant_id": "m1"})


def _refused(api, path: str, body: dict) -> dict:
    status, problem = api.call("POST", path, body)
    assert status == 409 and problem["type"].endswith("/order-refunded"), (status, problem)
    return problem


def test_a_redemption_or_hold_on_an_order_refunded_in_full_is_refused_and_changes_nothing(api):
    clock.freeze(T0)
    mid = stocked(api, "13800501001")
    api.ok("POST", REDEEM.format(mid), {"points": 100, "order_id": "F1", **ON})
    assert _refund(api, "F1", "rf1", 1_000)["restored"] == 100
    before = api.ok("GET", "/v1/orders/F1?merchant_id=m1")
    problem = _refused(api, REDEEM.format(mid), {"points": 100, "order_id": "F1", **ON})
    assert (problem["refunded_fen"], problem["limit_points"]) == (1_000, 0)
    _refused(api, HOLDS.format(mid), {"points": 100, "order_id": "F1", **ON})
    assert api.ok("GET", "/v1/orders/F1?merchant_id=m1") == before
    account = balanced(mid)
    assert (account["available"], account["held"], account["redeemed"], account["restored"]) == (10_000, 0, 100, 100)


def test_a_redemption_past_what_the_refunds_leave_is_refused_one_within_it_passes_and_comes_back(api):
    clock.freeze(T0)
    mid = stocked(api, "13800501002")
    api.ok("POST", REDEEM.format(mid), {"points": 100, "order_id": "P1", **ON})
    assert _refund(api, "P1", "rp1", 990)["restored"] == 99                 # 10 fen left: 5 points, 1 spent
    assert _refused(api, REDEEM.format(mid), {"points": 10, "order_id": "P1", **ON})["limit_points"] == 5
    _refused(api, HOLDS.format(mid), {"points": 5, "order_id": "P1", **ON})
    api.ok("POST", REDEEM.format(mid), {"points": 4, "order_id": "P1", **ON})   # 1 + 4 = 5: room
    _refused(api, REDEEM.format(mid), {"points": 1, "order_id": "P1", **ON})
    assert _refund(api, "P1", "rp2", 10)["restored"] == 5                    # the last of it: all back
    order = api.ok("GET", "/v1/orders/P1?merchant_id=m1")
    assert (order["spent_points"], order["restored_points"]) == (104, 104)
    account = balanced(mid)
    assert (account["available"], account["redeemed"], account["restored"]) == (10_000, 104, 104)


def test_points_spent_after_refunds_come_back_in_the_share_of_what_was_left_when_they_were_spent(api):
    clock.freeze(T0)
    mid = stocked(api, "13800501003")
    hold = api.ok("POST", HOLDS.format(mid), {"points": 5, "order_id": "L1", **ON})
    _refund(api, "L1", "rl1", 990)                                          # 10 fen left: 5 points
    api.ok("POST", f"{HOLDS.format(mid)}/{hold['hold_id']}/confirm", {})
    assert _refund(api, "L1", "rl2", 1)["restored"] == 0                    # 1 of 10 fen: 0.5 of 5 points
    assert _refund(api, "L1", "rl3", 9)["restored"] == 5                    # the rest: all of them
    half = api.ok("POST", HOLDS.format(mid), {"points": 200, "order_id": "L2", **ON})
    _refund(api, "L2", "rl4", 500)                                          # 500 fen left: 250 points
    api.ok("POST", f"{HOLDS.format(mid)}/{half['hold_id']}/confirm", {})
    assert _refund(api, "L2", "rl5", 250)["restored"] == 100                # half of what was left: half back
    api.ok("POST", REDEEM.format(mid), {"points": 20, "order_id": "L2", **ON})   # 250 fen left: 125 points
    assert _refund(api, "L2", "rl6", 125)["restored"] == 60                 # 100 of the 200, 10 of the 20
    assert _refund(api, "L2", "rl7", 125)["restored"] == 60
    account = balanced(mid)
    assert (account["available"], account["redeemed"], account["restored"]) == (10_000, 225, 225)


def test_a_spend_on_an_order_with_refunds_not_yet_seen_by_the_process_is_decided_the_same(api):
    """An order is read only once the process knows it has refunds: the first spend on it after a
    refund is refused by the write's condition, read, and retried (room left: it passes) or
    refused (no room: 409), the same as a spend that read it."""
    from chalicelib.points import orders
    clock.freeze(T0)
    mid = stocked(api, "13800501004")
    api.ok("POST", REDEEM.format(mid), {"points": 100, "order_id": "N1", **ON})
    _refund(api, "N1", "rn1", 500)                                          # 500 fen left: 250, 50 spent
    orders._REFUNDED.clear()
    api.ok("POST", REDEEM.format(mid), {"points": 200, "order_id": "N1", **ON})   # 50 + 200 = 250: room
    orders._REFUNDED.clear()
    assert _refused(api, HOLDS.format(mid), {"points": 1, "order_id": "N1", **ON})["limit_points"] == 250
    assert _refund(api, "N1", "rn2", 500)["restored"] == 250                # all of both spends back
    account = balanced(mid)
    assert (account["available"], account["redeemed"], account["restored"]) == (10_000, 300, 300)
