"""Scheduled points work. Each job reads only what is due (sparse indexes), never all members,
and runs its items through :func:`~chalicelib.db.due.run_due`, so one item never stops a run.

* ``points-expiry``: pending lots whose return window closed unlock; lots past their last day
  expire (one expiry posting each); accounts past a rolling expiry date lose their live lots. An
  account's next date (:mod:`.dates`) says when its lots (or window) are due.
* ``points-reminders``: a ``points.expiring`` event for each last day of an account's points 30/15/3
  days (configurable) before it; the account then moves to its next date.
* ``points-holds``: checkout holds never confirmed are released when they time out.
* ``points-inflation``: warns when issuance outruns redemption past the configured threshold.
* ``points-reconcile``: the next page of accounts of every shard against their postings and items.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from itertools import chain
from typing import Any

from chalicelib.db.due import current_slice, run_due
from chalicelib.db.uow import ClaimTaken, UnitOfWork
from chalicelib.jobs import job
from chalicelib.ledger import reconciliation
from chalicelib.ledger.holds import FILLING, OPEN, RELEASING, lapse_job
from chalicelib.points import dates, orders, program, reconcile, repository, rolling, spending
from chalicelib.points.ledger import Ledger
from chalicelib.points.projection import WINDOW_DAYS, window
from chalicelib.points.rules import ProgramRules, inflated
from chalicelib.points.tables import AccountItem, HoldItem, LotItem, WarningMarker
from chalicelib.programs.service import served
from chalicelib.shared import clock
from chalicelib.shared.errors import ConcurrentUpdate
from chalicelib.shared.events import DomainEvent

EXPIRY_ACTOR = "job:points-expiry"
DEADLINE_EVERY = 50      # lots of one account expired between looks at the run's deadline


@job("points-expiry")
def expiry(as_of: datetime) -> dict[str, Any]:
    """Unlock pending lots, expire lots past their last day and accounts past a rolling date."""
    reader = UnitOfWork(EXPIRY_ACTOR)
    repo = repository.of(reader)
    lots = run_due(repo.due_lots(as_of),
                   lambda due, attempt: _lot(due[0], due[1], attempt, program.today(as_of), as_of), _name,
                   "points-expiry")
    accounts = run_due(chain(repo.due_dates(as_of, expiry=True), repo.due_rolling(as_of)),
                       lambda due, _: _account(due[0], due[1], program.today(as_of), as_of), _name, "points-expiry")
    return {"items_read": lots.items_read + accounts.items_read,
            "points_expired": lots.counts["expired"] + accounts.counts["expired"],
            "points_unlocked": lots.counts["unlocked"], **lots.give_ups(), **_prefixed(accounts.give_ups())}


def _prefixed(give_ups: dict[str, object]) -> dict[str, object]:
    return {f"accounts_{k}": v for k, v in give_ups.items()}


def _name(due: tuple[str, Any]) -> str:
    return f"{due[0]}/{due[1].pk}/{due[1].sk}"


def _open(actor: str, program_id: str, as_of: datetime) -> tuple[UnitOfWork, ProgramRules]:
    """A unit of work in the item's program, and that program's rules."""
    uow = UnitOfWork(actor, program=program_id)
    return uow, program.rules_at(uow, as_of)[1]


def _account(program_id: str, due: AccountItem, today: date, as_of: datetime) -> Counter:
    """An account whose next date holds an expiry: past its rolling date, every live lot expires;
    else each dated lot past its last day does (one posting each, as a lot's own entry did), the
    last one's transaction moving the account's entry to its next date (:mod:`.dates`), on the
    account's version as the visit read it and its own expiries left it. A reminder's entry of a
    day gone by is visited too (the reminders job has not been by: an expiry may be due behind it;
    the reminder stays due). A run out of time midway leaves the entry due, and a continuation of
    the run reads it again and goes on."""
    member_id, point_type = due.member_id, due.point_type
    entry = dates.current(due)
    if entry and entry[1] == dates.REMIND and entry[0] >= today:
        return Counter()                  # a reminder's, due today in its program: the reminders job's
    uow, rules = _open(EXPIRY_ACTOR, program_id, as_of)
    visit = dates.Visit.read(uow, member_id, point_type, dates.horizon(today, rules.reminder_days), reminded=False)
    if rolling.lapsed(visit.account, today):
        done = rolling.expire(program_id, member_id, point_type, today, as_of, EXPIRY_ACTOR)
        dates.settle(UnitOfWork(EXPIRY_ACTOR, program=program_id), member_id, point_type, today, rules.reminder_days)
        return done
    lapsed, left = visit.lapsed(today)
    now = dates.current(visit.account)             # its reminder points from its day on: not sent yet
    after = left.next(rules.reminder_days, today, read_from=now[0] if now else today)
    if not lapsed:
        if visit.move(after):
            uow.commit()
        return Counter()
    done, version = Counter(), int(visit.account.version or 0)
    for n, lot in enumerate(lapsed):
        if n and n % DEADLINE_EVERY == 0 and current_slice().out_of_time():
            current_slice().leave_unfinished()        # a continuation of this run goes on with it
            return done
        then = (version + n, after) if n == len(lapsed) - 1 else None
        if n == 0:                        # the first in the visit's unit: the account as it read it
            done += _expire(uow, rules, lot, today, then)
        else:
            done += _lot(program_id, lot, 1, today, as_of, then)
    return done


def _lot(program_id: str, due: LotItem, attempt: int, today: date, as_of: datetime,
         then: tuple[int, dates.Entry | None] | None = None) -> Counter:
    # First try the lot as the due reader read it (whole, consistently, with its page); the
    # account version and the lot's remaining condition catch a change since, and the retry
    # reads it again.
    uow, rules = _open(EXPIRY_ACTOR, program_id, as_of)
    lot = due if attempt == 1 else repository.of(uow).lot((due.pk, due.sk))
    if lot is None:
        return Counter()                         # spent meanwhile
    ledger = Ledger(lot.member_id, lot.point_type, uow, today, rules.reminder_days)
    if lot.is_pending:
        if not lot.unlock_on or lot.unlock_on > today.isoformat():
            return Counter()
        n = ledger.unlock(lot)
        ledger.stage("unlock", n, reason="return window closed", source=lot.source, event_type="points.unlocked")
        uow.commit()
        return Counter(unlocked=n)
    return _expire(uow, rules, lot, today, then, ledger)


def _expire(uow: UnitOfWork, rules: ProgramRules, lot: LotItem, today: date, then: tuple[int, dates.Entry | None] | None,
            ledger: Ledger | None = None) -> Counter:
    """Expire what is left of a live lot past its last day, one posting; ``then``: the account's
    entry moves on with it (its last lot due), on the account's version the visit expects."""
    if not lot.expires_on or lot.expires_on >= today.isoformat():
        return Counter()
    ledger = ledger or Ledger(lot.member_id, lot.point_type, uow, today, rules.reminder_days)
    n = ledger.expire(lot)
    if n and then is not None:            # an account's last lot due: its entry moves on with it
        read_at, after = then
        if int(ledger.account.version or 0) != read_at:
            raise ConcurrentUpdate("points account changed since its visit read it")
        ledger.account.duepk, ledger.account.duesk = dates.keys(ledger.account, after)
    if n:
        ledger.stage("expire", n, reason="expired", source="expiry",
                     event_type="points.expired", event_data={"expires_on": lot.expires_on})
        orders.record_expired(uow, lot.source, lot.member_id, lot.lot_id, n, lot.point_type)
        uow.commit()
    return Counter(expired=n)


@job("points-reminders")
def reminders(as_of: datetime) -> dict[str, Any]:
    """A ``points.expiring`` event for each last day of an account's points whose reminder day has
    come (:mod:`.dates`); a lot's reminder of before visits its account the same way."""
    repo = repository.of(UnitOfWork("job:points-reminders"))
    run = run_due(chain(repo.due_dates(as_of), repo.due_reminders(as_of)),
                  lambda due, _: _remind(due[0], due[1], program.today(as_of), as_of), _name, "points-reminders")
    return {"items_read": run.items_read, "reminders_sent": run.counts["sent"], **run.give_ups()}


def _remind(program_id: str, due: Any, today: date, as_of: datetime) -> Counter:
    uow, rules = _open("job:points-reminders", program_id, as_of)
    if isinstance(due, AccountItem):
        return dates.remind(uow, due.member_id, due.point_type, today, rules.reminder_days)
    lot = repository.of(uow).lot((due.pk, due.sk))
    if lot is None or lot.reminder_at != due.reminder_at or not lot.reminder_at:
        return Counter()
    # a lot's reminder of before: its account's visit sends what is due (the lot's points before
    # this reminder were sent a lot at a time: dates.Visit.sent) and takes the account onto its
    # next date, then the lot leaves the reminders' index
    sent = dates.remind(uow, lot.member_id, lot.point_type, today, rules.reminder_days)
    done = UnitOfWork("job:points-reminders", program=program_id)
    read = (LotItem.k1sk == lot.k1sk) if lot.k1sk else (LotItem.gsi1sk == lot.gsi1sk)
    done.update(lot, [LotItem.k1pk.remove(), LotItem.k1sk.remove(), LotItem.gsi1pk.remove(), LotItem.gsi1sk.remove()],
                read, on_conflict=lambda: ConcurrentUpdate("lot changed"))
    done.commit()
    return sent


def _lapse(program_id: str, due: HoldItem) -> Counter:
    """An open or filling hold past its time goes back; a releasing one (a big give-back whose
    request stopped midway) is finished."""
    why = "expired" if due.status != "releasing" else "refunded"
    steps, expired = spending.finish_release(program_id, due.member_id, due.hold_id, due.point_type,
                                             "job:points-holds", why)
    return Counter(released=1 if steps else 0, expired=expired)


holds = lapse_job("points-holds", HoldItem, _lapse, register=job, lapsing=(OPEN, FILLING, RELEASING),
                  reported={"points_expired_on_return": "expired"},
                  due=lambda as_of: repository.of(UnitOfWork("job:points-holds")).due_holds(as_of))


@job("points-inflation")
def inflation(as_of: datetime) -> dict[str, Any]:
    """Issued vs redeemed over 30 days, per program; a warning at most once a day each."""
    programs = served(UnitOfWork("job:points-inflation"))
    result = {}
    for p in programs:
        with clock.in_program(p):                 # its day, in its time zone
            result[p] = _inflation(p, as_of)
    return {"programs": result}


def _inflation(program_id: str, as_of: datetime) -> dict[str, Any]:
    today = program.today(as_of)
    uow = UnitOfWork("job:points-inflation", program=program_id)
    _, rules = program.rules_at(uow, as_of)
    totals = window(uow, "points", today)
    issued, redeemed = totals["issued"], totals["redeemed"]
    ratio = None if redeemed == 0 else round(issued * 100 / redeemed)
    warn: bool | str = inflated(issued, redeemed, rules.inflation_threshold_percent)
    if warn:
        uow.emit(DomainEvent("points.inflation_warning", "program:points", {
            "issued": issued, "redeemed": redeemed, "ratio_percent": ratio,
            "threshold_percent": rules.inflation_threshold_percent, "window_days": WINDOW_DAYS,
            "day": today.isoformat()}))
        try:
            uow.commit(claim=WarningMarker(*WarningMarker.key(today.isoformat()), at=clock.iso(as_of)))
        except ClaimTaken:
            warn = "already warned today"
    return {"issued": issued, "redeemed": redeemed, "ratio_percent": ratio, "warned": warn}


@job("points-reconcile")
def reconcile_all(as_of: datetime) -> dict[str, Any]:
    """The next page of every program's accounts against their postings and items (an audit: reads
    every posting); successive runs cover every account (a cursor per shard)."""
    checked, mismatched = 0, []
    for program_id in served(UnitOfWork("job:points-reconcile")):
        result = reconcile.next_pages(UnitOfWork("job:points-reconcile", program=program_id))
        checked += result["accounts_checked"]
        mismatched += [(program_id, m["member_id"], m["point_type"]) for m in result["mismatches"]]
    reconciliation.report_mismatches(len(mismatched))
    return {"accounts_checked": checked, "balanced": not mismatched, "mismatched_accounts": mismatched}
