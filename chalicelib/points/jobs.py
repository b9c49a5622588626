"""Scheduled points work. Each job reads only what is due (sparse indexes), never all members,
and runs its items through :func:`~chalicelib.db.due.run_due`, so one item never stops a run.

* ``points-expiry``: pending lots whose return window closed unlock; lots past their last day
  expire (one expiry posting each); accounts past a rolling expiry date lose their live lots.
* ``points-reminders``: a ``points.expiring`` event per lot 30/15/3 days (configurable) before it
  expires; each lot then moves to its next reminder.
* ``points-holds``: checkout holds never confirmed are released when they time out.
* ``points-inflation``: warns when issuance outruns redemption past the configured threshold.
* ``points-reconcile``: the next page of accounts of every shard against their postings and items.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.db.due import run_due
from chalicelib.db.uow import ClaimTaken, UnitOfWork
from chalicelib.jobs import job
from chalicelib.ledger import reconciliation
from chalicelib.ledger.holds import FILLING, OPEN, RELEASING, lapse_job
from chalicelib.points import orders, program, reconcile, repository, rolling, spending
from chalicelib.points.ledger import Ledger
from chalicelib.points.projection import WINDOW_DAYS, window
from chalicelib.points.rules import ProgramRules, inflated
from chalicelib.points.tables import AccountItem, HoldItem, LotItem, WarningMarker
from chalicelib.programs.service import served
from chalicelib.shared import clock
from chalicelib.shared.errors import ConcurrentUpdate
from chalicelib.shared.events import DomainEvent

EXPIRY_ACTOR = "job:points-expiry"


@job("points-expiry")
def expiry(as_of: datetime) -> dict[str, Any]:
    """Unlock pending lots, expire lots past their last day and accounts past a rolling date."""
    reader = UnitOfWork(EXPIRY_ACTOR)
    lots = run_due(repository.of(reader).due_lots(as_of),
                   lambda due, attempt: _lot(due[0], due[1], attempt, program.today(as_of), as_of), _name,
                   "points-expiry")
    rolling = run_due(repository.of(reader).due_rolling(as_of),
                      lambda due, _: _rolling(due[0], due[1], program.today(as_of), as_of), _name, "points-expiry")
    return {"items_read": lots.items_read + rolling.items_read,
            "points_expired": lots.counts["expired"] + rolling.counts["expired"],
            "points_unlocked": lots.counts["unlocked"], **lots.give_ups(), **_prefixed(rolling.give_ups())}


def _prefixed(give_ups: dict[str, object]) -> dict[str, object]:
    return {f"rolling_{k}": v for k, v in give_ups.items()}


def _name(due: tuple[str, Any]) -> str:
    return f"{due[0]}/{due[1].pk}/{due[1].sk}"


def _open(actor: str, program_id: str, as_of: datetime) -> tuple[UnitOfWork, ProgramRules]:
    """A unit of work in the item's program, and that program's rules."""
    uow = UnitOfWork(actor, program=program_id)
    return uow, program.rules_at(uow, as_of)[1]


def _lot(program_id: str, due: LotItem, attempt: int, today: date, as_of: datetime) -> Counter:
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
    if not lot.expires_on or lot.expires_on >= today.isoformat():
        return Counter()
    n = ledger.expire(lot)
    if n:
        ledger.stage("expire", n, reason="expired", source="expiry",
                     event_type="points.expired", event_data={"expires_on": lot.expires_on})
        orders.record_expired(uow, lot.source, lot.member_id, lot.lot_id, n, lot.point_type)
        uow.commit()
    return Counter(expired=n)


def _rolling(program_id: str, due: AccountItem, today: date, as_of: datetime) -> Counter:
    return rolling.expire(program_id, due.member_id, due.point_type, today, as_of, EXPIRY_ACTOR)


@job("points-reminders")
def reminders(as_of: datetime) -> dict[str, Any]:
    """A ``points.expiring`` event per lot whose reminder day has come; the lot moves on."""
    reader = UnitOfWork("job:points-reminders")
    run = run_due(repository.of(reader).due_reminders(as_of),
                  lambda due, _: _remind(due[0], due[1], program.today(as_of), as_of), _name,
                  "points-reminders", attempts=1)
    return {"items_read": run.items_read, "reminders_sent": run.counts["sent"], **run.give_ups()}


def _remind(program_id: str, due: LotItem, today: date, as_of: datetime) -> Counter:
    uow, rules = _open("job:points-reminders", program_id, as_of)
    lot = repository.of(uow).lot((due.pk, due.sk))
    if lot is None or lot.reminder_at != due.reminder_at:
        return Counter()
    of = rolling.reminder(repository.of(uow).account(lot.member_id, lot.point_type), lot, today) \
        if not lot.expires_on else (lot.expires_on, int(lot.remaining))
    # as read: on keys1, or on gsi1 from before (it moves to keys1 now)
    read = (LotItem.k1sk == lot.k1sk) if lot.k1sk else (LotItem.gsi1sk == lot.gsi1sk)
    lot.set_due(rules.reminder_days, today + timedelta(days=1))
    if of is None:                       # a rolling date since moved (a newer lot reminds) or ended
        lot.k1pk = lot.k1sk = None
    uow.update(lot, [LotItem.k1pk.set(uow.index_key(lot.k1pk)) if lot.k1pk else LotItem.k1pk.remove(),
                     LotItem.k1sk.set(lot.k1sk) if lot.k1sk else LotItem.k1sk.remove(),
                     LotItem.gsi1pk.remove(), LotItem.gsi1sk.remove()],
               read, on_conflict=lambda: ConcurrentUpdate("lot changed"))
    if of is None:
        uow.commit()
        return Counter()
    expires_on, points = of
    uow.emit(DomainEvent("points.expiring", f"member:{lot.member_id}", {
        "member_id": lot.member_id, "point_type": lot.point_type, "lot_id": lot.lot_id,
        "points": points, "expires_on": expires_on, "days_left": (date.fromisoformat(expires_on) - today).days}))
    uow.commit()
    return Counter(sent=1)


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
