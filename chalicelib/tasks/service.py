"""The tasks capability's service API: the task set, a member's tasks with progress, and the
stream consumer's work (count an event, complete and reward a task once per period)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.db.uow import UnitOfWork
from chalicelib.members import service as members
from chalicelib.points import service as points
from chalicelib.shared import clock
from chalicelib.shared.errors import changed
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import Principal
from chalicelib.tasks import repository
from chalicelib.tasks.config import TASKS, Task, contribution, period_key
from chalicelib.tasks.tables import ProgressItem
from chalicelib.tiers import service as tiers

_changed = changed("the task's progress", "meanwhile")          # the lost race the endpoint retries

ACTOR = Principal(kind="system", id="tasks")
PROFILE_EVENTS = ("member.registered", "member.updated")


def progress_keys(uow: UnitOfWork, member_id: str) -> list[tuple[Any, tuple[str, str]]]:
    """The progress items of the tasks in force, in their current periods: to batch with reads."""
    now = clock.now()
    _, task_set = TASKS.at(uow, now)
    today = clock.program_date(now)
    return [(ProgressItem, ProgressItem.key(member_id, t.id, period_key(t.period, today))) for t in task_set.tasks]


def member_tasks(uow: UnitOfWork, member_id: str, by: Principal) -> dict[str, Any]:
    """Every task in force with the member's progress in its current period (one batch read)."""
    own, wanted = members.record_key(member_id, by)
    now = clock.now()
    _, task_set = TASKS.at(uow, now)
    today = clock.program_date(now)
    uow.prefetch([*wanted, *progress_keys(uow, own)])
    member_id = members.acting_on(uow, member_id, by).member_id
    out = []
    for task in task_set.tasks:
        item = repository.of(uow).progress(member_id, task.id, period_key(task.period, today))
        progress = int(item.progress) if item else 0
        out.append({"task": task.id, "name": task.name, "kind": task.kind, "period": period_key(task.period, today),
                    "progress": max(progress, 0), "target": task.target,
                    "completed_at": item.completed_at if item else None,
                    "reward": task.reward.model_dump(exclude_none=True)})
    return {"member_id": member_id, "tasks": out}


def count(uow: UnitOfWork, event: DomainEvent) -> int:
    """Stage the progress an event makes on every task it counts for, and the rewards of the
    tasks it completes; the tasks completed."""
    data = event.data
    member_id = data["member_id"]
    at = clock.parse_iso(event.occurred_at)
    _, task_set = TASKS.at(uow, at)
    complete = _profile_complete(uow, member_id) if event.type in PROFILE_EVENTS and any(
        t.kind == "profile" for t in task_set.tasks) else None
    done = 0
    for task in task_set.tasks:
        delta = contribution(task, event.type, data, complete)
        if delta:
            done += _advance(uow, member_id, task, delta, at)
    return done


def _profile_complete(uow: UnitOfWork, member_id: str) -> bool:
    member = members.acting_on(uow, member_id)
    return bool(member.name and member.birthday and member.gender in ("male", "female"))


def _advance(uow: UnitOfWork, member_id: str, task: Task, delta: int, at: datetime) -> int:
    period = period_key(task.period, clock.program_date(at))
    item = repository.of(uow).progress(member_id, task.id, period)
    read = int(item.version) if item else 0
    if item is None:
        item = ProgressItem(*ProgressItem.key(member_id, task.id, period), member_id=member_id, task=task.id,
                            period=period, progress=0, target=task.target, version=0)
    if task.kind == "profile":
        if int(item.progress) >= 1:
            return 0
        item.progress = 1                                 # complete, not counted
    else:
        item.progress = int(item.progress) + delta
    completes = item.completed_at is None and int(item.progress) >= task.target
    if completes:
        item.completed_at = clock.iso(at)
        _reward(uow, member_id, task, period, at)
    uow.save_versioned(item, read, _changed)
    return 1 if completes else 0


def _reward(uow: UnitOfWork, member_id: str, task: Task, period: str, at: datetime) -> None:
    r = task.reward
    granted: dict[str, Any] = r.model_dump(exclude_none=True)
    if r.tier is not None and r.validity_months is not None:
        granted["applied"] = tiers.grant_tier(uow, member_id, r.tier, r.validity_months, task.id, at, "stream:tasks")
    else:
        amount, point_type = (r.growth, "growth") if r.growth is not None else (r.points, "points")
        points.adjust(member_id, points.Adjust(points=int(amount or 0), point_type=point_type,
                                               reason=f"task {task.id} ({period})"), ACTOR, uow, None)
    uow.emit(DomainEvent("task.completed", f"member:{member_id}", {
        "member_id": member_id, "task": task.id, "name": task.name, "period": period, "reward": granted}))
