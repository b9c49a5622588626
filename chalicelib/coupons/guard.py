"""Guessing protection for coupon codes at the till: at most :data:`TRIES` wrong codes from one
caller within any :data:`WINDOW_MINUTES` minutes, at most :data:`IN_FLIGHT` lookups under way, a
wrong code answered no sooner than :data:`REJECT_FLOOR_SECONDS` (the mechanism, shared with the
member codes: :mod:`chalicelib.ledger.guard`). Coupon lookups keep their own count
(``COUPONGUARD#<caller>``)."""

from __future__ import annotations

from datetime import datetime

from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger.guard import WINDOW, WINDOW_MINUTES, Guard, GuardItem, Place
from chalicelib.shared.errors import Problem
from chalicelib.shared.principal import Principal

TRIES = 20
IN_FLIGHT = 32
REJECT_FLOOR_SECONDS = 0.1


class CodeRejected(Problem):
    status, slug, title = 422, "coupon-code-rejected", "No coupon has this code"


class CallerLocked(Problem):
    status, slug, title = 429, "too-many-wrong-coupon-codes", "Too many wrong coupon codes; try again later"
    remembered = False


class TooManyAtOnce(Problem):
    status, slug, title = 429, "too-many-coupon-lookups", "Too many coupon lookups at once by one caller"
    remembered = False


GUARD = Guard("COUPONGUARD", "coupons:guard", "coupon", CodeRejected, CallerLocked, TooManyAtOnce,
              tries=TRIES, in_flight=IN_FLIGHT, reject_floor_seconds=REJECT_FLOOR_SECONDS)


def unlocks_at(start: datetime, before: int, now_wrong: int) -> datetime:
    """When a locked caller may look a coupon code up again (:meth:`Guard.unlocks_at`)."""
    return GUARD.unlocks_at(start, before, now_wrong)


def admit(uow: UnitOfWork, by: Principal) -> Place:
    """Admit one coupon lookup, or refuse the caller (429)."""
    return GUARD.admit(uow, by)


def done(uow: UnitOfWork, place: Place, right: bool) -> None:
    """The lookup is over: its flight given back, and a wrong code counted."""
    GUARD.done(uow, place, right)


def rejected(uow: UnitOfWork, place: Place) -> Problem:
    """Count a wrong code (after the floor of its answer's time) and answer it."""
    return GUARD.reject(uow, place)


__all__ = ["GUARD", "TRIES", "IN_FLIGHT", "WINDOW", "WINDOW_MINUTES", "REJECT_FLOOR_SECONDS", "GuardItem", "Place",
           "CodeRejected", "CallerLocked", "TooManyAtOnce", "unlocks_at", "admit", "done", "rejected"]
