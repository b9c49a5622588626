"""Task definitions ops configure (versioned like the ladder), and their arithmetic, no I/O.

A task counts something from the event stream (``order.earned`` / ``order.refunded`` for orders
and spend, ``member.behavior`` for referrals and custom events, ``member.registered`` /
``member.updated`` for the profile) within a period (``once``: ever; or each month, quarter,
year) and rewards its completion once per period: a tier for some months (a floor), growth
value, or points.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import Field, StrictInt, field_validator, model_validator

from chalicelib.db.versioned import VersionedConfig
from chalicelib.shared.types import Strict, unique_by

Ref = Field(pattern=r"^[A-Za-z0-9_\-.:]{1,64}$")


class Reward(Strict):
    tier: str | None = Field(None, pattern=r"^[A-Za-z0-9_\-]{1,32}$", description="a tier held for validity_months")
    validity_months: StrictInt | None = Field(None, ge=1, le=24)
    growth: StrictInt | None = Field(None, ge=1, le=10**7, description="growth value")
    points: StrictInt | None = Field(None, ge=1, le=10**7)

    @model_validator(mode="after")
    def _one(self) -> Reward:
        if sum(x is not None for x in (self.tier, self.growth, self.points)) != 1:
            raise ValueError("a reward is one of: tier (with validity_months), growth, points")
        if (self.tier is None) != (self.validity_months is None):
            raise ValueError("a tier reward says for how many validity_months")
        return self


class Task(Strict):
    id: str = Ref
    name: str = Field(min_length=1, max_length=64)
    kind: Literal["profile", "orders", "spend", "referrals", "event"]
    target: StrictInt = Field(1, ge=1, le=10**9, description="orders, fen spent, referrals or events to reach")
    event: str | None = Field(None, max_length=64, description="kind event: the custom event counted")
    period: Literal["once", "month", "quarter", "year"] = "once"
    reward: Reward

    @model_validator(mode="after")
    def _event(self) -> Task:
        if (self.kind == "event") != (self.event is not None):
            raise ValueError("an event task names its custom event (and only it)")
        if self.kind == "profile" and self.target != 1:
            raise ValueError("a profile task's target is 1")
        return self


class TaskSet(Strict):
    tasks: list[Task] = Field([], max_length=50)

    @field_validator("tasks")
    @classmethod
    def _unique(cls, tasks: list[Task]) -> list[Task]:
        unique_by(tasks, "id", "task ids")
        return tasks


def _reward_tiers(tasks: TaskSet) -> list[tuple[str, str]]:
    """The tiers the tasks reward (a reward naming no tier of the ladder would never be granted)."""
    return [(f"tasks[{i}].reward.tier", t.reward.tier) for i, t in enumerate(tasks.tasks) if t.reward.tier]


def _custom_events(tasks: TaskSet) -> list[tuple[str, str]]:
    """The custom events event tasks count (the points rules must reward them, or none happens)."""
    return [(f"tasks[{i}].event", t.event) for i, t in enumerate(tasks.tasks) if t.event]


def _behaviors(tasks: TaskSet) -> list[tuple[str, str]]:
    """Referral tasks count the ``referral`` behaviour, which must be in the points rules."""
    return [(f"tasks[{i}].kind", "referral") for i, t in enumerate(tasks.tasks) if t.kind == "referrals"]


TASKS = VersionedConfig("tasks", TaskSet, TaskSet, "task.config_changed", "program:tasks",
                        refers={"tier": _reward_tiers, "custom event": _custom_events, "behavior": _behaviors})


def period_key(period: str, day: date) -> str:
    """The period ``day`` falls in: ``once``, ``2026-11``, ``2026-Q4`` or ``2026``."""
    if period == "month":
        return day.strftime("%Y-%m")
    if period == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    if period == "year":
        return str(day.year)
    return "once"


def contribution(task: Task, event_type: str, data: dict[str, Any], profile_complete: bool | None) -> int:
    """How much an event moves a task's progress (0: not at all)."""
    if task.kind == "orders" and event_type == "order.earned":
        return 1
    counted = data.get("order_earned", True)     # a refund takes back only what an order.earned counted
    if task.kind == "orders" and event_type == "order.refunded":
        return -1 if counted and int(data["refunded_fen"]) >= int(data["order_amount_fen"]) else 0   # in full
    if task.kind == "spend" and event_type == "order.earned":
        return int(data["amount_fen"])
    if task.kind == "spend" and event_type == "order.refunded":
        return -int(data["amount_fen"]) if counted else 0
    if task.kind == "referrals" and event_type == "member.behavior" and data.get("kind") == "referral":
        return 1
    if task.kind == "event" and event_type == "member.behavior" and data.get("kind") == "custom":
        return 1 if data.get("behavior") == task.event else 0
    if task.kind == "profile" and profile_complete:
        return 1
    return 0
