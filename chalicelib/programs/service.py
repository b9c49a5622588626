"""Creating and listing programs (platform admins), and the list scheduled jobs serve."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.db.due import current_slice
from chalicelib.db.uow import UnitOfWork
from chalicelib.programs import repository, zones
from chalicelib.programs.tables import LISTING, ProgramItem
from chalicelib.shared import clock, lazy
from chalicelib.shared.errors import Conflict, NotFound, VersionChanged, changed
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import DEFAULT_PROGRAM, Principal

if TYPE_CHECKING:
    from chalicelib.members import service as members
else:
    members = lazy.module("chalicelib.members.service")


def _view(item: ProgramItem) -> dict[str, Any]:
    return {"program_id": item.program_id, "name": item.name, "timezone": item.timezone, "status": item.status,
            "created_at": item.created_at}


def create(program_id: str, name: str, timezone: str, by: Principal, uow: UnitOfWork) -> dict[str, Any]:
    """A new program: usable at once (its data lives under its own keys; nothing to provision)."""
    zones.checked(timezone)
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


def created_at(uow: UnitOfWork, program_id: str) -> str | None:
    """When a program was made (None: one without a record, ``default`` from before programs)."""
    item = repository.of(uow).get(program_id)
    return None if item is None else str(item.created_at)


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


# --- the caller's own program (issue #28 item 5) ---------------------------------------------

def own(uow: UnitOfWork) -> dict[str, Any]:
    """The caller's program (the unit's): its record, version and settings in force. A program
    with no record (``default`` before programs existed) answers the deployment's defaults."""
    return _own_view(uow, repository.of(uow).get(uow.program))


def _own_view(uow: UnitOfWork, item: ProgramItem | None) -> dict[str, Any]:
    found = _view(item) if item is not None else {
        "program_id": uow.program, "name": uow.program, "timezone": zones.zone(uow.program), "status": "active",
        "created_at": None}
    return {**found, "version": int(item.version or 0) if item is not None else 0,
            "updated_at": item.updated_at if item is not None else None,
            "settings": {"pay_as_member": members.pay_as_member(uow)}}


def update(uow: UnitOfWork, version: int, values: dict[str, Any]) -> dict[str, Any]:
    """Change the caller's program's name or time zone if it is still at ``version``. A new zone
    applies from now on: days already stored keep the dates they were reckoned with."""
    item = repository.of(uow).get(uow.program)
    if item is None:
        raise NotFound(f"program {uow.program} has no record: a platform admin creates it (POST /v1/programs)")
    if "timezone" in values:
        zones.checked(values["timezone"])
    if int(item.version or 0) != version:
        raise VersionChanged(f"it is at version {int(item.version or 0)}, you read version {version}: read it again",
                             current_version=int(item.version or 0))
    changes = {f: (getattr(item, f), v) for f, v in values.items() if getattr(item, f) != v}
    if changes:
        now = clock.iso(clock.now())
        actions = [getattr(ProgramItem, f).set(after) for f, (_, after) in changes.items()]
        uow.update_versioned(item, version, [*actions, ProgramItem.updated_at.set(now)],
                             on_conflict=changed(f"program {uow.program}"))
        data: dict[str, Any] = {"program_id": uow.program, "version": version + 1,
                                "changes": {f: {"before": b, "after": a} for f, (b, a) in changes.items()}}
        if "timezone" in changes:
            data["timezone_from"] = now        # the first instant reckoned in the new zone; nothing before it
            uow.after_commit(lambda: zones.forget(uow.program))
        uow.emit(DomainEvent("program.updated", f"program:{uow.program}", data))
        for name, (_, after) in changes.items():
            setattr(item, name, after)
        item.version, item.updated_at = version + 1, now
    return _own_view(uow, item)
