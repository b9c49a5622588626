"""Lot arithmetic, with no I/O: which lots a spend takes, where a give-back goes, what has
expired, and how a large change is cut into pieces a transaction can hold.

A lot is anything with ``lot_id``, ``expires_on`` (ISO date or None for never) and
``remaining``; lots are offered soonest expiry first (never-expiring last), as the table's
sort key orders them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
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


def give_back_plan(spent: Iterable[dict], amount: int) -> list[tuple[str, str | None, int]]:
    """Where ``amount`` spent points go back: to the lots they came from, latest expiry first
    (the member keeps them longest), never more to a lot than was taken from it."""
    by_lot: dict[tuple[str, str | None], int] = {}
    for s in spent:                                 # one lot may have been spent from twice
        key = (s["lot_id"], s.get("expires_on"))
        by_lot[key] = by_lot.get(key, 0) + int(s["points"])
    plan, left = [], amount
    for (lot_id, expires_on), taken in sorted(by_lot.items(), key=lambda kv: kv[0][1] or NO_EXPIRY, reverse=True):
        part = min(taken, left)
        if part:
            plan.append((lot_id, expires_on, part))
            left -= part
    return plan


def is_expired(expires_on: str | None, today: date) -> bool:
    """A lot's last valid day is ``expires_on``; from the day after, it is expired."""
    return bool(expires_on) and date.fromisoformat(str(expires_on)) < today


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
