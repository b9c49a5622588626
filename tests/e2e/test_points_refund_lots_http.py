"""Partial refunds give spent points back to their own lots, over real HTTP on the local stack
(session 46's finding 1).

The defect, found from outside: a member with 3 lots of 10 points (expiring on three days) spends
all 30 on an order, by ``redeemPoints`` on the order or through a checkout; two refunds of half
each (``refundOrder``, ``refundCheckout``) gave back 15 and 15, each to the latest-expiring lots
afresh: the last lot got 20 back, the first none, so 10 points moved to a later expiry while the
balances and ``reconcilePoints`` still agreed. Here, read from the member's ledger (the lots every
posting moved): after each refund no lot has got back more than was taken from it, and after
both every lot has got back exactly what was taken from it, with its own expiry."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from devstack.credentials import staff_token
from tests.e2e.conftest import fresh_phone

SHOP, STORE = "lots-shop", "lots-store"


def _ok(r, status=200):
    assert r.status_code == status, r.text
    return r.json()


def _member_with_three_lots(api, program):
    """A program of its own (points last 400 days; 100 points a yuan, up to the whole order), its
    till, and a member who earned 10 points on each of three days: HQ, the till, the member."""
    made = api.call("POST", "/v1/programs", {"program_id": program, "name": program},
                    headers=api.staff("platform_admin"), key=f"{program}-program")
    assert made.status_code in (201, 409), made.text
    hq = api.bearer(staff_token("super_admin", f"{program}-hq", program_id=program))
    for path, body in (("/v1/merchants", {"merchant_id": SHOP, "name": SHOP}),
                       (f"/v1/merchants/{SHOP}/stores", {"store_id": STORE, "name": "一号店"})):
        assert api.call("POST", path, body, headers=hq, key=f"{program}-{path}").status_code in (201, 409)
    now = datetime.now(UTC)
    _ok(api.call("PUT", "/v1/points/rules", {"rules": {
        "points_per_yuan": "1", "pending_days": 0, "backdate_days": 30, "expiry": {"policy": "days", "days": 400},
        "redeem": {"points_per_yuan": 100, "max_share_percent": 100}},
        "effective_from": (now - timedelta(days=10)).isoformat()}, headers=hq, key=f"{program}-rules"), 201)
    key = _ok(api.call("POST", f"/v1/merchants/{SHOP}/api-keys", {"store_id": STORE}, headers=hq,
                       key=f"{program}-key"), 201)
    till = {"key_id": key["key_id"], "secret": key["secret"]}
    member_id = _ok(api.call("POST", "/v1/members", {"phone": fresh_phone(), "merchant_id": SHOP, "store_id": STORE},
                             headers=hq, key=f"{program}-member"), 201)["member_id"]
    for day in range(3):
        _ok(api.call("POST", f"/v1/members/{member_id}/points/earn",
                     {"order_id": f"lot-{day}", "amount_fen": 1_000, "occurred_at": (now - timedelta(days=day)).isoformat()},
                     signed_by=till, key=f"{program}-earn-{day}"), 201)
    return hq, till, member_id


def _lots(api, hq, member_id):
    """From the member's ledger, by expiry: what spends took from each lot, what refunds gave back."""
    postings = _ok(api.call("GET", f"/v1/members/{member_id}/points/ledger?limit=100", headers=hq))["postings"]
    taken: dict[str, int] = defaultdict(int)
    back: dict[str, int] = defaultdict(int)
    for posting in postings:
        for lot in posting["lots"]:
            if posting["kind"] in ("redeem", "hold"):
                taken[lot["expires_on"]] -= lot["delta"]
            elif posting["kind"] == "refund" and lot["delta"] > 0:
                back[lot["expires_on"]] += lot["delta"]
    return dict(taken), dict(back)


def _check_refunds(api, hq, member_id, refund):
    """Two half refunds: no lot ever gets back more than it gave; after both, each got back all of it."""
    taken, back = _lots(api, hq, member_id)
    assert sorted(taken.values()) == [10, 10, 10] and back == {}, taken     # 3 lots, 3 expiry days
    first, _, last = sorted(taken)
    refund(0)
    _, back = _lots(api, hq, member_id)
    assert sum(back.values()) == 15 and back[last] == 10, back           # the latest-expiring first
    refund(1)
    _, back = _lots(api, hq, member_id)
    assert back == taken, (taken, back)        # was {last: 20, middle: 10}: 10 points moved 2 days later
    assert back[first] == 10
    assert _ok(api.call("GET", f"/v1/members/{member_id}/points", headers=hq))["accounts"]["points"]["available"] == 30
    checked = _ok(api.call("GET", "/v1/points/reconciliation", params={"member_id": member_id}, headers=hq))
    assert all(account["balanced"] for account in checked["accounts"]), checked


@pytest.mark.usefixtures("stack")
def test_two_half_refund_orders_give_each_lot_back_what_was_taken_from_it(api):
    hq, till, member_id = _member_with_three_lots(api, "lots-order")
    _ok(api.call("POST", f"/v1/members/{member_id}/points/redeem",
                 {"points": 30, "order_id": "ord-1", "order_amount_fen": 3_000},
                 signed_by=till, key="lots-order-redeem"))

    def refund(n):
        reply = _ok(api.call("POST", "/v1/orders/ord-1/refunds", {"refund_id": f"r{n}", "amount_fen": 1_500},
                             signed_by=till, key=f"lots-order-refund-{n}"), 201)
        assert reply["restored"] == 15
    _check_refunds(api, hq, member_id, refund)


@pytest.mark.usefixtures("stack")
def test_two_half_refund_checkouts_give_each_lot_back_what_was_taken_from_it(api):
    hq, till, member_id = _member_with_three_lots(api, "lots-checkout")
    lines = [{"sku": "X", "quantity": 10, "unit_price_fen": 3}]           # 30 fen: 30 points at 100 a yuan
    q = _ok(api.call("POST", "/v1/checkouts/quotes", {"member_id": member_id, "channel": "pos", "lines": lines},
                     signed_by=till, key="lots-checkout-quote"), 201)
    assert q["points"]["points"] == 30, q
    c = _ok(api.call("POST", "/v1/checkouts", {"quote_id": q["quote_id"], "lines": lines},
                     signed_by=till, key="lots-checkout-commit"), 201)
    _ok(api.call("POST", f"/v1/checkouts/{c['checkout_id']}/complete", {"payment_ref": "wx-lots"},
                 signed_by=till, key="lots-checkout-complete"))

    def refund(n):
        reply = _ok(api.call("POST", f"/v1/checkouts/{c['checkout_id']}/refunds",
                             {"refund_id": f"r{n}", "reason": "退货", "lines": [{"line": 0, "quantity": 5}]},
                             signed_by=till, key=f"lots-checkout-refund-{n}"), 201)
        assert {s["part"]: s for s in reply["steps"]}["points"]["points_restored"] == 15, reply
    _check_refunds(api, hq, member_id, refund)
