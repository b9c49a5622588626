"""The tier ladder ops configure (versioned like the earn rules), and the arithmetic on it, with
no I/O: which tier a growth value reaches, what a validity period's growth keeps (a save also
checks that it drops no tier members hold: :func:`held_codes_dropped`).

Tiers are ordered by their entry threshold on growth value; the first is the base tier
(threshold 0, never reviewed) every member holds. A tier with ``validity_months`` is held for
that many months from the day it is reached, then reviewed: kept for another period when the
period's growth meets ``retain`` (default: its threshold), otherwise lowered by ``downgrade``.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Literal

from pydantic import Field, StrictBool, StrictInt, model_validator

from chalicelib.db.uow import UnitOfWork
from chalicelib.db.versioned import VersionedConfig
from chalicelib.shared import clock
from chalicelib.shared.types import Strict, unique_by

Code = Field(pattern=r"^[A-Za-z0-9_\-]{1,32}$", description="the tier's code, e.g. V3")


class TierDef(Strict):
    code: str = Code
    name: str = Field(min_length=1, max_length=64, description="shown to members, e.g. 黄金会员 / Gold")
    threshold: StrictInt = Field(ge=0, le=10**9, description="growth value that reaches the tier")
    validity_months: StrictInt | None = Field(None, ge=1, le=120, description="months the tier is held from the "
                                              "day it is reached or kept; none: held for good (the base tier)")
    retain: StrictInt | None = Field(None, ge=0, le=10**9, description="growth within one validity period that "
                                     "keeps the tier for another (default: its threshold)")

    @property
    def keep(self) -> int:
        """Growth in a period that keeps the tier."""
        return self.threshold if self.retain is None else self.retain


class Ladder(Strict):
    tiers: list[TierDef] = Field(min_length=1, max_length=20, description="lowest first; the first is the base tier")
    downgrade: Literal["one_step", "by_growth"] = Field(
        "one_step", description="at a period's end without enough growth: down one tier, or to the highest "
                                "tier whose retention the period's growth meets")
    grace_days: StrictInt = Field(0, ge=0, le=365, description="days past the validity end to reach the retention "
                                  "before the downgrade; the tier is kept meanwhile")
    growth_at_period_end: Literal["carry_over", "reset"] = Field(
        "carry_over", description="reset: growth earned before a period's end expires with it (an expiry "
                                  "posting on the growth ledger)")
    reminder_days: list[StrictInt] = Field([30, 7], max_length=5, description="days before a validity end "
                                           "that a tier.expiring event is sent (a notice to the member)")
    downgrade_on_refund: StrictBool = Field(False, description="a refund that takes growth back below the tier's "
                                            "threshold lowers the tier at once (default: never mid-period)")

    @model_validator(mode="after")
    def _ordered(self) -> Ladder:
        if self.tiers[0].threshold != 0 or self.tiers[0].validity_months is not None:
            raise ValueError("the first tier is the base tier: threshold 0 and no validity_months")
        for lower, higher in zip(self.tiers, self.tiers[1:], strict=False):
            if higher.threshold <= lower.threshold:
                raise ValueError(f"thresholds must increase: {higher.code} ({higher.threshold}) is not above "
                                 f"{lower.code} ({lower.threshold})")
        if any(not 1 <= d <= 366 for d in self.reminder_days):
            raise ValueError("reminder_days are between 1 and 366")
        unique_by(self.tiers, "code", "tier codes")
        return self

    def has(self, code: str | None) -> bool:
        """Whether ``code`` is a tier of this ladder."""
        return any(tier.code == code for tier in self.tiers)

    def index(self, code: str | None) -> int:
        """The tier's position (0 = base); a code no longer on the ladder counts as the base."""
        for i, tier in enumerate(self.tiers):
            if tier.code == code:
                return i
        return 0

    def reached(self, growth: int) -> int:
        """The highest tier whose threshold ``growth`` meets."""
        return max(i for i, tier in enumerate(self.tiers) if tier.threshold <= growth)

    def after_period(self, current: int, period_growth: int) -> int:
        """The tier held after a validity period of ``current`` with ``period_growth``."""
        if period_growth >= self.tiers[current].keep or current == 0:
            return current
        if self.downgrade == "one_step":
            return current - 1
        kept = [i for i in range(current) if period_growth >= self.tiers[i].keep]
        return max(kept, default=0)


def default_ladder() -> Ladder:
    """Before ops save a ladder: everyone holds one base tier."""
    return Ladder(tiers=[TierDef(code="V1", name="Member", threshold=0)])


def held_codes_dropped(uow: UnitOfWork, body: Ladder) -> list[str]:
    """What a new ladder would take from members (a save's check, ``records``): a tier above the
    base one in the ladder in force or one to come, no longer in ``body``, that members hold (its
    members' listing, ``TIERMEMBERS#<tier>#<shard>``, has one: at most a Query of one item per
    shard). Its holders would fall to the base tier and start their period again (attack G
    finding 2): keep the code, and change the tier's name."""
    from chalicelib.tiers.tables import LISTING_SHARDS, TierMemberItem
    kept = {t.code for t in body.tiers}
    dropped = sorted({t.code for _, ladder in LADDER.from_on(uow, clock.now()) for t in ladder.tiers[1:]} - kept)
    return [f"tier '{code}' is held by members: keep its code (change its name instead)" for code in dropped
            if any(list(uow.query(TierMemberItem, TierMemberItem.partition(code, shard), limit=1, consistent=True))
                   for shard in range(LISTING_SHARDS))]


LADDER = VersionedConfig("tier-ladder", Ladder, default_ladder, "tier.ladder_changed", "program:tiers",
                         provides={"tier": lambda ladder: {t.code for t in ladder.tiers}},
                         records=held_codes_dropped)


def add_months(day: date, months: int) -> date:
    """``day`` moved ``months`` calendar months on (the 31st becomes the month's last day)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def period_end(start: date, months: int) -> date:
    """The last day of a validity period of ``months`` starting on ``start``."""
    return add_months(start, months) - timedelta(days=1)
