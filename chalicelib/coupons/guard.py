"""Guessing protection for coupon codes at the till: at most :data:`TRIES` wrong codes from one
caller (a till's key, a clerk, a member) within any :data:`WINDOW_MINUTES` minutes; past that the
caller is refused coupon lookups (429, with ``Retry-After``) until enough of its wrong codes are
older than the window.

Every lookup is counted **before** it is made, by one conditional ``ADD`` on the caller's count
of the current window (:mod:`chalicelib.ledger.counters`, committed on its own), bounded by what
the window leaves: so a burst of concurrent guesses cannot pass the limit (each takes a place
first; the place of a lookup that found its coupon is given back at once). The window slides:
the previous fixed window's count weighs in proportion to its part still inside the last
:data:`WINDOW_MINUTES` minutes, so a burst split across a window's edge is no larger than one.
A code that is wrong, unknown, of another program, or another merchant's, gets the same answer
(422) after the same reads."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from pynamodb.attributes import NumberAttribute

from chalicelib.db.items import MainModel, expiry_in
from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger import counters
from chalicelib.shared import clock
from chalicelib.shared.errors import Problem
from chalicelib.shared.principal import Principal

TRIES = 20
WINDOW_MINUTES = 15
WINDOW = timedelta(minutes=WINDOW_MINUTES)


class CodeRejected(Problem):
    status, slug, title = 422, "coupon-code-rejected", "No coupon has this code"


class CallerLocked(Problem):
    status, slug, title = 429, "too-many-wrong-coupon-codes", "Too many wrong coupon codes; try again later"
    remembered = False


class GuardItem(MainModel):
    total = NumberAttribute(default=0)
    expires_at = NumberAttribute(null=True)

    @staticmethod
    def key(caller: str, window: str) -> tuple[str, str]:
        """The caller's count of lookups not found in one fixed window."""
        return f"COUPONGUARD#{caller}", window


@dataclass(frozen=True)
class Place:
    """A lookup's place in the caller's count: given back when the code was right."""

    caller: str
    window: str


def _start(now: datetime) -> datetime:
    return now.replace(minute=now.minute - now.minute % WINDOW_MINUTES, second=0, microsecond=0)


def _name(start: datetime) -> str:
    return start.strftime("%Y-%m-%dT%H:%M")


def admit(uow: UnitOfWork, by: Principal) -> Place:
    """Take a place for one lookup, or refuse the caller (429) when the window has none left."""
    now, caller = clock.now(), by.ref[:200]
    start = _start(now)
    before = uow.get(GuardItem, GuardItem.key(caller, _name(start - WINDOW)), consistent=True)
    still_in = 1 - (now - start) / WINDOW                      # the previous window's share inside the last 15 minutes
    room = TRIES - math.ceil(int(before.total or 0) * still_in if before else 0)
    wait = max(1, math.ceil((start + WINDOW - now).total_seconds()))

    def locked() -> Problem:
        return CallerLocked(f"{TRIES} wrong coupon codes within {WINDOW_MINUTES} minutes; try again after "
                            f"{clock.iso(now + timedelta(seconds=wait))}", retry_after=wait)
    if room <= 0:
        raise locked()
    work = UnitOfWork("coupons:guard", program=uow.program, backend=uow.backend)
    counters.add(work, GuardItem(*GuardItem.key(caller, _name(start))), 1, room, locked,
                 also=[GuardItem.expires_at.set(expiry_in(1))])
    work.commit()
    return Place(caller, _name(start))


def found(uow: UnitOfWork, place: Place) -> None:
    """The code was right: give its place back."""
    work = UnitOfWork("coupons:guard", program=uow.program, backend=uow.backend)
    counters.add(work, GuardItem(*GuardItem.key(place.caller, place.window)), -1, None, lambda: CodeRejected("?"))
    with contextlib.suppress(Problem):
        work.commit()


def rejected(why: str = "no coupon has this code") -> Problem:
    """The answer to a wrong code (its place stays taken)."""
    return CodeRejected(why)
