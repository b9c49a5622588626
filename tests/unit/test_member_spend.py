"""What each member spent at each merchant (the members list's spend), as the fold reads the
orders' events: an order that earned adds its amount and one order; a refund of such an order
takes its amount back; a refund of an order that never earned, and an event naming no member,
count nothing."""

from __future__ import annotations

from chalicelib.orders import spend
from chalicelib.orders.tables import MemberSpendItem
from chalicelib.shared.events import DomainEvent


def _rows(event_type: str, **data) -> dict:
    return spend.fold.fold(DomainEvent(event_type, "member:m1", data)).rows      # the fold alone: no table


def test_an_earning_order_adds_its_amount_and_a_refund_of_it_takes_its_amount_back():
    row = (MemberSpendItem, "SPEND#m1", "MERCHANT#shop")
    assert _rows("order.earned", member_id="m1", merchant_id="shop", amount_fen=29_950) == \
        {row: ({"spent_fen": 29_950, "orders": 1}, {})}
    assert _rows("order.refunded", member_id="m1", merchant_id="shop", amount_fen=5_000, order_earned=True) == \
        {row: ({"spent_fen": -5_000}, {})}


def test_refunds_of_orders_that_never_earned_and_events_without_a_member_count_nothing():
    assert _rows("order.refunded", member_id="m1", merchant_id="shop", amount_fen=5_000, order_earned=False) == {}
    assert _rows("order.earned", member_id=None, merchant_id="shop", amount_fen=100) == {}
