"""A checkout refund's points part is what the ledger gives back (stop 44's F4), through the app.

The defect, found from outside: 2 × 50.00 + 1 × 25.00, 65 points paid (65 fen at 100 a yuan),
30.00 stored value; a refund of 33.33 said ``points_fen`` 16 (the checkout's rule: each line's
points part in its share, rounded down) and told the till to hand back cash accordingly, while
the points refund gave back 17 points (the ledger's rule: the order's share of what it spent,
rounded once). Here, after every refund of several partial ones (by amount and by lines), at 100
and at 150 points a yuan: the points the ledger gave back so far (the refund step's
``points_restored``, ``getOrder``'s ``restored_points``, the member's balance) are worth exactly
the fen the checkout's refunds say points gave back so far, each refund's parts add up to its
amount, and at the end every part comes back whole."""

from __future__ import annotations

import pytest

from chalicelib.db.uow import UnitOfWork
from chalicelib.points import refunds as points_refunds
from chalicelib.points.schemas import Refund
from chalicelib.shared import clock
from chalicelib.shared.principal import Principal
from tests.integration.test_checkout_commit import CHECKOUTS, _till
from tests.integration.test_checkout_quote import QUOTES, T0

CART = [{"sku": "TEA", "category": "tea", "quantity": 2, "unit_price_fen": 5_000},
        {"sku": "CAKE", "category": "bakery", "quantity": 1, "unit_price_fen": 2_500}]
REFUNDS = [{"amount_fen": 3_333}, {"lines": [{"line": 1, "quantity": 1}]}, {"amount_fen": 1_111},
           {"lines": [{"line": 0, "quantity": 1}]}, {"amount_fen": 7}, None]          # None: all that is left


def _available(api, mid):
    return api.ok("GET", f"/v1/members/{mid}/points")["accounts"]["points"]["available"]


def _completed(api, points_per_yuan, points):
    """The defect's checkout, completed, at ``points_per_yuan``: the member pays 65 fen with ``points``."""
    clock.freeze(T0)
    api.ok("PUT", "/v1/points/rules", {"rules": {"points_per_yuan": "1",
                                                 "redeem": {"points_per_yuan": points_per_yuan}}})
    mid = api.member("13800277001")
    api.ok("POST", f"/v1/members/{mid}/points/earn", {"order_id": f"o-{mid}", "amount_fen": points * 100,
                                                      "merchant_id": "m1"})
    api.ok("POST", f"/v1/members/{mid}/stored-value/top-ups", {"amount_fen": 3_000, "payment_ref": f"p-{mid}",
                                                               "merchant_id": "m1"})
    q = api.ok("POST", QUOTES, {"member_id": mid, "channel": "pos", "lines": CART}, token=_till())
    assert (q["points"]["points"], q["points"]["fen"]) == (points, 65)
    c = api.ok("POST", CHECKOUTS, {"quote_id": q["quote_id"], "lines": CART, "stored_value_fen": 3_000},
               key="f4-commit", token=_till())
    api.ok("POST", f"{CHECKOUTS}/{c['checkout_id']}/complete", {"payment_ref": "wx-f4"}, key="f4-done", token=_till())
    return mid, c


@pytest.mark.parametrize(("points_per_yuan", "points"), [(100, 65), (150, 98)])
def test_every_refund_gives_back_the_points_its_points_part_is_worth(api, points_per_yuan, points):
    mid, c = _completed(api, points_per_yuan, points)
    totals = api.ok("GET", f"{CHECKOUTS}/{c['checkout_id']}", token=_till())["totals"]
    start = _available(api, mid)
    got = {"fen": 0, "points_fen": 0, "stored_value_fen": 0, "gift_cards_fen": 0, "cash_fen": 0}
    restored = clawed = 0
    for n, asked in enumerate(REFUNDS):
        if asked is None:
            seen = api.ok("GET", f"{CHECKOUTS}/{c['checkout_id']}", token=_till())
            asked = {"amount_fen": totals["order_amount_fen"] - seen["refunded"]["fen"]}
        status, r = api.call("POST", f"{CHECKOUTS}/{c['checkout_id']}/refunds",
                             {"refund_id": f"F4-{n}", "reason": "returned", **asked}, key=f"f4-r{n}", token=_till())
        assert status == 201, r
        assert r["amount_fen"] == r["points_fen"] + r["stored_value_fen"] + r["gift_cards_fen"] + r["cash_fen"], r
        for k in got:
            got[k] += r["amount_fen"] if k == "fen" else r[k]
        step = {s["part"]: s for s in r["steps"]}.get("points", {})
        back = step.get("points_restored", 0)
        restored, clawed = restored + back, clawed + step.get("points_clawed_back", 0)
        if points_per_yuan == 100:
            assert back == r["points_fen"], (n, asked, r)
        # what the ledger gave back so far is worth what the checkout says points gave back so far
        assert restored * 100 // points_per_yuan == got["points_fen"], (n, asked, restored, got, r)
        order = api.ok("GET", f"/v1/orders/{c['order_id']}?merchant_id=m1")
        assert order["restored_points"] == restored
        assert _available(api, mid) == start + restored - clawed
        seen = api.ok("GET", f"{CHECKOUTS}/{c['checkout_id']}", token=_till())
        assert sum(x["points_fen"] for x in seen["refunded"]["lines"]) == got["points_fen"]
        assert seen["refunded"]["fen"] == got["fen"] and seen["refunded"]["cash_fen"] == got["cash_fen"]
    assert seen["status"] == "refunded"
    assert restored == points and got["fen"] == totals["order_amount_fen"]
    assert {k: got[k] for k in ("points_fen", "stored_value_fen", "gift_cards_fen", "cash_fen")} == {
        k: totals[k] for k in ("points_fen", "stored_value_fen", "gift_cards_fen", "cash_fen")}


def test_the_points_a_caller_asks_to_give_back_are_at_most_what_the_order_has_left(api):
    mid, c = _completed(api, 100, 65)
    by = Principal("staff", "hq", "super_admin")

    def give_back(n, refund_id):
        uow = UnitOfWork(by.ref)
        reply = points_refunds.refund(c["order_id"], Refund(refund_id=refund_id, amount_fen=100, merchant_id="m1"),
                                      by, uow, None, give_back=n)
        uow.commit()
        return reply["restored"]
    assert give_back(60, "X-1") == 60
    assert give_back(1_000, "X-2") == 5                   # all it has left of the 65 spent, not 1,000
    assert give_back(3, "X-3") == 0
    assert api.ok("GET", f"/v1/orders/{c['order_id']}?merchant_id=m1")["restored_points"] == 65
