"""Two-phase stored value checkouts: a till reserves an amount (principal and bonus split as a
payment would be), then confirms it (a payment of the order, refundable as any payment) or
cancels it; a hold never confirmed lapses by itself (the ``stored-value-holds`` job, reading only
the holds that are due)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalicelib.db.uow import UnitOfWork
from chalicelib.jobs import job
from chalicelib.ledger import holds
from chalicelib.ledger.holds import HoldNotOpen
from chalicelib.members import service as members
from chalicelib.merchants import service as merchants
from chalicelib.orders import service as orders
from chalicelib.shared import clock
from chalicelib.shared.errors import Conflict, Forbidden
from chalicelib.shared.ids import new_id
from chalicelib.shared.principal import Principal
from chalicelib.stored_value import bonus_lots, service
from chalicelib.stored_value.account import SvChange
from chalicelib.stored_value.schemas import HoldRequest
from chalicelib.stored_value.tables import SvHoldItem, SvPaymentItem

JOB = "stored-value-holds"
LAPSE_ACTOR = f"job:{JOB}"
__all__ = ["HoldNotOpen", "confirm", "hold", "lapse", "release"]


def hold(member_id: str, cmd: HoldRequest, by: Principal, uow: UnitOfWork, key: str | None,
         hold_id: str | None = None, checkout_id: str | None = None) -> dict[str, Any]:
    """Reserve an amount for a checkout (``hold_id``: a step's id, as for points; default: new;
    ``checkout_id``: the checkout it is a step of, whose completion alone confirms it)."""
    if by.kind == "member":
        raise Forbidden("holds are taken by the merchant's till")
    merchant, store = merchants.place(uow, by, cmd.merchant_id, cmd.store_id, merchant_required=True)
    assert merchant is not None
    member_id, change, principal, bonus = service.checkout(uow, member_id, by, merchant, cmd.order_id, cmd.amount_fen)
    orders.check_use(uow, merchant, cmd.order_id, cmd.amount_fen, member_id=member_id, by=by)     # as its payment would be
    change.hold(principal, bonus)
    hold_id, now = hold_id or new_id(), clock.now()
    expires = now + timedelta(seconds=cmd.ttl_seconds)
    h = SvHoldItem(*SvHoldItem.key(member_id, hold_id), hold_id=hold_id, member_id=member_id, merchant_id=merchant,
                   store_id=store, order_id=cmd.order_id, amount_fen=cmd.amount_fen, principal=principal, bonus=bonus,
                   created_at=clock.iso(now), of_checkout=checkout_id)
    holds.due_at(h, expires, f"{member_id}#{hold_id}")
    holds.create(uow, h, holds.OPEN)
    change.stage("hold", cmd.amount_fen, ref=f"hold:{hold_id}", event_type="stored_value.held",
                 merchant_id=merchant, store_id=store, data={"hold_id": hold_id, "order_id": cmd.order_id,
                                                            "principal_fen": principal, "bonus_fen": bonus})
    return {"hold_id": hold_id, "member_id": member_id, "order_id": cmd.order_id, "amount_fen": cmd.amount_fen,
            "principal_fen": principal, "bonus_fen": bonus, "status": "open", "expires_at": h.hold_expires_at,
            "balance_fen": change.principal + change.bonus, "lapsed_bonus_fen": change.lapsed_bonus}


def status_of(uow: UnitOfWork, member_id: str, hold_id: str) -> str | None:
    """The status of a hold (None: none of that id), for a caller that took it as a step of its own."""
    h = uow.get(SvHoldItem, SvHoldItem.key(member_id, hold_id), consistent=True)
    return None if h is None else str(h.status)


def _open(uow: UnitOfWork, member_id: str, hold_id: str, by: Principal | None, unexpired: bool = False) -> SvHoldItem:
    h = uow.get(SvHoldItem, SvHoldItem.key(member_id, hold_id), consistent=True)
    return holds.settleable(holds.visible(h, hold_id, by, merchants.acts_for), unexpired=unexpired)


def confirm(member_id: str, hold_id: str, by: Principal, uow: UnitOfWork, key: str | None,
            via_checkout: bool = False) -> dict[str, Any]:
    """Spend the held amount: the order is paid (and refundable like any payment); a checkout's
    hold only by its checkout's completion (``via_checkout``)."""
    member_id = members.acting_on(uow, member_id, by).member_id
    h = holds.confirmable(_open(uow, member_id, hold_id, by, unexpired=True), via_checkout)
    change = SvChange(uow, member_id)
    principal, bonus = int(h.principal), int(h.bonus)
    change.spend_held(principal, bonus, h.merchant_id)
    holds.move(uow, h, holds.CONFIRMED)
    uow.create(SvPaymentItem(*SvPaymentItem.key(h.merchant_id, h.order_id), member_id=member_id,
                             merchant_id=h.merchant_id, order_id=h.order_id, store_id=h.store_id,
                             amount_fen=int(h.amount_fen), principal=principal, bonus=bonus, refunded_principal=0,
                             refunded_bonus=0, lots_taken=bonus_lots.dump(change.taken),
                             created_at=clock.iso(clock.now())),
               on_conflict=lambda: Conflict(f"order {h.order_id} was paid with stored value already"))
    orders.record_part(uow, h.merchant_id, h.order_id, service.PART, int(h.amount_fen), member_id=member_id,
                       store_id=h.store_id, by=by, bonus_fen=bonus)
    change.stage("hold_confirmed", int(h.amount_fen), ref=f"order:{h.merchant_id}:{h.order_id}",
                 event_type="stored_value.paid", merchant_id=h.merchant_id, store_id=h.store_id,
                 data={"hold_id": hold_id, "order_id": h.order_id, "principal_fen": principal, "bonus_fen": bonus})
    return {"hold_id": hold_id, "status": "confirmed", "order_id": h.order_id, "amount_fen": int(h.amount_fen),
            "principal_fen": principal, "bonus_fen": bonus, "balance_fen": change.principal + change.bonus}


def release(member_id: str, hold_id: str, by: Principal | None, uow: UnitOfWork, key: str | None,
            why: str = "cancelled", via_checkout: bool = False) -> dict[str, Any]:
    """Give the held amount back (a cancel, or the lapse job with ``by=None``; a checkout's hold
    only by its checkout, ``via_checkout``, or the lapse)."""
    if by is not None:
        member_id = members.acting_on(uow, member_id, by).member_id
    h = holds.releasable(_open(uow, member_id, hold_id, by), by, via_checkout)
    change = SvChange(uow, member_id)
    change.release(int(h.principal), int(h.bonus))
    holds.move(uow, h, holds.RELEASED)
    change.stage("hold_released", int(h.amount_fen), ref=f"hold:{hold_id}",
                 event_type="stored_value.hold_released", merchant_id=h.merchant_id, store_id=h.store_id,
                 data={"hold_id": hold_id, "why": why})
    return {"hold_id": hold_id, "status": "released", "amount_fen": int(h.amount_fen),
            "balance_fen": change.principal + change.bonus}


lapse = holds.lapse_job(JOB, SvHoldItem, holds.released_in_unit(
    LAPSE_ACTOR, lambda uow, h: release(h.member_id, h.hold_id, None, uow, None, why="expired")),
    register=job, named=lambda h: f"{h.member_id}/{h.hold_id}")
