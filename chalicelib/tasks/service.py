"""The tasks capability's service API: the task set, a member's tasks with progress, and the
stream consumer's work (count an event, complete and reward a task once per period)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from chalicelib.db.items import expiry_in
from chalicelib.db.uow import UnitOfWork
from chalicelib.members import service as members
from chalicelib.points import service as points
from chalicelib.shared import clock
from chalicelib.shared.errors import changed
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import Principal
from chalicelib.tasks import repository
from chalicelib.tasks.config import TASKS, Task, contribution, period_key
from chalicelib.tasks.tables import COUNTED_KEPT_DAYS, CountedItem, ProgressItem
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
    today = clock.program_date(at)
    # an order's refund takes back only what its order.earned counted, from the period it counted in
    counted = repository.of(uow).counted(member_id, data["order_id"]) if event.type == "order.refunded" else {}
    periods: dict[str, str] = {}
    completed = []
    for task in task_set.tasks:
        delta = contribution(task, event.type, data, complete)
        if not delta or (event.type == "order.refunded" and task.id not in counted):
            continue
        period = counted.get(task.id) or period_key(task.period, today)
        periods[task.id] = period
        if _advance(uow, member_id, task, delta, at, period):
            completed.append(task)
    if event.type == "order.earned" and periods:
        uow.save(CountedItem(*CountedItem.key(member_id, data["order_id"]), member_id=member_id,
                             order_id=data["order_id"], counted=json.dumps(periods, separators=(",", ":")),
                             expires_at=expiry_in(COUNTED_KEPT_DAYS)))
    if completed:
        _reward(uow, member_id, completed, periods, at)
    return len(completed)


def _profile_complete(uow: UnitOfWork, member_id: str) -> bool:
    member = members.acting_on(uow, member_id)
    return bool(member.name and member.birthday and member.gender in ("male", "female"))


def _advance(uow: UnitOfWork, member_id: str, task: Task, delta: int, at: datetime, period: str) -> bool:
    """Stage the task's progress in ``period``; whether the event completes it (its reward is the caller's)."""
    item = repository.of(uow).progress(member_id, task.id, period)
    read = int(item.version) if item else 0
    if item is None:
        item = ProgressItem(*ProgressItem.key(member_id, task.id, period), member_id=member_id, task=task.id,
                            period=period, progress=0, target=task.target, version=0)
    if task.kind == "profile":
        if int(item.progress) >= 1:
            return False
        item.progress = 1                                 # complete, not counted
    else:
        item.progress = int(item.progress) + delta
    completes = item.completed_at is None and int(item.progress) >= task.target
    if completes:
        item.completed_at = clock.iso(at)
    uow.save_versioned(item, read, _changed)
    return completes


def _reward(uow: UnitOfWork, member_id: str, completed: list[Task], periods: dict[str, str], at: datetime) -> None:
    """The rewards of the tasks one event completes, in its unit: one write per account, since a
    transaction may not write an item twice (the points of two tasks are one adjustment, their
    growth another; of several tier rewards the highest, then longest, floor is granted)."""
    for point_type in ("points", "growth"):
        paying = [t for t in completed if getattr(t.reward, point_type) is not None]
        if paying:
            reason = ", ".join(f"task {t.id} ({periods[t.id]})" for t in paying)
            points.adjust(member_id, points.Adjust(
                points=sum(int(getattr(t.reward, point_type)) for t in paying), point_type=point_type,
                reason=reason if len(reason) <= 200 else reason[:197] + "..."), ACTOR, uow, None)
    floors = [t for t in completed if t.reward.tier is not None and t.reward.validity_months is not None]
    best = tiers.best_floor(uow, [(t.reward.tier or "", t.reward.validity_months or 0) for t in floors], at)
    applied = None
    for task in completed:
        granted: dict[str, Any] = task.reward.model_dump(exclude_none=True)
        if task in floors:
            if applied is None and (task.reward.tier, task.reward.validity_months) == best:
                applied = tiers.grant_tier(uow, member_id, task.reward.tier or "", task.reward.validity_months or 0,
                                           task.id, at, "stream:tasks")
                granted["applied"] = applied
            else:
                granted["applied"] = False                # a higher or longer floor of this event's is set
        uow.emit(DomainEvent("task.completed", f"member:{member_id}", {
            "member_id": member_id, "task": task.id, "name": task.name, "period": periods[task.id],
            "reward": granted}))
