"""Every program's id, for the scheduled jobs (``due.PROGRAMS``): each program has its own due
partitions (#24 item 6), so a job run reads the listing once (one Query) and then each program's."""

from __future__ import annotations

from chalicelib.db import due
from chalicelib.db.uow import UnitOfWork
from chalicelib.programs import repository


def ids() -> list[str]:
    """The id of every program with a record."""
    return [item.program_id for item in repository.of(UnitOfWork("jobs")).all()]


due.PROGRAMS.use(ids)
