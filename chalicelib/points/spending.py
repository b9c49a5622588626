"""Spending: redemption (cash offset or reward) and two-phase checkout holds."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from chalicelib.db.due import due_keys
from chalicelib.db.uow import UnitOfWork
from chalicelib.points import access, orders, program
from chalicelib.points import rules as R
from chalicelib.points.ledger import Ledger
from chalicelib.points.schemas import Hold, Redeem
from chalicelib.points.tables import HoldItem
from chalicelib.shared import clock
from chalicelib.shared.errors import Conflict, NotFound, ValidationProblem
from chalicelib.shared.ids import new_id
from chalicelib.shared.principal import Principal

LAPSE_ACTOR = "job:points-holds"


class HoldNotOpen(Conflict):
    slug, title = "hold-not-open", "The hold is no longer open"


def _check_share(rules: R.ProgramRules, points: int, order_amount_fen: int | None) -> None:
    if order_amount_fen is not None and points > R.redeem_limit_points(rules, order_amount_fen):
        raise ValidationProblem(
            f"at most {rules.redeem.max_share_percent}% of an order may be paid with points: "
            f"{R.redeem_limit_points(rules, order_amount_fen)} points for {order_amount_fen} fen")


def _spend(uow: UnitOfWork, member_id: str, cmd: Redeem | Hold, by: Principal,
           merchant: str | None = None) -> tuple[str, R.ProgramRules, Ledger, list[dict[str, Any]]]:
    """What every spend does first: whose points, under which rules, taken from which lots. The
    member, the account and the order are read in one request."""
    access.prefetch(uow, member_id, by, [cmd.point_type],
                    (merchant, cmd.order_id) if merchant and cmd.order_id else None)
    member_id = access.member(uow, member_id, by)
    _, rules = program.rules_at(uow, clock.now())
    if not program.type_config(rules, cmd.point_type).redeemable:
        raise ValidationProblem(f"'{cmd.point_type}' cannot be spent")
    if cmd.order_id and cmd.order_amount_fen is None:
        raise ValidationProblem("a redemption on an order states the order's amount (order_amount_fen)")
    _check_share(rules, cmd.points, cmd.order_amount_fen)
    ledger = program.ledger(uow, member_id, cmd.point_type, rules, program.today())
    return member_id, rules, ledger, ledger.take(cmd.points)


def redeem(member_id: str, cmd: Redeem, by: Principal, uow: UnitOfWork, key: str | None) -> dict[str, Any]:
    """Spend points, soonest-expiring first, as a cash offset on an order or for a reward."""
    merchant = access.merchant(uow, by, cmd.merchant_id)[0] if cmd.order_id else None
    member_id, rules, ledger, taken = _spend(uow, member_id, cmd, by, merchant)
    if cmd.order_id:
        assert merchant is not None
        amount = int(cmd.order_amount_fen or 0)
        orders.record_spend(uow, merchant, cmd.order_id, member_id, taken, amount,
                            R.redeem_limit_points(rules, amount))
    source = f"order:{merchant}:{cmd.order_id}" if cmd.order_id else (f"reward:{cmd.reward}" if cmd.reward else "redeem")
    posting = ledger.stage("redeem", cmd.points, reason=cmd.reason or cmd.reward, source=source, actor=by.ref,
                           idempotency_key=key, event_type="points.redeemed",
                           event_data={"order_id": cmd.order_id, "reward": cmd.reward}, merchant_id=merchant)
    return {"member_id": member_id, "points": cmd.points, "value_fen": R.points_value_fen(rules, cmd.points),
            "lots": taken, "posting_id": posting.posting_id, "balance": int(posting.balance_after)}


def hold(member_id: str, cmd: Hold, by: Principal, uow: UnitOfWork, key: str | None) -> dict[str, Any]:
    """Reserve points for a checkout: taken from their lots now, spent or given back later."""
    merchant, _ = access.merchant(uow, by, cmd.merchant_id)
    member_id, rules, ledger, taken = _spend(uow, member_id, cmd, by, merchant)
    if cmd.order_id:                      # the share already spent on the order counts too
        order = orders.read(uow, merchant, cmd.order_id, member_id)
        orders.check_amount(order, cmd.order_id, int(cmd.order_amount_fen or 0))
        orders.check_share(order, cmd.order_id, cmd.points,
                           R.redeem_limit_points(rules, int(cmd.order_amount_fen or 0)))
    ledger.hold(cmd.points)
    hold_id = new_id()
    expires = clock.now() + timedelta(seconds=cmd.ttl_seconds)
    h = HoldItem(*HoldItem.key(member_id, cmd.point_type, hold_id), hold_id=hold_id, member_id=member_id,
                 point_type=cmd.point_type, points=cmd.points, lots=json.dumps(taken), status="open",
                 hold_expires_at=clock.iso(expires), created_at=clock.iso(clock.now()),
                 order=f"{merchant}:{cmd.order_id}" if cmd.order_id else None, merchant_id=merchant,
                 order_amount_fen=cmd.order_amount_fen)
    h.duepk, h.duesk = due_keys("points-hold", program.today(expires), f"{clock.iso(expires)}#{member_id}#{h.sk}")
    uow.create(h)
    posting = ledger.stage("hold", cmd.points, reason="checkout hold", source=f"hold:{hold_id}", actor=by.ref,
                           idempotency_key=key, event_type="points.held", event_data={"hold_id": hold_id},
                           merchant_id=merchant)
    return {"hold_id": hold_id, "member_id": member_id, "points": cmd.points, "status": "open",
            "expires_at": clock.iso(expires), "balance": int(posting.balance_after)}


def _owner(h: HoldItem) -> str | None:
    """The merchant whose checkout a hold is (older holds name it only in their order)."""
    return h.merchant_id or (h.order.split(":", 1)[0] if h.order else None)


def _settle(uow: UnitOfWork, member_id: str, point_type: str, hold_id: str, status: str,
            by: Principal | None) -> tuple[HoldItem, Ledger]:
    """The open hold and a ledger change on its account; the hold is staged as ``status``.
    Another merchant's hold does not exist for the caller (404)."""
    h = uow.points.hold(member_id, point_type, hold_id)
    if h is None or (by is not None and not access.owns(by, _owner(h))):
        raise NotFound(f"no hold {hold_id[:64]}")
    if h.status != "open":
        raise HoldNotOpen(f"hold {hold_id} is {h.status}")
    if status == "confirmed" and h.hold_expires_at <= clock.iso(clock.now()):
        raise HoldNotOpen(f"hold {hold_id} is expired")
    _, rules = program.rules_at(uow, clock.now())
    ledger = program.ledger(uow, member_id, point_type, rules, program.today())
    ledger.release(int(h.points))
    h.status, h.duepk, h.duesk = status, None, None
    uow.save(h, HoldItem.status == "open", on_conflict=lambda: HoldNotOpen(f"hold {hold_id} changed"))
    return h, ledger


def get_hold(uow: UnitOfWork, member_id: str, hold_id: str, point_type: str, by: Principal) -> dict[str, Any]:
    """A checkout hold, to its merchant (another merchant's hold does not exist for the caller)."""
    member_id = access.member(uow, member_id, by)
    h = uow.points.hold(member_id, point_type, hold_id)
    if h is None or not access.owns(by, _owner(h)):
        raise NotFound(f"no hold {hold_id[:64]}")
    return {"hold_id": h.hold_id, "member_id": member_id, "point_type": h.point_type, "points": int(h.points),
            "status": h.status, "expires_at": h.hold_expires_at, "merchant_id": _owner(h), "order": h.order,
            "lots": json.loads(h.lots), "created_at": h.created_at}


def confirm_hold(member_id: str, hold_id: str, point_type: str, by: Principal, uow: UnitOfWork,
                 key: str | None) -> dict[str, Any]:
    """Spend the held points (and record them on the hold's order)."""
    member_id = access.member(uow, member_id, by)
    h, ledger = _settle(uow, member_id, point_type, hold_id, "confirmed", by)
    points = int(h.points)
    if h.order:
        merchant, order_id = h.order.split(":", 1)
        _, rules = program.rules_at(uow, clock.now())
        amount = int(h.order_amount_fen or 0)
        # (holds from before amounts were kept have none: the share was checked when they were made)
        orders.record_spend(uow, merchant, order_id, member_id, json.loads(h.lots), amount,
                            R.redeem_limit_points(rules, amount) if amount else 10**12)
    posting = ledger.stage("hold_confirmed", points, reason="checkout", source=f"hold:{hold_id}", actor=by.ref,
                           idempotency_key=key, event_type="points.hold_confirmed",
                           event_data={"hold_id": hold_id, "order": h.order, "consumed": json.loads(h.lots)},
                           merchant_id=h.merchant_id)
    return {"hold_id": hold_id, "status": "confirmed", "points": points, "balance": int(posting.balance_after)}


def release_hold(member_id: str, hold_id: str, point_type: str, by: Principal | None, uow: UnitOfWork,
                 key: str | None, why: str = "cancelled") -> dict[str, Any]:
    """Give the held points back to their lots (a cancel, or the lapse job with ``by=None``)."""
    if by is not None:
        member_id = access.member(uow, member_id, by)
    h, ledger = _settle(uow, member_id, point_type, hold_id, "released", by)
    for lot in json.loads(h.lots):
        ledger.put_back(lot, int(lot["points"]))
    posting = ledger.stage("hold_released", int(h.points), reason=why, source=f"hold:{hold_id}",
                           actor=by.ref if by else LAPSE_ACTOR, idempotency_key=key,
                           event_type="points.hold_released", event_data={"hold_id": hold_id, "why": why},
                           merchant_id=h.merchant_id)
    return {"hold_id": hold_id, "status": "released", "points": int(h.points), "balance": int(posting.balance_after),
            "expired_on_return": ledger.expired_on_return}
