"""How orders live in the main table. One partition per order, so one Query reads an order with
every part of it:

``ORDER#<merchant>#<order> / ORDER``          the order: member, store, amount, lines, refunded
                                              so far, version (the lock of read-modify-writes).
                                              The points part's own attributes live on this item
                                              too (``points.tables.PointsOrderItem``): they were
                                              there before orders were a capability.
``ORDER#<merchant>#<order> / PART#<store>#<ref>``   one money store's part: what it paid, spread
                                              over the lines, and how much of it was refunded
``REFUND#<merchant>#<order>#<refund> / REFUND``     a refund id of the order, once
``SPEND#<member> / MERCHANT#<merchant>``      what the member spent there (``spend``: projected
                                              from the orders' events)

The order item is written here only by update actions (never a put), so the attributes another
capability keeps on it are never lost; a capability that writes it by a versioned put reads the
whole item first, and every update here moves ``version``, so such a put never overwrites one.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.db.items import Gsi1, MainModel


class OrderItem(MainModel):
    merchant_id = UnicodeAttribute()
    store_id = UnicodeAttribute(null=True)       # the store of its first use (refunds stay with the store)
    order_id = UnicodeAttribute()
    member_id = UnicodeAttribute(null=True)      # none until a member's store records a part (a gift card is anonymous)
    amount_fen = NumberAttribute(null=True)      # fixed by the first use that states it: the base of refunds
    lines = UnicodeAttribute(null=True)          # JSON [{sku, category, amount_fen}]: fixed by the first use that states them
    refunded_fen = NumberAttribute(default=0)
    paid_fen = NumberAttribute(null=True)        # what the parts paid less their refunds: never above amount_fen
    paid_bonus_fen = NumberAttribute(null=True)  # of it, stored value bonus: earns no points (points.earning)
    refunded_lines = UnicodeAttribute(null=True)   # JSON [fen per line] refunded by line so far
    version = NumberAttribute(default=0)
    created_at = UnicodeAttribute(null=True)     # first use: the member's order list
    gsi1pk = UnicodeAttribute(null=True)         # ORDERS#<member>
    gsi1sk = UnicodeAttribute(null=True)         # <created_at>#<merchant>#<order>
    by_member = Gsi1()

    @staticmethod
    def key(merchant_id: str, order_id: str) -> tuple[str, str]:
        return f"ORDER#{merchant_id}#{order_id}", "ORDER"

    @staticmethod
    def member_listing(member_id: str) -> str:
        return f"ORDERS#{member_id}"

    def list_under_member(self, at: str) -> None:
        """Index a new order under its member, newest first by ``at``."""
        self.created_at = at
        self.gsi1pk = self.member_listing(str(self.member_id))
        self.gsi1sk = f"{at}#{self.merchant_id}#{self.order_id}"


class OrderPartItem(MainModel):
    """One money store's part of an order: ``amount_fen`` paid, ``by_line`` its spread over the
    order's lines (JSON list of fen, one per line; absent while the order has no lines), and
    ``refunded_fen`` given back so far (never more than was paid)."""

    store = UnicodeAttribute()                   # stored_value | gift_card | points | coupon
    ref = UnicodeAttribute()                     # within the store: "" or a card number, a coupon code
    merchant_id = UnicodeAttribute()
    order_id = UnicodeAttribute()
    amount_fen = NumberAttribute()
    by_line = UnicodeAttribute(null=True)
    refunded_fen = NumberAttribute(default=0)
    created_at = UnicodeAttribute()

    @staticmethod
    def key(merchant_id: str, order_id: str, store: str, ref: str = "") -> tuple[str, str]:
        return f"ORDER#{merchant_id}#{order_id}", f"PART#{store}#{ref}"


class RefundItem(MainModel):
    amount_fen = NumberAttribute()
    created_at = UnicodeAttribute()

    @staticmethod
    def key(merchant_id: str, order_id: str, refund_id: str) -> tuple[str, str]:
        return f"REFUND#{merchant_id}#{order_id}#{refund_id}", "REFUND"


class MemberSpendItem(MainModel):
    """What a member spent at a merchant (:mod:`chalicelib.orders.spend`, which folds it)."""

    spent_fen = NumberAttribute(default=0)       # orders that earned, less their refunds
    orders = NumberAttribute(default=0)          # orders that earned

    @staticmethod
    def key(member_id: str, merchant_id: str) -> tuple[str, str]:
        return f"SPEND#{member_id}", f"MERCHANT#{merchant_id}"
