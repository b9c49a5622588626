"""Scheduled points work. Each job reads only what is due (sparse indexes), never all members.

* ``points-expiry``: pending lots whose return window closed unlock; lots past their last day
  expire (one expiry posting each); accounts past a rolling expiry date lose their live lots.
* ``points-reminders``: a ``points.expiring`` event per lot 30/15/3 days (configurable) before it
  expires; each lot then moves to its next reminder.
* ``points-holds``: checkout holds never confirmed are released when they time out.
* ``points-inflation``: warns when issuance outruns redemption past the configured threshold.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Callable

from pynamodb.attributes import UnicodeAttribute

from chalicelib.events.model import DomainEvent
from chalicelib.points import service
from chalicelib.points.ledger import Ledger
from chalicelib.points.projection import daily_totals
from chalicelib.points.store import AccountItem, HoldItem, LotItem
from chalicelib.shared import clock
from chalicelib.shared.config import settings
from chalicelib.shared.errors import ConcurrentUpdate, Conflict
from chalicelib.store.models import DUE_SHARDS, MainModel, due_items
from chalicelib.store.uow import UnitOfWork

ATTEMPTS = 5


def _retrying(fn: Callable[[], int]) -> int:
    for _ in range(ATTEMPTS):
        try:
            return fn()
        except ConcurrentUpdate:
            continue
    return 0


def expiry(as_of: datetime) -> dict[str, Any]:
    today = clock.local_date(as_of, settings().timezone)
    _, rules = service.rules_at(as_of)
    read = unlocked = expired = 0
    for due in due_items(LotItem, "points-lot", today):
        read += 1

        attempt = [0]

        def one(due=due) -> int:
            # First try the index's copy of the lot (ALL projection); the account version and the
            # lot's remaining condition catch a stale copy, and the retry reads it consistently.
            attempt[0] += 1
            if attempt[0] == 1:
                lot = due
            else:
                try:
                    lot = LotItem.get(due.pk, due.sk, consistent_read=True)
                except LotItem.DoesNotExist:
                    return 0                     # spent meanwhile
            uow = UnitOfWork("job:points-expiry")
            ledger = Ledger(lot.member_id, lot.point_type, uow, today, rules.reminder_days)
            if lot.is_pending:
                if not lot.unlock_on or lot.unlock_on > today.isoformat():
                    return 0
                n = ledger.unlock(lot)
                ledger.stage("unlock", n, reason="return window closed", source=lot.source, actor="job:points-expiry",
                             idempotency_key=None, event_type="points.unlocked")
                uow.commit()
                return -n
            if not lot.expires_on or lot.expires_on >= today.isoformat():
                return 0
            n = ledger.expire(lot)
            if n:
                ledger.stage("expire", n, reason="expired", source="expiry", actor="job:points-expiry",
                             idempotency_key=None, event_type="points.expired",
                             event_data={"expires_on": lot.expires_on})
                uow.commit()
            return n

        n = _retrying(one)
        if n > 0:
            expired += n
        elif n < 0:
            unlocked -= n
    for due in due_items(AccountItem, "points-rolling", today):
        read += 1
        expired += _retrying(lambda due=due: _rolling(due, today, rules))
    return {"items_read": read, "points_expired": expired, "points_unlocked": unlocked}


def _rolling(due: AccountItem, today, rules) -> int:
    account = AccountItem.load(due.member_id, due.point_type)
    if not account.rolling_until or account.rolling_until >= today.isoformat():
        return 0
    uow = UnitOfWork("job:points-expiry")
    ledger = Ledger(account.member_id, account.point_type, uow, today, rules.reminder_days)
    total = sum(ledger.expire(lot) for lot in list(ledger._live()))
    ledger.account.rolling_until = ledger.account.duepk = ledger.account.duesk = None
    ledger.stage("expire", total, reason="no purchase within the rolling window", source="expiry",
                 actor="job:points-expiry", idempotency_key=None, event_type="points.expired")
    uow.commit()
    return total


def reminders(as_of: datetime) -> dict[str, Any]:
    today = clock.local_date(as_of, settings().timezone)
    _, rules = service.rules_at(as_of)
    tomorrow = (today + timedelta(days=1)).isoformat()
    read = sent = 0
    for shard in range(DUE_SHARDS):
        for due in LotItem.reminders.query(f"DUE#points-remind#{shard}", LotItem.gsi1sk < tomorrow):
            read += 1
            try:
                lot = LotItem.get(due.pk, due.sk, consistent_read=True)
            except LotItem.DoesNotExist:
                continue
            if lot.gsi1sk != due.gsi1sk or not lot.expires_on:
                continue
            days_left = (datetime.fromisoformat(lot.expires_on).date() - today).days
            previous = lot.gsi1sk
            lot.set_due(rules.reminder_days, today + timedelta(days=1))
            uow = UnitOfWork("job:points-reminders")
            uow.update(lot, [LotItem.gsi1pk.set(lot.gsi1pk) if lot.gsi1pk else LotItem.gsi1pk.remove(),
                             LotItem.gsi1sk.set(lot.gsi1sk) if lot.gsi1sk else LotItem.gsi1sk.remove()],
                       LotItem.gsi1sk == previous, on_conflict=lambda: Conflict("lot changed"))
            uow.emit(DomainEvent("points.expiring", f"member:{lot.member_id}", {
                "member_id": lot.member_id, "point_type": lot.point_type, "lot_id": lot.lot_id,
                "points": int(lot.remaining), "expires_on": lot.expires_on, "days_left": days_left}))
            try:
                uow.commit()
                sent += 1
            except Conflict:
                continue
    return {"items_read": read, "reminders_sent": sent}


def holds(as_of: datetime) -> dict[str, Any]:
    today = clock.local_date(as_of, settings().timezone)
    now = clock.iso(as_of)
    read = released = 0
    for due in due_items(HoldItem, "points-hold", today):
        read += 1
        if due.hold_expires_at > now or due.status != "open":
            continue

        def one(due=due) -> int:
            uow = UnitOfWork("job:points-holds")
            try:
                service.release_hold(due.member_id, due.hold_id, due.point_type, None, uow, None, why="expired")
            except service.HoldNotOpen:
                return 0
            uow.commit()
            return 1
        released += _retrying(one)
    return {"items_read": read, "holds_released": released}


class WarningMarker(MainModel):
    at = UnicodeAttribute()


def inflation(as_of: datetime) -> dict[str, Any]:
    """Issued vs redeemed over 30 days; a ``points.inflation_warning`` at most once a day."""
    today = clock.local_date(as_of, settings().timezone)
    _, rules = service.rules_at(as_of)
    totals = daily_totals("points", today - timedelta(days=29), today)
    issued, redeemed = totals["issued"], totals["redeemed"]
    ratio = None if redeemed == 0 else round(issued * 100 / redeemed)
    warn = issued > 0 and (redeemed == 0 or issued * 100 > rules.inflation_threshold_percent * redeemed)
    if warn:
        uow = UnitOfWork("job:points-inflation")
        uow.emit(DomainEvent("points.inflation_warning", "program:points", {
            "issued": issued, "redeemed": redeemed, "ratio_percent": ratio,
            "threshold_percent": rules.inflation_threshold_percent, "window_days": 30, "day": today.isoformat()}))
        try:
            uow.commit(claim=WarningMarker(f"PTSWARN#inflation#{today.isoformat()}", "WARN", at=clock.iso(as_of)))
        except Exception:
            warn = "already warned today"
    return {"issued": issued, "redeemed": redeemed, "ratio_percent": ratio, "warned": warn}
