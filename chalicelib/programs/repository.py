"""Reads of programs: ``uow.programs``."""

from __future__ import annotations

from chalicelib.db.uow import UnitOfWork, repository
from chalicelib.programs.tables import LISTING, ProgramItem


@repository("programs")
class ProgramsRepository:
    """The programs of the deployment."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def get(self, program_id: str) -> ProgramItem | None:
        """One program, or None."""
        return self.uow.get(ProgramItem, ProgramItem.key(program_id))

    def all(self) -> list[ProgramItem]:
        """Every program (a short list: one item per tenant)."""
        return list(self.uow.query(ProgramItem, LISTING, index="gsi1"))
