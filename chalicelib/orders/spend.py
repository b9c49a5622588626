"""What each member spent at each merchant: a folding projection of the orders' events.

``SPEND#<member> / MERCHANT#<merchant>``   (``tables.MemberSpendItem``) ``spent_fen``: the amounts of the member's orders that
                                          earned at the merchant (``order.earned``), less what
                                          refunds of those orders gave back (``order.refunded``
                                          of an order that earned); ``orders``: how many earned

The members list shows it beside each member's balances (a "total spend" column), read by key with
the balances in one batch, so a page costs the same whatever the members' histories. It is folded
from the stream (:mod:`chalicelib.events.folding`: exactly once, a batch's events of one member
summed into one update), seconds behind the orders, never on an order's own transaction. A row
only one member's events touch is not hot: it is not sharded. Orders recorded before this
projection was deployed are not in it (no backfill is run).
"""

from __future__ import annotations

from chalicelib.events.folding import Deltas, folds
from chalicelib.orders.tables import MemberSpendItem
from chalicelib.shared.events import DomainEvent

CONSUMER = "member-spend"


@folds(CONSUMER, "order.earned", "order.refunded")
def fold(event: DomainEvent) -> Deltas:
    """An earning order adds its amount (and one order); a refund of an order that earned takes
    the refund's amount back (a refund of one that never earned was never counted)."""
    deltas = Deltas()
    data = event.data
    member, merchant = data.get("member_id"), data.get("merchant_id")
    if not member or not merchant:
        return deltas
    if event.type == "order.earned":
        deltas.add(MemberSpendItem, MemberSpendItem.key(member, merchant),
                   {"spent_fen": int(data["amount_fen"]), "orders": 1})
    elif data.get("order_earned"):
        deltas.add(MemberSpendItem, MemberSpendItem.key(member, merchant), {"spent_fen": -int(data["amount_fen"])})
    return deltas

