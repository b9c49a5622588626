"""A points hold on an order is a use of the order, as a spend or an earn is (attack C, findings 1
and 3): it claims the order for its store and member, fixes the order's amount and reserves its
share under the maximum share, so that no later spend, earn or hold of another store, member or
amount takes the order from it, and the holder always confirms. Through the app on every backend;
1 point a fen, at most 50% of an order in points (figures by hand)."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.shared import clock
from chalicelib.shared.credentials import mint_token
from tests.integration.test_checkout_commit import CART, CHECKOUTS, _member, _quote, _till
from tests.integration.test_points_features import T0, balanced

HOLDS, REDEEM = "/v1/members/{}/points/holds", "/v1/members/{}/points/redeem"


def clerk(store: str) -> str:
    return mint_token("staff", f"clerk-m1-{store}", 60, role="clerk", merchant_id="m1", store_id=store)


def stocked(api, phone: str, points: int = 10_000) -> str:
    mid = api.member(phone)
    api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": points, "reason": "stock"})
    return mid


def test_a_hold_claims_its_order_for_its_store_and_another_stores_spend_on_it_is_404(api):
    clock.freeze(T0)
    api.ok("POST", "/v1/merchants/m1/stores", {"store_id": "s2", "name": "S2"})
    mid, other = stocked(api, "13800290001"), stocked(api, "13800290002")
    on_h1 = {"order_id": "H1", "order_amount_fen": 1_000}
    hold = api.ok("POST", HOLDS.format(mid), {"points": 100, **on_h1}, token=clerk("s1"))
    order = api.ok("GET", "/v1/orders/H1?merchant_id=m1", token=clerk("s1"))
    assert (order["store_id"], order["member_id"], order["amount_fen"], order["spent_points"]) == ("s1", mid, 1_000, 0)
    assert api.call("GET", "/v1/orders/H1?merchant_id=m1", token=clerk("s2"))[0] == 404
    status, problem = api.call("POST", REDEEM.format(other), {"points": 300, **on_h1}, token=clerk("s2"))
    assert status == 404 and "of your store" in problem["detail"]
    assert api.call("POST", HOLDS.format(other), {"points": 30, **on_h1}, token=clerk("s2"))[0] == 404
    api.ok("POST", f"{HOLDS.format(mid)}/{hold['hold_id']}/confirm", {}, token=clerk("s1"))
    order = api.ok("GET", "/v1/orders/H1?merchant_id=m1", token=clerk("s1"))
    assert (order["store_id"], order["member_id"], order["spent_points"]) == ("s1", mid, 100)
    assert (balanced(mid)["available"], balanced(other)["available"]) == (9_900, 10_000)


def test_a_hold_claims_its_order_for_its_member_and_another_members_earn_or_hold_on_it_is_409(api):
    clock.freeze(T0)
    a, b = stocked(api, "13800290003"), stocked(api, "13800290004")
    hold = api.ok("POST", HOLDS.format(a), {"points": 10, "order_id": "HA", "order_amount_fen": 1_000,
                                            "merchant_id": "m1"})
    status, problem = api.call("POST", f"/v1/members/{b}/points/earn", {"order_id": "HA", "amount_fen": 10_000,
                                                                        "merchant_id": "m1"})
    assert status == 409 and "another member" in problem["detail"]
    status, problem = api.call("POST", HOLDS.format(b), {"points": 10, "order_id": "HA", "order_amount_fen": 1_000,
                                                         "merchant_id": "m1"})
    assert status == 409 and "another member" in problem["detail"]
    api.ok("POST", f"{HOLDS.format(a)}/{hold['hold_id']}/confirm", {})
    assert api.ok("GET", "/v1/orders/HA?merchant_id=m1")["member_id"] == a
    assert (balanced(a)["available"], balanced(b)["available"], balanced(b)["held"]) == (9_990, 10_000, 0)


def test_a_hold_fixes_its_orders_amount_and_reserves_its_share_so_it_always_confirms(api):
    clock.freeze(T0)
    mid = stocked(api, "13800290005")
    on = {"merchant_id": "m1", "order_amount_fen": 1_000}                      # at most 500 points an order
    y = api.ok("POST", HOLDS.format(mid), {"points": 10, "order_id": "Y", **on})
    status, problem = api.call("POST", REDEEM.format(mid), {"points": 10, "order_id": "Y", "merchant_id": "m1",
                                                            "order_amount_fen": 99_999})
    assert status == 422 and problem["order_amount_fen"] == 1_000
    x = api.ok("POST", HOLDS.format(mid), {"points": 300, "order_id": "X", **on})
    status, problem = api.call("POST", REDEEM.format(mid), {"points": 300, "order_id": "X", **on})
    assert status == 422 and (problem["limit_points"], problem["spent_points"]) == (500, 300)
    assert api.call("POST", HOLDS.format(mid), {"points": 201, "order_id": "X", **on})[0] == 422
    api.ok("POST", REDEEM.format(mid), {"points": 200, "order_id": "X", **on})        # 300 + 200 = 500
    for h in (x, y):
        assert api.ok("POST", f"{HOLDS.format(mid)}/{h['hold_id']}/confirm", {})["status"] == "confirmed"
    assert api.ok("GET", "/v1/orders/X?merchant_id=m1")["spent_points"] == 500
    assert api.ok("GET", "/v1/orders/Y?merchant_id=m1")["amount_fen"] == 1_000
    account = balanced(mid)
    assert (account["available"], account["held"], account["redeemed"]) == (9_490, 0, 510)


def test_a_cancelled_or_lapsed_hold_gives_its_share_of_the_order_back(api):
    clock.freeze(T0)
    mid = stocked(api, "13800290006")
    on = {"order_id": "Z", "merchant_id": "m1", "order_amount_fen": 1_000}
    cancelled = api.ok("POST", HOLDS.format(mid), {"points": 400, **on})
    api.ok("POST", f"{HOLDS.format(mid)}/{cancelled['hold_id']}/cancel", {})
    lapsing = api.ok("POST", HOLDS.format(mid), {"points": 500, "ttl_seconds": 60, **on})
    assert api.call("POST", REDEEM.format(mid), {"points": 1, **on})[0] == 422            # 500 reserved of 500
    clock.freeze(T0 + timedelta(seconds=61))
    assert api.run_job("points-holds")["holds_released"] == 1
    api.ok("POST", REDEEM.format(mid), {"points": 500, **on})
    assert api.call("GET", f"{HOLDS.format(mid)}/{lapsing['hold_id']}")[1]["status"] == "released"
    assert api.ok("GET", "/v1/orders/Z?merchant_id=m1")["spent_points"] == 500
    assert balanced(mid)["available"] == 9_500


def test_a_committed_checkouts_order_is_its_stores_and_members_and_completion_spends_what_was_held(api):
    clock.freeze(T0)
    api.ok("POST", "/v1/merchants/m1/stores", {"store_id": "s2", "name": "S2"})
    mid, other = _member(api, "13800290007"), stocked(api, "13800290008")
    q = _quote(api, mid)
    c = api.ok("POST", CHECKOUTS, {"quote_id": q["quote_id"], "lines": CART, "order_id": "CK1"}, key="co-1",
               token=_till())
    assert c["totals"]["points"] == 5_000
    spend = {"points": 1, "order_id": "CK1", "order_amount_fen": c["totals"]["order_amount_fen"]}
    assert api.call("POST", REDEEM.format(other), spend, token=clerk("s2"))[0] == 404
    status, problem = api.call("POST", REDEEM.format(other), spend, token=_till())
    assert status == 409 and "another member" in problem["detail"]
    earn = {"order_id": "CK1", "amount_fen": 12_000, "merchant_id": "m1"}
    status, problem = api.call("POST", f"/v1/members/{other}/points/earn", earn)
    assert status == 409, problem
    done = api.ok("POST", f"{CHECKOUTS}/{c['checkout_id']}/complete", {"payment_ref": "wx-1"}, key="cp-1",
                  token=_till())
    assert done["status"] == "completed"
    order = api.ok("GET", "/v1/orders/CK1?merchant_id=m1", token=_till())
    assert (order["store_id"], order["member_id"], order["spent_points"]) == ("s1", mid, 5_000)
    assert balanced(other)["available"] == 10_000
