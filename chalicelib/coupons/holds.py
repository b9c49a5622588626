"""Coupons locked for an open checkout, on the one hold mechanism (:mod:`chalicelib.ledger.holds`):
a till locks a coupon for an order (checked and guarded exactly as for a write-off), then confirms
the lock (the write-off, ``coupon.used``) or cancels it; a lock never settled lapses by itself
(the ``coupon-holds`` job, reading only the holds that are due).

A lock takes the coupon ``unused`` → ``locked`` (so no other till can use it meanwhile) and counts
its saving in the template's budgets at once (so two checkouts cannot both fit in the last of a
budget); a release takes it back to ``unused`` and gives the budgets their share back."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field, StrictInt

from chalicelib.coupons import templates
from chalicelib.coupons.schemas import UseCoupon
from chalicelib.coupons.service import at_merchant, terms_of, usable_now, view
from chalicelib.coupons.tables import CouponHoldItem, CouponItem, TemplateItem
from chalicelib.coupons.terms import Terms
from chalicelib.coupons.use import (
    CouponNotUsable,
    CouponUsed,
    Use,
    budgets,
    cost_split,
    give_back,
    mark_used,
    order_amount,
    saving_view,
    take,
)
from chalicelib.db.uow import UnitOfWork
from chalicelib.jobs import job
from chalicelib.ledger import holds
from chalicelib.merchants import service as merchants
from chalicelib.shared import clock
from chalicelib.shared.errors import Conflict, changed
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.ids import new_id
from chalicelib.shared.principal import Principal

JOB = "coupon-holds"
LAPSE_ACTOR = f"job:{JOB}"


class HoldCoupon(UseCoupon):
    ttl_seconds: StrictInt = Field(600, ge=30, le=24 * 3600, description="how long the lock lasts unless settled")


def hold(cmd: HoldCoupon, by: Principal, uow: UnitOfWork) -> dict[str, Any]:
    """Lock the coupon for the order: checked as for a write-off, its saving counted in the budgets."""
    now = clock.now()
    if cmd.template_id and _live(uow, cmd.template_id):      # refused before the platform is asked
        raise CouponNotUsable("a code verified live with its platform is written off directly, not locked",
                              why_not="live_code: write it off directly")
    t = take(uow, cmd, by, now)
    if t.terms.codes == "live":            # the platform is told at a write-off; a lock would bypass it
        raise CouponNotUsable("a code verified live with its platform is written off directly, not locked",
                              why_not="live_code: write it off directly")
    fen = t.saving.total_fen
    h = _lock(uow, t.coupon, t.terms, fen, Use(cmd.order_id, t.merchant_id, t.store_id, by.ref, fen, {},
                                               order_amount(cmd)),
              new_id(), now + timedelta(seconds=cmd.ttl_seconds), now)
    return {**_view(h), "saving": saving_view(t.saving), "coupon": view(t.coupon, t.terms, now)}


def lock_quoted(uow: UnitOfWork, member_id: str, coupon_id: str, use: Use, hold_id: str,
                expires: datetime, checkout_id: str | None = None) -> CouponHoldItem:
    """Lock a coupon a checkout's quote chose, for the saving the quote gave it (``use.fen``: its
    part of the combination, worked out on the cart by :mod:`.choice`), as a step of the commit
    (``hold_id``: the step's id; ``checkout_id``: the checkout, whose completion alone writes the
    coupon off). Refused (409, with why) if the coupon is no longer usable now or
    here (used or locked meanwhile, expired), or its budgets have no room. Its terms cannot have
    changed: a coupon keeps the terms version it was issued under."""
    now = clock.now()
    c = uow.get(CouponItem, CouponItem.key(member_id, coupon_id), consistent=True)
    if c is None:
        raise CouponNotUsable(f"coupon {coupon_id} is gone", why_not="not_found: the coupon is gone")
    terms = terms_of(c)
    why = usable_now(c, terms, now) or at_merchant(c, use.merchant_id)
    if why is None and terms.codes == "live":
        why = "live_code: write it off directly"
    if why is not None:
        raise (CouponUsed if c.state == "used" else CouponNotUsable)(f"coupon {coupon_id}: {why}", why_not=why)
    budgets(uow, templates.find(uow, c.template_id, None), use.store_id, use.fen, now, c)
    return _lock(uow, c, terms, use.fen, use, hold_id, expires, now, checkout_id)


def _lock(uow: UnitOfWork, c: CouponItem, terms: Terms, fen: int, use: Use, hold_id: str, expires: datetime,
          now: datetime, checkout_id: str | None = None) -> CouponHoldItem:
    """Stage the lock: the hold made, the coupon ``locked`` by it (at the version read) and
    ``coupon.locked``."""
    h = CouponHoldItem(*CouponHoldItem.key(hold_id), hold_id=hold_id, code=c.code, member_id=c.member_id,
                       coupon_id=c.coupon_id, order_id=use.order_id, merchant_id=use.merchant_id,
                       store_id=use.store_id, saving_fen=fen, order_amount_fen=use.order_amount_fen,
                       cost=json.dumps(cost_split(terms, fen)), budget_period=c.budget_period, by=use.by,
                       created_at=clock.iso(now), of_checkout=checkout_id)
    holds.due_at(h, expires, hold_id)
    holds.create(uow, h, holds.OPEN)
    read = int(c.version or 0)
    c.state, c.hold_id = "locked", hold_id
    uow.save_versioned(c, read, lambda: CouponUsed("the coupon was used or locked meanwhile"))
    uow.emit(DomainEvent("coupon.locked", f"member:{c.member_id}", {
        "member_id": c.member_id, "coupon_id": c.coupon_id, "template_id": c.template_id, "hold_id": hold_id,
        "order_id": use.order_id, "store_id": use.store_id, "saving_fen": fen}, merchant_id=use.merchant_id))
    return h


def _live(uow: UnitOfWork, template_id: str) -> bool:
    head = uow.get(TemplateItem, TemplateItem.key(template_id)) if len(template_id) <= 64 else None
    return head is not None and templates.terms_of(uow, head.template_id, int(head.terms_version)).codes == "live"


def _view(h: CouponHoldItem) -> dict[str, Any]:
    return {"hold_id": h.hold_id, "coupon_id": h.coupon_id, "member_id": h.member_id, "order_id": h.order_id,
            "merchant_id": h.merchant_id, "store_id": h.store_id, "saving_fen": int(h.saving_fen),
            "status": h.status, "expires_at": h.hold_expires_at, "created_at": h.created_at}


def _open(uow: UnitOfWork, hold_id: str, by: Principal | None, unexpired: bool = False) -> \
        tuple[CouponHoldItem, CouponItem]:
    h = holds.settleable(holds.visible(uow.get(CouponHoldItem, CouponHoldItem.key(hold_id[:64]), consistent=True),
                                       hold_id, by, merchants.acts_for), unexpired=unexpired)
    c = uow.get(CouponItem, CouponItem.key(h.member_id, h.coupon_id), consistent=True)
    if c is None or c.state != "locked" or c.hold_id != h.hold_id:
        raise Conflict(f"the coupon of hold {hold_id} is no longer locked by it")
    return h, c


def status_of(uow: UnitOfWork, hold_id: str) -> str | None:
    """The status of a lock (None: none of that id), for a caller that took it as a step of its own."""
    h = uow.get(CouponHoldItem, CouponHoldItem.key(hold_id[:64]), consistent=True)
    return None if h is None else str(h.status)


def get(hold_id: str, by: Principal, uow: UnitOfWork) -> dict[str, Any]:
    """A lock, to the merchant (and store) that took it."""
    h = holds.visible(uow.get(CouponHoldItem, CouponHoldItem.key(hold_id[:64]), consistent=True), hold_id, by,
                      merchants.acts_for)
    return _view(h)


def confirm(hold_id: str, by: Principal, uow: UnitOfWork, via_checkout: bool = False) -> dict[str, Any]:
    """Write the locked coupon off (its budgets were counted when it was locked); a checkout's
    lock only by its checkout's completion (``via_checkout``)."""
    h, c = _open(uow, hold_id, by, unexpired=True)
    holds.confirmable(h, via_checkout)
    terms, now = terms_of(c), clock.now()
    holds.move(uow, h, holds.CONFIRMED)
    mark_used(uow, c, terms, Use(h.order_id, h.merchant_id or "", h.store_id, h.by or by.ref, int(h.saving_fen),
                                 json.loads(h.cost or "{}"), int(h.order_amount_fen or 0)), now)
    return {**_view(h), "coupon": view(c, terms, now)}


def release(hold_id: str, by: Principal | None, uow: UnitOfWork, why: str = "cancelled",
            via_checkout: bool = False) -> dict[str, Any]:
    """Unlock the coupon (a cancel, or the lapse job with ``by=None``; a checkout's lock only by
    its checkout, ``via_checkout``, or the lapse); its saving leaves the budgets."""
    h, c = _open(uow, hold_id, by)
    holds.releasable(h, by, via_checkout)
    give_back(uow, templates.find(uow, c.template_id, None), h.store_id, h.budget_period, int(h.saving_fen))
    holds.move(uow, h, holds.RELEASED)
    read = int(c.version or 0)
    c.state, c.hold_id = "unused", None
    uow.save_versioned(c, read, changed("the coupon"))
    uow.emit(DomainEvent("coupon.released", f"member:{c.member_id}", {
        "member_id": c.member_id, "coupon_id": c.coupon_id, "template_id": c.template_id, "hold_id": hold_id,
        "order_id": h.order_id, "why": why}, merchant_id=h.merchant_id))
    return {**_view(h), "coupon": view(c, terms_of(c))}


lapse = holds.lapse_job(JOB, CouponHoldItem, holds.released_in_unit(
    LAPSE_ACTOR, lambda uow, h: release(h.hold_id, None, uow, why="expired")), register=job)
