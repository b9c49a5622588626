"""Growth value (the tiers' currency) as the documented rules say a member holds it: the model
the points state machine checks the app against, written from docs/operators/points.md and
docs/operators/tiers.md, not from the code.

- An order earns floor(paid fen x ``growth_per_yuan`` / 100) growth (default 1 per yuan), in a
  lot of its own that never expires by date; growth is never spendable, so no spend or hold
  takes it. New growth repays growth owed first, as new points repay points owed.
- A refund claws back the order's refunded share of its growth, cumulatively and rounded down
  once, from the order's own lot. What a tier period's reset expired of that lot is not clawed
  back again (``already_expired``); what the lot no longer holds otherwise (a manual removal
  took it, or the earn repaid debt with it) is owed (``debt``, the default policy).
- A manual adjustment adds a lot or takes from the lots, soonest-expiring first: growth lots all
  end never, so the earliest first. A removal beyond the balance is refused.
- A task (an order in the month, reward :data:`TASK_GROWTH`) grants its growth once per program
  month, when the order's ``order.earned`` reaches the tasks.
- The ladder (:data:`LADDER`): V1 the base tier, V2 from 1 growth, held a month from the day it
  is reached, kept by any period growth of 0 or more (retain 0), growth reset at a period's
  end. The ``tier-review`` job reviews a period that ended; under reset, growth recorded before
  the new period's first day (midnight in Asia/Shanghai) expires then, and growth recorded
  since stays. A growth change counts in the period it is recorded in; growth that reaches V2
  starts a period with none counted yet; a period whose growth is below 0 (refunds) ends in a
  downgrade to V1, and V2 is regained by growth (net of refunds) of 0 or more since.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from tests.integration.machines import last_day

CHINA = timedelta(hours=8)              # the program's days are Asia/Shanghai days (no summer time)
TASK_GROWTH = 7
LADDER = {"tiers": [{"code": "V1", "name": "V1", "threshold": 0},
                    {"code": "V2", "name": "V2", "threshold": 1, "validity_months": 1, "retain": 0}],
          "downgrade": "one_step", "grace_days": 0, "growth_at_period_end": "reset"}
TASKS = {"tasks": [{"id": "first-order", "name": "an order this month", "kind": "orders", "target": 1,
                    "period": "month", "reward": {"growth": TASK_GROWTH}}]}


def program_day(at: datetime) -> date:
    return (at + CHINA).date()


def day_start(day: date) -> datetime:
    """The instant a program day begins, in UTC."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC) - CHINA


@dataclass
class Lot:
    at: datetime                 # when it was recorded
    remaining: int
    order: str | None = None


class GrowthModel:
    def __init__(self) -> None:
        self.lots: list[Lot] = []            # in the order they were made
        self.debt = 0
        self.orders: dict[str, dict] = {}    # order -> growth, amount, refunded, clawed, expired, lot
        self.rewarded: set[str] = set()      # the program months the task rewarded
        # The member's tier: none until the first growth change; then (tier, period) as the ladder says.
        self.has_tier = False
        self.tier, self.period_start, self.valid_until, self.period_growth = 0, None, None, 0
        self.regain = False                  # a downgrade left V2: regained only by the period's growth
        self.resets = self.excused = self.owed = self.downgrades = 0     # how often each path ran

    @property
    def balance(self) -> int:
        return sum(lot.remaining for lot in self.lots) - self.debt

    # --- what the member does ---------------------------------------------------------------
    def earn(self, order: str, amount_fen: int, at: datetime) -> int:
        """An order recorded at ``at``: its growth (what the earn reply says), and the task's."""
        growth = amount_fen * 1 // 100                      # growth_per_yuan "1", rounded down
        lot = self._add(growth, at, order)
        self.orders[order] = {"growth": growth, "amount": amount_fen, "refunded": 0, "clawed": 0, "expired": 0,
                              "lot": lot}
        month = program_day(at).strftime("%Y-%m")
        if month not in self.rewarded:                      # the task: once a month
            self.rewarded.add(month)
            self._add(TASK_GROWTH, at)
        return growth

    def refund(self, order: str, amount_fen: int, at: datetime) -> int:
        """A refund of ``amount_fen`` more of the order: the growth it claws back (the reply's)."""
        o = self.orders[order]
        o["refunded"] += amount_fen
        claw = o["growth"] * o["refunded"] // o["amount"] - o["clawed"]
        if claw <= 0:
            return 0
        o["clawed"] += claw
        lot: Lot = o["lot"]
        took = min(lot.remaining, claw)
        lot.remaining -= took
        excused = min(claw - took, o["expired"])            # reset already: not taken again
        o["expired"] -= excused
        owed = claw - took - excused
        self.debt += owed
        self.excused += excused
        self.owed += owed
        self._count(-(took + owed), at)
        return claw - excused

    def adjust(self, points: int, at: datetime) -> bool:
        """A manual adjustment: whether it is accepted."""
        if points > 0:
            self._add(points, at)
            return True
        if -points > self.balance:
            return False
        want = -points
        for lot in self.lots:                               # the earliest first
            took = min(lot.remaining, want)
            lot.remaining -= took
            want -= took
        self._count(points, at)
        return True

    def review(self, today: date) -> None:
        """The tier-review job, run until nothing is due on ``today``."""
        while self.tier == 1 and self.valid_until is not None and self.valid_until < today:
            next_start = self.valid_until + timedelta(days=1)
            if self.period_growth >= 0:                     # retained (retain 0)
                self._period(1, next_start)
            else:
                self.downgrades += 1
                self.regain = True
                self._period(0, next_start)
            cut = day_start(next_start)
            for lot in self.lots:
                if lot.at < cut and lot.remaining:
                    self.resets += 1
                    if lot.order is not None:
                        self.orders[lot.order]["expired"] += lot.remaining
                    lot.remaining = 0

    def owing(self) -> list[str]:
        """The orders not refunded in full whose lot holds less than their growth not yet clawed
        back, none of it reset: a refund of them owes growth."""
        return sorted(k for k, o in self.orders.items() if o["refunded"] < o["amount"] and not o["expired"]
                      and o["lot"].remaining < o["growth"] - o["clawed"])

    # --- the rules' arithmetic ----------------------------------------------------------------
    def _add(self, growth: int, at: datetime, order: str | None = None) -> Lot:
        repaid = min(self.debt, growth)
        self.debt -= repaid
        lot = Lot(at, growth - repaid, order)
        self.lots.append(lot)
        self._count(growth, at)
        return lot

    def _count(self, change: int, at: datetime) -> None:
        """A growth change reaches the tiers: counted in its period; V2 reached."""
        if change == 0:
            return
        day = program_day(at)
        if not self.has_tier:
            self.has_tier, self.period_start = True, day
        if day >= self.period_start:
            self.period_growth += change
        if change > 0 and self.tier == 0 and self.balance >= 1 and (not self.regain or self.period_growth >= 0):
            self.regain = False
            self._period(1, day)

    def _period(self, tier: int, start: date) -> None:
        self.tier, self.period_start, self.period_growth = tier, start, 0
        self.valid_until = last_day(start, 1) if tier else None

    def tier_view(self) -> dict:
        """What getMemberTier should say."""
        return {"earned_tier": LADDER["tiers"][self.tier]["code"],
                "valid_until": self.valid_until.isoformat() if self.valid_until else None,
                "growth": self.balance, "period_growth": self.period_growth}
