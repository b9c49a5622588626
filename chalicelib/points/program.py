"""The points program: versioned rules, cached briefly, and what every operation derives from it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from chalicelib.db.uow import UnitOfWork
from chalicelib.points import rules as R
from chalicelib.points.growth import GrowthLedger
from chalicelib.points.ledger import Ledger
from chalicelib.shared import clock
from chalicelib.shared.errors import ValidationProblem
from chalicelib.shared.principal import Principal

RULES = R.RULES


def rules_at(uow: UnitOfWork, at: datetime) -> tuple[int, R.ProgramRules]:
    """The version in force at ``at`` (version 0 = the defaults)."""
    return RULES.at(uow, at)


def put_rules(rules: R.ProgramRules, effective_from: datetime | None, by: Principal, uow: UnitOfWork) -> dict[str, Any]:
    """Save a new version of the program, in force from ``effective_from`` (default: now)."""
    return {**RULES.put(uow, rules, effective_from, by, "rules"), "rules": rules.model_dump(mode="json")}


def get_rules(uow: UnitOfWork, at: datetime | None) -> dict[str, Any]:
    """The version in force at ``at`` (default: now) and the list of every version."""
    found = RULES.describe(uow, at)
    return {"version": found["version"], "rules": found["body"].model_dump(mode="json"), "versions": found["versions"]}


def type_config(rules: R.ProgramRules, point_type: str) -> R.PointType:
    """The configuration of a point type; 422 for a type the program does not have."""
    try:
        return rules.type_config(point_type)
    except KeyError:
        raise ValidationProblem(f"unknown point type '{point_type}'") from None


def ledger(uow: UnitOfWork, member_id: str, point_type: str, rules: R.ProgramRules, today: date) -> Ledger:
    """A ledger change on one account, with the program's reminder schedule for new lots (growth:
    no lots, :mod:`.growth`)."""
    return (GrowthLedger if point_type == "growth" else Ledger)(member_id, point_type, uow, today, rules.reminder_days)


def today(at: datetime | None = None) -> date:
    """The program's calendar day at ``at`` (default: now)."""
    return clock.program_date(at)
