"""Reads of programs: ``repository.of(uow)``."""

from __future__ import annotations

from chalicelib.db.uow import UnitOfWork
from chalicelib.programs.tables import LISTING, ProgramItem


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


def of(uow: UnitOfWork) -> ProgramsRepository:
    """The unit's programs repository."""
    return uow.repo(ProgramsRepository)
