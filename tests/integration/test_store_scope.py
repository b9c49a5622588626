"""Store scope (issue #20 item 9): a business record remembers the store that took it, and a
caller confined to a store (a store-scoped key, store staff) reaches its own store's records
only: another store's payment, order, refund or hold of the same merchant does not exist for it
(404) and nothing changes. A record without a store (taken by a merchant-level caller, or before
records kept their store) is for merchant-level callers and HQ only."""

from __future__ import annotations

import pytest

from chalicelib.shared.credentials import mint_token


@pytest.fixture
def tills(api):
    from chalicelib.db.uow import UnitOfWork
    from chalicelib.merchants.tables import StoreItem
    UnitOfWork("test").put(StoreItem(*StoreItem.key("m1", "s2"), merchant_id="m1", store_id="s2", name="s2",
                                     created_at="2026-01-01"))
    tokens = {name: mint_token("staff", f"t-{name}", 60, role=role, merchant_id="m1", store_id=store)
              for name, role, store in (("s1", "store_manager", "s1"), ("s2", "store_manager", "s2"),
                                        ("s2-clerk", "clerk", "s2"), ("merchant", "store_manager", None))}

    def send(who, method, path, body=None):
        return api.call(method, path, body, token=tokens[who] if who != "hq" else None)
    return send


def test_stored_value_payments_and_holds_stay_with_their_store(api, tills):
    m = api.member("13800138111")
    api.ok("POST", f"/v1/members/{m}/stored-value/top-ups", {"amount_fen": 10_000, "payment_ref": "ss-1",
                                                            "merchant_id": "m1"})
    assert tills("s1", "POST", f"/v1/members/{m}/stored-value/payments", {"amount_fen": 3_000, "order_id": "o1"})[0] == 201
    status, held = tills("s1", "POST", f"/v1/members/{m}/stored-value/holds", {"amount_fen": 1_000, "order_id": "o2"})
    assert status == 201
    before = api.ok("GET", f"/v1/members/{m}/stored-value")
    status, problem = tills("s2", "POST", "/v1/stored-value/payments/o1/refunds", {"refund_id": "r", "amount_fen": 100})
    assert status == 404 and problem["type"].endswith("/not-found"), problem
    for who in ("s2", "s2-clerk"):
        for action in ("confirm", "cancel"):
            assert tills(who, "POST", f"/v1/members/{m}/stored-value/holds/{held['hold_id']}/{action}")[0] == 404
    assert api.ok("GET", f"/v1/members/{m}/stored-value") == before
    assert tills("s1", "POST", "/v1/stored-value/payments/o1/refunds", {"refund_id": "r", "amount_fen": 100})[0] == 201
    assert tills("merchant", "POST", "/v1/stored-value/payments/o1/refunds",
                 {"refund_id": "r2", "amount_fen": 100})[0] == 201                     # the merchant level
    assert tills("s1", "POST", f"/v1/members/{m}/stored-value/holds/{held['hold_id']}/confirm")[0] == 200
    # a payment a merchant-level caller took has no store: no store's caller refunds it
    assert tills("merchant", "POST", f"/v1/members/{m}/stored-value/payments",
                 {"amount_fen": 500, "order_id": "o3"})[0] == 201
    assert tills("s1", "POST", "/v1/stored-value/payments/o3/refunds", {"refund_id": "r", "amount_fen": 1})[0] == 404
    assert tills("merchant", "POST", "/v1/stored-value/payments/o3/refunds", {"refund_id": "r", "amount_fen": 1})[0] == 201


def test_points_orders_and_holds_stay_with_their_store(api, tills):
    m = api.member("13800138112")
    api.ok("POST", f"/v1/members/{m}/points/earn", {"order_id": "p1", "amount_fen": 50_000, "merchant_id": "m1",
                                                     "store_id": "s1"})                # HQ books it to store s1
    status, held = tills("s1", "POST", f"/v1/members/{m}/points/holds", {"points": 10})
    assert status == 201, held
    status, spent = tills("s1", "POST", f"/v1/members/{m}/points/redeem",
                          {"points": 5, "order_id": "p2", "order_amount_fen": 10_000})
    assert status == 200, spent
    assert api.ok("GET", "/v1/orders/p2?merchant_id=m1")["store_id"] == "s1"          # a spend records its store
    before = api.ok("GET", f"/v1/members/{m}/points")
    for who in ("s2", "s2-clerk"):          # (refunds of points are keys' and HQ's: the HTTP walk refuses a key)
        for order in ("p1", "p2"):
            assert tills(who, "GET", f"/v1/orders/{order}")[0] == 404
        status, problem = tills(who, "POST", f"/v1/members/{m}/points/redeem",
                                {"points": 1, "order_id": "p2", "order_amount_fen": 10_000})
        assert status == 404, problem
        assert tills(who, "GET", f"/v1/members/{m}/points/holds/{held['hold_id']}")[0] == 404
        for action in ("confirm", "cancel"):
            assert tills(who, "POST", f"/v1/members/{m}/points/holds/{held['hold_id']}/{action}", {})[0] == 404
        orders = tills(who, "GET", f"/v1/members/{m}/orders")[1]["orders"]
        assert orders == []                                                            # not its store's
    assert api.ok("GET", f"/v1/members/{m}/points") == before
    assert tills("s1", "GET", "/v1/orders/p2")[0] == 200
    assert tills("merchant", "GET", "/v1/orders/p2")[0] == 200
    assert tills("s1", "POST", f"/v1/members/{m}/points/holds/{held['hold_id']}/confirm", {})[0] == 200


def test_a_store_pays_only_for_its_own_orders(api, tills):
    """Orders (issue #23 item 4): one order of a merchant collects every store's payment, so a
    store's payment for another store's order would have changed that store's record. It is 404
    (the order is not the store's to see) and nothing changes; the order's own store, and the
    merchant level, pay for it."""
    m = api.member("13800138112")
    api.ok("POST", f"/v1/members/{m}/stored-value/top-ups", {"amount_fen": 10_000, "payment_ref": "ss-2",
                                                            "merchant_id": "m1"})
    api.ok("POST", f"/v1/members/{m}/points/earn", {"order_id": "o9", "amount_fen": 2_000, "merchant_id": "m1",
                                                    "store_id": "s1"})        # the till of s1
    before = (api.ok("GET", f"/v1/members/{m}/stored-value"), api.ok("GET", "/v1/orders/o9?merchant_id=m1"))
    for who in ("s2", "s2-clerk"):
        status, problem = tills(who, "POST", f"/v1/members/{m}/stored-value/payments", {"amount_fen": 100,
                                                                                         "order_id": "o9"})
        assert status == 404 and problem["type"].endswith("/not-found"), problem
    assert (api.ok("GET", f"/v1/members/{m}/stored-value"), api.ok("GET", "/v1/orders/o9?merchant_id=m1")) == before
    assert tills("s1", "POST", f"/v1/members/{m}/stored-value/payments", {"amount_fen": 100, "order_id": "o9"})[0] == 201
    parts = api.ok("GET", "/v1/orders/o9?merchant_id=m1")["parts"]
    assert [(p["store"], p["amount_fen"]) for p in parts] == [("stored_value", 100)]
