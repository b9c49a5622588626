"""Every read of task data: ``repository.of(uow)``."""

from __future__ import annotations

import json

from chalicelib.db.uow import UnitOfWork
from chalicelib.tasks.tables import CountedItem, ProgressItem


class TasksRepository:
    """Reads of members' task progress."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def progress(self, member_id: str, task: str, period: str) -> ProgressItem | None:
        """One task's progress in one period (consistent)."""
        return self.uow.get(ProgressItem, ProgressItem.key(member_id, task, period), consistent=True)

    def counted(self, member_id: str, order_id: str) -> dict[str, str]:
        """The tasks an order counted for, each with the period it counted in (none: {})."""
        found = self.uow.get(CountedItem, CountedItem.key(member_id, order_id), consistent=True)
        return dict(json.loads(found.counted)) if found else {}


def of(uow: UnitOfWork) -> TasksRepository:
    """The unit's tasks repository."""
    return uow.repo(TasksRepository)
