"""Scheduled coupon work: ``coupon-issues`` (every 5 minutes) works through targeted issues
(:mod:`chalicelib.coupons.issues`); ``coupon-expiry`` (hourly) reads only the coupons due (the due index,
``DUE#coupon-expiry``): a coupon comes due first :data:`REMIND_DAYS` days before its end
(``coupon.expiring``, for the reminder a member gets), then on its last day (``coupon.expired``;
it has been unusable since its end whatever the job has done: every use checks ``valid_until``).
A coupon used or voided meanwhile left the index then, and one read after it moved is passed over."""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from chalicelib.coupons import issues
from chalicelib.coupons.service import EXPIRY, due_at, retire
from chalicelib.coupons.tables import CouponItem, IssueItem
from chalicelib.db import backend
from chalicelib.db.due import current_slice, due_items, run_due
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
        **data, "days_left": max(0, math.ceil((until - as_of) / timedelta(days=1)))}, merchant_id=c.merchant_id))
    uow.commit()
    return Counter(reminded=1)


@job("coupon-issues")
def issue(as_of: datetime) -> dict[str, Any]:
    """Work through the targeted issues in progress, a chunk of members at a time, to the run's
    deadline (its continuation carries on)."""
    work = current_slice()
    run = run_due(due_items(backend.current(), IssueItem, issues.KIND, as_of),
                  lambda due, _: issues.work(due[0], due[1], work.ends_at), lambda due: f"{due[0]}/{due[1].issue_id}",
                  "coupon-issues")
    if run.counts["stopped_at_deadline"]:
        work.again(issues.KIND)
    return {"items_read": run.items_read, "chunks": run.counts["chunks"], "issues_done": run.counts["issues_done"],
            "stopped_at_deadline": work.stopped, **run.give_ups()}


@job("coupon-reconcile")
def reconcile_all(as_of: datetime) -> dict[str, Any]:
    """Prove every program's coupon stocks and figures; announce a stock that does not add up."""
    from chalicelib.coupons import reconcile
    from chalicelib.ledger import reconciliation
    from chalicelib.programs.service import served
    actor = "job:coupon-reconcile"
    return reconciliation.every_program(
        actor, served(UnitOfWork(actor)), reconcile.everything, "templates_checked",
        lambda result: DomainEvent("coupon.reconciliation_failed", "program:coupons", {
            "day": clock.program_date(as_of).isoformat(),
            "templates": [m["template_id"] for m in result["mismatches"]]}))
