"""A checkout refund's points part is what the member gets back (stop 44's F4), over real HTTP on
the local stack, as a till drives it.

The defect, found from outside: a checkout of 2 × 50.00 + 1 × 25.00, 65 points paid (65 fen at
100 points a yuan) and 30.00 stored value; a refund of 33.33 said ``points_fen`` 16 and told the
till the cash to hand back accordingly, while the member got 17 points back (``getOrder``: 17):
the checkout rounded each line's points part down, the ledger once over the order. Here, in a
program of its own at 100 and at 150 points a yuan, the till refunds the checkout in several
parts (by amount and by lines) and after each: the points the member got back so far (the
refund's points step, ``getOrder``'s ``restored_points``, the member's balance) are worth
exactly the fen the checkout's refunds say points gave back so far (at 100 a yuan: each
refund's points are its ``points_fen``), each refund's parts add up to its amount, and the
checkout's ``refunded`` says the same; two refunds sent at once agree as well; a replay (the
same key, or the same refund id under another) gives nothing twice; at the end every part comes
back whole."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.checkout.replies import CheckoutOut, CheckoutRefundOut
from devstack.credentials import staff_token
from tests.e2e.conftest import fresh_phone

SHOP, STORE = "f4-shop", "f4-store"
CART = [{"sku": "TEA-250G", "category": "tea", "quantity": 2, "unit_price_fen": 5_000},
        {"sku": "CAKE", "category": "bakery", "quantity": 1, "unit_price_fen": 2_500}]
# one after another, two at once (a pair), and None: all that is left
REFUNDS = [[{"amount_fen": 3_333}], [{"lines": [{"line": 1, "quantity": 1}]}, {"amount_fen": 1_111}],
           [{"lines": [{"line": 0, "quantity": 1}]}], [{"amount_fen": 7}], [None]]
CHECKOUTS = "/v1/checkouts"


def _ok(r, status=200):
    assert r.status_code == status, r.text
    return r.json()


def _program(api, points_per_yuan):
    """A program of its own at ``points_per_yuan``: its merchant, store, the store's POS key, HQ."""
    program = f"f4-e2e-{points_per_yuan}"
    made = api.call("POST", "/v1/programs", {"program_id": program, "name": "退款积分"},
                    headers=api.staff("platform_admin"), key=f"{program}-program")
    assert made.status_code in (201, 409), made.text
    hq = api.bearer(staff_token("super_admin", f"{program}-hq", program_id=program))
    for path, body in (("/v1/merchants", {"merchant_id": SHOP, "name": SHOP}),
                       (f"/v1/merchants/{SHOP}/stores", {"store_id": STORE, "name": "一号店"})):
        r = api.call("POST", path, body, headers=hq, key=f"{program}-{path}")
        assert r.status_code in (201, 409), r.text
    _ok(api.call("PUT", "/v1/points/rules", {"rules": {"points_per_yuan": "1",
                                                       "redeem": {"points_per_yuan": points_per_yuan}}},
                 headers=hq, key=f"{program}-rules-{fresh_phone()}"), 201)
    key = _ok(api.call("POST", f"/v1/merchants/{SHOP}/api-keys", {"store_id": STORE}, headers=hq,
                       key=f"{program}-key-{fresh_phone()}"), 201)
    return hq, {"key_id": key["key_id"], "secret": key["secret"]}


def _available(api, hq, member_id):
    return _ok(api.call("GET", f"/v1/members/{member_id}/points", headers=hq))["accounts"]["points"]["available"]


@pytest.mark.parametrize(("points_per_yuan", "points"), [(100, 65), (150, 98)])
def test_each_refund_gives_the_member_back_the_points_its_points_part_is_worth(api, stack, points_per_yuan, points):
    hq, till = _program(api, points_per_yuan)
    member_id = _ok(api.call("POST", "/v1/members", {"phone": fresh_phone(), "merchant_id": SHOP, "store_id": STORE},
                             headers=hq, key=f"f4-m-{fresh_phone()}"), 201)["member_id"]
    # 1 point a yuan earned: the member has exactly the points worth 65 fen at the program's rate
    _ok(api.call("POST", f"/v1/members/{member_id}/points/earn", {"order_id": f"e-{member_id}",
                                                                   "amount_fen": points * 100},
                 signed_by=till, key=f"f4-e-{member_id}"), 201)
    _ok(api.call("POST", f"/v1/members/{member_id}/stored-value/top-ups", {"amount_fen": 3_000,
                                                                           "payment_ref": f"p-{member_id}"},
                 signed_by=till, key=f"f4-sv-{member_id}"), 201)
    q = _ok(api.call("POST", f"{CHECKOUTS}/quotes", {"member_id": member_id, "channel": "pos", "lines": CART},
                     signed_by=till, key=f"f4-q-{member_id}"), 201)
    assert (q["points"]["points"], q["points"]["fen"]) == (points, 65)
    c = _ok(api.call("POST", CHECKOUTS, {"quote_id": q["quote_id"], "lines": CART, "stored_value_fen": 3_000},
                     signed_by=till, key=f"f4-commit-{member_id}"), 201)
    _ok(api.call("POST", f"{CHECKOUTS}/{c['checkout_id']}/complete", {"payment_ref": f"wx-{member_id}"},
                 signed_by=till, key=f"f4-complete-{member_id}"))
    totals = c["totals"]
    start = _available(api, hq, member_id)
    path = f"{CHECKOUTS}/{c['checkout_id']}/refunds"
    got = {"amount_fen": 0, "points_fen": 0, "stored_value_fen": 0, "gift_cards_fen": 0, "cash_fen": 0}
    restored = clawed = 0
    for n, batch in enumerate(REFUNDS):
        asks = [a or {"amount_fen": totals["order_amount_fen"] - got["amount_fen"]} for a in batch]

        def send(i, asks=asks, n=n):
            for _ in range(5):       # a lost race the API could not retry: the till resends it
                r = api.call("POST", path, {"refund_id": f"POS-F4-{n}-{i}", "reason": "退货", **asks[i]},
                             signed_by=till, key=f"f4-r{n}-{i}-{member_id}")
                if r.status_code not in (409, 503) or "concurrent" not in r.text:
                    return r
            return r
        with ThreadPoolExecutor(len(asks)) as pool:
            replies = [_ok(x, 201) for x in pool.map(send, range(len(asks)))]
        back = 0
        for asked, r in zip(asks, replies, strict=True):
            CheckoutRefundOut.model_validate(r)
            assert r["amount_fen"] == r["points_fen"] + r["stored_value_fen"] + r["gift_cards_fen"] + r["cash_fen"]
            if "amount_fen" in asked:
                assert r["amount_fen"] == asked["amount_fen"]
            for k in got:
                got[k] += r[k]
            step = {s["part"]: s for s in r["steps"]}.get("points", {})
            back += step.get("points_restored", 0)
            clawed += step.get("points_clawed_back", 0)
        restored += back
        if n == 0:               # a replay, and the refund id under another key: the same, nothing twice
            assert _ok(send(0), 201) == r
            again = _ok(api.call("POST", path, {"refund_id": "POS-F4-0-0", "reason": "退货", **asks[0]},
                                 signed_by=till, key=f"f4-again-{member_id}"), 201)
            assert again["lines"] == r["lines"] and again["steps"] == r["steps"]
        if points_per_yuan == 100:
            assert back == sum(r["points_fen"] for r in replies), (n, asks, replies)
        # what the member got back so far is worth what the checkout says points gave back so far
        assert restored * 100 // points_per_yuan == got["points_fen"], (n, asks, restored, got)
        order = _ok(api.call("GET", f"/v1/orders/{c['order_id']}", params={"merchant_id": SHOP}, headers=hq))
        assert order["restored_points"] == restored and order["refunded_fen"] == got["amount_fen"]
        assert _available(api, hq, member_id) == start + restored - clawed
        seen = _ok(api.call("GET", f"{CHECKOUTS}/{c['checkout_id']}", signed_by=till))
        assert sum(x["points_fen"] for x in seen["refunded"]["lines"]) == got["points_fen"]
        assert (seen["refunded"]["fen"], seen["refunded"]["cash_fen"]) == (got["amount_fen"], got["cash_fen"])
    CheckoutOut.model_validate(seen)
    assert seen["status"] == "refunded" and restored == points
    assert got == {k: totals[k] for k in ("points_fen", "stored_value_fen", "gift_cards_fen", "cash_fen")} | {
        "amount_fen": totals["order_amount_fen"]}
    # the member has what they had before the checkout: the points it spent and earned, the stored value
    assert _available(api, hq, member_id) == points
    assert _ok(api.call("GET", f"/v1/members/{member_id}/stored-value", headers=hq))["balance_fen"] == 3_000
    stack.drain(30)              # the growth taken back moves the member's tier: folded before the next test
