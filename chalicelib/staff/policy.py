"""The program's staff security policy: the roles that must log in with a TOTP second factor.

``STAFFPOLICY / POLICY`` in the program; read on each login that has no TOTP yet (cached 30 s per
container: a newly required role is asked for its code within that).
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import ListAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.db import audit
from chalicelib.db.items import MainModel
from chalicelib.db.uow import UnitOfWork
from chalicelib.shared import clock
from chalicelib.shared.cache import TtlCache
from chalicelib.shared.errors import ConcurrentUpdate, Conflict, ValidationProblem
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import PROGRAM_ROLES, Principal


class StaffPolicyItem(MainModel):
    totp_roles = ListAttribute(of=UnicodeAttribute, null=True)
    version = NumberAttribute(default=0)
    updated_at = UnicodeAttribute(null=True)
    updated_by = UnicodeAttribute(null=True)

    @staticmethod
    def key() -> tuple[str, str]:
        """The program's one policy item."""
        return "STAFFPOLICY", "POLICY"


_POLICY: TtlCache[tuple[str, ...]] = TtlCache(30.0, max_entries=1024)


def _read(uow: UnitOfWork) -> StaffPolicyItem | None:
    return uow.get(StaffPolicyItem, StaffPolicyItem.key(), consistent=True)


def view(item: StaffPolicyItem | None) -> dict[str, Any]:
    """The policy as the API shows it."""
    return {"totp_roles": sorted(item.totp_roles or []) if item else [], "version": int(item.version) if item else 0,
            "updated_at": item.updated_at if item else None, "updated_by": item.updated_by if item else None}


def get(uow: UnitOfWork) -> dict[str, Any]:
    """The program's policy (no roles need TOTP until a super admin says so)."""
    return view(_read(uow))


def requires_totp(uow: UnitOfWork, role: str) -> bool:
    """Whether ``role`` must log in with a TOTP code."""
    roles = _POLICY.get(uow.program, lambda: tuple(str(r) for r in (_read(uow) or StaffPolicyItem()).totp_roles or ()))
    return role in roles


def put(uow: UnitOfWork, by: Principal, totp_roles: list[str], version: int) -> dict[str, Any]:
    """Set the roles that need TOTP (a super admin); versioned: a stale version is 409."""
    unknown = sorted(set(totp_roles) - set(PROGRAM_ROLES))
    if unknown:
        raise ValidationProblem(f"unknown roles {unknown}; roles are {', '.join(PROGRAM_ROLES)}",
                                errors=[{"field": "totp_roles", "message": "unknown role"}])
    item = _read(uow)
    read = int(item.version) if item else 0
    if version != read:
        raise Conflict(f"the policy is at version {read}, not {version}: read it again")
    before = sorted(item.totp_roles or []) if item else []
    new = StaffPolicyItem(*StaffPolicyItem.key(), totp_roles=sorted(set(totp_roles)), updated_at=clock.iso(clock.now()),
                          updated_by=by.ref)
    uow.save_versioned(new, read, on_conflict=lambda: ConcurrentUpdate("the policy changed meanwhile"))
    audit.record(uow, "staff.policy_changed", by.ref, detail=f"totp_roles: {before} -> {new.totp_roles}")
    uow.emit(DomainEvent("staff.policy_changed", "staff_policy", {"totp_roles": new.totp_roles}))
    uow.after_commit(lambda: _POLICY.invalidate(uow.program))
    return view(new)
