"""The points program: versioned rules, cached briefly, and what every operation derives from it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from chalicelib.db.uow import UnitOfWork
from chalicelib.points import rules as R
from chalicelib.points.ledger import Ledger
from chalicelib.points.tables import RulesItem
from chalicelib.shared import clock
from chalicelib.shared.cache import TtlCache
from chalicelib.shared.errors import ConcurrentUpdate, ValidationProblem
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import Principal

RULES_CACHE_SECONDS = 30.0          # a saved version reaches every warm Lambda within this
Versions = list[tuple[str, int, R.ProgramRules]]
_VERSIONS: TtlCache[Versions] = TtlCache(RULES_CACHE_SECONDS, max_entries=1024)     # one entry per program


def versions(uow: UnitOfWork) -> Versions:
    """Every saved version of the unit's program as ``(effective_from, version, rules)``, in force order."""
    def load() -> Versions:
        items = [(i.effective_from, int(i.version), R.ProgramRules.model_validate_json(i.body))
                 for i in uow.points.rules_versions()]
        return sorted(items, key=lambda x: (x[0], x[1]))
    return _VERSIONS.get(uow.program, load)


def rules_at(uow: UnitOfWork, at: datetime) -> tuple[int, R.ProgramRules]:
    """The version in force at ``at``: of the versions already effective then, the newest saved
    (so a back-dated save replaces what was in force from its date on). Version 0 = the defaults."""
    stamp = clock.iso(at)
    effective = [(version, rules) for effective_from, version, rules in versions(uow) if effective_from <= stamp]
    return max(effective, key=lambda v: v[0], default=(0, R.ProgramRules()))


def put_rules(rules: R.ProgramRules, effective_from: datetime | None, by: Principal, uow: UnitOfWork) -> dict[str, Any]:
    """Save a new version of the program, in force from ``effective_from`` (default: now)."""
    _VERSIONS.invalidate(uow.program)
    known = versions(uow)
    version = (max(v for _, v, _ in known) if known else 0) + 1
    start = clock.iso(effective_from or clock.now())
    raced = lambda: ConcurrentUpdate("another rules version was saved at the same time; retry")  # noqa: E731
    # One marker per version number: two saves racing for the same number cannot both win.
    uow.create(RulesItem(*RulesItem.version_key(version), version=version, effective_from=start, body="",
                         created_at=clock.iso(clock.now())), on_conflict=raced)
    uow.create(RulesItem(*RulesItem.key(start, version), version=version, effective_from=start,
                         body=rules.model_dump_json(), created_by=by.ref, created_at=clock.iso(clock.now())),
               on_conflict=raced)
    uow.emit(DomainEvent("points.rules_changed", "program:points", {"version": version, "effective_from": start}))
    _VERSIONS.invalidate(uow.program)
    return {"version": version, "effective_from": start, "rules": rules.model_dump(mode="json")}


def get_rules(uow: UnitOfWork, at: datetime | None) -> dict[str, Any]:
    """The version in force at ``at`` (default: now) and the list of every version."""
    version, rules = rules_at(uow, at or clock.now())
    return {"version": version, "rules": rules.model_dump(mode="json"),
            "versions": [{"version": v, "effective_from": f} for f, v, _ in versions(uow)]}


def type_config(rules: R.ProgramRules, point_type: str) -> R.PointType:
    """The configuration of a point type; 422 for a type the program does not have."""
    try:
        return rules.type_config(point_type)
    except KeyError:
        raise ValidationProblem(f"unknown point type '{point_type}'") from None


def ledger(uow: UnitOfWork, member_id: str, point_type: str, rules: R.ProgramRules, today: date) -> Ledger:
    """A ledger change on one account, with the program's reminder schedule for new lots."""
    return Ledger(member_id, point_type, uow, today, rules.reminder_days)


def today(at: datetime | None = None) -> date:
    """The program's calendar day at ``at`` (default: now)."""
    return clock.program_date(at)
