"""Spending: redemption (cash offset or reward) and two-phase checkout holds."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.coupons import service as coupons
from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger import holds
from chalicelib.ledger.holds import HoldNotOpen
from chalicelib.orders import service as order_use
from chalicelib.points import access, chunked, lapsing, orders, program, repository
from chalicelib.points import rules as R
from chalicelib.points.ledger import MAX_LOTS, InsufficientPoints, Ledger, TooManyLots
from chalicelib.points.tables import AccountItem, HoldItem
from chalicelib.shared import clock, deadline
from chalicelib.shared.errors import ConcurrentUpdate, Problem, ValidationProblem
from chalicelib.shared.ids import new_id
from chalicelib.shared.principal import Principal
from chalicelib.shared.retry import Contention

LAPSE_ACTOR = "job:points-holds"
__all__ = ["HoldNotOpen", "confirm_hold", "finish_release", "get_hold", "hold", "hold_status", "order_refunded", "redeem",
           "release_hold"]

if TYPE_CHECKING:
    from chalicelib.points.schemas import Hold, Redeem


def _check_share(rules: R.ProgramRules, points: int, order_amount_fen: int | None) -> None:
    if order_amount_fen is not None and points > R.redeem_limit_points(rules, order_amount_fen):
        raise ValidationProblem(
            f"at most {rules.redeem.max_share_percent}% of an order may be paid with points: "
            f"{R.redeem_limit_points(rules, order_amount_fen)} points for {order_amount_fen} fen")


def _spend(uow: UnitOfWork, member_id: str, cmd: Redeem | Hold, by: Principal, merchant: str | None,
           key: str | None, hold_id: str | None = None) -> tuple[str, R.ProgramRules, Ledger, list[dict[str, Any]],
                                                                 HoldItem | None]:
    """What every spend does first: whose points, under which rules, taken from which lots: the
    account and its first lots in one Query, the member checked by the transaction
    (:func:`.access.spend_reads`), and an order not read unless it has refunds (its conditions go
    in the transaction too: :func:`.orders.record_spend`). A spend from more lots than one transaction
    holds is taken in steps (:mod:`.chunked`) into the hold ``hold_id`` (default: derived from
    ``key``)."""
    filling_id = hold_id or chunked.fill_id(by, cmd.point_type, key)
    checked = access.spend_reads(uow, member_id, by, cmd.point_type)
    if checked is None:
        access.prefetch(uow, member_id, by, [cmd.point_type], None, hold=filling_id)
        member_id = access.member(uow, member_id, by)
    else:
        member_id = checked
    _, rules = program.rules_at(uow, clock.now())
    if not program.type_config(rules, cmd.point_type).redeemable:
        raise ValidationProblem(f"'{cmd.point_type}' cannot be spent")
    if cmd.order_id and cmd.order_amount_fen is None:
        raise ValidationProblem("a redemption on an order states the order's amount (order_amount_fen)")
    _check_share(rules, cmd.points, cmd.order_amount_fen)
    ledger = program.ledger(uow, member_id, cmd.point_type, rules, program.today())
    if cmd.order_id and int(ledger.account.held or 0) and give_back_lapsed(uow, ledger.account):
        uow.forget()                              # a lapsed hold's share of the order is free again too
        ledger = program.ledger(uow, member_id, cmd.point_type, rules, program.today())
    try:
        return _take(uow, member_id, cmd, by, merchant, rules, ledger, filling_id, checked is None)
    except InsufficientPoints:
        if not int(ledger.account.held or 0) or not give_back_lapsed(uow, ledger.account):
            raise
    uow.forget()                                  # lapsed holds gave their points back: read again
    ledger = program.ledger(uow, member_id, cmd.point_type, rules, program.today())
    return _take(uow, member_id, cmd, by, merchant, rules, ledger, filling_id, checked is None)


def order_refunded(uow: UnitOfWork, merchant_id: str, order_id: str, points: int, member_id: str | None,
                   by: Principal) -> Problem | None:
    """Why a checkout of ``member_id`` may not use the order, if it may not: not the caller's to use
    (another store's: 404; another member's: 409), refunded in full, or its refunds leave no room
    for ``points`` more (:func:`.orders.checkout_problem`, under the rules in force)."""
    order = repository.of(uow).order(merchant_id, order_id)
    if (problem := order_use.ownership_problem(order, merchant_id, order_id, member_id,
                                               access.store_scope(by))) is not None:
        return problem
    _, rules = program.rules_at(uow, clock.now())
    return orders.checkout_problem(order, order_id, points, lambda fen: R.redeem_limit_points(rules, fen))


def give_back_lapsed(uow: UnitOfWork, account: AccountItem) -> int:
    """Do the holds job's work for one account now: give back what its holds past their time keep
    (points, and a share of their order: each in units of its own, as the job would), for a spend
    that needs them or spends on an order; how many."""
    found = lapsing.lapsed(uow, account)
    if found:
        uow.before_own_work()                     # a replay does none of it: answered now
    for h in found:
        finish_release(uow.program, account.member_id, h.hold_id, account.point_type, LAPSE_ACTOR, "expired")
    return len(found)


def _take(uow: UnitOfWork, member_id: str, cmd: Redeem | Hold, by: Principal, merchant: str | None,
          rules: R.ProgramRules, ledger: Ledger, filling_id: str | None,
          resumable: bool) -> tuple[str, R.ProgramRules, Ledger, list[dict[str, Any]], HoldItem | None]:
    """:func:`_spend`'s taking: from the lots at once, or in steps into the hold ``filling_id``."""
    # A filling hold holds points: with nothing held there is none to resume, and no read.
    filling = (repository.of(uow).hold(member_id, cmd.point_type, filling_id)
               if filling_id and (resumable or int(ledger.account.held or 0) > 0) else None)
    if filling is None or filling.status != "filling":
        try:
            return member_id, rules, ledger, ledger.take(cmd.points), None
        except TooManyLots:
            if filling_id is None:
                raise
    assert filling_id is not None
    uow.before_own_work()                         # the steps commit apart: a replay is answered first
    filling = chunked.fill(uow.program, member_id, cmd.point_type, cmd.points, filling_id, by, rules, merchant)
    uow.forget()                                  # the steps changed the account and the lots
    ledger = program.ledger(uow, member_id, cmd.point_type, rules, program.today())
    if filling is None:
        return member_id, rules, ledger, ledger.take(cmd.points), None
    return member_id, rules, ledger, chunked.finish_fill(ledger, filling, cmd.points), filling


def redeem(member_id: str, cmd: Redeem, by: Principal, uow: UnitOfWork, key: str | None) -> dict[str, Any]:
    """Spend points, soonest-expiring first, as a cash offset on an order, for a reward, or for a
    coupon (``coupon_template_id``: its price from the template's terms, never from the caller; the
    coupon issued in this unit, so a refused coupon spends nothing and a refused spend issues none)."""
    merchant, store = access.merchant(uow, by, cmd.merchant_id) if cmd.order_id else (None, None)
    if cmd.coupon_template_id:
        price = coupons.points_price(uow, cmd.coupon_template_id, by)
        if cmd.points != price:
            raise ValidationProblem(f"coupon template {cmd.coupon_template_id} costs {price} points, not {cmd.points}")
    member_id, rules, ledger, taken, filling = _spend(uow, member_id, cmd, by, merchant, key)
    coupon = coupons.exchange(uow, member_id, cmd.coupon_template_id) if cmd.coupon_template_id else None
    if filling is not None:
        chunked.close_fill(uow, filling, "confirmed")
    if cmd.order_id:
        assert merchant is not None
        amount = int(cmd.order_amount_fen or 0)
        orders.record_spend(uow, merchant, cmd.order_id, member_id, taken, amount,
                            lambda fen: R.redeem_limit_points(rules, fen), store, access.store_scope(by))
    reward = cmd.reward or (f"coupon:{cmd.coupon_template_id}" if coupon else None)
    source = f"order:{merchant}:{cmd.order_id}" if cmd.order_id else (f"reward:{reward}" if reward else "redeem")
    posting = ledger.stage("redeem", cmd.points, reason=cmd.reason or reward, source=source,
                           event_type="points.redeemed",
                           event_data={"order_id": cmd.order_id, "reward": reward,
                                       **({"coupon_id": coupon["coupon_id"]} if coupon else {}),
                                       **({"hold_id": filling.hold_id} if filling else {})}, merchant_id=merchant,
                           store_id=store)
    return {"member_id": member_id, "points": cmd.points, "value_fen": R.points_value_fen(rules, cmd.points),
            "lots": taken, "posting_id": posting.posting_id, "balance": int(posting.balance_after) - ledger.lapsed,
            **({"coupon": coupon} if coupon else {})}


def hold(member_id: str, cmd: Hold, by: Principal, uow: UnitOfWork, key: str | None,
         hold_id: str | None = None, checkout_id: str | None = None) -> dict[str, Any]:
    """Reserve points for a checkout: taken from their lots now, spent or given back later.
    ``hold_id``: the hold's id, chosen by a caller that takes it as a step of its own (checkout's
    commit: ``holds.step_id``), so that a retry finds it; default: a new id. ``checkout_id``: the
    checkout it is a step of (it is then confirmed only by that checkout's completion)."""
    merchant, store = access.merchant(uow, by, cmd.merchant_id)
    member_id, rules, ledger, taken, filling = _spend(uow, member_id, cmd, by, merchant, key, hold_id)
    if cmd.order_id:                      # a use of the order: claimed, its amount fixed, its share reserved
        amount = int(cmd.order_amount_fen or 0)
        orders.record_hold(uow, merchant, cmd.order_id, member_id, cmd.points, amount,
                           lambda fen: R.redeem_limit_points(rules, fen), store, access.store_scope(by))
    ledger.hold(cmd.points)
    hold_id = filling.hold_id if filling else hold_id or new_id()
    expires = clock.now() + timedelta(seconds=cmd.ttl_seconds)
    h = filling or HoldItem(*HoldItem.key(member_id, cmd.point_type, hold_id), hold_id=hold_id, member_id=member_id,
                            point_type=cmd.point_type)
    filled = int(h.points) if filling else 0
    h.points, h.lots, h.created_at = cmd.points, json.dumps(taken), clock.iso(clock.now())
    h.order, h.merchant_id = f"{merchant}:{cmd.order_id}" if cmd.order_id else None, merchant
    h.store_id, h.order_amount_fen, h.target = store, cmd.order_amount_fen, None
    h.claimed = True if cmd.order_id else None
    h.of_checkout = checkout_id
    chunked.due_at(h, member_id, expires)
    ledger.opened(hold_id, h.hold_expires_at)
    if filling is None:
        holds.create(uow, h, holds.OPEN)
    else:
        holds.move(uow, h, holds.OPEN, HoldItem.points == filled)
    posting = ledger.stage("hold", cmd.points - filled, reason="checkout hold",
                           source=f"hold:{hold_id}", event_type="points.held",
                           event_data={"hold_id": hold_id, "target": cmd.points},
                           merchant_id=merchant, store_id=store)
    return {"hold_id": hold_id, "member_id": member_id, "points": cmd.points, "status": "open",
            "expires_at": clock.iso(expires), "balance": int(posting.balance_after) - ledger.lapsed}


def _settle(uow: UnitOfWork, member_id: str, point_type: str, hold_id: str, settling: tuple[str, ...],
            by: Principal | None) -> tuple[HoldItem, Ledger]:
    """The hold, if its status is one of ``settling``, and a ledger change on its account.
    Another merchant's hold does not exist for the caller (404)."""
    h = holds.visible(repository.of(uow).hold(member_id, point_type, hold_id), hold_id, by, access.owns)
    holds.settleable(h, settling, unexpired=settling == (holds.OPEN,))
    _, rules = program.rules_at(uow, clock.now())
    return h, program.ledger(uow, member_id, point_type, rules, program.today())


def hold_status(uow: UnitOfWork, member_id: str, point_type: str, hold_id: str) -> str | None:
    """The status of a hold of the member's (None: none of that id), for a caller that took it as a
    step of its own (checkout's saga)."""
    h = repository.of(uow).hold(member_id, point_type, hold_id)
    return None if h is None else str(h.status)


def get_hold(uow: UnitOfWork, member_id: str, hold_id: str, point_type: str, by: Principal) -> dict[str, Any]:
    """A checkout hold, to its merchant (another merchant's hold does not exist for the caller)."""
    member_id = access.member(uow, member_id, by)
    h = holds.visible(repository.of(uow).hold(member_id, point_type, hold_id), hold_id, by, access.owns)
    return {"hold_id": h.hold_id, "member_id": member_id, "point_type": h.point_type, "points": int(h.points),
            "status": lapsing.status(h), "expires_at": h.hold_expires_at, "merchant_id": h.owner, "order": h.order,
            "lots": json.loads(h.lots), "created_at": h.created_at}


def confirm_hold(member_id: str, hold_id: str, point_type: str, by: Principal, uow: UnitOfWork,
                 key: str | None, via_checkout: bool = False) -> dict[str, Any]:
    """Spend the held points (and record them on the hold's order); a checkout's hold only by its
    checkout's completion (``via_checkout``: :func:`~chalicelib.ledger.holds.confirmable`)."""
    member_id = access.member(uow, member_id, by)
    h, ledger = _settle(uow, member_id, point_type, hold_id, ("open",), by)
    holds.confirmable(h, via_checkout)
    points = int(h.points)
    ledger.release(points)
    ledger.closed(hold_id)
    holds.move(uow, h, holds.CONFIRMED)
    if h.order and h.claimed:             # its share was reserved on the order when it was made
        merchant, order_id = h.order.split(":", 1)
        _, rules = program.rules_at(uow, clock.now())
        orders.record_confirmed(uow, merchant, order_id, json.loads(h.lots),
                                lambda left: R.redeem_limit_points(rules, left), h.created_at)
    elif h.order:                         # a hold from before holds claimed their order
        merchant, order_id = h.order.split(":", 1)
        _, rules = program.rules_at(uow, clock.now())
        amount = int(h.order_amount_fen or 0)
        # (holds from before amounts were kept have none: the share was checked when they were made)
        orders.record_spend(uow, merchant, order_id, member_id, json.loads(h.lots), amount,
                            lambda fen: R.redeem_limit_points(rules, fen), h.store_id, access.store_scope(by),
                            taken_at=h.created_at)
    posting = ledger.stage("hold_confirmed", points, reason="checkout", source=f"hold:{hold_id}",
                           event_type="points.hold_confirmed",
                           event_data={"hold_id": hold_id, "order": h.order, "consumed": json.loads(h.lots)},
                           merchant_id=h.merchant_id, store_id=h.store_id)
    return {"hold_id": hold_id, "status": "confirmed", "points": points, "balance": int(posting.balance_after)}


def release_hold(member_id: str, hold_id: str, point_type: str, by: Principal | None, uow: UnitOfWork,
                 key: str | None, why: str = "cancelled", follow: bool = True,
                 via_checkout: bool = False) -> dict[str, Any]:
    """Give the held points back to their lots (a cancel, or the holds job with ``by=None``): at
    most ``MAX_LOTS`` lots in this unit, the rest in steps after it commits (``follow``)."""
    if by is not None:
        member_id = access.member(uow, member_id, by)
    h, ledger = _settle(uow, member_id, point_type, hold_id, ("open", "filling", "releasing"), by)
    holds.releasable(h, by, via_checkout)
    before, lock = h.status, (HoldItem.returned.does_not_exist() if h.returned is None
                              else HoldItem.returned == int(h.returned))
    returned = int(h.returned or 0)
    lots = json.loads(h.returning if before == "releasing" else h.lots)
    now, rest = lots[:MAX_LOTS], lots[MAX_LOTS:]
    points = sum(int(lot["points"]) for lot in now)
    ledger.release(points)
    ledger.closed(hold_id)
    for lot in now:
        ledger.put_back(lot, int(lot["points"]), lot.get("at", h.created_at))   # a refund's steps: when spent
    h.returned = returned + points
    h.returning = json.dumps(rest, separators=(",", ":")) if rest else None
    if rest:
        chunked.due_at(h, member_id, clock.now())
    holds.move(uow, h, holds.RELEASING if rest else holds.RELEASED, lock,
               on_conflict=lambda: ConcurrentUpdate(f"hold {hold_id} changed"))
    if before == holds.OPEN and h.order and h.claimed:        # its share of the order, given back once
        merchant, order_id = h.order.split(":", 1)
        orders.release_held(uow, merchant, order_id, int(h.points))
    posting = ledger.stage("hold_released", points, reason=why, source=f"hold:{hold_id}",
                           event_type="points.hold_released",
                           event_data={"hold_id": hold_id, "why": why, "left": int(h.points) - int(h.returned),
                                       "expired_on_return": ledger.expired_on_return},   # the day's figures count them
                           merchant_id=h.merchant_id, store_id=h.store_id)
    if rest and follow:
        program_id, actor = uow.program, by.ref if by else LAPSE_ACTOR
        uow.after_commit(lambda: finish_release(program_id, member_id, hold_id, point_type, actor, why))
    return {"hold_id": hold_id, "status": "released", "points": int(h.points), "balance": int(posting.balance_after),
            "expired_on_return": ledger.expired_on_return,
            **({"returning": int(h.points) - int(h.returned)} if rest else {})}


def finish_release(program_id: str, member_id: str, hold_id: str, point_type: str, actor: str | None,
                   why: str) -> tuple[int, int]:
    """Give back what a hold still keeps, ``MAX_LOTS`` lots per transaction: (steps committed,
    points that expired on their way back). Within a request (the steps after a cancel's or a
    refund's commit) each step is taken only while the deadline holds it (:func:`chunked.room_after`);
    the rest stays in the releasing hold, due now, for the holds job."""
    steps = expired = 0
    contention = Contention(chunked.STEP_TRIES)
    while True:
        if not chunked.room_after():
            return steps, expired
        uow = UnitOfWork(actor, program=program_id)
        try:
            with deadline.measured():
                reply = release_hold(member_id, hold_id, point_type, None, uow, None, why, follow=False)
                uow.commit()
        except HoldNotOpen:
            return steps, expired                   # settled, or another process finished it
        except ConcurrentUpdate:
            if not contention.lost():
                raise
            continue
        steps, expired = steps + 1, expired + reply["expired_on_return"]
        if "returning" not in reply:
            return steps, expired
