"""Scheduled tier work, reading only what is due (never every member).

* ``tier-review``: members whose validity, grace or manual floor ended by today: retain,
  downgrade or enter grace; under the ``reset`` policy the growth earned before the new period
  expires (an expiry posting on the growth ledger, in steps, before the review commits, so a
  retried review finds nothing more to reset).
* ``membership-expiry``: paid memberships past their last day expire.
* ``tier-reminders``: a ``tier.expiring`` event on each of the ladder's ``reminder_days`` before
  a validity end (30 and 7 by default), with what keeping the tier still needs.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.db.due import due_day, run_due
from chalicelib.db.uow import UnitOfWork
from chalicelib.jobs import job
from chalicelib.points import service as points
from chalicelib.shared import clock
from chalicelib.tiers import membership, repository, standing
from chalicelib.tiers.ladder import LADDER
from chalicelib.tiers.tables import TierItem

ACTOR = "job:tier-review"


@job("tier-review")
def review(as_of: datetime) -> dict[str, Any]:
    """Review every member whose tier period or floor ended by the program day of ``as_of``."""
    reader = UnitOfWork(ACTOR)
    run = run_due(repository.of(reader).due_reviews(as_of),
                  lambda due, _: review_member(due[0], due[1], clock.program_date(as_of), as_of),
                  lambda due: f"{due[0]}/{due[1].member_id}", "tier-review")
    return {"items_read": run.items_read, **{k: run.counts[k] for k in
            ("retained", "downgraded", "grace", "manual_ended")}, "growth_reset": run.counts["growth_reset"],
            **run.give_ups()}


def review_member(program_id: str, due: TierItem, today: date, as_of: datetime) -> Counter:
    """Review one member whose period, grace or floor ended by ``today`` (the job's, or the stream's
    before a growth posting of a day after the period's end moves the tier: :mod:`.stream`)."""
    uow = UnitOfWork(ACTOR, program=program_id)
    item = repository.of(uow).tier(due.member_id)
    if item is None or not item.duesk or due_day(item.duesk) > today:
        return Counter()                            # reviewed meanwhile
    version, ladder = LADDER.at(uow, as_of)
    read = int(item.version)
    counted = points.growth_total(uow, item.member_id)
    outcome, next_start = standing.review(uow, item, ladder, today, as_of, ACTOR, version, counted.total)
    if next_start is not None:            # a new period counts from the growth read: postings up to it are
        item.growth_seq = max(counted.sequence, int(item.growth_seq or 0))     # the last one's, not the stream's
    counts = Counter({outcome: 1} if outcome else {})
    # The growth recorded before the next period's first day resets when the period ends: when a
    # grace begins (growth recorded in it is kept, however long it lasts), else now. A reset that
    # has run for the cut does nothing (the grace's end).
    ended = next_start or (date.fromisoformat(item.valid_until) + timedelta(days=1)
                           if outcome == "grace" and item.valid_until else None)
    if ended is not None and ladder.growth_at_period_end == "reset":
        counts["growth_reset"] = points.reset_growth(
            program_id, item.member_id, clock.iso(clock.day_start(ended)), today, ACTOR,
            "tier period ended: growth resets", {"tier_period_end": (ended - timedelta(days=1)).isoformat()})
    standing.save(uow, item, read, ladder, today)
    uow.commit()
    return counts


@job("tier-reminders")
def reminders(as_of: datetime) -> dict[str, Any]:
    """A ``tier.expiring`` event per member whose reminder day has come; each moves to its next."""
    reader = UnitOfWork("job:tier-reminders")
    run = run_due(repository.of(reader).due_reminders(as_of),
                  lambda due, _: _remind(due[0], due[1], clock.program_date(as_of), as_of),
                  lambda due: f"{due[0]}/{due[1].member_id}", "tier-reminders")
    return {"items_read": run.items_read, "reminders_sent": run.counts["sent"], **run.give_ups()}


def _remind(program_id: str, due: TierItem, today: date, as_of: datetime) -> Counter:
    uow = UnitOfWork("job:tier-reminders", program=program_id)
    item = repository.of(uow).tier(due.member_id)
    if item is None or item.reminder_at != due.reminder_at or not item.valid_until or not item.reminder_at:
        return Counter()                                  # changed meanwhile
    version, ladder = LADDER.at(uow, as_of)
    read = int(item.version)
    end = date.fromisoformat(item.valid_until)
    days_left = (end - today).days
    tier = ladder.tiers[ladder.index(item.tier)]
    uow.emit(standing.expiring(item, tier, days_left, version, points.growth_total(uow, item.member_id).total))
    item.reminded = f"{item.valid_until}:{(end - due_day(item.reminder_at)).days}"
    standing.save(uow, item, read, ladder, today + timedelta(days=1))
    uow.commit()
    return Counter(sent=1)


@job("membership-expiry")
def memberships(as_of: datetime) -> dict[str, Any]:
    """Paid memberships whose last day has passed expire (``membership.expired``)."""
    reader = UnitOfWork("job:membership-expiry")
    run = run_due(repository.of(reader).due_memberships(as_of),
                  lambda due, _: _expire(due[0], due[1].member_id, clock.program_date(as_of)),
                  lambda due: f"{due[0]}/{due[1].member_id}", "membership-expiry")
    return {"items_read": run.items_read, "expired": run.counts["expired"], **run.give_ups()}


def _expire(program_id: str, member_id: str, today: date) -> Counter:
    uow = UnitOfWork("job:membership-expiry", program=program_id)
    if not membership.expire(uow, member_id, today, "job:membership-expiry"):
        return Counter()
    uow.commit()
    return Counter(expired=1)
