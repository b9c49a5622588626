"""Every read of task data: ``repository.of(uow)``."""

from __future__ import annotations

from chalicelib.db.uow import UnitOfWork
from chalicelib.tasks.tables import ProgressItem


class TasksRepository:
    """Reads of members' task progress."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def progress(self, member_id: str, task: str, period: str) -> ProgressItem | None:
        """One task's progress in one period (consistent)."""
        return self.uow.get(ProgressItem, ProgressItem.key(member_id, task, period), consistent=True)


def of(uow: UnitOfWork) -> TasksRepository:
    """The unit's tasks repository."""
    return uow.repo(TasksRepository)
