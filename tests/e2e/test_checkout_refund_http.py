"""Checkout refunds over real HTTP on the local stack (issue #27 item 5), as a till drives them:
the commit test's Gold member (two coupons, points, stored value, cash) completes a checkout and
the till gives the CAKE back: every part of its line comes back to the fen and the point (figures
by hand), the till is told the cash to give back, and what is left behind (the member's balances,
the checkout, the order) says so; a replay changes nothing; another merchant's till gets 404;
six tills racing to refund the two TEAs left give back two, never more."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from chalicelib.checkout.replies import CheckoutRefundOut
from tests.e2e.test_checkout_commit_http import CHECKOUTS, _balances, _quote
from tests.e2e.test_checkout_quote_http import (  # noqa: F401  (shop: the module's fixture)
    CART,
    _gold_member_with_coupons_points_and_stored_value,
    _ok,
    shop,
)


def test_a_till_refunds_a_line_of_a_completed_checkout_to_the_fen(api, stack, shop):  # noqa: F811
    hq, till, other_till = shop
    member_id, _ = _gold_member_with_coupons_points_and_stored_value(api, hq, till)
    q = _quote(api, till, member_id)
    c = _ok(api.call("POST", CHECKOUTS, {"quote_id": q["quote_id"], "lines": CART, "stored_value_fen": 5_000},
                     signed_by=till, key=f"rf-commit-{member_id}"), 201)
    _ok(api.call("POST", f"{CHECKOUTS}/{c['checkout_id']}/complete", {"payment_ref": "wxpay-42000099"},
                 signed_by=till, key=f"rf-complete-{member_id}"))
    assert _balances(api, hq, member_id) == {"points": (191, 0), "sv": (0, 0), "coupons": ["used", "used"]}
    a, b = (x["coupon_id"] for x in q["coupons"]["chosen"])
    path = f"{CHECKOUTS}/{c['checkout_id']}/refunds"
    body = {"refund_id": "POS-R-1", "lines": [{"line": 1, "quantity": 1}], "reason": "蛋糕退货"}
    refused = api.call("POST", path, body, signed_by=other_till, key=f"rf-other-{member_id}")
    assert refused.status_code == 404
    r = _ok(api.call("POST", path, body, signed_by=till, key=f"rf-1-{member_id}"), 201)
    CheckoutRefundOut.model_validate(r)
    # by hand: CAKE 100.00, member price 90.00 (10.00 off); coupon A 20.00 over 176.00 : 90.00 ->
    # 6.77 on CAKE; B 10 % of the 246.00 left = 24.60 over 162.77 : 83.23 -> 8.32; points 30.00
    # over 146.49 : 74.91 -> 10.15; stored value 16.92 and cash 47.84 (the commit test's). All of
    # the line comes back: 74.91 of what was paid, 47.84 of it in cash by the till.
    assert r["lines"] == [{"line": 1, "share": "1", "member_discount_fen": 1_000, "coupons": {a: 677, b: 832},
                           "points_fen": 1_015, "stored_value_fen": 1_692, "gift_cards": {}, "cash_fen": 4_784,
                           "fen": 7_491}]
    assert (r["status"], r["checkout_status"], r["amount_fen"], r["cash_fen"]) == (
        "refunded", "partially_refunded", 7_491, 4_784)
    steps = {s["part"]: s for s in r["steps"]}
    # points: the order's 191 earned points spread 126 : 65 over 146.49 : 74.91, its 3,000 spent
    # 1,985 : 1,015; CAKE's come back. Coupons: both discounted TEA too, so both stay used.
    assert (steps["points"]["points_clawed_back"], steps["points"]["points_restored"]) == (65, 1_015)
    assert (steps["stored_value"]["principal_fen"], steps["stored_value"]["bonus_fen"]) == (1_692, 0)
    after = {"points": (191 - 65 + 1_015, 0), "sv": (1_692, 0), "coupons": ["used", "used"]}
    assert _balances(api, hq, member_id) == after
    assert _ok(api.call("POST", path, body, signed_by=till, key=f"rf-1-{member_id}"), 201) == r        # a replay
    assert _ok(api.call("POST", path, body, signed_by=till, key=f"rf-1b-{member_id}"), 201)["lines"] == r["lines"]
    assert _balances(api, hq, member_id) == after
    seen = _ok(api.call("GET", f"{CHECKOUTS}/{c['checkout_id']}", signed_by=till))
    assert seen["status"] == "partially_refunded" and seen["refunded"]["fen"] == 7_491
    assert [x["share"] for x in seen["refunded"]["lines"]] == ["0", "1"]
    order = _ok(api.call("GET", f"/v1/orders/{c['order_id']}", params={"merchant_id": c["merchant_id"]}, headers=hq))
    assert order["refunded_fen"] == 7_491 and [x["refunded_fen"] for x in order["lines"]] == [0, 7_491]
    assert [(p["store"], p["refunded_fen"]) for p in order["parts"]] == [("stored_value", 1_692)]

    # six tills race to give back one TEA each: two are left, two are given back
    def one(n):
        return api.call("POST", path, {"refund_id": f"RACE-{n}", "lines": [{"line": 0, "quantity": 1}],
                                       "reason": "race"}, signed_by=till, key=f"rf-race-{n}-{member_id}")
    with ThreadPoolExecutor(6) as pool:
        replies = list(pool.map(one, range(6)))
    assert sorted(x.status_code for x in replies) == [201, 201, 409, 409, 409, 409], [x.text for x in replies]
    done = _ok(api.call("GET", f"{CHECKOUTS}/{c['checkout_id']}", signed_by=till))
    assert done["status"] == "refunded" and done["refunded"]["fen"] == c["totals"]["order_amount_fen"]
    # everything as before the checkout: the points it spent and earned, the stored value, the coupons
    assert _balances(api, hq, member_id) == {"points": (3_000, 0), "sv": (5_000, 0), "coupons": ["unused", "unused"]}
    stack.drain(30)              # the growth taken back moves the member's tier: folded before the next test
