"""A staff account's login lock as an administrator sees it, and its release.

A login name's wrong passwords are counted, and the count that fills locks the name for a time
that doubles with each lock (:mod:`.attempts`). An administrator sees the lock on the account
(``getStaff``: ``locked_until``, ``failed_passwords``: one more read) and may release it
(``unlockStaff``: the person at the till called, their identity checked): the count goes to 0 and
the lock ends at once, but the number of locks earned stays, so the next lock after more wrong
passwords lasts twice as long as the last (a guesser gains nothing by a release). Audited, with a
``staff.unlocked`` event.
"""

from __future__ import annotations

from typing import Any

from chalicelib.db import audit
from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger.lockout import locked
from chalicelib.shared.errors import Forbidden
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import Principal
from chalicelib.staff import accounts, attempts
from chalicelib.staff.attempts import wall_now
from chalicelib.staff.tables import StaffItem, StaffLockItem


def _shown(item: StaffItem, lock: StaffLockItem | None) -> dict[str, Any]:
    """The account with its lock: while locked, ``failed_passwords`` is the run that locked it (the
    count itself restarts at 0 when the lock is set, so that the login counts afresh once it ends)."""
    held = lock is not None and locked(lock.locked_until, wall_now())
    counted = attempts.TRIES if held else int(lock.failures or 0) if lock is not None else 0
    return {**accounts.view(item), "locked_until": lock.locked_until if held and lock else None,
            "failed_passwords": counted}


def get(uow: UnitOfWork, by: Principal, staff_id: str) -> dict[str, Any]:
    """An account the caller may see, with its login lock."""
    item = accounts.visible(uow, by, staff_id)
    return _shown(item, uow.get(StaffLockItem, StaffLockItem.key(item.login), consistent=True))


def unlock(uow: UnitOfWork, by: Principal, staff_id: str) -> dict[str, Any]:
    """Release the account's login lock and its count of wrong passwords (the locks earned stay)."""
    item = accounts.visible(uow, by, staff_id)
    if not accounts.may_manage(by, item.role, item.merchant_id):
        raise Forbidden(f"a {by.role} may not unlock a {item.role}'s login")
    lock = uow.get(StaffLockItem, StaffLockItem.key(item.login), consistent=True)
    was = lock.locked_until if lock is not None and locked(lock.locked_until, wall_now()) else None
    attempts.release(uow, item.login, lock)
    audit.record(uow, "staff.unlocked", by.ref, staff_id=item.staff_id, merchant_id=item.merchant_id,
                 detail=f"was locked until {was}" if was else "was not locked")
    uow.emit(DomainEvent("staff.unlocked", **accounts.about(item, {"was_locked_until": was})))
    released = StaffLockItem(*StaffLockItem.key(item.login), failures=0, locks=lock.locks if lock else 0)
    return _shown(item, released)
