"""The points part of an order: what it earned, spent and refunded, kept on the order's item
(``orders``) and changed by read-modify-write on its version, so the points it records are never
applied twice."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, cast

from pynamodb.expressions.condition import Condition

from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger import lots as L
from chalicelib.orders import service as orders
from chalicelib.points import access, repository
from chalicelib.points.tables import PointsOrderItem as OrderItem
from chalicelib.shared import clock
from chalicelib.shared.errors import Conflict, NotFound, Problem, ValidationProblem, changed
from chalicelib.shared.principal import Principal


class OrderAlreadyEarned(Conflict):
    slug, title = "order-already-earned", "This order has already earned points"


def save(uow: UnitOfWork, order: OrderItem | None, merchant_id: str, order_id: str, member_id: str,
         change: Callable[[OrderItem], None]) -> OrderItem:
    """Apply ``change`` to the order (a new one if None) and stage it on its version."""
    o = order or OrderItem(*OrderItem.key(merchant_id, order_id), merchant_id=merchant_id, order_id=order_id,
                           member_id=member_id, version=0)
    if o.gsi1pk is None:              # new, or recorded so far only by a part of no member (a gift card)
        o.member_id = member_id
        o.list_under_member(o.created_at or clock.now().isoformat())
    read_version = int(o.version or 0)
    change(o)
    uow.save_versioned(o, read_version, changed(f"order {order_id}", "concurrently"), stored=order is not None)
    return o


def spent_lots(order: OrderItem | None) -> list[dict[str, Any]]:
    """The lots every redemption and confirmed hold took for the order, in the order they were spent."""
    if order is None:
        return []
    spends = cast("list[str]", order.spends or [])
    return [*json.loads(order.spent or "[]"), *(lot for spend in spends for lot in json.loads(spend))]


def restored_lots(order: OrderItem, spent: list[dict[str, Any]]) -> dict[str, int]:
    """What the order's refunds gave back to each lot it spent from (lot_id: points). An order
    refunded before this was recorded per lot is taken to have had its ``restored`` total given
    back the way one give-back of it goes (latest expiry first), the best its record tells."""
    if order.restored_lots is not None:
        return {k: int(v) for k, v in json.loads(order.restored_lots).items()}
    back: dict[str, int] = {}
    for lot_id, _, part in L.give_back_plan(spent, int(order.restored or 0)):
        back[lot_id] = back.get(lot_id, 0) + part
    return back


def spent_points(order: OrderItem | None) -> int:
    """Points spent on the order so far (redemptions and confirmed holds)."""
    return sum(int(s["points"]) for s in spent_lots(order))


def amount_problem(order: OrderItem | None, order_id: str, amount_fen: int) -> Problem | None:
    """An order's amount is fixed by its first use; every later use states the same amount."""
    if order is not None and order.amount_fen and int(order.amount_fen) != amount_fen:
        return ValidationProblem(f"order {order_id} is for {int(order.amount_fen)} fen; state the same amount",
                                 order_amount_fen=int(order.amount_fen))
    return None


def check_amount(order: OrderItem | None, order_id: str, amount_fen: int) -> None:
    """Refuse a use of the order that states another amount than its first (:func:`amount_problem`)."""
    problem = amount_problem(order, order_id, amount_fen)
    if problem is not None:
        raise problem


def share_problem(already: int, order_id: str, points: int, limit: int) -> Problem | None:
    """The maximum share holds across every redemption and open hold of one order, not per call."""
    if already + points > limit:
        return ValidationProblem(f"order {order_id} may be paid with at most {limit} points; {already} are spent "
                                 f"or held on it already", limit_points=limit, spent_points=already)
    return None


class OrderNotMigrated(Conflict):
    slug, title = "order-not-migrated", "The order was written before spent_points; run the data migration"


def _spend_condition(member_id: str, amount_fen: int, points: int, limit: int,
                     scope: str | None = None) -> Condition:
    """What a spend of ``points`` on an order needs of it, checked by the write instead of a read:
    a new order, or the member's own, at the same amount, with room under the share cap; for a
    caller confined to store ``scope``, an order of that store (an order of no store is the
    merchant level's)."""
    same_amount = ((OrderItem.amount_fen.does_not_exist() | (OrderItem.amount_fen == 0)
                    | (OrderItem.amount_fen == amount_fen))
                   & (OrderItem.paid_fen.does_not_exist() | (OrderItem.paid_fen <= amount_fen))) if amount_fen else None
    room = OrderItem.spent_points.does_not_exist() | (OrderItem.spent_points <= limit - points)
    counted = OrderItem.spent.does_not_exist() | OrderItem.spent_points.exists()   # migrated, or never spent on
    own = (OrderItem.member_id.does_not_exist() | (OrderItem.member_id == member_id)) & room & counted
    if scope is not None:
        own = own & (OrderItem.store_id == scope)
    return OrderItem.pk.does_not_exist() | (own & same_amount if same_amount is not None else own)


def _why_refused(uow: UnitOfWork, merchant_id: str, order_id: str, member_id: str, amount_fen: int,
                 points: int, limit_of: Callable[[int], int], scope: str | None = None) -> Callable[[], Problem]:
    """Why the order refused a spend, read only once it has (else another request changed it: retry)."""
    def explain() -> Problem:
        order = repository.of(uow).order(merchant_id, order_id)
        if order is not None and int(order.refunded_fen or 0):
            _REFUNDED[(uow.program, merchant_id, order_id)] = None      # its retry reads it (record_spend)
            while len(_REFUNDED) > REFUNDED_KEPT:
                _REFUNDED.popitem(last=False)
        if (problem := orders.ownership_problem(order, merchant_id, order_id, member_id, scope)) is not None:
            return problem
        if order is not None and order.spent and order.spent_points is None:
            return OrderNotMigrated(f"order {order_id} predates spent_points: run python -m infra.migrate")
        problem = (amount_problem(order, order_id, amount_fen) or orders.paid_problem(order, order_id, amount_fen)
                   if amount_fen else None) or share_problem(
            int(order.spent_points or 0) if order else 0, order_id, points,
            limit_of(amount_fen) if amount_fen else 10**12) or refund_problem(order, order_id, points, limit_of)
        return problem or changed(f"order {order_id}", "concurrently")()
    return explain


REFUNDED_KEPT = 4096
_REFUNDED: OrderedDict[tuple[str | None, str, str], None] = OrderedDict()   # orders seen with refunds (this process)


def record_spend(uow: UnitOfWork, merchant_id: str, order_id: str, member_id: str, taken: list[dict[str, Any]],
                 amount_fen: int, limit_of: Callable[[int], int], store_id: str | None = None,
                 scope: str | None = None, held: bool = False, taken_at: str | None = None) -> None:
    """Add the lots a redemption or a confirmed hold took to the order (for refunds), within the
    order's share cap (``limit_of(amount)``) and what its refunds leave (:func:`refund_problem`);
    a first use records the order's amount (the base of later refunds) and lists the order under
    its member. One update, conditioned on what the order must be (room under the cap, no refund
    since the read, or none at all for an order not read): a concurrent spend adds to
    ``spent_points`` atomically; a read-modify-write of the order sees ``version`` move and retries. ``held``: a hold's points, only reserved on the
    order (:func:`record_hold`), not spent: nothing goes in ``spends`` until the hold is confirmed
    (:func:`record_confirmed`). ``taken_at``: when the points left their lots (a hold's making;
    default now), kept with lots without a date of their own (:func:`_spend_json`)."""
    points = sum(int(t["points"]) for t in taken)
    limit = limit_of(amount_fen) if amount_fen else 10**12
    problem = share_problem(0, order_id, points, limit)
    if problem is not None:
        raise problem
    # An order is read only once it is known to have refunds (else the condition that it has none
    # refuses the spend, whose explanation reads it and notes it for the retry): most never do.
    order = repository.of(uow).order(merchant_id, order_id) if (uow.program, merchant_id, order_id) in _REFUNDED \
        else None
    if (problem := refund_problem(order, order_id, points, limit_of)) is not None:
        raise problem
    refunded = int(order.refunded_fen or 0) if order is not None else 0
    actions, _ = orders.touch(uow, merchant_id, order_id, member_id, store_id)   # its member: _spend_condition
    if not held:
        actions += _spend_actions(taken, refunded, taken_at)
    actions.append(OrderItem.spent_points.add(points))
    if amount_fen:
        actions.append(OrderItem.amount_fen.set(OrderItem.amount_fen | amount_fen))
    uow.update(OrderItem(*OrderItem.key(merchant_id, order_id)), actions,
               _spend_condition(member_id, amount_fen, points, limit, scope) & _no_refund_since(refunded),
               on_conflict=_why_refused(uow, merchant_id, order_id, member_id, amount_fen, points, limit_of, scope))


def record_hold(uow: UnitOfWork, merchant_id: str, order_id: str, member_id: str, points: int,
                amount_fen: int, limit_of: Callable[[int], int], store_id: str | None = None,
                scope: str | None = None) -> None:
    """A hold on an order is a use of it, as a spend is: it claims the order for its store and
    member, fixes its amount (the first use) and reserves its points in ``spent_points`` (the
    share every later spend and hold is checked against), so that its confirm always finds room;
    an order whose refunds leave no room for it refuses it as it would a spend (:func:`refund_problem`)."""
    record_spend(uow, merchant_id, order_id, member_id, [{"points": points}], amount_fen, limit_of, store_id, scope,
                 held=True)


class OrderRefunded(Conflict):
    slug, title = "order-refunded", "The order has been refunded past what points may still pay on it"


class HoldOrderRefunded(OrderRefunded):
    slug, title = "hold-order-refunded", "The hold's order has been refunded past what the hold may pay"


def refund_problem(order: OrderItem | None, order_id: str, adding: int, limit_of: Callable[[int], int],
                   refused: type[OrderRefunded] = OrderRefunded, then: str = "") -> Problem | None:
    """The one rule of every use of an order by points once it has refunds (a redemption, a hold,
    a hold's confirm): a refund gives back what was spent never beyond the order, so once its
    refunds leave a share (``limit_of(amount left)``) smaller than what would then be spent and
    held on it (``adding`` more) net of what they gave back, the use is refused (409)."""
    refunded = int(order.refunded_fen or 0) if order is not None else 0
    if order is None or not refunded:
        return None
    amount = int(order.amount_fen or 0)
    net = int(order.spent_points or 0) + adding - int(order.restored or 0)
    limit = limit_of(max(amount - refunded, 0))
    if net <= limit:
        return None
    return refused(f"order {order_id} has been refunded {refunded} fen of {amount}: what is left may be paid with "
                   f"at most {limit} points, {net} would be spent or held on it{then}", refunded_fen=refunded,
                   limit_points=limit)


def checkout_problem(order: OrderItem | None, order_id: str, points: int,
                     limit_of: Callable[[int], int]) -> Problem | None:
    """A checkout's use of an order (its commit before any hold, its completion before it claims
    the checkout): none of an order refunded in full, nor of one whose refunds leave no room for
    ``points`` more (:func:`refund_problem`)."""
    amount = int(order.amount_fen or 0) if order is not None else 0
    if order is not None and amount and int(order.refunded_fen or 0) >= amount:
        return OrderRefunded(f"order {order_id} has been refunded in full ({amount} fen): nothing more is paid on it",
                             refunded_fen=int(order.refunded_fen or 0), limit_points=0)
    return refund_problem(order, order_id, points, limit_of)


def _no_refund_since(refunded: int) -> Condition:
    """The order's refunds are still what was read (``refunded`` fen): else read it again."""
    return OrderItem.refunded_fen.does_not_exist() | (OrderItem.refunded_fen == refunded)


def _spend_actions(taken: list[dict[str, Any]], refunded: int, taken_at: str | None = None) -> list[Any]:
    """A spend's lots appended to the order's ``spends``; one made after refunds notes them
    (``spend_bases``: its later refunds give it back in the share of what was left then,
    :func:`given_back`). Refunds only grow, so the spends made before any refund come first and
    the bases kept are those of the last spends."""
    actions = [OrderItem.spends.set((OrderItem.spends | []).append([_spend_json(taken, taken_at)]))]
    if refunded:
        actions.append(OrderItem.spend_bases.set((OrderItem.spend_bases | []).append([refunded])))
    return actions


def given_back(order: OrderItem, share: orders.OrderRefund) -> int:
    """What the order's refunds so far (``after``) give back of what was spent on it: a spend made
    before any refund in the share of the order they refunded (line by line: ``share.after``); one made after
    refunds (of ``base`` fen) in the share of what was left then that they have refunded since, so
    a refund of part of what was left never gives back points spent on what was refunded before.
    Cumulative, rounded down once a base: the caller subtracts what was given back before."""
    sizes = ([sum(int(s["points"]) for s in json.loads(order.spent))] if order.spent else []) + [
        sum(int(s["points"]) for s in json.loads(spend)) for spend in cast("list[str]", order.spends or [])]
    bases = [int(b) for b in cast("list[int]", order.spend_bases or [])]
    bases = [0] * (len(sizes) - len(bases)) + bases
    amount, refunded = int(order.amount_fen or 0), share.refunded_fen
    back = share.after.reversed_of(sum(n for n, b in zip(sizes, bases, strict=True) if not b))
    by_base: dict[int, int] = {}
    for n, b in zip(sizes, bases, strict=True):
        if b:
            by_base[b] = by_base.get(b, 0) + n
    for base, n in by_base.items():
        back += n * max(min(refunded, amount) - base, 0) // (amount - base) if amount > base else 0
    return back


def _spend_json(taken: list[dict[str, Any]], taken_at: str | None) -> str:
    """One spend's lots as the order keeps them: a lot without a date of its own (rolling expiry)
    with when its points were taken (``at``), so a refund after its window ended and a purchase
    opened a new one expires them on their way back (:func:`.ledger.window_ended`)."""
    at = taken_at or clock.iso(clock.now())
    return json.dumps([{**t, "at": at} if "lot_id" in t and not t.get("expires_on") else t for t in taken],
                      separators=(",", ":"))


def taken_at(spent: list[dict[str, Any]]) -> dict[str, str]:
    """When each lot's points were spent on the order (lot_id: the latest instant kept; lots spent
    before this was kept have none)."""
    at: dict[str, str] = {}
    for s in spent:
        if s.get("at") and s["at"] > at.get(s["lot_id"], ""):
            at[s["lot_id"]] = s["at"]
    return at


def record_confirmed(uow: UnitOfWork, merchant_id: str, order_id: str, taken: list[dict[str, Any]],
                     limit_of: Callable[[int], int], taken_at: str | None = None) -> None:
    """A confirmed hold's lots, on the order its hold reserved them on (:func:`record_hold`): its
    points are in ``spent_points`` already. A hold is a use of its order as a spend is: once the
    order's refunds leave no room for what is spent and held on it, the hold is not confirmed
    (:func:`refund_problem`, 409 :class:`HoldOrderRefunded`; cancel it, its points come back).
    Written on the condition that no refund came in since the read."""
    order = repository.of(uow).order(merchant_id, order_id)
    if (problem := refund_problem(order, order_id, 0, limit_of, HoldOrderRefunded, "; cancel the hold")) is not None:
        raise problem
    refunded = int(order.refunded_fen or 0) if order is not None else 0
    uow.update(OrderItem(*OrderItem.key(merchant_id, order_id)),
               [*_spend_actions(taken, refunded, taken_at), OrderItem.version.add(1)],
               OrderItem.pk.exists() & _no_refund_since(refunded),
               on_conflict=changed(f"order {order_id}", "refunded concurrently"))


def release_held(uow: UnitOfWork, merchant_id: str, order_id: str, points: int) -> None:
    """A hold's reservation on its order given back (the hold cancelled or lapsed)."""
    uow.update(OrderItem(*OrderItem.key(merchant_id, order_id)),
               [OrderItem.spent_points.add(-points), OrderItem.version.add(1)], OrderItem.pk.exists())


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
    order = repository.of(uow).order(merchant_id, order_id)
    if order is None or order.member_id != member_id:
        return

    def add(o: OrderItem) -> None:
        expired = json.loads(o.expired or "{}")
        name = expiry_key(point_type, lot_id)
        expired[name] = int(expired.get(name, 0)) + points
        o.expired = json.dumps(expired)
    save(uow, order, merchant_id, order_id, member_id, add)


def view(uow: UnitOfWork, order_id: str, merchant_id: str, by: Principal | None = None) -> dict[str, Any]:
    """What an order earned, spent and had refunded (the merchant's own record; a store's own)."""
    order = repository.of(uow).order(merchant_id, order_id)
    if order is None or (by is not None and not access.owns(by, order.merchant_id, order.store_id)):
        raise NotFound(f"no order {order_id[:64]} at merchant {merchant_id}")
    return {**_shown(order), **orders.shown(uow, order)}


def _shown(order: OrderItem) -> dict[str, Any]:
    return {"order_id": order.order_id, "merchant_id": order.merchant_id, "store_id": order.store_id,
            "member_id": order.member_id, "amount_fen": int(order.amount_fen) if order.amount_fen else None,
            "lines": orders.lines_shown(order),
            "created_at": order.created_at, "earned_at": order.earned_at, "earned": json.loads(order.earned or "{}"),
            "spent": [{k: v for k, v in lot.items() if k != "at"} for lot in spent_lots(order)],   # "at" is for refunds
            "spent_points": spent_points(order),
            "refunded_fen": int(order.refunded_fen or 0), **_clawed(order),
            "restored_points": int(order.restored or 0), "shortfall_points": int(order.shortfall or 0)}


def _clawed(order: OrderItem) -> dict[str, Any]:
    """What the order's refunds took back, by type (from lots or as debt: what their replies'
    ``clawed_back`` add up to), and what they did not because it had expired unspent. ``clawed``
    is what they reversed, the base of the next refund's share; points forgiven (policy ``cap``)
    are in neither, but in ``shortfall_points``."""
    reversed_ = json.loads(order.clawed or "{}")
    kept = json.loads(order.not_clawed or "{}")
    left = {t: int(n) - sum(int(v) for v in kept.get(t, {}).values()) for t, n in reversed_.items()}
    return {"clawed_back": left,
            "already_expired": {t: int(k["expired"]) for t, k in kept.items() if int(k.get("expired", 0))}}


def of_member(uow: UnitOfWork, member_id: str, by: Principal, limit: int, before: str | None) -> dict[str, Any]:
    """A member's orders at every merchant (a merchant's caller sees its own), newest first, a page at a time."""
    member_id = access.member(uow, member_id, by)
    items = list(repository.of(uow).orders_of(member_id, limit, before))
    shown = [_shown(o) for o in items if by.kind == "member" or access.owns(by, o.merchant_id, o.store_id)]
    last = items[-1] if len(items) == limit else None
    return {"member_id": member_id, "orders": shown, "next_before": last.gsi1sk if last else None}
