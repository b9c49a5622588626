"""Program-level reads: the points liability and the reconciliation of accounts."""

from __future__ import annotations

from datetime import date
from typing import Any

from chalicelib.db.uow import UnitOfWork
from chalicelib.points import access, program, projection, reconcile
from chalicelib.shared import clock
from chalicelib.shared.principal import Principal


def liability(uow: UnitOfWork, point_type: str, start: date | None, end: date | None) -> dict[str, Any]:
    """Outstanding points by expiry month, valued at today's redemption rate, and period figures."""
    _, rules = program.rules_at(uow, clock.now())
    return projection.liability(uow, point_type, rules.redeem.points_per_yuan, rules.inflation_threshold_percent,
                                start, end)


def reconciliation(uow: UnitOfWork, member_id: str | None, limit: int, by: Principal) -> dict[str, Any]:
    """One member's accounts checked against their postings and items, or every account."""
    if member_id:
        member_id = access.member(uow, member_id, by)
        return {"accounts": [reconcile.account(uow, member_id, t) for t in ("points", "growth")]}
    return reconcile.everything(uow, limit)
