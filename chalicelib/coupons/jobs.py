"""Scheduled coupon work: ``coupon-expiry`` (hourly) reads only the coupons due (the due index,
``DUE#coupon-expiry``): a coupon comes due first :data:`REMIND_DAYS` days before its end
(``coupon.expiring``, for the reminder a member gets), then on its last day (``coupon.expired``;
it has been unusable since its end whatever the job has done: every use checks ``valid_until``).
A coupon used or voided meanwhile left the index then, and one read after it moved is passed over."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from chalicelib.coupons.service import EXPIRY, due_at, retire
from chalicelib.coupons.tables import CouponItem
from chalicelib.db import backend
from chalicelib.db.due import due_items, run_due
from chalicelib.db.uow import UnitOfWork
from chalicelib.jobs import job
from chalicelib.shared import clock
from chalicelib.shared.errors import changed
from chalicelib.shared.events import DomainEvent

ACTOR = "job:coupon-expiry"


@job("coupon-expiry")
def expire(as_of: datetime) -> dict[str, Any]:
    """Remind of coupons ending soon and expire those past their end."""
    run = run_due(due_items(backend.current(), CouponItem, EXPIRY, as_of),
                  lambda due, _: _handle(due[0], due[1], as_of), lambda due: f"{due[0]}/{due[1].coupon_id}",
                  "coupon-expiry")
    return {"items_read": run.items_read, "reminded": run.counts["reminded"], "expired": run.counts["expired"],
            **run.give_ups()}


def _handle(program: str, due: CouponItem, as_of: datetime) -> Counter:
    uow = UnitOfWork(ACTOR, program=program)
    c = uow.get(CouponItem, CouponItem.key(due.member_id, due.coupon_id), consistent=True)
    if c is None or c.state != "unused" or not c.valid_until or c.duesk != due.duesk:
        return Counter()
    read, until = int(c.version or 0), clock.parse_iso(c.valid_until)
    data = {"member_id": c.member_id, "coupon_id": c.coupon_id, "template_id": c.template_id,
            "valid_until": c.valid_until}
    if as_of >= until:
        retire(c, "expired")
        uow.save_versioned(c, read, changed("the coupon"))
        uow.emit(DomainEvent("coupon.expired", f"member:{c.member_id}", data, merchant_id=c.merchant_id))
        uow.commit()
        return Counter(expired=1)
    due_at(c, until, reminded=True)
    uow.save_versioned(c, read, changed("the coupon"))
    uow.emit(DomainEvent("coupon.expiring", f"member:{c.member_id}", {
        **data, "days_left": max(0, (until - as_of) // timedelta(days=1))}, merchant_id=c.merchant_id))
    uow.commit()
    return Counter(reminded=1)
