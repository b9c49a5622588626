"""What an order earned, spent and refunded: one item per merchant order, changed by
read-modify-write on its own version, so the points it records are never applied twice."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from chalicelib.db.uow import UnitOfWork
from chalicelib.points.tables import OrderItem
from chalicelib.shared.errors import ConcurrentUpdate, Conflict, Problem


class OrderAlreadyEarned(Conflict):
    slug, title = "order-already-earned", "This order has already earned points"


def _changed(order_id: str) -> Callable[[], Problem]:
    return lambda: ConcurrentUpdate(f"order {order_id} changed concurrently; retry")


def read(uow: UnitOfWork, merchant_id: str, order_id: str, member_id: str | None = None) -> OrderItem | None:
    """The order, refusing one that belongs to another member than ``member_id``."""
    order = uow.points.order(merchant_id, order_id)
    if order is not None and member_id is not None and order.member_id != member_id:
        raise Conflict(f"order {order_id} belongs to another member")
    return order


def save(uow: UnitOfWork, order: OrderItem | None, merchant_id: str, order_id: str, member_id: str,
         change: Callable[[OrderItem], None]) -> OrderItem:
    """Apply ``change`` to the order (a new one if None) and stage it on its version."""
    o = order or OrderItem(*OrderItem.key(merchant_id, order_id), merchant_id=merchant_id, order_id=order_id,
                           member_id=member_id, version=0)
    read_version = int(o.version or 0)
    change(o)
    o.version = read_version + 1
    uow.save(o, OrderItem.version == read_version if order else OrderItem.pk.does_not_exist(),
             on_conflict=_changed(order_id))
    return o


def record_spend(uow: UnitOfWork, merchant_id: str, order_id: str, member_id: str, taken: list[dict[str, Any]]) -> None:
    """Add the lots a redemption or a confirmed hold took to the order (for refunds)."""
    order = read(uow, merchant_id, order_id, member_id)

    def add(o: OrderItem) -> None:
        o.spent = json.dumps(json.loads(o.spent or "[]") + taken)
    save(uow, order, merchant_id, order_id, member_id, add)
