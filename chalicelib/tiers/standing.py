"""How a member's tier changes: by growth crossing a threshold (from the event stream), at the
end of a validity period (the ``tier-review`` job), by a manual floor, or by a refund when the
ladder says so. Every change stages the tier item on its version, one history entry and one
event on the caller's unit of work.

The growth a period counts is the member's growth counted now (the points ``growth_total``:
every growth change but resets) less what it was when the period began (``growth_base``), so a
growth change that moves no tier writes nothing here. Items from before (no ``growth_base``)
kept a running ``period_growth``; they are read so until their next growth change sets a base.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.db.due import due_keys
from chalicelib.db.uow import UnitOfWork
from chalicelib.shared import clock
from chalicelib.shared.errors import changed
from chalicelib.shared.events import DomainEvent
from chalicelib.tiers.ladder import Ladder, TierDef, period_end
from chalicelib.tiers.tables import TierHistoryItem, TierItem

_changed = changed("the member's tier")          # the lost race the endpoint retries

EVENTS = {"crossing": "tier.upgraded", "retention": "tier.retained", "downgrade": "tier.downgraded",
          "manual": "tier.set_manually", "manual_end": "tier.downgraded", "refund": "tier.downgraded",
          "task": "tier.upgraded"}


def new(member_id: str, ladder: Ladder, at: datetime, total: int | None = None) -> TierItem:
    """A member's tier item before any change: the base tier, no validity; its period counts the
    growth from ``total`` on (None: from the item's first write, as items from before did)."""
    return TierItem(*TierItem.key(member_id), member_id=member_id, tier=ladder.tiers[0].code, since=clock.iso(at),
                    period_start=clock.program_date(at).isoformat(), period_growth=0, growth_base=total,
                    changes=0, version=0)


def period_growth(item: TierItem | None, total: int) -> int:
    """The growth the member's current period has counted, given the growth counted now (``total``,
    the points ``growth_total``): before any tier change, all of it (a member's first tier item
    counts from 0; a member without one, whose growth has not reached the tiers, or came before
    the ladder, the same)."""
    if item is None:
        return total
    if item.growth_base is None:                   # an item from before: its running count
        return int(item.period_growth or 0)
    return total - int(item.growth_base)


def effective(ladder: Ladder, item: TierItem | None, day: date) -> tuple[int, str]:
    """The tier a member holds on ``day`` (its index) and why: ``growth`` or a ``manual`` floor."""
    earned = ladder.index(item.tier) if item else 0
    if item is not None and item.manual_tier and item.manual_until and item.manual_until >= day.isoformat():
        floor = ladder.index(item.manual_tier)
        if floor > earned:
            return floor, "manual"
    return earned, "growth"


def move(uow: UnitOfWork, item: TierItem, ladder: Ladder, to: int, cause: str, at: datetime, actor: str | None,
         detail: dict[str, Any], total: int, start: date | None = None) -> None:
    """The earned tier becomes ``ladder.tiers[to]``; a new validity period begins on ``start``
    (default: the day of ``at``) with no growth counted yet (it counts from ``total`` on)."""
    tier = ladder.tiers[to]
    before = item.tier
    if to < ladder.index(before) and cause == "downgrade":   # a review's: what was left must be earned again
        item.regain_from = ladder.tiers[max(ladder.index(before), ladder.index(item.regain_from))].code
    elif item.regain_from and to >= ladder.index(item.regain_from):
        item.regain_from = None
    begin = start or clock.program_date(at)
    item.previous, item.tier, item.since = before, tier.code, clock.iso(at)
    item.period_start, item.period_growth, item.growth_base, item.grace_until = begin.isoformat(), 0, total, None
    item.valid_until = period_end(begin, tier.validity_months).isoformat() if tier.validity_months else None
    record(uow, item, before, tier.code, cause, at, actor, detail)


def record(uow: UnitOfWork, item: TierItem, before: str | None, after: str, cause: str, at: datetime,
           actor: str | None, detail: dict[str, Any]) -> None:
    """Stage one history entry and the change's event."""
    item.changes = int(item.changes or 0) + 1
    uow.create(TierHistoryItem(*TierHistoryItem.key(item.member_id, int(item.changes)), member_id=item.member_id,
                               number=int(item.changes), at=clock.iso(at), from_tier=before, to_tier=after,
                               cause=cause, detail=json.dumps(detail, separators=(",", ":")), actor=actor),
               on_conflict=_changed)
    uow.emit(DomainEvent(EVENTS[cause], f"member:{item.member_id}", {
        "member_id": item.member_id, "from": before, "to": after, "cause": cause, "valid_until": item.valid_until,
        "at": clock.iso(at), **detail}))


def expiring(item: TierItem, tier: TierDef, days_left: int, ladder_version: int, total: int) -> DomainEvent:
    """The reminder that a tier's validity ends soon, with what keeping it still needs (``total``:
    the member's growth counted now)."""
    growth = period_growth(item, total)
    return DomainEvent("tier.expiring", f"member:{item.member_id}", {
        "member_id": item.member_id, "tier": tier.code, "valid_until": item.valid_until, "days_left": days_left,
        "period_growth": growth, "retain_needed": tier.keep, "growth_needed": max(0, tier.keep - growth),
        "ladder_version": ladder_version})


def schedule(item: TierItem, reminder_days: list[int], today: date) -> None:
    """Put the item on the review index at its next review: the day after its validity (or grace)
    ends or its manual floor ends, whichever is first; off the index when nothing will end. And
    on the reminder index at the next of ``reminder_days`` before the validity end, from ``today``."""
    ends = [d for d in (item.grace_until or item.valid_until, item.manual_until) if d]
    item.duepk = item.duesk = item.k1pk = item.k1sk = item.gsi1pk = item.gsi1sk = None
    if ends:
        day = date.fromisoformat(min(ends)) + timedelta(days=1)
        item.duepk, item.duesk = due_keys("tier-review", day, item.member_id)
    if item.valid_until and not item.grace_until:
        end = date.fromisoformat(item.valid_until)
        sent_for, _, sent = (item.reminded or "::").partition(":")
        for days in sorted(reminder_days, reverse=True):
            if sent_for == item.valid_until and days >= int(sent or 0):
                continue                                  # sent already for this validity end
            if end - timedelta(days=days) >= today:
                item.k1pk, item.k1sk = due_keys("tier-reminder", end - timedelta(days=days), item.member_id)
                break


def save(uow: UnitOfWork, item: TierItem, read_version: int, ladder: Ladder, today: date) -> None:
    """Stage the item on the version it was read at, scheduled for its next review and reminder
    (reminders from ``today`` on)."""
    item.updated_at = clock.iso(clock.now())
    schedule(item, ladder.reminder_days, today)
    uow.save_versioned(item, read_version, _changed)


def apply_growth(uow: UnitOfWork, item: TierItem, ladder: Ladder, change: int, balance: int, total: int, kind: str,
                 at: datetime, actor: str, ladder_version: int) -> bool:
    """A growth posting (``change``, leaving ``balance`` and the growth counted at ``total``):
    upgrade when the balance crosses a threshold (several tiers at once if it crosses several),
    and, if the ladder says so, downgrade when a refund takes the balance below the tier's
    threshold; whether the tier moved. An item from before (a running ``period_growth``) counts
    the change in its period and takes its base from it (so it must be written).

    A member downgraded from a tier has a balance that still meets its threshold (growth carried
    over never falls), so the balance alone would undo every downgrade at the next order. Up to
    the tier left (``regain_from``), a tier is regained only when the growth earned in the
    current period, that is since the downgrade, also meets its retention (``keep``); tiers
    above it need their threshold only, as for anyone."""
    if item.growth_base is None:
        counted = int(item.period_growth or 0) + (change if clock.program_date(at).isoformat() >= item.period_start
                                                   else 0)
        item.growth_base = total - counted
    current = ladder.index(item.tier)
    reached = regainable(ladder, item, max(balance, 0), period_growth(item, total))
    detail = {"growth": balance, "ladder_version": ladder_version}
    if change > 0 and reached > current:
        move(uow, item, ladder, reached, "crossing", at, actor, detail, total)
    elif change < 0 and kind == "refund" and ladder.downgrade_on_refund and ladder.reached(max(balance, 0)) < current:
        move(uow, item, ladder, ladder.reached(max(balance, 0)), "refund", at, actor, detail, total)
    else:
        return False
    return True


def regainable(ladder: Ladder, item: TierItem, balance: int, growth: int) -> int:
    """The highest tier ``balance`` reaches that the member may move up to now: above the tier
    held, every tier up to ``regain_from`` also needs the period's ``growth`` to meet its retention."""
    current = ladder.index(item.tier)
    ceiling = ladder.index(item.regain_from) if ladder.has(item.regain_from) else current
    return max(i for i, tier in enumerate(ladder.tiers)
               if i <= current or (tier.threshold <= balance and (i > ceiling or growth >= tier.keep)))


def review(uow: UnitOfWork, item: TierItem, ladder: Ladder, today: date, as_of: datetime, actor: str,
           ladder_version: int, total: int) -> tuple[str | None, date | None]:
    """The review of an item whose validity, grace or floor has ended by ``today`` (``total``: the
    member's growth counted now): what happened (``retained``, ``downgraded``, ``grace``,
    ``manual_ended`` or None) and, when a period ended, the first day of the next one (growth
    earned before it resets under the ``reset`` policy)."""
    outcome: str | None = None
    if item.manual_until and item.manual_until < today.isoformat():
        floor, earned = ladder.index(item.manual_tier), ladder.index(item.tier)
        if floor > earned:
            record(uow, item, item.manual_tier, item.tier, "manual_end", as_of, actor,
                   {"reason": item.manual_reason, "ended": item.manual_until})
        item.manual_tier = item.manual_until = item.manual_reason = item.manual_by = None
        outcome = "manual_ended"
    end = item.grace_until or item.valid_until
    if not item.valid_until or not end or end >= today.isoformat():
        return outcome, None
    current, counted = ladder.index(item.tier), period_growth(item, total)
    # A tier the ladder no longer has ends with its period: the member goes to the base tier.
    after = ladder.after_period(current, counted) if ladder.has(item.tier) else -1
    growth = {"period_growth": counted, "needed": ladder.tiers[current].keep,
              "period": [item.period_start, item.valid_until], "ladder_version": ladder_version}
    next_start = date.fromisoformat(item.valid_until) + timedelta(days=1)
    if after == current:
        tier = ladder.tiers[current]
        item.period_start, item.period_growth, item.growth_base, item.grace_until = next_start.isoformat(), 0, total, None
        item.valid_until = period_end(next_start, tier.validity_months).isoformat() if tier.validity_months else None
        record(uow, item, tier.code, tier.code, "retention", as_of, actor, growth)
        return "retained", next_start
    if ladder.grace_days and not item.grace_until:
        item.grace_until = (date.fromisoformat(item.valid_until) + timedelta(days=ladder.grace_days)).isoformat()
        return "grace", None
    move(uow, item, ladder, max(after, 0), "downgrade", as_of, actor, growth, total, start=next_start)
    return "downgraded", next_start
