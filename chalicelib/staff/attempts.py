"""Password attempts under two locks, for every place a staff password is checked (a login, a
password change, a TOTP enrolment).

**Per login name** (an account or not): an attempt is admitted **before** its hash, by one
conditional ADD on the name's lock item: while fewer than :data:`TRIES` wrong passwords (and
attempts under way) are counted and no lock holds. So however many arrive at once, at most
:data:`TRIES` passwords are checked before the lock: the rest get 429 at once. A wrong password
keeps its count; the one that fills it locks the name for :data:`ACCOUNT_LOCKOUT`'s growing time
(1 minute, doubling, at most a day). A right password clears the count. An attempt refused for
another reason (a disabled account, a TOTP code not sent) gives its count back.

**Per caller** (the source address): :data:`CALLERS` admits at most 30 wrong passwords in any 15
minutes and 8 attempts at once, whatever login names they name (``ledger/guard.py``).

Every refusal is audited; no password is.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from chalicelib.db import audit
from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger.guard import Guard, Place
from chalicelib.ledger.lockout import Lockout, locked, seconds_left
from chalicelib.shared import clock
from chalicelib.shared.errors import Problem, Unauthenticated
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import Principal
from chalicelib.staff.tables import StaffItem, StaffLockItem

TRIES = 5
ACCOUNT_LOCKOUT = Lockout(TRIES, timedelta(minutes=1))
LOCK_KEPT_SECONDS = 2 * 86_400          # a quiet login name's count is forgotten (TTL)


class LoginLocked(Problem):
    status, slug, title = 429, "login-locked", "Too many wrong passwords; try again later"
    remembered = False


class TooManyLogins(Problem):
    status, slug, title = 429, "too-many-logins", "Too many logins at once"
    remembered = False


class CallerLocked(Problem):
    status, slug, title = 429, "too-many-wrong-passwords", "Too many wrong passwords from this caller"
    remembered = False


# 30 wrong passwords in any 15 minutes per source address (STAFF_LOGIN_CALLER_TRIES: the end-to-end
# suite, whose every test calls from 127.0.0.1, raises it; tests/integration/test_staff_store.py
# holds the limit)
CALLERS = Guard("SLOGINCALLER", "staff:guard", "password", Unauthenticated, CallerLocked, TooManyLogins,
                tries=int(os.environ.get("STAFF_LOGIN_CALLER_TRIES", "30")), in_flight=8, reject_floor_seconds=0.0)


def wall_now() -> datetime:
    """Now on the wall clock: credentials never live on the business clock (``as_of``)."""
    return datetime.fromtimestamp(time.time(), UTC)


@dataclass
class Attempt:
    """A password check admitted under both locks."""

    name: str
    source: str
    place: Place
    now: datetime


def _caller(uow: UnitOfWork, source: str) -> Principal:
    return Principal("staff", f"login:{source[:64]}", program_id=uow.program)


def begin(uow: UnitOfWork, name: str, source: str) -> Attempt:
    """Admit one password check at ``name`` from ``source``; 429 while either lock holds (or too
    many checks of the name are under way), audited."""
    place = CALLERS.admit(uow, _caller(uow, source))
    now = wall_now()
    work = UnitOfWork("staff:login", uow.correlation_id, program=uow.program)
    open_now = StaffLockItem.locked_until.does_not_exist() | (StaffLockItem.locked_until <= clock.iso(now))
    work.update(StaffLockItem(*StaffLockItem.key(name)),
                [StaffLockItem.failures.add(1), StaffLockItem.expires_at.set(int(time.time()) + LOCK_KEPT_SECONDS)],
                StaffLockItem.pk.does_not_exist() | ((StaffLockItem.failures < TRIES) & open_now),
                on_conflict=lambda: _refusal(uow, name, now))
    try:
        work.commit()
    except Problem as refused:
        CALLERS.done(uow, place, right=True)
        _audit_refused(uow, name, None, source, refused.slug)
        raise
    return Attempt(name, source, place, now)


def _refusal(uow: UnitOfWork, name: str, now: datetime) -> Problem:
    lock = uow.get(StaffLockItem, StaffLockItem.key(name), consistent=True)
    if lock is not None and locked(lock.locked_until, now):
        return LoginLocked(f"too many wrong passwords: this login is locked until {lock.locked_until}",
                           retry_after=seconds_left(str(lock.locked_until), now))
    return TooManyLogins(f"{TRIES} password checks at this login are under way or wrong; try again in a moment",
                         retry_after=1)


def right(uow: UnitOfWork, attempt: Attempt) -> None:
    """The password was right: its caller's flight back, and the name's count cleared (staged on
    the change it proves)."""
    CALLERS.done(uow, attempt.place, right=True)
    uow.update(StaffLockItem(*StaffLockItem.key(attempt.name)),
               [StaffLockItem.failures.set(0), StaffLockItem.locks.set(0)])


def release(uow: UnitOfWork, name: str, lock: StaffLockItem | None) -> None:
    """An administrator's release (``unlockStaff``): the count goes to 0 and the lock ends, the
    locks earned stay (the next lock lasts twice as long as the last). Staged on the caller's unit;
    a name never counted has nothing to release (no item is made)."""
    if lock is None:
        return
    uow.update(StaffLockItem(*StaffLockItem.key(name)),
               [StaffLockItem.failures.set(0), StaffLockItem.locked_until.remove(),
                StaffLockItem.expires_at.set(int(time.time()) + LOCK_KEPT_SECONDS)])


def wrong(uow: UnitOfWork, attempt: Attempt, item: StaffItem | None, why: str) -> None:
    """A wrong password (or TOTP code): it stays counted; the one that fills the count locks the
    name; audited on a unit of its own (the refusal that follows changes nothing else)."""
    CALLERS.done(uow, attempt.place, right=False)
    lock = uow.get(StaffLockItem, StaffLockItem.key(attempt.name), consistent=True)
    if lock is not None and int(lock.failures or 0) >= TRIES and not locked(lock.locked_until, attempt.now):
        work = UnitOfWork("staff:login", uow.correlation_id, program=uow.program)
        until = ACCOUNT_LOCKOUT.until(attempt.now, int(lock.locks or 0))
        locks = int(lock.locks or 0)
        as_read = (StaffLockItem.locks == locks) | StaffLockItem.locks.does_not_exist() if not locks \
            else StaffLockItem.locks == locks       # (a count never locked has no locks attribute yet)
        work.update(lock, [StaffLockItem.locked_until.set(until), StaffLockItem.locks.add(1),
                           StaffLockItem.failures.set(0)], (StaffLockItem.failures >= TRIES) & as_read)
        staff_id, merchant_id = (item.staff_id, item.merchant_id) if item is not None else (None, None)
        _stage_refused(work, attempt.name, item, attempt.source, why)
        audit.record(work, "staff.locked", _actor(attempt.source), staff_id=staff_id, merchant_id=merchant_id,
                     detail=f"login={audit.redact(attempt.name)} until {until}")
        work.emit(DomainEvent("staff.locked", _locked_subject(attempt.name, staff_id), {"staff_id": staff_id,
                                                                              "locked_until": until},
                              merchant_id=merchant_id))
        with contextlib.suppress(Problem):
            work.commit()
            return
    _audit_refused(uow, attempt.name, item, attempt.source, why)


def _locked_subject(name: str, staff_id: str | None) -> str:
    """A lock's event subject: the account's, or (a name no account has) a digest of the typed name,
    which events and webhooks never carry (a mistyped password is sometimes typed as the name)."""
    if staff_id:
        return f"staff:{staff_id}"
    return "staff_login:" + hashlib.sha256(name.encode()).hexdigest()[:24]


def uncounted(uow: UnitOfWork, attempt: Attempt, item: StaffItem | None, why: str) -> None:
    """A right password refused for another reason: its count given back, audited."""
    CALLERS.done(uow, attempt.place, right=True)
    work = UnitOfWork("staff:login", uow.correlation_id, program=uow.program)
    work.update(StaffLockItem(*StaffLockItem.key(attempt.name)), [StaffLockItem.failures.add(-1)],
                StaffLockItem.failures > 0)
    _stage_refused(work, attempt.name, item, attempt.source, why)
    try:
        work.commit()
    except Problem:
        _audit_refused(uow, attempt.name, item, attempt.source, why)


def _actor(source: str) -> str:
    return f"anonymous:{source[:64]}"


def _stage_refused(work: UnitOfWork, name: str | None, item: StaffItem | None, source: str, why: str) -> None:
    audit.record(work, "staff.login_failed", _actor(source), staff_id=item.staff_id if item else None,
                 merchant_id=item.merchant_id if item else None,
                 detail=f"login={audit.redact(name or '-')} {why}")


def _audit_refused(uow: UnitOfWork, name: str | None, item: StaffItem | None, source: str, why: str) -> None:
    """Audit a refused attempt on a unit of its own."""
    audit.refused(uow, "staff.login_failed", _actor(source), None, staff_id=item.staff_id if item else None,
                  merchant_id=item.merchant_id if item else None, unit_actor="staff:login",
                  detail=f"login={audit.redact(name or '-')} {why}")


def refused(uow: UnitOfWork, name: str | None, source: str, why: str) -> None:
    """Audit an attempt refused before any password was checked (a login name not valid)."""
    _audit_refused(uow, name, None, source, why)
