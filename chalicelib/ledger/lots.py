"""Lot arithmetic, with no I/O: which lots a spend takes, where a give-back goes, what has
expired, and how a large change is cut into pieces a transaction can hold.

A lot is anything with ``lot_id``, ``expires_on`` (ISO date or None for never) and
``remaining``; lots are offered soonest expiry first (never-expiring last), as the table's
sort key orders them. Points keep each lot in an item of its own (``points/ledger.py``); stored
value keeps its few bonus lots in a list on the account item (:class:`KeptLot`, below), so no
operation reads more to honour them. Both spend, give back and expire with the functions here.

A lot is the member's through its last day; from the next day it has *lapsed*: never spent, and
out of every balance a caller reads, whether or not an expiry job has run (the job only makes
it permanent, with a posting).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol, TypeVar

NO_EXPIRY = "9999-12-31"     # sorts after every real date
T = TypeVar("T")


class Lot(Protocol):
    """What lot arithmetic reads of a lot (attributes of a table item, or plain data)."""

    @property
    def lot_id(self) -> Any:
        """The lot's id (its identity in postings and orders)."""

    @property
    def expires_on(self) -> Any:
        """Its last valid day, ISO, or None for never."""

    @property
    def remaining(self) -> Any:
        """Points left in it."""


L = TypeVar("L", bound=Lot)


class ShortOfLots(Exception):
    """The lots offered hold fewer points than asked for."""

    def __init__(self, wanted: int, found: int) -> None:
        super().__init__(f"{wanted} wanted; the lots hold {found}")
        self.wanted, self.found = wanted, found


def take_soonest(lots: Iterable[L], amount: int) -> list[tuple[L, int]]:
    """How much to take from each lot, soonest expiry first, to make ``amount``.

    Reads lots only until the amount is covered (the caller's iterator may be a paged query).
    Nothing is changed; raises :class:`ShortOfLots` when the lots run out first.
    """
    plan: list[tuple[L, int]] = []
    need = amount
    if need > 0:
        for lot in lots:
            remaining = int(lot.remaining)
            if remaining <= 0:
                continue
            part = min(remaining, need)
            plan.append((lot, part))
            need -= part
            if need == 0:
                break          # not one lot more: the next might cost another page of the query
    if need:
        raise ShortOfLots(amount, amount - need)
    return plan


def give_back_plan(spent: Iterable[dict], amount: int,
                   restored: Mapping[str, int] | None = None) -> list[tuple[str, str | None, int]]:
    """Where ``amount`` spent points go back: to the lots they came from, latest expiry first
    (the member keeps them longest), never more to a lot than was taken from it less what earlier
    give-backs of the same spend restored to it (``restored``: lot_id -> points)."""
    return give_back_to(((s["lot_id"], s.get("expires_on"), int(s["points"])) for s in spent), amount, restored)


def give_back_to(spent: Iterable[tuple[str, str | None, int]], amount: int,
                 restored: Mapping[str, int] | None = None) -> list[tuple[str, str | None, int]]:
    """:func:`give_back_plan` over ``(lot_id, expires_on, amount taken)``: (lot_id, expires_on, part)
    latest expiry first, net of ``restored`` (by lot_id); what the lots taken do not cover is not planned."""
    by_lot: dict[tuple[str, str | None], int] = {}
    for lot_id, expires_on, part in spent:          # one lot may have been spent from twice
        key = (lot_id, expires_on)
        by_lot[key] = by_lot.get(key, 0) + int(part)
    plan, left = [], amount
    for (lot_id, expires_on), taken in sorted(by_lot.items(), key=lambda kv: kv[0][1] or NO_EXPIRY, reverse=True):
        part = min(taken - int((restored or {}).get(lot_id, 0)), left)
        if part > 0:
            plan.append((lot_id, expires_on, part))
            left -= part
    return plan


def is_expired(expires_on: str | None, today: date) -> bool:
    """A lot's last valid day is ``expires_on``; from the day after, it is expired."""
    return bool(expires_on) and date.fromisoformat(str(expires_on)) < today


def lapsing(expired: int, available: int) -> int:
    """What an expiry takes now when lots cover an amount available and one reserved (held by an
    open checkout): what has expired, but never what is reserved (that waits for its checkout to
    be cancelled, then lapses, or confirmed, then is spent). The expiry job takes exactly this,
    and a read leaves exactly this out of the balance, so the two always agree."""
    return max(0, min(expired, available))


def expiry_due_day(expires_on: str) -> date:
    """The day an expiry job should expire a lot: the day after its last valid day."""
    return date.fromordinal(date.fromisoformat(expires_on).toordinal() + 1)


def sequence_lot_id(version: int, n: int) -> str:
    """The id of the ``n``-th lot created by the change that makes account version ``version``:
    lots with the same expiry are then spent oldest first, deterministically."""
    return f"{version:010d}-{n:02d}"


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in consecutive pieces of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


# Lots kept on one item --------------------------------------------------------------------------

@dataclass
class KeptLot:
    """A lot kept in a short list on its account item, one per last day (its id is the day).
    While spending, the amount in no lot (which never expires) is offered as a lot with no day."""

    expires_on: str | None
    remaining: int

    @property
    def lot_id(self) -> str | None:
        """Its last day: lots kept on an item are one per day."""
        return self.expires_on


def keep(lots: Sequence[KeptLot], expires_on: str, amount: int, most: int) -> list[KeptLot]:
    """``amount`` more usable through ``expires_on``, soonest first: added to that day's lot; past
    ``most`` lots the latest two days merge into the later one (the member's favour)."""
    out = [KeptLot(lot.expires_on, lot.remaining) for lot in lots]
    if amount <= 0:
        return out
    same = next((lot for lot in out if lot.expires_on == expires_on), None)
    if same is not None:
        same.remaining += amount
    else:
        out.append(KeptLot(expires_on, amount))
    out.sort(key=lambda lot: lot.expires_on or NO_EXPIRY)
    while len(out) > most:
        last, before = out.pop(), out.pop()
        out.append(KeptLot(last.expires_on, last.remaining + before.remaining))
    return out


def take_kept(lots: Sequence[KeptLot], amount: int, today: date | None = None,
              beyond: int = 0) -> tuple[list[KeptLot], list[KeptLot]]:
    """Spend ``amount`` from lots kept on an item and ``beyond`` (an amount in no lot, which never
    expires): the lots still valid ``today`` soonest first, then ``beyond``, and only then lots
    that have lapsed (which only an amount reserved while they were valid reaches, e.g. a
    confirmed checkout hold: :func:`lapsing` left it to the reservation). What none of them covers
    is taken as never expiring. (The lots left, what was taken from which lot.)"""
    fresh = [lot for lot in lots if not is_expired(lot.expires_on, today)] if today else list(lots)
    lapsed = [lot for lot in lots if today and is_expired(lot.expires_on, today)]
    unlotted = KeptLot(None, max(beyond, amount - sum(lot.remaining for lot in lots), 0))
    plan = take_soonest([*fresh, unlotted, *lapsed], amount)
    taken = [KeptLot(lot.expires_on, part) for lot, part in plan if lot is not unlotted]
    return _less(lots, taken), sorted(taken, key=lambda lot: lot.expires_on or NO_EXPIRY)


def give_back_kept(lots: Sequence[KeptLot], taken: Sequence[KeptLot], amount: int,
                   most: int) -> tuple[list[KeptLot], list[KeptLot]]:
    """A give-back of ``amount`` to the lots it was taken from (:func:`give_back_to`: the latest
    first; what was taken beyond them never expired). (The lots, what is still taken.)"""
    out, still = list(lots), [KeptLot(t.expires_on, t.remaining) for t in taken]
    for day, _, part in give_back_to(((str(t.expires_on), t.expires_on, t.remaining) for t in taken), amount):
        out = keep(out, day, part, most)              # lots kept on an item all have a day: their id
        still = _less(still, [KeptLot(day, part)])
    return out, still


def expired_in(lots: Iterable[KeptLot], today: date) -> int:
    """The amount in the lots whose last day is before ``today``."""
    return sum(lot.remaining for lot in lots if is_expired(lot.expires_on, today))


def expire_kept(lots: Sequence[KeptLot], today: date, amount: int) -> list[KeptLot]:
    """Take ``amount`` (at most :func:`expired_in`) out of the lapsed lots, oldest first."""
    plan = take_soonest([lot for lot in lots if is_expired(lot.expires_on, today)], amount)
    return _less(lots, [KeptLot(lot.expires_on, part) for lot, part in plan])


def next_due(lots: Sequence[KeptLot]) -> date | None:
    """The first day some of the lots has expired (:func:`expiry_due_day` of the soonest)."""
    days = [lot.expires_on for lot in lots if lot.expires_on]
    return expiry_due_day(min(days)) if days else None


def _less(lots: Iterable[KeptLot], parts: Iterable[KeptLot]) -> list[KeptLot]:
    """``lots`` less ``parts`` (by day), those left empty dropped."""
    by_day: dict[str | None, int] = {}
    for p in parts:
        by_day[p.expires_on] = by_day.get(p.expires_on, 0) + p.remaining
    out = []
    for lot in lots:
        less = min(by_day.get(lot.expires_on, 0), lot.remaining)
        by_day[lot.expires_on] = by_day.get(lot.expires_on, 0) - less
        if lot.remaining - less > 0:
            out.append(KeptLot(lot.expires_on, lot.remaining - less))
    return out
