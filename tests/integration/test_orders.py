"""Orders as a capability (issue #23 item 4): one order, its lines, and each money store's part,
through the app on every backend. A till pays one order with stored value and two gift cards and
earns points on it with its lines; the order shows every part; each store's refund reverses its
own part and the order keeps count, never past what a part paid; an order is one member's; and
payments made before orders kept parts are moved in by the migration (or by their first refund)."""

from __future__ import annotations

import pytest

from chalicelib.gift_cards import keys
from tests.integration.test_gift_cards import FACE, cards, make_batch, secrets_of, sell  # noqa: F401
from tests.integration.test_gift_cards import pay as card_pay
from tests.integration.test_gift_cards import refund as card_refund
from tests.integration.test_stored_value import RULES, pay, top_up

LINES = [{"sku": "TEA-1", "category": "tea", "amount_fen": 12_000}, {"sku": "CUP-2", "amount_fen": 8_000}]


@pytest.fixture
def till(cards):  # noqa: F811
    """Cards 1-4 sold and active, stored value rules in force: (api, numbers, secrets)."""
    cards.ok("PUT", "/v1/stored-value/rules", {"rules": RULES, "effective_from": "2026-01-01T00:00:00Z"})
    batch = make_batch(cards)
    assert sell(cards, batch, 1, 4, "INV-O")[0] == 201
    return cards, {i: keys.card_number(1, i) for i in range(1, 5)}, secrets_of(batch)


def order(api, order_id):
    return api.ok("GET", f"/v1/orders/{order_id}?merchant_id=m1")


def parts(shown):
    return {(p["store"], p["ref"]): (p["amount_fen"], p["refunded_fen"]) for p in shown["parts"]}


def test_one_order_paid_by_three_stores_shows_each_part_and_each_refund_reverses_its_own(till):
    api, n, s = till
    mid = api.member("13800139501")
    assert top_up(api, mid, 30_000, "WX-O1")[0] == 201
    status, sv = pay(api, mid, 6_000, "O-1")
    assert status == 201, sv
    assert card_pay(api, n[1], s[n[1]], 9_000, "O-1")[0] == 201
    assert card_pay(api, n[2], s[n[2]], 5_000, "O-1")[0] == 201
    earned = api.ok("POST", f"/v1/members/{mid}/points/earn", {"order_id": "O-1", "amount_fen": 20_000,
                                                                "merchant_id": "m1", "lines": LINES})
    shown = order(api, "O-1")
    assert (shown["member_id"], shown["amount_fen"]) == (mid, 20_000)
    assert [(line["sku"], line["amount_fen"]) for line in shown["lines"]] == [("TEA-1", 12_000), ("CUP-2", 8_000)]
    assert parts(shown) == {("stored_value", None): (6_000, 0), ("gift_card", n[1]): (9_000, 0),
                            ("gift_card", n[2]): (5_000, 0)}
    assert shown["earned"]["points"][0]["points"] == earned["points"]

    status, back = api.call("POST", "/v1/stored-value/payments/O-1/refunds",
                            {"refund_id": "R-SV", "amount_fen": 2_500, "merchant_id": "m1"})
    assert status == 201, back
    assert card_refund(api, n[1], "O-1", 9_000, "R-C1")[0] == 201
    status, over = card_refund(api, n[2], "O-1", 5_001, "R-C2")
    assert status == 409 and over["type"].endswith("/refund-exceeds-payment")
    status, points_back = api.call("POST", "/v1/orders/O-1/refunds", {"refund_id": "R-P", "amount_fen": 5_000,
                                                                      "merchant_id": "m1"})
    assert status == 201, points_back
    assert points_back["clawed_back"]["points"] == earned["points"] * 5_000 // 20_000     # the order's share
    shown = order(api, "O-1")
    assert parts(shown) == {("stored_value", None): (6_000, 2_500), ("gift_card", n[1]): (9_000, 9_000),
                            ("gift_card", n[2]): (5_000, 0)}
    assert shown["refunded_fen"] == 5_000


def test_an_order_is_one_members_and_a_payment_for_anothers_order_changes_nothing(till):
    api, n, s = till
    ann, bob = api.member("13800139502"), api.member("13800139503")
    for who, ref in ((ann, "WX-A"), (bob, "WX-B")):
        assert top_up(api, who, 10_000, ref)[0] == 201
    assert api.call("POST", f"/v1/members/{ann}/points/earn", {"order_id": "O-2", "amount_fen": 3_000,
                                                               "merchant_id": "m1"})[0] == 201
    before = api.ok("GET", f"/v1/members/{bob}/stored-value")
    status, refused = pay(api, bob, 1_000, "O-2")
    assert status == 409 and "another member" in refused["detail"], refused
    assert api.ok("GET", f"/v1/members/{bob}/stored-value") == before
    assert parts(order(api, "O-2")) == {}
    # an order a gift card paid first has no member yet: the member who then pays or earns on it owns it
    assert card_pay(api, n[3], s[n[3]], 1_000, "O-3")[0] == 201
    assert order(api, "O-3")["member_id"] is None
    assert pay(api, bob, 500, "O-3")[0] == 201
    assert order(api, "O-3")["member_id"] == bob
    listed = api.ok("GET", f"/v1/members/{bob}/orders")["orders"]
    assert [o["order_id"] for o in listed] == ["O-3"]
    assert api.call("POST", f"/v1/members/{ann}/points/earn", {"order_id": "O-3", "amount_fen": 1_500,
                                                               "merchant_id": "m1"})[0] == 409


def _forget_parts(order_id, stores=(("stored_value", ""),)):
    """The order and its parts as they were before orders kept parts: not there."""
    from chalicelib.db.uow import UnitOfWork
    from chalicelib.orders.tables import OrderItem, OrderPartItem
    uow = UnitOfWork("test")
    uow.delete(OrderItem(*OrderItem.key("m1", order_id)))
    for store, ref in stores:
        uow.delete(OrderPartItem(*OrderPartItem.key("m1", order_id, store, ref)))
    uow.commit()


def test_a_payment_made_before_orders_kept_parts_is_recorded_by_its_first_refund(till):
    api, n, s = till
    mid = api.member("13800139504")
    assert top_up(api, mid, 10_000, "WX-C")[0] == 201
    assert pay(api, mid, 4_000, "O-4")[0] == 201
    assert api.call("POST", "/v1/stored-value/payments/O-4/refunds",
                    {"refund_id": "R-1", "amount_fen": 1_000, "merchant_id": "m1"})[0] == 201
    _forget_parts("O-4")
    assert api.call("GET", "/v1/orders/O-4?merchant_id=m1")[0] == 404
    assert api.call("POST", "/v1/stored-value/payments/O-4/refunds",
                    {"refund_id": "R-2", "amount_fen": 500, "merchant_id": "m1"})[0] == 201
    shown = order(api, "O-4")
    assert parts(shown) == {("stored_value", None): (4_000, 1_500)} and shown["member_id"] == mid


def test_the_migration_moves_payments_made_before_orders_kept_parts_into_their_orders(aws, monkeypatch):
    """On the DynamoDB code path (raw items, as ``python -m infra.migrate`` sees them): payments
    whose order and parts are gone (the old layout) get them back, with what was refunded; a
    part the new code wrote already is left as it is; an order of another member is reported
    and the marker not set; a second run after the fix scans nothing."""
    from chalicelib.db.tables import MAIN
    from chalicelib.gift_cards import generation
    from chalicelib.orders.migration import migrate_order_parts
    from chalicelib.shared import clock
    from chalicelib.shared.config import settings
    from tests.integration.conftest import AppClient
    from tests.integration.test_gift_cards import T0
    clock.freeze(T0)
    monkeypatch.setattr(generation, "CHUNK", 4)
    api = AppClient()
    api.ok("PUT", "/v1/stored-value/rules", {"rules": RULES, "effective_from": "2026-01-01T00:00:00Z"})
    batch = make_batch(api)
    assert sell(api, batch, 1, 2, "INV-M")[0] == 201
    s, number = secrets_of(batch), keys.card_number(1, 1)
    mid = api.member("13800139505")
    assert top_up(api, mid, 10_000, "WX-M")[0] == 201
    assert pay(api, mid, 3_000, "O-5")[0] == 201
    assert api.call("POST", "/v1/stored-value/payments/O-5/refunds",
                    {"refund_id": "R-1", "amount_fen": 700, "merchant_id": "m1"})[0] == 201
    assert card_pay(api, number, s[number], 2_000, "O-5")[0] == 201
    assert card_pay(api, number, s[number], 1_000, "O-6")[0] == 201
    main = MAIN.physical_name(settings())
    _forget_parts("O-5", (("stored_value", ""), ("gift_card", number)))
    _forget_parts("O-6", ())                                  # its part stays: written by the new code
    assert api.call("GET", "/v1/orders/O-5?merchant_id=m1")[0] == 404

    assert migrate_order_parts(aws, main) == {"moved": 2, "conflicts": []}
    shown = order(api, "O-5")
    assert parts(shown) == {("stored_value", None): (3_000, 700), ("gift_card", number): (2_000, 0)}
    assert shown["member_id"] == mid and [o["order_id"] for o in api.ok("GET", f"/v1/members/{mid}/orders")["orders"]] == ["O-5"]
    assert parts(order(api, "O-6")) == {("gift_card", number): (1_000, 0)} and order(api, "O-6")["member_id"] is None
    assert migrate_order_parts(aws, main) == {"moved": 0, "conflicts": []}          # the marker: nothing scanned

    aws.delete_item(TableName=main, Key={"pk": {"S": "MIGRATION#order-parts"}, "sk": {"S": "DONE"}})
    _forget_parts("O-5", (("stored_value", ""),))
    aws.update_item(TableName=main, Key={"pk": {"S": "default/ORDER#m1#O-5"}, "sk": {"S": "ORDER"}},
                    UpdateExpression="SET member_id = :x", ExpressionAttributeValues={":x": {"S": "SOMEONE-ELSE"}})
    done = migrate_order_parts(aws, main)
    assert done["moved"] == 0 and done["conflicts"] == ["default/ORDER#m1#O-5: paid by another member than the order's"]
    assert "Item" not in aws.get_item(TableName=main, Key={"pk": {"S": "MIGRATION#order-parts"}, "sk": {"S": "DONE"}})


def test_a_refund_of_a_line_claws_back_the_points_that_line_earned(api):
    """Line B earned at triple points (its SKU's factor): refunding it takes back its share, not
    the order's; refunding the rest then takes back the rest, to the point; a line never gives
    back more than it had, and the lines of a refund add up to its amount."""
    from chalicelib.shared import clock
    clock.freeze(None)
    api.ok("PUT", "/v1/points/rules", {"rules": {"points_per_yuan": "1", "sku_multipliers": {"B": "3"}},
                                        "effective_from": "2026-01-01T00:00:00Z"})
    mid = api.member("13800139506")
    lines = [{"sku": "A", "amount_fen": 6_000}, {"sku": "B", "amount_fen": 4_000}]
    earned = api.ok("POST", f"/v1/members/{mid}/points/earn", {"order_id": "O-7", "amount_fen": 10_000,
                                                                "merchant_id": "m1", "lines": lines})
    assert earned["points"] == 60 + 120                          # ¥60 at 1, ¥40 at 3
    refund = {"refund_id": "R-B", "amount_fen": 4_000, "merchant_id": "m1", "lines": [{"line": 1, "amount_fen": 4_000}]}
    for bad, why in ((dict(refund, amount_fen=3_999), "add up"), (dict(refund, lines=[{"line": 2, "amount_fen": 4_000}]),
                                                                  "no line 2")):
        status, problem = api.call("POST", "/v1/orders/O-7/refunds", bad)
        assert status in (409, 422) and why in problem["detail"], problem
    back = api.ok("POST", "/v1/orders/O-7/refunds", refund)
    assert back["clawed_back"]["points"] == 120 and back["refunded_fen"] == 4_000
    status, over = api.call("POST", "/v1/orders/O-7/refunds", {**refund, "refund_id": "R-B2",
                                                               "lines": [{"line": 1, "amount_fen": 1}], "amount_fen": 1})
    assert status == 409 and over["type"].endswith("/refund-exceeds-order"), over
    shown = api.ok("GET", "/v1/orders/O-7?merchant_id=m1")
    assert [line["refunded_fen"] for line in shown["lines"]] == [0, 4_000]
    rest = api.ok("POST", "/v1/orders/O-7/refunds", {"refund_id": "R-A", "amount_fen": 3_000, "merchant_id": "m1"})
    assert rest["clawed_back"]["points"] == 30                  # half of what is left: line A's half
    assert [line["refunded_fen"] for line in api.ok("GET", "/v1/orders/O-7?merchant_id=m1")["lines"]] == [3_000, 4_000]
    assert api.ok("GET", f"/v1/members/{mid}/points")["accounts"]["points"]["balance"] == 30


def test_an_orders_parts_never_pay_more_than_its_amount_and_a_parts_refund_frees_its_room(till):
    """Attack defect 4: what the parts paid (less their refunds) never passes the order's amount;
    an order whose first use is a payment takes any amount, and the earn then stating less is refused."""
    api, n, s = till
    mid = api.member("13800139511")
    assert top_up(api, mid, 30_000, "WX-OV")[0] == 201
    assert pay(api, mid, 6_000, "O-OV")[0] == 201
    status, less = api.call("POST", f"/v1/members/{mid}/points/earn", {"order_id": "O-OV", "amount_fen": 5_000,
                                                                        "merchant_id": "m1"})
    assert status == 409 and less["type"].endswith("/order-overpaid") and less["paid_fen"] == 6_000, less
    assert api.call("POST", f"/v1/members/{mid}/points/earn", {"order_id": "O-OV", "amount_fen": 8_000,
                                                               "merchant_id": "m1"})[0] == 201
    status, over = card_pay(api, n[1], s[n[1]], 2_001, "O-OV")
    assert status == 409 and over["type"].endswith("/order-overpaid") and over["paid_fen"] == 6_000, over
    status, held = api.call("POST", "/v1/gift-cards/holds", {"card_number": n[1], "secret": s[n[1]], "amount_fen": 2_001,
                                                             "order_id": "O-OV", "merchant_id": "m1", "ttl_seconds": 600})
    assert status == 409 and held["type"].endswith("/order-overpaid"), held
    assert api.call("POST", "/v1/stored-value/payments/O-OV/refunds",
                    {"refund_id": "R-OV", "amount_fen": 1_000, "merchant_id": "m1"})[0] == 201
    assert card_pay(api, n[1], s[n[1]], 3_000, "O-OV")[0] == 201          # the refund freed 1000 fen of room
    assert sum(p["amount_fen"] - p["refunded_fen"] for p in order(api, "O-OV")["parts"]) == 8_000


def test_a_refund_of_a_payment_from_before_orders_kept_parts_is_never_refused_as_overpaying(till):
    """A stored value payment of 4000 fen from before parts (and paid_fen), on an order since earned
    at 3000: its refund records its part from the payment and is not refused for the amount."""
    api, n, s = till
    mid = api.member("13800139512")
    assert top_up(api, mid, 10_000, "WX-L")[0] == 201
    assert pay(api, mid, 4_000, "O-L")[0] == 201
    _forget_parts("O-L")
    assert api.call("POST", f"/v1/members/{mid}/points/earn", {"order_id": "O-L", "amount_fen": 3_000,
                                                               "merchant_id": "m1"})[0] == 201
    status, back = api.call("POST", "/v1/stored-value/payments/O-L/refunds",
                            {"refund_id": "R-L", "amount_fen": 500, "merchant_id": "m1"})
    assert status == 201, back
    assert parts(order(api, "O-L")) == {("stored_value", None): (4_000, 500)}
