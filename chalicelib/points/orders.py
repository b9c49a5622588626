"""What an order earned, spent and refunded: one item per merchant order, changed by
read-modify-write on its own version, so the points it records are never applied twice."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from chalicelib.db.uow import UnitOfWork
from chalicelib.points import access
from chalicelib.points.tables import OrderItem
from chalicelib.shared import clock
from chalicelib.shared.errors import ConcurrentUpdate, Conflict, NotFound, Problem, ValidationProblem
from chalicelib.shared.principal import Principal


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
    if order is None:
        o.list_under_member(clock.now().isoformat())
    read_version = int(o.version or 0)
    change(o)
    o.version = read_version + 1
    uow.save(o, OrderItem.version == read_version if order else OrderItem.pk.does_not_exist(),
             on_conflict=_changed(order_id))
    return o


def spent_points(order: OrderItem | None) -> int:
    """Points spent on the order so far (redemptions and confirmed holds)."""
    return sum(int(s["points"]) for s in json.loads(order.spent or "[]")) if order else 0


def check_amount(order: OrderItem | None, order_id: str, amount_fen: int) -> None:
    """An order's amount is fixed by its first use; every later use states the same amount."""
    if order is not None and order.amount_fen and int(order.amount_fen) != amount_fen:
        raise ValidationProblem(f"order {order_id} is for {int(order.amount_fen)} fen; state the same amount",
                                order_amount_fen=int(order.amount_fen))


def check_share(order: OrderItem | None, order_id: str, points: int, limit: int) -> None:
    """The maximum share holds across every redemption of one order, not per call."""
    already = spent_points(order)
    if already + points > limit:
        raise ValidationProblem(f"order {order_id} may be paid with at most {limit} points; {already} are spent "
                                f"on it already", limit_points=limit, spent_points=already)


def record_spend(uow: UnitOfWork, merchant_id: str, order_id: str, member_id: str, taken: list[dict[str, Any]],
                 amount_fen: int, limit: int) -> None:
    """Add the lots a redemption or a confirmed hold took to the order (for refunds), within the
    order's share cap; a first use records the order's amount (the base of later refunds)."""
    order = read(uow, merchant_id, order_id, member_id)
    if amount_fen:
        check_amount(order, order_id, amount_fen)
    check_share(order, order_id, sum(int(t["points"]) for t in taken), limit)

    def add(o: OrderItem) -> None:
        o.spent = json.dumps(json.loads(o.spent or "[]") + taken)
        o.amount_fen = o.amount_fen or amount_fen
    save(uow, order, merchant_id, order_id, member_id, add)


def expiry_key(point_type: str, lot_id: str) -> str:
    """How an order's ``expired`` map names a lot: lot ids are per account, so every type but
    ``points`` (stored bare, as before) carries its type."""
    return lot_id if point_type == "points" else f"{point_type}:{lot_id}"


def record_expired(uow: UnitOfWork, source: str | None, member_id: str, lot_id: str, points: int,
                   point_type: str = "points") -> None:
    """Note on the order that earned a lot how much of it expired unspent, so a later refund does
    not claw those points back a second time (as debt)."""
    if not source or not source.startswith("order:"):
        return
    _, merchant_id, order_id = source.split(":", 2)
    order = read(uow, merchant_id, order_id)
    if order is None or order.member_id != member_id:
        return

    def add(o: OrderItem) -> None:
        expired = json.loads(o.expired or "{}")
        name = expiry_key(point_type, lot_id)
        expired[name] = int(expired.get(name, 0)) + points
        o.expired = json.dumps(expired)
    save(uow, order, merchant_id, order_id, member_id, add)


def view(uow: UnitOfWork, order_id: str, merchant_id: str) -> dict[str, Any]:
    """What an order earned, spent and had refunded (the merchant's own record)."""
    order = read(uow, merchant_id, order_id)
    if order is None:
        raise NotFound(f"no order {order_id[:64]} at merchant {merchant_id}")
    return _shown(order)


def _shown(order: OrderItem) -> dict[str, Any]:
    return {"order_id": order.order_id, "merchant_id": order.merchant_id, "store_id": order.store_id,
            "member_id": order.member_id, "amount_fen": int(order.amount_fen) if order.amount_fen else None,
            "created_at": order.created_at, "earned_at": order.earned_at, "earned": json.loads(order.earned or "{}"),
            "spent": json.loads(order.spent or "[]"), "spent_points": spent_points(order),
            "refunded_fen": int(order.refunded_fen or 0), "clawed_back": json.loads(order.clawed or "{}"),
            "restored_points": int(order.restored or 0), "shortfall_points": int(order.shortfall or 0)}


def of_member(uow: UnitOfWork, member_id: str, by: Principal, limit: int, before: str | None) -> dict[str, Any]:
    """A member's orders at every merchant (a merchant's caller sees its own), newest first, a page at a time."""
    member_id = access.member(uow, member_id, by)
    items = list(uow.points.orders_of(member_id, limit, before))
    shown = [_shown(o) for o in items if by.kind == "member" or access.owns(by, o.merchant_id)]
    last = items[-1] if len(items) == limit else None
    return {"member_id": member_id, "orders": shown, "next_before": last.gsi1sk if last else None}
