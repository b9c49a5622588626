"""A checkout on a refunded order (attack F, finding 8), through the app on every backend: the
commit on an order refunded in full is refused (409 ``order-refunded``) with nothing held and no
checkout left behind; an order refunded in full between the commit and the completion makes the
completion refuse (409 ``order-refunded``) before it claims the checkout, which stays
``committed``: its cancel gives everything back."""

from __future__ import annotations

from chalicelib.ledger import holds
from chalicelib.shared import clock
from tests.integration.test_checkout_commit import CHECKOUTS, SCOPE, _balances, _quote, _till
from tests.integration.test_checkout_quote import CART, QUOTES, T0, _member
from tests.integration.test_points_features import balanced


def _refund(api, order_id: str, refund_id: str, fen: int) -> dict:
    return api.ok("POST", f"/v1/orders/{order_id}/refunds", {"refund_id": refund_id, "amount_fen": fen,
                                                            "merchant_id": "m1"})


def test_a_commit_on_an_order_refunded_in_full_is_refused_and_holds_nothing(api):
    clock.freeze(T0)
    mid = _member(api, "13800502001")
    api.ok("POST", f"/v1/members/{mid}/points/earn", {"order_id": "OX", "amount_fen": 20_000, "merchant_id": "m1",
                                                      "store_id": "s1"})
    _refund(api, "OX", "rx1", 20_000)
    api.ok("POST", "/v1/merchants/m1/stores", {"store_id": "s2", "name": "S2"})
    quote = api.ok("POST", QUOTES, {"member_id": mid, "channel": "pos", "lines": CART}, token=_till("s2"))
    status, problem = api.call("POST", CHECKOUTS, {"quote_id": quote["quote_id"], "order_id": "OX"}, key="cr-0",
                               token=_till("s2"))
    assert status == 404, problem                                         # another store's: not its to see
    before = _balances(api, mid)
    status, problem = api.call("POST", CHECKOUTS, {"quote_id": _quote(api, mid)["quote_id"], "order_id": "OX",
                                                   "stored_value_fen": 500}, key="cr-1", token=_till())
    assert status == 409 and problem["type"].endswith("/order-refunded"), problem
    assert problem["refunded_fen"] == 20_000
    assert _balances(api, mid) == before                                  # nothing held
    assert api.call("GET", f"{CHECKOUTS}/{holds.step_id('K', SCOPE, 'cr-1')}", token=_till())[0] == 404
    assert balanced(mid)["held"] == 0


def test_an_order_refunded_before_the_completion_leaves_the_checkout_committed_and_cancellable(api):
    clock.freeze(T0)
    mid = _member(api, "13800502002")
    before = _balances(api, mid)
    c = api.ok("POST", CHECKOUTS, {"quote_id": _quote(api, mid)["quote_id"], "order_id": "OY",
                                   "stored_value_fen": 500}, key="cr-2", token=_till())
    amount = api.ok("GET", "/v1/orders/OY?merchant_id=m1")["amount_fen"]
    _refund(api, "OY", "ry1", amount)
    status, problem = api.call("POST", f"{CHECKOUTS}/{c['checkout_id']}/complete", {"payment_ref": "pay-cr2"},
                               key="cr-2d", token=_till())
    assert status == 409 and problem["type"].endswith("/order-refunded"), problem
    assert api.ok("GET", f"{CHECKOUTS}/{c['checkout_id']}", token=_till())["status"] == "committed"
    assert api.ok("POST", f"{CHECKOUTS}/{c['checkout_id']}/cancel", {}, key="cr-2c", token=_till())["status"] == \
        "cancelled"
    assert _balances(api, mid) == before                                  # every hold given back
    account = balanced(mid)
    assert (account["held"], account["redeemed"]) == (0, 0)


def test_a_completion_whose_points_confirm_is_refused_before_anything_is_spent_leaves_it_committed(api, monkeypatch):
    """The refund lands after the completion's check of the order (the check made blind here): the
    points confirm refuses (hold-order-refunded), nothing was spent, so the checkout is
    ``committed`` again, not stuck ``completing``: its cancel gives everything back."""
    from chalicelib.points import service as points
    clock.freeze(T0)
    mid = api.member("13800502004")                                       # no coupons: points are confirmed first
    api.ok("POST", f"/v1/members/{mid}/points/earn", {"order_id": f"o-{mid}", "amount_fen": 500_000,
                                                      "merchant_id": "m1"})
    api.ok("POST", f"/v1/members/{mid}/stored-value/top-ups", {"amount_fen": 3_000, "payment_ref": f"p-{mid}",
                                                               "merchant_id": "m1"})
    before = _balances(api, mid)
    c = api.ok("POST", CHECKOUTS, {"quote_id": _quote(api, mid)["quote_id"], "order_id": "OZ",
                                   "stored_value_fen": 500}, key="cr-4", token=_till())
    _refund(api, "OZ", "rz1", api.ok("GET", "/v1/orders/OZ?merchant_id=m1")["amount_fen"])
    monkeypatch.setattr(points, "order_refunded", lambda *args: None)
    status, problem = api.call("POST", f"{CHECKOUTS}/{c['checkout_id']}/complete", {"payment_ref": "pay-cr4"},
                               key="cr-4d", token=_till())
    assert status == 409 and problem["type"].endswith("/checkout-state"), problem
    assert "hold-order-refunded" not in problem["detail"] and "committed again" in problem["detail"], problem
    assert api.ok("GET", f"{CHECKOUTS}/{c['checkout_id']}", token=_till())["status"] == "committed"
    assert api.ok("POST", f"{CHECKOUTS}/{c['checkout_id']}/cancel", {}, key="cr-4c", token=_till())["status"] == \
        "cancelled"
    assert _balances(api, mid) == before
    assert balanced(mid)["redeemed"] == 0
