"""Refunds: claw back what an order earned and give back what it spent, in proportion to the
share of the order refunded so far (cumulative, so partial refunds never drift)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger import lots as L
from chalicelib.orders import service as order_refunds
from chalicelib.orders.service import RefundExceedsOrder
from chalicelib.points import access, chunked, orders, program, repository, spending
from chalicelib.points import rules as R
from chalicelib.points.ledger import MAX_LOTS
from chalicelib.points.tables import AccountItem, LotItem
from chalicelib.points.tables import PointsOrderItem as Order
from chalicelib.shared import clock
from chalicelib.shared.errors import Conflict, NotFound
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import Principal

__all__ = ["RefundExceedsOrder", "refund"]

if TYPE_CHECKING:
    from chalicelib.points.schemas import Refund


def refund(order_id: str, cmd: Refund, by: Principal, uow: UnitOfWork, key: str | None,
           give_back: int | None = None) -> dict[str, Any]:
    """Claw back earned points and give back spent ones, in proportion to the refunded share.
    ``give_back``: the spent points to give back, as the caller's own rule counts them (a
    checkout's refund: what its points part is worth), at most what the order has not had back
    yet; None (``refundOrder``): the order's refunded share of what it spent (a spend made after
    refunds: of what was left of the order then, :func:`.orders.given_back`)."""
    merchant, _ = access.merchant(uow, by, cmd.merchant_id)
    order = repository.of(uow).order(merchant, order_id)
    if order is None or not access.owns(by, order.merchant_id, order.store_id):     # another store's: not yours
        raise NotFound(f"no order {order_id} at merchant {merchant}")
    if not order.amount_fen:
        raise Conflict("this order has no recorded amount (it earned nothing); nothing to refund in proportion")
    share = order_refunds.refund(uow, order, cmd.refund_id, cmd.amount_fen, cmd.lines)
    after, amount = share.refunded_fen, int(order.amount_fen)
    _prefetch(uow, order)
    _, rules = program.rules_at(uow, clock.now())
    reply: dict[str, Any] = {"order_id": order_id, "refund_id": cmd.refund_id, "refunded_fen": after,
                             "clawed_back": {}, "restored": 0, "restored_expired": 0, "debt_added": 0,
                             "forgiven": 0, "already_expired": 0, "restoring": 0}
    spent = orders.spent_lots(order)
    spent_points, restored_before = sum(int(s["points"]) for s in spent), int(order.restored or 0)
    restore = orders.given_back(order, share) - restored_before if give_back is None else \
        min(give_back, spent_points - restored_before)
    earned = json.loads(order.earned or "{}")
    by_line = json.loads(order.earned_lines or "{}")
    clawed = json.loads(order.clawed or "{}")
    context = {"merchant": merchant, "store": order.store_id, "order_id": order_id, "order": order, "cmd": cmd, "by": by, "key": key, "rules": rules,
               "expired": json.loads(order.expired or "{}"), "not_clawed": json.loads(order.not_clawed or "{}")}
    for point_type in sorted(set(earned) | ({"points"} if restore else set())):
        target = share.after.reversed_of(sum(int(x["points"]) for x in earned.get(point_type, [])),
                                         by_line.get(point_type))
        claw = target - int(clawed.get(point_type, 0))
        gives_back = point_type == "points" and restore > 0
        if claw <= 0 and not gives_back:
            continue
        _refund_type(uow, order.member_id, point_type, earned.get(point_type, []), max(claw, 0),
                     spent if gives_back else [], restore if gives_back else 0, context, reply)
        clawed[point_type] = int(clawed.get(point_type, 0)) + max(claw, 0)
    _record_refund(uow, share, order, clawed, context.get("restored_lots"), reply["debt_added"] + reply["forgiven"],
                   context["expired"], context["not_clawed"])
    uow.emit(DomainEvent("order.refunded", f"member:{order.member_id}", {
        "member_id": order.member_id, "order_id": order_id, "merchant_id": merchant, "refund_id": cmd.refund_id,
        "amount_fen": cmd.amount_fen, "refunded_fen": after, "order_amount_fen": amount,
        "order_earned": order.earned_at is not None}, merchant_id=merchant))
    return reply


PREFETCH_SPENT = 60          # a bigger order reads the lots it gives back one by one


def _prefetch(uow: UnitOfWork, order: Order) -> None:
    """The accounts and lots a refund of ``order`` touches, in one request (earned lots to claw
    back from, spent lots to give back to)."""
    member = order.member_id
    earned = json.loads(order.earned or "{}")
    spent = orders.spent_lots(order)
    wanted: list[tuple[Any, tuple[str, str]]] = [
        (AccountItem, AccountItem.home(member, t)) for t in sorted(set(earned) | {"points"})]
    for point_type, lots in earned.items():
        if point_type == "growth":               # no lots: the account's balance (points/growth.py)
            continue
        wanted += [(LotItem, LotItem.pending_key(member, point_type, lot["lot_id"]) if lot.get("pending")
                    else LotItem.live_key(member, point_type, lot.get("expires_on"), lot["lot_id"])) for lot in lots]
        wanted += [(LotItem, LotItem.live_key(member, point_type, lot.get("expires_on"), lot["lot_id"]))
                   for lot in lots if lot.get("pending")]          # unlocked since: now a live lot
    if len(spent) <= PREFETCH_SPENT:
        wanted += [(LotItem, LotItem.live_key(member, "points", s.get("expires_on"), s["lot_id"])) for s in spent]
    if len(wanted) <= 100:
        uow.prefetch(wanted)


def _refund_type(uow: UnitOfWork, member_id: str, point_type: str, lots: list[dict], claw: int,
                 spent: list[dict], restore: int, context: dict[str, Any], reply: dict[str, Any]) -> None:
    """One account's part of a refund: take back from the earned lots, give back the spent ones."""
    rules: R.ProgramRules = context["rules"]
    ledger = program.ledger(uow, member_id, point_type, rules, program.today())
    got = excused = lapsed_total = 0
    expired: dict[str, int] = context["expired"]
    for lot in lots:
        want = claw - got - excused
        if want <= 0:
            break
        name = orders.expiry_key(point_type, lot["lot_id"])
        if ledger.excused(lot, context["order"].earned_at, int(expired.get(name, 0))):   # growth a reset expired
            excused += want
            continue
        if lapsed := ledger.expire_lapsed(lot):        # past its last day, the job not run yet: as if it had
            expired[name] = int(expired.get(name, 0)) + lapsed
            lapsed_total += lapsed
        took = ledger.take_from(lot, want)
        got += took
        # What the lot no longer holds because it expired unspent was lost once already: not owed again.
        spare = min(want - took, int(expired.get(name, 0)))
        if spare > 0:
            expired[name] = int(expired[name]) - spare
            excused += spare
    reply["already_expired"] += excused
    claw -= excused
    short = max(claw - got, 0)
    owed = short if rules.negative_balance == "debt" else 0
    if owed:
        ledger.owe(owed)
        ledger.owe_for(lots, owed)     # held or spent: when those points come back, they repay it
    reply["debt_added"] += owed
    reply["forgiven"] += short - owed
    if restore:
        # Net of what earlier refunds of the order gave back to each lot: cumulatively, no lot
        # gets back more than was taken from it (the order's item keeps the per-lot figures).
        back = orders.restored_lots(context["order"], spent)
        plan = L.give_back_plan(spent, restore, back)
        for lot_id, _, part in plan:
            back[lot_id] = back.get(lot_id, 0) + part
        context["restored_lots"] = back
        rest = ledger.give_back(plan, room=MAX_LOTS - len(lots), taken_at=orders.taken_at(spent))
        reply["restored"] = restore
        reply["restored_expired"] = ledger.expired_on_return      # their lot's last day had passed
        if rest:                                                  # more lots than one transaction holds
            source = f"order:{context['merchant']}:{context['order_id']}"
            h = chunked.give_back_later(uow, ledger, rest, f"{source}:{context['cmd'].refund_id}",
                                        context["merchant"], source.split(":", 1)[1])
            reply["restoring"] = int(h.points)
            program_id, actor = uow.program, context["by"].ref
            uow.after_commit(lambda: spending.finish_release(program_id, member_id, h.hold_id, point_type, actor,
                                                             "refunded"))
    reply["clawed_back"][point_type] = claw - (short - owed)
    if excused or short - owed:         # reversed by the order's share, yet not taken back: getOrder says so
        kept = context["not_clawed"].setdefault(point_type, {})
        kept["expired"] = int(kept.get("expired", 0)) + excused
        kept["forgiven"] = int(kept.get("forgiven", 0)) + short - owed
    cmd, order_id = context["cmd"], context["order_id"]
    ledger.stage("refund", claw, reason=f"refund {cmd.refund_id}", source=f"order:{context['merchant']}:{order_id}",
                 event_type="points.refunded",
                 event_data={"order_id": order_id, "refund_id": cmd.refund_id, "clawed_back": claw,
                             "restored": restore, "debt_added": owed, "forgiven": short - owed,
                             "expired": lapsed_total + ledger.expired_on_return,
                             "policy": rules.negative_balance}, merchant_id=context["merchant"],
                 store_id=context["store"])


def _record_refund(uow: UnitOfWork, share: order_refunds.OrderRefund, order: Order, clawed: dict[str, int],
                   restored_lots: dict[str, int] | None, shortfall: int, expired: dict[str, int],
                   not_clawed: dict[str, dict[str, int]]) -> None:
    """The order's refund with the points part's changes, in one update of the order's item
    (``restored_lots``: what every refund so far gave back to each spent lot, if this one gave back)."""
    actions = [Order.clawed.set(json.dumps(clawed)), Order.shortfall.set(int(order.shortfall or 0) + shortfall)]
    if restored_lots is not None:
        actions += [Order.restored.set(sum(restored_lots.values())),
                    Order.restored_lots.set(json.dumps(restored_lots, separators=(",", ":"), sort_keys=True))]
    if expired:
        actions.append(Order.expired.set(json.dumps(expired)))
    if not_clawed:
        actions.append(Order.not_clawed.set(json.dumps(not_clawed, sort_keys=True)))
    share.stage(uow, actions)
