"""What the task operations answer, figure by figure: the OpenAPI response schemas.

A task (configured in getTasks) counts something from the member's activity within a period and
rewards its completion once per period.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.shared.types import Reply


class TaskRewardOut(Reply):
    tier: str | None = Field(None, description="a tier code the member holds at least for validity_months (a "
                                               "floor); absent on other rewards")
    validity_months: int | None = Field(None, description="with tier: for how many months; absent otherwise")
    growth: int | None = Field(None, description="growth value added (tiers read it; never spendable); absent on "
                                                 "other rewards")
    points: int | None = Field(None, description="points added; absent on other rewards")


class MemberTaskOut(Reply):
    task: str = Field(description="the task's id")
    name: str = Field(description="the task's name")
    kind: Literal["profile", "orders", "spend", "referrals", "event"] = Field(
        description="what it counts: a complete profile, orders, fen spent, referrals, or a custom event")
    period: str = Field(description="the current period: once (ever), a month (2026-11), a quarter (2026-Q4) or "
                                    "a year (2026)")
    progress: int = Field(description="counted so far in the period, in the unit of kind (orders, fen, referrals, "
                                      "events; 1 for a complete profile); at least 0, may exceed target; refunds "
                                      "count back")
    target: int = Field(description="the count that completes the task, in the same unit")
    completed_at: str | None = Field(description="when it was completed in this period and its reward granted (ISO "
                                                 "8601, UTC); null if not yet. A refund does not undo it")
    reward: TaskRewardOut = Field(description="what completing it gives: one of tier (with validity_months), "
                                              "growth, points")


class MemberTasksOut(Reply):
    """Every task in force with the member's progress in its current period."""

    member_id: str
    tasks: list[MemberTaskOut] = Field(description="every task of the task set in force, in its order")
