"""Staff accounts: who may create and change whom, and the changes themselves.

A super admin manages every account of the program; a merchant admin the accounts of its own
merchant, in roles no higher than its own (``merchant_admin``, ``store_manager``, ``clerk``).
A role fixes the scope it needs: program-wide roles have no merchant, a merchant admin a merchant,
store staff a merchant and one of its stores. Every change is versioned (two concurrent changes:
one wins, the other 409), audited (who, what, before -> after) and announced with an event that
names the account, never its login or password. A disable, a role or scope change and a
password change raise the account's ``epoch``: every token issued before stops working within
:data:`chalicelib.api.auth.STAFF_CACHE_SECONDS` (and its refresh tokens at once).
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.api import auth
from chalicelib.db import audit
from chalicelib.db.backend import SortKey
from chalicelib.db.uow import UnitOfWork
from chalicelib.shared import clock, lazy
from chalicelib.shared.errors import (
    ConcurrentUpdate,
    Conflict,
    Forbidden,
    NotFound,
    ValidationProblem,
    VersionChanged,
)
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.ids import new_id
from chalicelib.shared.principal import HQ_ROLES, MERCHANT_ROLES, PROGRAM_ROLES, READ_ONLY_ROLES, Principal
from chalicelib.staff import passwords
from chalicelib.staff.tables import LISTING, StaffItem, StaffLoginItem

merchants = lazy.module("chalicelib.merchants.service")

LOGIN = re.compile(r"^[a-z0-9][a-z0-9._@\-]{2,63}$")
RANK = {"super_admin": 4, "ops_manager": 3, "finance": 3, "auditor": 3, "merchant_admin": 2, "store_manager": 1,
        "clerk": 0}
RESET_HOURS = 24


def normal_login(login: str) -> str:
    """The login name as stored: lower-cased; 422 unless 3-64 of letters, digits, '.', '_', '@', '-'
    (no spaces, no control characters)."""
    lowered = login.strip().lower()
    if not LOGIN.fullmatch(lowered):
        raise ValidationProblem("a login name is 3 to 64 of a-z, 0-9, '.', '_', '@', '-', starting with a letter "
                                "or digit", errors=[{"field": "login", "message": "not a login name"}])
    return lowered


def view(item: StaffItem) -> dict[str, Any]:
    """An account as the API shows it (never its hashes or TOTP secret)."""
    return {"staff_id": item.staff_id, "login": item.login, "display_name": item.display_name, "role": item.role,
            "merchant_id": item.merchant_id, "store_id": item.store_id, "status": item.status,
            "totp_enrolled": bool(item.totp_enrolled), "version": int(item.version),
            "created_at": item.created_at, "created_by": item.created_by, "updated_at": item.updated_at,
            "last_login_at": item.last_login_at}


def may_manage(by: Principal, role: str, merchant_id: str | None) -> bool:
    """Whether ``by`` may create or change an account of ``role`` at ``merchant_id``."""
    if by.kind != "staff":
        return False
    if by.role == "super_admin":
        return True
    return (by.role == "merchant_admin" and role in MERCHANT_ROLES and merchant_id is not None
            and merchant_id == by.merchant_id)


def _scope(uow: UnitOfWork, by: Principal, role: str, merchant_id: str | None, store_id: str | None) -> None:
    """422 unless the scope fits the role; 404 for a merchant or store the program lacks; 403 for
    a role or merchant the caller may not give."""
    if role not in PROGRAM_ROLES:
        raise ValidationProblem(f"role is one of {', '.join(PROGRAM_ROLES)}",
                                errors=[{"field": "role", "message": "unknown role"}])
    wide = role in HQ_ROLES or role in READ_ONLY_ROLES
    if wide and (merchant_id or store_id):
        raise ValidationProblem(f"a {role} acts for the whole program: no merchant_id or store_id")
    if not wide and not merchant_id:
        raise ValidationProblem(f"a {role} needs a merchant_id", errors=[{"field": "merchant_id", "message": "required"}])
    if role == "merchant_admin" and store_id:
        raise ValidationProblem("a merchant_admin acts for the whole merchant: no store_id")
    if role in ("store_manager", "clerk") and not store_id:
        raise ValidationProblem(f"a {role} needs a store_id", errors=[{"field": "store_id", "message": "required"}])
    if not may_manage(by, role, merchant_id):
        raise Forbidden(f"a {by.role} may not give the role {role}"
                        + ("" if merchant_id in (None, by.merchant_id) else " at another merchant"))
    if merchant_id:
        merchants.place(uow, by, merchant_id, store_id)


def visible(uow: UnitOfWork, by: Principal, staff_id: str) -> StaffItem:
    """An account the caller may see: 404 for another program's, or (for merchant staff) another
    merchant's, the same as for none."""
    item = uow.get(StaffItem, StaffItem.key(staff_id), consistent=True) if len(staff_id) <= 40 else None
    if item is None or not (by.is_hq or (by.merchant_id is not None and item.merchant_id == by.merchant_id)):
        raise NotFound(f"no staff account {staff_id[:40]}")
    return item


def create(uow: UnitOfWork, by: Principal, login: str, display_name: str, role: str, merchant_id: str | None,
           store_id: str | None, password: str | None) -> dict[str, Any]:
    """A new account. With a password (checked by the rules) it can log in at once; without, the
    reply carries a one-time reset code to set one (shown once, valid 24 hours)."""
    name = normal_login(login)
    _scope(uow, by, role, merchant_id, store_id)
    staff_id, now = new_id(), clock.iso(clock.now())
    code = None
    item = StaffItem(*StaffItem.key(staff_id), staff_id=staff_id, login=name, display_name=display_name, role=role,
                     merchant_id=merchant_id, store_id=store_id, status="active", epoch=1, version=1,
                     created_at=now, created_by=by.ref, updated_at=now, gsi1pk=LISTING,
                     gsi1sk=f"{merchant_id or '-'}#{staff_id}")
    if password is not None:
        passwords.check_rules(password, name)
        item.password_hash = passwords.hash_password(password)
    else:
        code = _reset_code(item)
    uow.create(StaffLoginItem(*StaffLoginItem.key(name), staff_id=staff_id),
               on_conflict=lambda: Conflict(f"the login name {name} is taken in this program"))
    uow.create(item)
    audit.record(uow, "staff.created", by.ref, staff_id=staff_id, merchant_id=merchant_id,
                 detail=f"role={role} merchant={merchant_id or '-'} store={store_id or '-'}")
    uow.emit(DomainEvent("staff.created", **about(item)))
    return {**view(item), **({"reset_code": code, "reset_expires_at": item.reset_expires_at} if code else {})}


def get(uow: UnitOfWork, by: Principal, staff_id: str) -> dict[str, Any]:
    """An account the caller may see."""
    return view(visible(uow, by, staff_id))


def listing(uow: UnitOfWork, by: Principal, merchant_id: str | None, limit: int, cursor: str | None) -> dict[str, Any]:
    """The program's accounts (HQ and the readers), or the caller's merchant's, by merchant then id."""
    if not by.is_hq:
        if merchant_id and merchant_id != by.merchant_id:
            raise Forbidden("you see your own merchant's staff only")
        merchant_id = by.merchant_id
    prefix = f"{merchant_id}#" if merchant_id else ""
    if cursor is not None and (not cursor.startswith(prefix) or len(cursor) > 90):
        raise ValidationProblem("cursor: not a cursor of this listing")
    sort = (SortKey.between(cursor + "\x00", prefix + "\uffff") if cursor and prefix else SortKey.above(cursor)
            if cursor else SortKey.prefix(prefix) if prefix else None)
    items = list(uow.query(StaffItem, LISTING, sort, index="gsi1", limit=limit + 1))
    page = items[:limit]
    return {"staff": [view(i) for i in page], "next_cursor": page[-1].gsi1sk if len(items) > limit else None}


def about(item: StaffItem, more: dict[str, Any] | None = None) -> dict[str, Any]:
    """An account's event fields: its id, role and store (and ``more``), never its login or password."""
    return {"subject": f"staff:{item.staff_id}", "merchant_id": item.merchant_id,
            "data": {"staff_id": item.staff_id, "role": item.role, "store_id": item.store_id, **(more or {})}}


def _changed(uow: UnitOfWork, by: Principal, item: StaffItem, read_version: int, event: DomainEvent, detail: str,
             *, bump: bool) -> dict[str, Any]:
    """Stage the changed account (versioned), its audit entry and its event (raising the epoch,
    so that every token it holds dies, when ``bump``)."""
    item.updated_at = clock.iso(clock.now())
    if bump:
        item.epoch = int(item.epoch) + 1
    uow.save_versioned(item, read_version, on_conflict=lambda: ConcurrentUpdate("the account changed meanwhile"))
    audit.record(uow, event.type, by.ref, staff_id=item.staff_id, merchant_id=item.merchant_id, detail=detail)
    uow.emit(event)
    if bump:
        uow.after_commit(auth.forget_staff)
    return view(item)


def update(uow: UnitOfWork, by: Principal, staff_id: str, version: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Change the display name, the role or the scope (a role or scope change ends every login)."""
    item = visible(uow, by, staff_id)
    read = int(item.version)
    if version != read:
        raise VersionChanged(f"the account is at version {read}, not {version}: read it again", current_version=read)
    if not may_manage(by, item.role, item.merchant_id):
        raise Forbidden(f"a {by.role} may not change a {item.role}'s account")
    if item.staff_id == by.id and "role" in changes:
        raise Forbidden("nobody changes their own role")
    before = {k: getattr(item, k) for k in ("display_name", "role", "merchant_id", "store_id")}
    after = {**before, **changes}
    if after == before:
        return view(item)
    scope_changed = any(after[k] != before[k] for k in ("role", "merchant_id", "store_id"))
    if scope_changed:
        _scope(uow, by, after["role"], after["merchant_id"], after["store_id"])
    for k, v in after.items():
        setattr(item, k, v)
    item.gsi1sk = f"{item.merchant_id or '-'}#{item.staff_id}"
    detail = " ".join(f"{k}: {before[k] or '-'} -> {after[k] or '-'}" for k in before if before[k] != after[k])
    event = (DomainEvent("staff.role_changed", **about(item)) if scope_changed
             else DomainEvent("staff.updated", **about(item)))
    return _changed(uow, by, item, read, event, detail, bump=scope_changed)


def set_status(uow: UnitOfWork, by: Principal, staff_id: str, status: str) -> dict[str, Any]:
    """Disable an account (every token it holds stops working) or enable it again."""
    item = visible(uow, by, staff_id)
    if not may_manage(by, item.role, item.merchant_id):
        raise Forbidden(f"a {by.role} may not change a {item.role}'s account")
    if item.staff_id == by.id and status == "disabled":
        raise Forbidden("nobody disables their own account")
    if item.status == status:
        return view(item)
    read, before = int(item.version), item.status
    item.status = status
    event = DomainEvent("staff.disabled", **about(item)) if status == "disabled" \
        else DomainEvent("staff.enabled", **about(item))
    return _changed(uow, by, item, read, event, f"status: {before} -> {status}", bump=status == "disabled")


def _reset_code(item: StaffItem) -> str:
    code = passwords.one_time_code()
    item.reset_hash = hashlib.sha256(code.encode()).hexdigest()
    item.reset_expires_at = clock.iso(datetime.now(UTC) + timedelta(hours=RESET_HOURS))
    return code


def issue_reset(uow: UnitOfWork, by: Principal, staff_id: str) -> dict[str, Any]:
    """A one-time code (shown once, valid 24 hours) with which the account's holder sets a new
    password; the old one stops working at once, and every login ends."""
    item = visible(uow, by, staff_id)
    if not may_manage(by, item.role, item.merchant_id):
        raise Forbidden(f"a {by.role} may not reset a {item.role}'s password")
    read = int(item.version)
    code = _reset_code(item)
    item.password_hash = None
    item.totp, item.totp_enrolled, item.totp_last_step = None, False, 0     # a fresh start: enrol again
    reply = _changed(uow, by, item, read, DomainEvent("staff.password_reset", **about(item)), "reset code issued",
                     bump=True)
    return {**reply, "reset_code": code, "reset_expires_at": item.reset_expires_at}
