"""Every read of orders: ``repository.of(uow)``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar, overload

from chalicelib.db.backend import SortKey
from chalicelib.db.uow import UnitOfWork
from chalicelib.orders.tables import OrderItem, OrderPartItem

Order = TypeVar("Order", bound=OrderItem)


class OrdersRepository:
    """Orders by key, their parts, and a member's orders newest first."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    @overload
    def order(self, merchant_id: str, order_id: str) -> OrderItem | None: ...
    @overload
    def order(self, merchant_id: str, order_id: str, kind: type[Order]) -> Order | None: ...

    def order(self, merchant_id: str, order_id: str, kind: type[OrderItem] = OrderItem) -> OrderItem | None:
        """The order (consistent); ``kind``: a capability's view of the item with its own attributes."""
        return self.uow.get(kind, kind.key(merchant_id, order_id), consistent=True)

    def parts(self, merchant_id: str, order_id: str) -> list[OrderPartItem]:
        """Every money store's part of the order, in one Query of its partition."""
        return list(self.uow.query(OrderPartItem, OrderItem.key(merchant_id, order_id)[0], SortKey.prefix("PART#"),
                                   consistent=True))

    def part(self, merchant_id: str, order_id: str, store: str, ref: str = "") -> OrderPartItem | None:
        """One store's part of the order (consistent)."""
        return self.uow.get(OrderPartItem, OrderPartItem.key(merchant_id, order_id, store, ref), consistent=True)

    @overload
    def orders_of(self, member_id: str, limit: int, before: str | None = None) -> Iterator[OrderItem]: ...
    @overload
    def orders_of(self, member_id: str, limit: int, before: str | None = None, *,
                  kind: type[Order]) -> Iterator[Order]: ...

    def orders_of(self, member_id: str, limit: int, before: str | None = None,
                  kind: type[OrderItem] = OrderItem) -> Iterator[OrderItem]:
        """The member's orders, newest first; ``before`` is the listing key of the last one seen."""
        sort = SortKey.below(before) if before else None
        return self.uow.query(kind, kind.member_listing(member_id), sort, index="gsi1", forward=False, limit=limit)


def of(uow: UnitOfWork) -> OrdersRepository:
    """This unit's orders repository."""
    return uow.repo(OrdersRepository)
