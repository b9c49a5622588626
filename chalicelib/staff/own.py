"""What the holder of an account does with it: change the password, set one with a reset code,
enrol a TOTP second factor. A password change ends every other login of the account."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from chalicelib.api import auth
from chalicelib.db import audit
from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger.guard import Guard
from chalicelib.shared import clock
from chalicelib.shared.errors import ConcurrentUpdate, Problem, Unauthenticated, ValidationProblem
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import Principal
from chalicelib.staff import attempts, passwords, sessions
from chalicelib.staff.accounts import about, normal_login, view
from chalicelib.staff.tables import StaffItem, StaffLoginItem


class TooManyResets(Problem):
    status, slug, title = 429, "too-many-reset-codes", "Too many wrong reset codes from this caller"
    remembered = False


RESETS = Guard("SRESETCALLER", "staff:guard", "reset", Unauthenticated, TooManyResets, TooManyResets,
               tries=10, in_flight=4, reject_floor_seconds=0.25)


def _mine(uow: UnitOfWork, by: Principal) -> StaffItem:
    item = uow.get(StaffItem, StaffItem.key(by.id), consistent=True) if by.session else None
    if item is None:
        raise ValidationProblem("this token came from no login (minted): it has no account")
    return item


def _new_password(uow: UnitOfWork, item: StaffItem, read: int, password: str, actor: str, event: DomainEvent) -> None:
    passwords.check_rules(password, item.login)
    item.password_hash = passwords.hash_password(password)
    item.reset_hash = item.reset_expires_at = None
    item.epoch = int(item.epoch) + 1
    item.updated_at = clock.iso(clock.now())
    uow.save_versioned(item, read, on_conflict=lambda: ConcurrentUpdate("the account changed meanwhile"))
    audit.record(uow, event.type, actor, staff_id=item.staff_id, merchant_id=item.merchant_id, detail="password set")
    uow.emit(event)
    uow.after_commit(auth.forget_staff)


def _proven(uow: UnitOfWork, item: StaffItem, password: str, source: str, what: str) -> None:
    """The account's password checked under the same locks as a login (a stolen token must not
    guess it freely); 401 when wrong, counted."""
    attempt = attempts.begin(uow, item.login, source)
    if not passwords.verify(item.password_hash, password):
        attempts.wrong(uow, attempt, item, f"wrong password to {what}")
        raise Unauthenticated("the password is wrong (it counts towards the login's lock)")
    attempts.right(uow, attempt)


def change_password(uow: UnitOfWork, by: Principal, current: str, new: str, source: str) -> dict[str, Any]:
    """The account holder's new password (the current one proven); every login ends, this one
    gets new tokens."""
    item = _mine(uow, by)
    passwords.check_rules(new, item.login)          # before the current one is tried: a bad new one costs no try
    _proven(uow, item, current, source, "change it")
    _new_password(uow, item, int(item.version), new, by.ref, DomainEvent("staff.password_changed", **about(item)))
    return sessions.new_login(uow, item)


def set_password(uow: UnitOfWork, login: str, code: str, new: str, source: str) -> dict[str, Any]:
    """Set a password with the one-time code an administrator issued (public: the code is the
    proof). Wrong codes count per caller (:data:`RESETS`), and every refusal takes at least
    :attr:`RESETS.reject_floor_seconds`: neither how many nor how fast tells which logins exist."""
    name = normal_login(login)
    place = RESETS.admit(uow, Principal("staff", f"reset:{source[:64]}", program_id=uow.program))
    pointer = uow.get(StaffLoginItem, StaffLoginItem.key(name), consistent=True)
    item = uow.get(StaffItem, StaffItem.key(pointer.staff_id), consistent=True) if pointer else None
    good = (item is not None and item.reset_hash is not None and item.status == "active"
            and (item.reset_expires_at or "") > clock.iso(sessions.wall_now())
            and hmac.compare_digest(item.reset_hash, hashlib.sha256(code.strip().upper().encode()).hexdigest()))
    if not good or item is None:
        RESETS.done(uow, place, right=False)
        raise Unauthenticated("the login name or the reset code is wrong, used or expired")
    RESETS.done(uow, place, right=True)
    _new_password(uow, item, int(item.version), new, f"staff:{item.staff_id}",
                  DomainEvent("staff.password_set", **about(item)))
    return view(item)


def enrol_totp(uow: UnitOfWork, by: Principal, password: str | None, code: str | None, source: str) -> dict[str, Any]:
    """Without ``code``: a new secret to scan, replacing any earlier one (until it is confirmed the
    account logs in without a code, unless its role requires one: then the login itself asks for
    it). With ``code``: confirm the new secret."""
    item = _mine(uow, by)
    read = int(item.version)
    if code is None:
        _proven(uow, item, password or "", source, "enrol TOTP")
        enrolment = sessions.pending_enrolment(uow, item)
        uow.save_versioned(item, read, on_conflict=lambda: ConcurrentUpdate("the account changed meanwhile"))
        audit.record(uow, "staff.totp_enrolment_started", by.ref, staff_id=item.staff_id, merchant_id=item.merchant_id)
        return {**enrolment, "enrolled": False}
    if item.totp is None:
        raise ValidationProblem("start an enrolment first (send no code)")
    step = sessions.step_of(sessions.totp_of(uow, item), code, int(item.totp_last_step or 0))
    if step is None:
        raise ValidationProblem("the code is wrong or was used already", errors=[{"field": "code", "message": "wrong"}])
    item.totp_enrolled, item.totp_last_step = True, step
    uow.save_versioned(item, read, on_conflict=lambda: ConcurrentUpdate("the account changed meanwhile"))
    audit.record(uow, "staff.totp_enrolled", by.ref, staff_id=item.staff_id, merchant_id=item.merchant_id)
    uow.emit(DomainEvent("staff.totp_enrolled", **about(item)))
    return {"enrolled": True, "staff": view(item)}
