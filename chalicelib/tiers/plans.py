"""Paid membership (PLUS) plans, versioned like the ladder, and their arithmetic, with no I/O.

A plan sells a period (a month, a quarter, a year) at a price in fen, optionally after a free
trial once per member. Periods stack: buying while a membership runs adds the period after its
end. Cancelling ends it today and refunds nothing (``none``) or the unused part of what was paid
(``prorated``: whole periods not begun, and the unused days of the current one).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

from pydantic import Field, StrictBool, StrictInt, model_validator

from chalicelib.db.versioned import VersionedConfig
from chalicelib.shared.types import Strict, unique_by
from chalicelib.tiers.ladder import Code, period_end

MONTHS = {"month": 1, "quarter": 3, "year": 12}


class Plan(Strict):
    code: str = Code
    name: str = Field(min_length=1, max_length=64, description="e.g. PLUS 年卡")
    period: Literal["month", "quarter", "year"]
    price_fen: StrictInt = Field(ge=1, le=10**8, description="the price of one period, in fen")
    trial_days: StrictInt = Field(0, ge=0, le=90, description="a free trial, once per member and plan")
    benefits: list[str] = Field([], max_length=20,
                                description="labels of what the plan gives (the benefits engine grants them)")
    on_sale: StrictBool = Field(True, description="false: kept for members who hold it, not sold any more")


class Plans(Strict):
    plans: list[Plan] = Field([], max_length=20)
    refund_policy: Literal["none", "prorated"] = Field("none", description="what a cancellation refunds")

    @model_validator(mode="after")
    def _unique(self) -> Plans:
        unique_by(self.plans, "code", "plan codes")
        return self

    def get(self, code: str) -> Plan | None:
        """The plan ``code``, or None."""
        return next((p for p in self.plans if p.code == code), None)


# A plan taken off sale is still provided: members hold it, and rules may still name it.
PLANS = VersionedConfig("membership-plans", Plans, Plans, "membership.plans_changed", "program:memberships",
                        provides={"plan": lambda plans: {p.code for p in plans.plans}})


def next_period(plan: Plan, start: date, trial: bool = False) -> tuple[date, date]:
    """The first and last day of one period of ``plan`` (or of its trial) beginning on ``start``."""
    if trial:
        return start, start + timedelta(days=plan.trial_days - 1)
    return start, period_end(start, MONTHS[plan.period])


def refund_fen(periods: list[dict[str, Any]], today: date) -> int:
    """What a prorated cancellation on ``today`` gives back: periods not begun in full, and the
    days after today of the one running, in proportion. Only what was paid comes back: a period
    with no payment reference (a trial, or one recorded before purchases required a payment)
    refunds nothing, and no period refunds more than its own price."""
    total = 0
    for p in periods:
        start, end, price = date.fromisoformat(p["start"]), date.fromisoformat(p["end"]), int(p["price_fen"])
        if price <= 0 or end <= today or p.get("trial") or not p.get("payment_ref"):
            continue
        if start > today:
            total += price
        else:
            days = (end - start).days + 1
            total += price * (end - today).days // days
    return total
