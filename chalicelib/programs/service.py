"""Creating and listing programs (platform admins), and the list scheduled jobs serve."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.db.due import current_slice
from chalicelib.db.uow import UnitOfWork
from chalicelib.programs import repository
from chalicelib.programs.tables import LISTING, ProgramItem
from chalicelib.shared import clock
from chalicelib.shared.errors import Conflict, NotFound, ValidationProblem
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import DEFAULT_PROGRAM, Principal


def _view(item: ProgramItem) -> dict[str, Any]:
    return {"program_id": item.program_id, "name": item.name, "timezone": item.timezone, "status": item.status,
            "created_at": item.created_at}


def create(program_id: str, name: str, timezone: str, by: Principal, uow: UnitOfWork) -> dict[str, Any]:
    """A new program: usable at once (its data lives under its own keys; nothing to provision)."""
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationProblem(f"unknown time zone '{timezone[:64]}'") from None
    item = ProgramItem(*ProgramItem.key(program_id), program_id=program_id, name=name, timezone=timezone,
                       status="active", created_at=clock.iso(clock.now()), created_by=by.ref,
                       gsi1pk=LISTING, gsi1sk=program_id)
    uow.create(item, on_conflict=lambda: Conflict(f"program {program_id} exists"))
    uow.emit(DomainEvent("program.created", f"program:{program_id}", {"program_id": program_id, "name": name}))
    return _view(item)


def get(uow: UnitOfWork, program_id: str) -> dict[str, Any]:
    """One program."""
    item = repository.of(uow).get(program_id)
    if item is None:
        raise NotFound(f"no program {program_id[:64]}")
    return _view(item)


def listing(uow: UnitOfWork) -> dict[str, Any]:
    """Every program."""
    return {"programs": [_view(i) for i in repository.of(uow).all()]}


def served(uow: UnitOfWork) -> list[str]:
    """The programs scheduled jobs serve: every active one, and ``default`` (data from before
    programs existed lives there, with or without a program record); only those the run was
    given where it names them (a run for one program, or a continuation's batch)."""
    ids = {i.program_id for i in repository.of(uow).all() if i.status == "active"} | {DEFAULT_PROGRAM}
    given = current_slice().programs
    return sorted(ids if given is None else ids & set(given))
