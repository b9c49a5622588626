"""The program's staff security policy: the roles that must log in with a TOTP second factor.

Versioned configuration like every other (:class:`~chalicelib.db.versioned.VersionedConfig`,
``CONFIG#staff-policy``; ``putStaffPolicy`` / ``getStaffPolicy`` by
:func:`~chalicelib.api.configs.config_endpoints`): each version in force from its
``effective_from``, never edited, every save audited. A login reads the version in force (a warm
Lambda re-checks the head every 30 s: a newly required role is asked for its code within that).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.db.uow import UnitOfWork
from chalicelib.db.versioned import VersionedConfig
from chalicelib.shared import clock
from chalicelib.shared.principal import PROGRAM_ROLES
from chalicelib.shared.types import Strict

Role = Literal[PROGRAM_ROLES]  # type: ignore[valid-type]     # (staff.schemas' own: not imported at a cold start)


class StaffPolicy(Strict):
    """What a staff login must present beyond its password."""

    totp_roles: list[Role] = Field([], max_length=len(PROGRAM_ROLES),
                                   description="roles that must log in with TOTP (none until a super admin says so)")


POLICY = VersionedConfig("staff-policy", StaffPolicy, StaffPolicy, "staff.policy_changed", "program:staff")


def requires_totp(uow: UnitOfWork, role: str) -> bool:
    """Whether ``role`` must log in with a TOTP code."""
    return role in POLICY.at(uow, clock.now())[1].totp_roles
