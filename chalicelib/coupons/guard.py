"""Guessing protection for coupon codes at the till: :data:`TRIES` wrong codes from one caller (a
till's key, a clerk, a member) within a window of :data:`WINDOW` lock that caller out of coupon
lookups until the window ends (429). Each wrong code is counted by one conditional ``ADD`` on the
caller's window item (:mod:`chalicelib.ledger.counters`), committed on its own: the refused
request changes nothing else. A wrong code and an unknown one get the same answer after the same
work (one read of the code's item)."""

from __future__ import annotations

import contextlib
from datetime import datetime

from pynamodb.attributes import NumberAttribute

from chalicelib.db.items import MainModel, expiry_in
from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger import counters
from chalicelib.shared import clock
from chalicelib.shared.errors import Problem
from chalicelib.shared.principal import Principal

TRIES = 20
WINDOW_MINUTES = 15


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
        """The caller's count of wrong codes in one window."""
        return f"COUPONGUARD#{caller}", window


def _window(now: datetime) -> tuple[str, str]:
    start = now.replace(minute=now.minute - now.minute % WINDOW_MINUTES, second=0, microsecond=0)
    ends = start.timestamp() + WINDOW_MINUTES * 60
    return start.strftime("%Y-%m-%dT%H:%M"), clock.iso(datetime.fromtimestamp(ends, tz=now.tzinfo))


def _caller(by: Principal) -> str:
    return by.ref[:200]


def check(uow: UnitOfWork, by: Principal) -> None:
    """Refuse a caller locked out in this window (429)."""
    window, ends = _window(clock.now())
    item = uow.get(GuardItem, GuardItem.key(_caller(by), window))
    if item is not None and int(item.total or 0) >= TRIES:
        raise CallerLocked(f"{TRIES} wrong coupon codes within {WINDOW_MINUTES} minutes; try again after {ends}",
                           retry_after=ends)


def rejected(uow: UnitOfWork, by: Principal, why: str) -> Problem:
    """Count a wrong code against the caller (its own write, not the request's) and answer it."""
    window, _ = _window(clock.now())
    work = UnitOfWork("coupons:guard", program=uow.program, backend=uow.backend)
    counters.add(work, GuardItem(*GuardItem.key(_caller(by), window)), 1, None, lambda: CodeRejected(why),
                 also=[GuardItem.expires_at.set(expiry_in(1))])
    with contextlib.suppress(Problem):
        work.commit()
    return CodeRejected(why)

