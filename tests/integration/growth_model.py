"""Growth value (the tiers' currency) as the documented rules say a member holds it: the model
the points state machine checks the app against, written from docs/operators/points.md and
docs/operators/tiers.md, not from the code.

- An order earns floor(paid fen x ``growth_per_yuan`` / 100) growth (default 1 per yuan), into
  the member's growth balance; growth is never spendable, so no spend or hold takes it. New
  growth repays growth owed first, as new points repay points owed.
- A refund claws back the order's refunded share of its growth, cumulatively and rounded down
  once, from the balance; what the balance does not hold is owed (``debt``, the default policy).
  An order whose growth was recorded before the last reset's cut had it reset: its refunds take
  none of it back (``already_expired``).
- A manual adjustment adds growth or removes it from the balance; a removal beyond the balance
  is refused.
- A task (an order in the month, reward :data:`TASK_GROWTH`) grants its growth once per program
  month, when the order's ``order.earned`` reaches the tasks.
- The ladder (:data:`LADDER`): V1 the base tier, V2 from 1 growth, held a month from the day it
  is reached, kept by any period growth of 0 or more (retain 0), growth reset at a period's
  end. The ``tier-review`` job reviews a period that ended (and so does a growth change recorded
  after the period's end that reaches the tiers first: the review counts it, and it moves the
  tier no further); under reset, the growth recorded before the new period's first day
  (midnight in Asia/Shanghai) expires then: the balance less the net growth recorded since that
  day (counting only the 7 days before the review's day if it ran later than that: what was
  recorded before them counts as before the cut), never below 0 nor beyond what the member
  holds. The cut is noted whatever expired, and a refund of an order recorded before it takes
  nothing back. A growth change
  counts in the period it is recorded in; growth that reaches V2 starts a period with none
  counted yet; a period whose growth is below 0 (refunds) ends in a downgrade to V1, and V2 is
  regained by growth (net of refunds) of 0 or more since.
"""

from __future__ import annotations

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


RECENT_DAYS = 7


class GrowthModel:
    def __init__(self) -> None:
        self.available = 0
        self.debt = 0
        self.recorded: list[tuple[datetime, int]] = []    # every change to the balance but resets, when made
        self.cut: datetime | None = None     # the last reset's cut that expired growth
        self.orders: dict[str, dict] = {}    # order -> growth, amount, refunded, clawed, at
        self.rewarded: set[str] = set()      # the program months the task rewarded
        # The member's tier: none until the first growth change; then (tier, period) as the ladder says.
        self.has_tier = False
        self.tier, self.period_start, self.valid_until, self.period_growth = 0, None, None, 0
        self.regain = False                  # a downgrade left V2: regained only by the period's growth
        self.resets = self.excused = self.owed = self.downgrades = 0     # how often each path ran
        self.replied = 0                     # the balance the last change's reply said

    @property
    def balance(self) -> int:
        return self.available - self.debt

    # --- what the member does ---------------------------------------------------------------
    def earn(self, order: str, amount_fen: int, at: datetime) -> int:
        """An order recorded at ``at``: its growth (what the earn reply says), and the task's."""
        growth = amount_fen * 1 // 100                      # growth_per_yuan "1", rounded down
        if growth:
            self._add(growth, at)
        self.orders[order] = {"growth": growth, "amount": amount_fen, "refunded": 0, "clawed": 0, "at": at}
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
        if self.expired_order(order):                       # a reset expired it: not taken again
            self.excused += 1
            return 0
        took = min(self.available, claw)
        self.available -= took
        self.debt += claw - took
        self.owed += claw > took
        self._count(-claw, at)
        return claw

    def expired_order(self, order: str) -> bool:
        return self.cut is not None and self.orders[order]["at"] < self.cut

    def adjust(self, points: int, at: datetime) -> bool:
        """A manual adjustment: whether it is accepted."""
        if points > 0:
            self._add(points, at)
            return True
        if -points > self.balance:
            return False
        self.available += points
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
            # what was recorded before the new period's first day expires (before the 7 days
            # kept, if the review is later than them); the cut is noted whatever expired
            since = max(next_start, today - timedelta(days=RECENT_DAYS))
            if self.recorded and (self.cut is None or self.cut < day_start(next_start)):
                recent = sum(change for at, change in self.recorded if program_day(at) >= since)
                expired = max(0, min(self.available, self.balance - recent))
                self.resets += bool(expired)
                self.available -= expired
                self.cut = day_start(since) if self.cut is None else max(self.cut, day_start(since))

    def owing(self) -> list[str]:
        """The orders not refunded in full, not expired by a reset, whose growth not yet clawed back
        is more than the balance holds: a refund of them may owe growth."""
        return sorted(k for k, o in self.orders.items() if o["refunded"] < o["amount"] and not self.expired_order(k)
                      and self.available < o["growth"] - o["clawed"])

    # --- the rules' arithmetic ----------------------------------------------------------------
    def _add(self, growth: int, at: datetime) -> None:
        repaid = min(self.debt, growth)
        self.debt -= repaid
        self.available += growth - repaid
        self._count(growth, at)

    def _count(self, change: int, at: datetime) -> None:
        """A growth change reaches the tiers: counted in its period; V2 reached."""
        if change == 0:
            return
        self.replied = self.balance          # what the change's reply says (before the stream's review)
        self.recorded.append((at, change))
        day = program_day(at)
        if not self.has_tier:
            self.has_tier, self.period_start = True, day
        if day >= self.period_start:
            self.period_growth += change
        if self.tier == 1 and self.valid_until is not None and self.valid_until < day:
            self.review(day)        # the stream reviews an ended period first; the review counted this change
            return
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
