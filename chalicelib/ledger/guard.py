"""Guessing protection for codes presented at a till (coupon codes, member codes): at most
``tries`` wrong codes from one caller (a till's key, a clerk, a member) within any
:data:`WINDOW_MINUTES` minutes; past that the caller is refused lookups of that kind of code
(429, with ``Retry-After``: when the lock ends) until enough of its wrong codes are older than the
window. Each kind of code keeps its own count (its own :class:`Guard`, its own key prefix).

The window slides: the previous fixed window's wrong codes weigh in proportion to its part still
inside the last :data:`WINDOW_MINUTES` minutes, so a burst split across a window's edge is no
larger than one. A lookup is admitted **before** it is made, by one conditional update of the
caller's item for the current window: while its wrong codes leave room and fewer than
``in_flight`` of its lookups are under way (``wrong`` and ``flying``). It then gives its
flight back, counting a wrong code if it was one. So a burst of concurrent guesses gets at most
``in_flight`` more than the limit, while a busy till's right codes are never refused for
wrong ones it did not send (at most ``in_flight`` lookups at once per caller: more is 429 with
``Retry-After: 1``). A code that is wrong, unknown or another tenant's gets the same answer (422)
after the same reads, and no sooner than ``reject_floor_seconds`` after the lookup began, so its
time tells nothing of whether it exists elsewhere."""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pynamodb.attributes import NumberAttribute

from chalicelib.db.items import MainModel, expiry_in
from chalicelib.db.uow import UnitOfWork
from chalicelib.shared import clock
from chalicelib.shared.errors import Problem
from chalicelib.shared.principal import Principal

WINDOW_MINUTES = 15
WINDOW = timedelta(minutes=WINDOW_MINUTES)


class GuardItem(MainModel):
    wrong = NumberAttribute(default=0)
    flying = NumberAttribute(default=0)
    expires_at = NumberAttribute(null=True)

    @staticmethod
    def key(prefix: str, caller: str, window: str) -> tuple[str, str]:
        """The caller's wrong codes and lookups under way in one fixed window."""
        return f"{prefix}#{caller}", window


@dataclass(frozen=True)
class Place:
    """A lookup under way: its caller's window item and when it began."""

    caller: str
    window: str
    began: float


def _start(now: datetime) -> datetime:
    return now.replace(minute=now.minute - now.minute % WINDOW_MINUTES, second=0, microsecond=0)


def _name(start: datetime) -> str:
    return start.strftime("%Y-%m-%dT%H:%M")


@dataclass
class Guard:
    """One kind of code's lockout: its item prefix, its refusals and its limits."""

    prefix: str                         # the callers' items: ``<prefix>#<caller>`` / window
    actor: str                          # the units that count (``coupons:guard``)
    what: str                           # the code's kind in the refusals' words (``coupon``)
    rejected: type[Problem]             # 422: no such code
    locked: type[Problem]               # 429: too many wrong codes
    too_many: type[Problem]             # 429: too many lookups under way
    tries: int = 20
    in_flight: int = 32
    reject_floor_seconds: float = 0.1

    def unlocks_at(self, start: datetime, before: int, now_wrong: int) -> datetime:
        """When a caller with ``before`` wrong codes in the previous window and ``now_wrong`` in the
        current one (starting ``start``) may look a code up again: the moment the weighted count
        leaves room for one more."""
        if now_wrong >= self.tries:                 # then this window's count weighs in the next one
            return start + WINDOW + WINDOW * (1 - (self.tries - 1) / now_wrong)
        return start + WINDOW * (1 - (self.tries - 1 - now_wrong) / before) if before else start

    def admit(self, uow: UnitOfWork, by: Principal) -> Place:
        """Admit one lookup, or refuse the caller (429) while locked or with too many under way."""
        now, caller, began = clock.now(), by.ref[:200], time.monotonic()
        start = _start(now)
        # the previous window is closed: an eventually consistent read (half the units) sees its count
        before_item = uow.get(GuardItem, GuardItem.key(self.prefix, caller, _name(start - WINDOW)))
        before = int(before_item.wrong or 0) if before_item else 0
        room = self.tries - math.ceil(before * (1 - (now - start) / WINDOW))
        key = GuardItem.key(self.prefix, caller, _name(start))
        work = UnitOfWork(self.actor, program=uow.program, backend=uow.backend)
        absent = GuardItem.pk.does_not_exist()
        work.update(GuardItem(*key), [GuardItem.flying.add(1), GuardItem.wrong.add(0),
                                      GuardItem.expires_at.set(expiry_in(1))],
                    (absent | ((GuardItem.wrong < room) & (GuardItem.flying < self.in_flight))) if room > 0 else None,
                    on_conflict=lambda: self._refusal(uow, key, start, before, now))
        if room <= 0:
            raise self._refusal(uow, key, start, before, now)
        work.commit()
        return Place(caller, _name(start), began)

    def _refusal(self, uow: UnitOfWork, key: tuple[str, str], start: datetime, before: int, now: datetime) -> Problem:
        item = uow.get(GuardItem, key, consistent=True)
        wrong = int(item.wrong or 0) if item else 0
        if item is not None and int(item.flying or 0) >= self.in_flight and wrong < self.tries:
            return self.too_many(f"at most {self.in_flight} {self.what} lookups at once by one caller", retry_after=1)
        ends = max(self.unlocks_at(start, before, wrong), now + timedelta(seconds=1))
        return self.locked(f"{self.tries} wrong {self.what} codes within {WINDOW_MINUTES} minutes; try again after "
                           f"{clock.iso(ends)}", retry_after=math.ceil((ends - now).total_seconds()))

    def done(self, uow: UnitOfWork, place: Place, right: bool) -> None:
        """The lookup is over: its flight given back, and a wrong code counted."""
        work = UnitOfWork(self.actor, program=uow.program, backend=uow.backend)
        actions: list[Any] = [GuardItem.flying.add(-1)] + ([] if right else [GuardItem.wrong.add(1)])
        work.update(GuardItem(*GuardItem.key(self.prefix, place.caller, place.window)), actions)
        with contextlib.suppress(Problem):
            work.commit()
        if not right:
            time.sleep(max(0.0, place.began + self.reject_floor_seconds - time.monotonic()))

    def reject(self, uow: UnitOfWork, place: Place) -> Problem:
        """Count a wrong code (after the floor of its answer's time) and answer it."""
        self.done(uow, place, right=False)
        return self.rejected(f"no {self.what} has this code")
