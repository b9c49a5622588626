"""An account's next date: when its points next need the expiry job or a reminder (#24 Cost).

Each live lot had two index entries of its own, written when it was made: its expiry (``due2``)
and its next reminder (``keys1``), 2 of an earn's index writes (docs/scale.md). Now one entry per
account stands for all of them: the account item's ``duepk``/``duesk`` on ``due2``,
``DUE#points-dates#<shard>`` / ``<day>#<member>#<type>#<why>``, at the soonest of

* the day after the last day of each of its dated live lots (the lot's expiry),
* each reminder day of each of those last days (``reminder_days`` before it) not passed yet,
* the same for the rolling window's last day (``rolling_until``) under rolling expiry.

``why`` says what the day holds: ``expiry`` (a lot or the window expires: the hourly
``points-expiry`` job visits the account, and the reminders job too) or ``remind`` (only a
reminder is due: the daily ``points-reminders`` job visits it, the expiry job passes over it
unread). On a tie, ``expiry``.

**Never late, sometimes early.** A change that makes a lot (an earn, a refund's restore, an
unlock) or moves the rolling window brings the entry forward to the lot's or the window's dates
when they come sooner (:func:`bring_forward`): an earn whose points end after the account's next
date leaves the entry's keys as they are, and writes nothing to the index. Nothing ever moves the
entry later but a job's visit, which reads the account, its lots within the longest reminder
window and the first one beyond, and sets the entry at their soonest date (:func:`settle`), on the
account's version as read (a change in between makes the visit read again). An entry earlier than
needed (the lot spent since, the window pushed on, or a change that read the account before a
visit put the entry of before back) costs a visit that finds nothing to do and moves it on.

**Reminders:** one ``points.expiring`` for each last day whose reminder point has come (the points of
every lot ending that day; under rolling expiry, the window's end and all of the member's points),
where there was one a lot. A point is ``reminder_days`` before the last day, and counts only from
the day the points were the member's (the earliest earning day of the lots ending then). The
account's ``REMINDED`` item (:class:`~.tables.RemindedItem`) records, for each last day, the
nearest point sent: a visit sends a last day's reminder when a nearer point has come (one, however
many it missed), so each goes once however often the entry is visited, and a change of
``reminder_days`` is followed from the next visit on (an account whose entry waited for a point the
new schedule dropped is reminded then of the nearest point of the new one).

Lots from before keep their own entries until they are due: the expiry job expires them one by one
as before; a lot's reminder from before, when due, visits its account instead (:func:`remind`)
and leaves the lot's index.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from itertools import islice

from chalicelib.db.due import due_day, due_keys
from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger.lots import expiry_due_day
from chalicelib.points import repository
from chalicelib.points.tables import DATES, AccountItem, LotItem, RemindedItem
from chalicelib.shared import clock
from chalicelib.shared.errors import ConcurrentUpdate
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.observability import logger

KIND = DATES
LEGACY_KIND = "points-rolling"        # the rolling window's entry of before: visited the same way
EXPIRY, REMIND = "expiry", "remind"
MAX_REMINDERS = 50                    # reminders one visit sends (one event each, in one transaction)
MOVE_TRIES = 3                        # tries to move the entry on after a reminder (each reads again)
Entry = tuple[date, str]


def current(account: AccountItem) -> Entry | None:
    """The account's entry as it stands (day, why), or None."""
    if not account.duepk or not account.duesk:
        return None
    return due_day(account.duesk), REMIND if account.duesk.endswith(f"#{REMIND}") else EXPIRY


def keys(account: AccountItem, entry: Entry | None) -> tuple[str | None, str | None]:
    """The index keys of ``entry`` for ``account`` (None, None: no entry)."""
    if entry is None:
        return None, None
    day, why = entry
    pk, sk = due_keys(KIND, day, f"{account.member_id}#{account.point_type}")
    return pk, f"{sk}#{why}"


def soonest(entries: Iterable[Entry | None]) -> Entry | None:
    """The soonest entry (an expiry before a reminder of the same day)."""
    found = [e for e in entries if e is not None]
    return min(found, key=lambda e: (e[0], e[1] != EXPIRY)) if found else None


def dates_of(last_day: str, reminder_days: Iterable[int], from_day: date) -> list[Entry]:
    """What points ending ``last_day`` need: their expiry the day after, and their reminders
    (``reminder_days`` before it) on ``from_day`` or after."""
    end = date.fromisoformat(last_day)
    return [(expiry_due_day(last_day), EXPIRY),
            *((end - timedelta(days=d), REMIND) for d in reminder_days if end - timedelta(days=d) >= from_day)]


def bring_forward(account: AccountItem, last_day: str, reminder_days: Iterable[int], today: date) -> None:
    """Points ending ``last_day`` joined ``account`` today: its entry comes forward to their dates
    when they are sooner (the keys are left as they are otherwise: no index write)."""
    now = current(account)
    sooner = soonest([now, *dates_of(last_day, reminder_days, today)])
    if sooner != now or (account.duepk and KIND not in account.duepk):
        account.duepk, account.duesk = keys(account, sooner)


@dataclass
class Visit:
    """What a job's visit of one account reads: the account, how far reminders went, its dated
    live lots ending by ``horizon`` (lapsed ones first) and the last day of the first one after."""

    uow: UnitOfWork
    account: AccountItem
    reminded: RemindedItem | None
    lots: list[LotItem]
    beyond: str | None
    dated_after: int = 0          # under a rolling window: the points of the dated lots past ``horizon``

    @classmethod
    def read(cls, uow: UnitOfWork, member_id: str, point_type: str, horizon: date, reminded: bool = True) -> Visit:
        """Read the account with its first lots (one consistent Query: its sort key sorts just
        before theirs), its ``REMINDED`` item (unless not ``reminded``: the expiry job's visit takes
        the reminder points from its entry's day on as not sent, at worst one the reminders job
        sent that day, which it then passes), and its lots on, to the first one after ``horizon``."""
        repo = repository.of(uow)
        repo.account_and_lots(member_id, point_type)
        account = repo.account(member_id, point_type)               # as that Query read it
        record = uow.get(RemindedItem, RemindedItem.key(member_id, point_type), consistent=True) if reminded else None
        lots: list[LotItem] = []
        beyond, dated_after, past = None, 0, False
        for lot in repo.live_lots(member_id, point_type):           # soonest first; without a last day, last
            if lot.expires_on and lot.expires_on <= horizon.isoformat():
                lots.append(lot)
                continue
            beyond = beyond if past else lot.expires_on
            past = True
            if not (account.rolling_until and lot.expires_on):
                break                     # under a window, on through the dated lots: the window's are the rest
            dated_after += int(lot.remaining)
        return cls(uow, account, record, lots, beyond, dated_after)

    def lapsed(self, today: date) -> tuple[list[LotItem], Visit]:
        """The lots past their last day, and the visit as it stands once they are expired."""
        gone = [lot for lot in self.lots if str(lot.expires_on) < today.isoformat()]
        return gone, Visit(self.uow, self.account, self.reminded, self.lots[len(gone):], self.beyond, self.dated_after)

    def sent(self) -> dict[str, int]:
        """For each last day, the nearest reminder point (days before it) already sent: what the
        ``REMINDED`` item records, and for lots of before, the points before their next reminder
        of before (sent a lot at a time)."""
        sent = json.loads(self.reminded.sent) if self.reminded is not None and self.reminded.sent else {}
        for lot in self.lots:
            if lot.expires_on and lot.reminder_at:
                end, next_one = date.fromisoformat(lot.expires_on), due_day(lot.reminder_at)
                before = [(end - next_one).days + 1, *([sent[lot.expires_on]] if lot.expires_on in sent else [])]
                sent[lot.expires_on] = min(before)
        return sent

    def _ending(self, today: date) -> dict[str, tuple[int, int, date]]:
        """Each last day from today on: its points, its lots (0: the rolling window's, all the
        points) and the first day it was the member's (the earliest of its lots' earning days)."""
        ending: dict[str, tuple[int, int, date]] = {}
        for lot in self.lots:
            if lot.expires_on and lot.expires_on >= today.isoformat():
                points, lots, first = ending.get(lot.expires_on, (0, 0, date.max))
                earned = clock.program_date(clock.parse_iso(lot.earned_at)) if lot.earned_at else date.min
                ending[lot.expires_on] = (points + int(lot.remaining), lots + 1, min(first, earned))
        window = self.account.rolling_until
        if window and window >= today.isoformat():     # the window's end: the points without a last day
            dated = sum(int(lot.remaining) for lot in self.lots) + self.dated_after
            ending[window] = (int(self.account.available or 0) - dated, 0, date.min)
        return ending

    def due(self, today: date, reminder_days: list[int]) -> tuple[list[dict[str, object]], dict[str, int]]:
        """The reminders due by ``today``: for each last day, one when a reminder point has come
        (``reminder_days`` before it, not before the points were the member's) nearer than the
        nearest sent; and what is sent then, last day by last day."""
        sent, found = self.sent(), []
        for last_day, (points, lots, first) in sorted(self._ending(today).items()):
            end = date.fromisoformat(last_day)
            reached = [d for d in reminder_days if first <= end - timedelta(days=d) <= today]
            if not reached or points <= 0 or sent.get(last_day, max(reached) + 1) <= min(reached):
                continue
            sent[last_day] = min(reached)
            found.append({"points": points, "expires_on": last_day, "days_left": (end - today).days,
                          **({"lots": lots} if lots else {})})
        return found, {day: d for day, d in sent.items() if day >= today.isoformat()}

    def next(self, reminder_days: list[int], today: date, read_from: date | None = None) -> Entry | None:
        """The account's soonest date from what was read: each last day's expiry, and its reminder
        points not sent yet (from ``read_from`` on, when the ``REMINDED`` item was not read)."""
        sent, ending = self.sent(), self._ending(today)
        days = {lot.expires_on for lot in self.lots if lot.expires_on} | {self.beyond, self.account.rolling_until}
        return soonest(e for day in days if day
                       for e in dates_of(day, [d for d in reminder_days if d < sent.get(day, d + 1)],
                                         max(ending.get(day, (0, 0, date.min))[2], read_from or date.min)))

    def move(self, entry: Entry | None) -> bool:
        """Stage the account's entry at ``entry``, on its version as read; False when it is there."""
        pk, sk = keys(self.account, entry)
        if (pk, sk) == (self.account.duepk, self.account.duesk):
            return False
        self.uow.update(self.account, [AccountItem.duepk.set(self.uow.index_key(pk)), AccountItem.duesk.set(str(sk))]
                        if pk else [AccountItem.duepk.remove(), AccountItem.duesk.remove()],
                        AccountItem.version == int(self.account.version or 0),
                        on_conflict=lambda: ConcurrentUpdate("points account changed"))
        return True


def horizon(today: date, reminder_days: list[int]) -> date:
    """The last day a visit reads lots to: the longest reminder window from today."""
    return today + timedelta(days=max(reminder_days, default=0))


def settle(uow: UnitOfWork, member_id: str, point_type: str, today: date, reminder_days: list[int]) -> bool:
    """Set the account's entry at its soonest date as the account stands (after a visit's work);
    whether it moved. Reminders not sent yet stay due (the reminders job sends them)."""
    visit = Visit.read(uow, member_id, point_type, horizon(today, reminder_days))
    moved = visit.move(visit.next(reminder_days, today))
    if moved:
        uow.commit()
    return moved


def remind(uow: UnitOfWork, member_id: str, point_type: str, today: date, reminder_days: list[int]) -> Counter:
    """Send the account's reminders due by ``today`` and record them (one transaction, on the
    ``REMINDED`` item as read: of two visits at once one sends), then set the entry at the next
    date in a write of its own (on the account's version: a member busy meanwhile delays only
    that; an entry left early costs a visit that sends nothing)."""
    visit = Visit.read(uow, member_id, point_type, horizon(today, reminder_days))
    due, sent = visit.due(today, reminder_days)
    if len(due) > MAX_REMINDERS:
        logger.warning("points reminders beyond one visit's", extra={"member": member_id, "due": len(due)})
    if due:
        for reminder in islice(due, MAX_REMINDERS):
            uow.emit(DomainEvent("points.expiring", f"member:{member_id}",
                                 {"member_id": member_id, "point_type": point_type, **reminder}))
        record = RemindedItem(*RemindedItem.key(member_id, point_type), member_id=member_id, point_type=point_type,
                              sent=json.dumps(sent, separators=(",", ":"), sort_keys=True))
        uow.save(record, RemindedItem.sent == visit.reminded.sent if visit.reminded is not None
                 else RemindedItem.pk.does_not_exist(), on_conflict=lambda: ConcurrentUpdate("reminders sent meanwhile"))
        uow.commit()
        visit = replace(visit, uow=UnitOfWork(uow.actor, program=uow.program), reminded=record)
    for _ in range(MOVE_TRIES):
        try:
            if visit.move(visit.next(reminder_days, today)):
                visit.uow.commit()
            break
        except ConcurrentUpdate:                 # read again: the entry moves from what is there now
            visit = Visit.read(UnitOfWork(uow.actor, program=uow.program), member_id, point_type,
                               horizon(today, reminder_days))
    return Counter(sent=min(len(due), MAX_REMINDERS))
