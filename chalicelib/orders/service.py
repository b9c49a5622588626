"""What the money stores call to record their part of an order and to refund it. Every write
here is an update or a create conditioned on what it needs, never a put of the order (whose item
carries the points part's attributes too: ``tables``), and every update of the order moves its
version, so a store's read-modify-write of it never overwrites one."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pynamodb.expressions.update import Action

from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger.refunds import within_payment
from chalicelib.orders import repository
from chalicelib.orders.domain import OrderLine, Refunded, RefundLine, allocate, dump_lines, load_lines
from chalicelib.orders.tables import MemberSpendItem, OrderItem, OrderPartItem, RefundItem
from chalicelib.shared import clock
from chalicelib.shared.errors import Conflict, NotFound, Problem, ValidationProblem, changed
from chalicelib.shared.principal import Principal

__all__ = ["OrderItem", "OrderLine", "OrderOverpaid", "OrderRefund", "RefundExceedsOrder", "RefundLine", "Refunded", "allocate",
           "load_lines"]

Order = TypeVar("Order", bound=OrderItem)


def order(uow: UnitOfWork, merchant_id: str, order_id: str, kind: type[Order]) -> Order | None:
    """The order (consistent), as ``kind``: a money store's view of its item with its own attributes."""
    return repository.of(uow).order(merchant_id, order_id, kind)


def orders_of(uow: UnitOfWork, member_id: str, limit: int, before: str | None, kind: type[Order]) -> Iterator[Order]:
    """The member's orders, newest first; ``before`` is the listing key of the last one seen."""
    return repository.of(uow).orders_of(member_id, limit, before, kind=kind)


class RefundExceedsOrder(Conflict):
    slug, title = "refund-exceeds-order", "Refunds would exceed the order amount"


class OrderOverpaid(Conflict):
    slug, title = "order-overpaid", "Payments would exceed the order amount"


def overpaid(order_id: str, amount: int, paid: int, fen: int) -> OrderOverpaid:
    return OrderOverpaid(f"order {order_id} is for {amount} fen and {paid} fen of it is paid; {fen} fen more "
                         "would pay more than it", order_amount_fen=amount, paid_fen=paid)


def paid_problem(order: OrderItem | None, order_id: str, amount_fen: int) -> Problem | None:
    """An order whose parts paid more than ``amount_fen`` (its first use was a payment) is not
    for that amount: the earn or spend stating it is refused."""
    paid = int(order.paid_fen or 0) if order is not None else 0
    if order is not None and not order.amount_fen and paid > amount_fen:
        return OrderOverpaid(f"order {order_id} was paid {paid} fen already: it is not for {amount_fen} fen",
                             paid_fen=paid)
    return None


def _room(uow: UnitOfWork, found: OrderItem | None, order_id: str, fen: int,
          bounded: bool = True) -> tuple[list[Action], Any]:
    """What adds ``fen`` to what the order's parts paid, and the condition that this never passes
    its amount (DynamoDB compares an attribute with a value, not a sum: ``paid_fen <= amount -
    fen`` on the amount read, which never changes once set; with no amount yet, on there still
    being none, so an earn fixing it meanwhile makes this retry). An order from before
    ``paid_fen`` counts its parts once, then adds. Refused at once when the read already shows it.
    Not ``bounded``: a payment taken before this bound, recorded by its refund, is counted as it is."""
    amount = int(found.amount_fen) if found is not None and found.amount_fen else None
    actions: list[Action]
    condition: Any
    if found is not None and found.paid_fen is not None:
        paid = int(found.paid_fen)
        actions, condition = [OrderItem.paid_fen.add(fen)], OrderItem.paid_fen.exists()
    else:
        paid = sum(int(p.amount_fen) - int(p.refunded_fen or 0) for p in
                   repository.of(uow).parts(found.merchant_id, found.order_id)) if found is not None else 0
        actions, condition = [OrderItem.paid_fen.set(paid + fen)], OrderItem.paid_fen.does_not_exist()
    if not bounded:
        return actions, condition
    if amount is None:
        return actions, condition & (OrderItem.amount_fen.does_not_exist() | (OrderItem.amount_fen == 0))
    if paid + fen > amount:
        raise overpaid(order_id, amount, paid, fen)
    return actions, condition & (OrderItem.amount_fen == amount) & (
        OrderItem.paid_fen.does_not_exist() | (OrderItem.paid_fen <= amount - fen))


def _refusal(uow: UnitOfWork, merchant_id: str, order_id: str, member_id: str | None, scope: str | None,
             fen: int) -> Callable[[], Problem]:
    """Why the order refused a part of ``fen``, read once it has: not the caller's, or paid up, or
    changed meanwhile (retry)."""
    def why() -> Problem:
        found = repository.of(uow).order(merchant_id, order_id)
        problem = ownership_problem(found, merchant_id, order_id, member_id, scope)
        if problem is None and found is not None and found.amount_fen and found.paid_fen is not None and \
                int(found.paid_fen) + fen > int(found.amount_fen):
            problem = overpaid(order_id, int(found.amount_fen), int(found.paid_fen), fen)
        return problem or changed(f"order {order_id}", "concurrently")()
    return why


def record_part(uow: UnitOfWork, merchant_id: str, order_id: str, store: str, amount_fen: int, *, ref: str = "",
                member_id: str | None = None, store_id: str | None = None, by: Principal | None = None,
                by_line: Sequence[int] | None = None, on_conflict: Callable[[], Problem] | None = None,
                refunded_fen: int = 0, bonus_fen: int = 0) -> None:
    """Record ``store``'s part of an order (once per store and ``ref``; ``on_conflict`` when it
    was recorded already) and make sure the order exists: of ``member_id`` (an order of another
    member refuses it), listed under the member, at the store of its first use. A caller ``by``
    confined to a store adds only to a new order or one of its store (another store's is not
    its to see: 404, as every store-owned record, said before any other refusal). ``bonus_fen``:
    what of it stored value bonus paid, which the order's earn excludes."""
    at = clock.iso(clock.now())
    uow.create(OrderPartItem(*OrderPartItem.key(merchant_id, order_id, store, ref), store=store, ref=ref,
                             merchant_id=merchant_id, order_id=order_id, amount_fen=amount_fen,
                             by_line=json.dumps(list(by_line)) if by_line is not None else None,
                             refunded_fen=refunded_fen,
                             created_at=at), on_conflict=on_conflict and explained(uow, merchant_id, order_id,
                                                                                   member_id, by, on_conflict))
    actions, condition = touch(uow, merchant_id, order_id, member_id, store_id)
    scope = scope_of(by)
    if scope is not None:
        own = OrderItem.pk.does_not_exist() | (OrderItem.store_id == scope)
        condition = own if condition is None else own & condition
    found = repository.of(uow).order(merchant_id, order_id)
    if (problem := ownership_problem(found, merchant_id, order_id, member_id, scope)) is not None:
        raise problem
    paid, room = _room(uow, found, order_id, amount_fen - refunded_fen, bounded=not refunded_fen)   # a refund's: paid
    if bonus_fen:
        paid.append(OrderItem.paid_bonus_fen.add(bonus_fen))
    uow.update(OrderItem(*OrderItem.key(merchant_id, order_id)), actions + paid,
               room if condition is None else condition & room,
               on_conflict=_refusal(uow, merchant_id, order_id, member_id, scope, amount_fen - refunded_fen))


def scope_of(by: Principal | None) -> str | None:
    """The store a caller is confined to (None: the merchant level, HQ, a job)."""
    return None if by is None or by.is_hq else by.store_id


def explained(uow: UnitOfWork, merchant_id: str, order_id: str, member_id: str | None, by: Principal | None,
              problem: Callable[[], Problem]) -> Callable[[], Problem]:
    """``problem`` (e.g. "paid with stored value already"), unless the order is not the caller's
    to use: then that (:func:`ownership_problem`), so another store learns nothing of the order
    and another member's order is refused as such whatever was paid on it."""
    def explain() -> Problem:
        found = repository.of(uow).order(merchant_id, order_id)
        return ownership_problem(found, merchant_id, order_id, member_id, scope_of(by)) or problem()
    return explain


def check_use(uow: UnitOfWork, merchant_id: str, order_id: str, fen: int, *, member_id: str | None = None,
              by: Principal | None = None) -> None:
    """Commit only if the order would take a part of ``fen`` from this caller (a checkout hold on
    it, whose part is recorded at its confirmation): a new order, or one of ``member_id`` (if
    given) and, for a caller confined to a store, of that store, with ``fen`` unpaid. A condition
    in the hold's transaction, as :func:`record_part`'s on the payment's (its confirmation checks
    the room again: two holds may each fit and not both)."""
    scope = scope_of(by)
    found = repository.of(uow).order(merchant_id, order_id)
    if (problem := ownership_problem(found, merchant_id, order_id, member_id, scope)) is not None:
        raise problem
    _, room = _room(uow, found, order_id, fen)
    own = room
    if member_id is not None:
        own = own & (OrderItem.member_id.does_not_exist() | (OrderItem.member_id == member_id))
    if scope is not None:
        own = own & (OrderItem.store_id == scope)
    uow.check(OrderItem(*OrderItem.key(merchant_id, order_id)), OrderItem.pk.does_not_exist() | own,
              on_conflict=_refusal(uow, merchant_id, order_id, member_id, scope, fen))


def ownership_problem(found: OrderItem | None, merchant_id: str, order_id: str, member_id: str | None,
                      scope: str | None) -> Problem | None:
    """Why an order refused a caller's use, if it is not the caller's to use: another store's
    order for a caller confined to ``scope`` (404, as every store-owned record), or another
    member's order (409; ``member_id`` None: a use of no member, a gift card's, is any order's)."""
    if found is not None and scope is not None and found.store_id != scope:
        return NotFound(f"no order {order_id} of your store at merchant {merchant_id}")
    if found is not None and member_id is not None and found.member_id not in (None, member_id):
        return Conflict(f"order {order_id} belongs to another member")
    return None


def touch(uow: UnitOfWork, merchant_id: str, order_id: str, member_id: str | None,
          store_id: str | None) -> tuple[list[Action], Any]:
    """The update that makes sure an order exists with what its first use records (listed under
    its member by when that was, in the form the listing has always used), and the condition
    that it is no other member's."""
    at = clock.now().isoformat()
    actions: list[Action] = [OrderItem.merchant_id.set(merchant_id), OrderItem.order_id.set(order_id),
                             OrderItem.created_at.set(OrderItem.created_at | at), OrderItem.version.add(1)]
    condition = None
    if member_id:
        actions += [OrderItem.member_id.set(OrderItem.member_id | member_id),
                    OrderItem.gsi1pk.set(OrderItem.gsi1pk | uow.index_key(OrderItem.member_listing(member_id))),
                    OrderItem.gsi1sk.set(OrderItem.gsi1sk | f"{at}#{merchant_id}#{order_id}")]
        condition = OrderItem.member_id.does_not_exist() | (OrderItem.member_id == member_id)
    if store_id:
        actions.append(OrderItem.store_id.set(OrderItem.store_id | store_id))
    return actions, condition


def order_key(merchant_id: str, order_id: str) -> tuple[type[OrderItem], tuple[str, str]]:
    """The model and key of an order, for a store's prefetch (:func:`record_part` reads it)."""
    return OrderItem, OrderItem.key(merchant_id, order_id)


def spend_key(member_id: str, merchant_id: str) -> tuple[type[MemberSpendItem], tuple[str, str]]:
    """The model and key of what a member spent at a merchant (:mod:`chalicelib.orders.spend`),
    for a caller's batch read."""
    return MemberSpendItem, MemberSpendItem.key(member_id, merchant_id)


def spent_at(uow: UnitOfWork, member_id: str, merchant_id: str) -> int:
    """The member's net spend at the merchant, fen: its orders that earned, less their refunds
    (projected from their events: seconds behind; read from a batch when prefetched)."""
    item = uow.get(MemberSpendItem, MemberSpendItem.key(member_id, merchant_id))
    return int(item.spent_fen or 0) if item is not None else 0


def part_key(merchant_id: str, order_id: str, store: str, ref: str = "") -> tuple[type[OrderPartItem], tuple[str, str]]:
    """The model and key of a store's part, for the store's prefetch."""
    return OrderPartItem, OrderPartItem.key(merchant_id, order_id, store, ref)


def refund_part(uow: UnitOfWork, merchant_id: str, order_id: str, store: str, fen: int, *, ref: str = "",
                paid_fen: int, refunded_before: int, member_id: str | None = None,
                store_id: str | None = None) -> None:
    """A store's refund of ``fen`` of its part of an order. A part paid before orders kept parts
    (and not moved yet by the migration) is recorded now from the store's own record: what it
    paid and had refunded before."""
    part = repository.of(uow).part(merchant_id, order_id, store, ref)
    if part is None:
        record_part(uow, merchant_id, order_id, store, paid_fen, ref=ref, member_id=member_id, store_id=store_id,
                    refunded_fen=refunded_before + fen, on_conflict=changed(f"order {order_id}", "concurrently"))
        return
    part_refunded(uow, part, fen)


def part_refunded(uow: UnitOfWork, part: OrderPartItem, fen: int) -> None:
    """Give back ``fen`` more of a part: refunds of a part add up and never pass what it paid
    (``RefundExceedsPayment``), checked again by the write. What the order's parts paid drops by
    as much, so the till may take the amount by another tender (an order from before
    ``paid_fen`` is left alone: its first part after counts the parts net of refunds)."""
    before = int(part.refunded_fen or 0)
    within_payment(before, fen, int(part.amount_fen))
    uow.update(OrderPartItem(*OrderPartItem.key(part.merchant_id, part.order_id, part.store, part.ref)),
               [OrderPartItem.refunded_fen.add(fen)], OrderPartItem.refunded_fen == before,
               on_conflict=changed(f"order {part.order_id}'s {part.store} part", "concurrently"))
    found = repository.of(uow).order(part.merchant_id, part.order_id)
    if found is not None and found.paid_fen is not None:
        uow.update(OrderItem(*OrderItem.key(part.merchant_id, part.order_id)),
                   [OrderItem.paid_fen.add(-fen), OrderItem.version.add(1)], OrderItem.paid_fen.exists(),
                   on_conflict=changed(f"order {part.order_id}", "concurrently"))


def state_lines(order: OrderItem | None, order_id: str, lines: Sequence[OrderLine], amount_fen: int) -> None:
    """An order's lines are fixed by the first use that states them: a later one states the same."""
    if lines and order is not None and order.lines and load_lines(order.lines) != list(lines):
        raise ValidationProblem(f"order {order_id} was recorded with other lines; state the same lines")
    if lines and sum(line.amount_fen for line in lines) != amount_fen:
        raise ValidationProblem("order lines must add up to amount_fen")


def lines_of(order: OrderItem | None, lines: Sequence[OrderLine]) -> str | None:
    """What to store as the order's lines: those it has, else those stated now."""
    return order.lines if order is not None and order.lines else dump_lines(lines)


@dataclass
class OrderRefund:
    """A refund of an order, checked and recorded once, not yet written to the order: what the
    refunds had reversed ``before`` and ``after`` it, for each store to reverse its own part
    (:meth:`Refunded.reversed_of`). :meth:`stage` writes it, with the store's own changes to the
    order item in the same update (a transaction changes an item once)."""

    order: OrderItem
    before: Refunded
    after: Refunded
    amount_fen: int

    @property
    def refunded_fen(self) -> int:
        """The order's refunds with this one."""
        return int(self.order.refunded_fen or 0) + self.amount_fen

    def stage(self, uow: UnitOfWork, more: Sequence[Action] = ()) -> None:
        """Write the refunded total (and per line) with ``more``, on the version the order was read
        at: two concurrent refunds never both pass the amount, and nothing else changed meanwhile."""
        o = self.order
        actions: list[Action] = [OrderItem.refunded_fen.set(self.refunded_fen), OrderItem.version.add(1), *more]
        if o.lines:
            actions.append(OrderItem.refunded_lines.set(self.after.dump()))
        uow.update(OrderItem(*OrderItem.key(o.merchant_id, o.order_id)), actions,
                   OrderItem.version == int(o.version or 0), on_conflict=changed(f"order {o.order_id}", "concurrently"))


def refund(uow: UnitOfWork, order: OrderItem, refund_id: str, amount_fen: int,
           lines: Sequence[RefundLine] = ()) -> OrderRefund:
    """A refund of ``amount_fen`` of the order (once per ``refund_id``): of the ``lines`` it names,
    else spread over what each line has left; the caller stages it (:meth:`OrderRefund.stage`)."""
    amount, before_fen = int(order.amount_fen or 0), int(order.refunded_fen or 0)
    if before_fen + amount_fen > amount:
        raise RefundExceedsOrder(f"refunds would total {before_fen + amount_fen} fen of a {amount} fen order",
                                 refunded_fen=before_fen)
    if lines and not order.lines:
        raise ValidationProblem(f"order {order.order_id} was recorded without lines: refund an amount of it")
    uow.create(RefundItem(*RefundItem.key(order.merchant_id, order.order_id, refund_id), amount_fen=amount_fen,
                          created_at=clock.iso(clock.now())),
               on_conflict=lambda: Conflict(f"refund {refund_id} was applied already"))
    before = Refunded.of(amount, load_lines(order.lines), order.refunded_lines, before_fen)
    try:
        after = before.plus_lines({line.line: line.amount_fen for line in lines}) if lines else \
            before.plus_amount(amount_fen)
    except ValueError as e:
        raise RefundExceedsOrder(f"order {order.order_id}: {e}", refunded_fen=before_fen) from e
    return OrderRefund(order, before, after, amount_fen)


def lines_shown(order: OrderItem) -> list[dict[str, Any]]:
    """The order's lines with what each has had refunded, for a reply."""
    lines = load_lines(order.lines)
    if not lines:
        return []
    refunded = Refunded.of(int(order.amount_fen or 0), lines, order.refunded_lines, int(order.refunded_fen or 0))
    return [{**line.model_dump(), "refunded_fen": back} for line, back in zip(lines, refunded.by_line(), strict=True)]


def shown(uow: UnitOfWork, order: OrderItem) -> dict[str, Any]:
    """Every money store's part of the order, for a reply."""
    parts = repository.of(uow).parts(order.merchant_id, order.order_id)
    return {"parts": [{"store": p.store, "ref": p.ref or None, "amount_fen": int(p.amount_fen),
                       "by_line": json.loads(p.by_line) if p.by_line else None,
                       "refunded_fen": int(p.refunded_fen or 0)} for p in parts]}
