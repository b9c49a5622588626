"""Per-period counters: earning caps per day and month, behaviour limits, the check-in streak.

A counter is read (what is left clamps the points earned), then added to with the shared counter
of :mod:`chalicelib.ledger.counters`, in the same transaction as the points it limits, on the
condition that it still holds what was read: two concurrent requests cannot both use the last
unit (the loser retries, and reads what is left then).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from chalicelib.db.items import expiry_in
from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger import counters
from chalicelib.points import repository
from chalicelib.points.tables import CounterItem
from chalicelib.shared.errors import changed

COUNTER_DAYS = 400          # a counter outlives the longest period it limits (a month) by far


@dataclass
class Limit:
    """One counter as read: what is ``used`` of ``cap`` (None: no limit)."""

    item: CounterItem
    used: int
    cap: int | None

    @property
    def left(self) -> int | None:
        """What the cap still allows (None: no cap)."""
        return None if self.cap is None else max(0, self.cap - self.used)


def periods(today: date) -> list[tuple[str, str]]:
    """The day and month periods of ``today``: ``(label, counter suffix)``."""
    return [("day", "D#" + today.isoformat()), ("month", "M#" + today.strftime("%Y-%m"))]


def read(uow: UnitOfWork, member_id: str, name: str, cap: int | None) -> Limit | None:
    """The counter ``name`` of a member, or None when ``cap`` is None (nothing to limit)."""
    if cap is None:
        return None
    item = repository.of(uow).counter(member_id, name)
    if item is None:
        return Limit(CounterItem(*CounterItem.key(member_id, name)), 0, cap)
    return Limit(item, int(item.total or 0), cap)


def use(uow: UnitOfWork, limit: Limit, add: int) -> None:
    """Stage ``add`` more on the counter, on the condition that nobody else used it meanwhile."""
    counters.add(uow, limit.item, add, limit.cap, changed("the counter of this limit", "meanwhile"),
                 also=[CounterItem.expires_at.set(expiry_in(COUNTER_DAYS))], read=limit.used)


def next_streak(item: CounterItem, today: date) -> int | None:
    """The check-in streak today continues (None: already checked in today)."""
    last = item.last_day
    if last == today.isoformat():
        return None
    return int(item.streak or 0) + 1 if last == (today - timedelta(days=1)).isoformat() else 1
