"""A Hypothesis state machine drives growth earnings, refunds, manual floors and the passing of
days (the tier-review job runs every day) through the whole app, and checks after every step
that the member's tier, validity, growth and period growth are what a model of the ladder's
rules says (issue #11's correctness bar). The model is written from the rules as the issue and
the README state them, not from the code: a ladder of four tiers, drawn policies (one step or by
growth, grace days, growth carried over or reset)."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, timedelta

import pytest
from chalice.test import Client
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from chalicelib.events import dispatch
from tests.integration import machines
from tests.integration.machines import last_day
from tests.outbox import outbox_events

START = datetime(2026, 1, 30, 4, 0, tzinfo=UTC)          # noon in Shanghai; a month end is near
TIERS = [("V1", 0, None, 0), ("V2", 100, 1, 60), ("V3", 300, 2, 150), ("V4", 800, 1, 400)]   # code, threshold, months, keep


class Model:
    def __init__(self, today: date, downgrade: str, grace: int, reset: bool) -> None:
        self.downgrade, self.grace, self.reset = downgrade, grace, reset
        self.tier, self.valid_until, self.grace_until = 0, None, None
        self.period_start, self.period_growth = today, 0
        self.manual: tuple[int, date] | None = None
        self.regain: int | None = None      # the highest tier a downgrade left (re-earned by its keep)
        self.lots: dict[str, dict] = {}     # order -> earned day, growth, clawed, amount, refunded
        self.available = self.debt = 0
        self.recorded: list[tuple[date, int]] = []     # every growth change but resets, by the day made
        self.cut: date | None = None        # the first day of the period of the last reset

    @property
    def growth(self) -> int:
        return self.available - self.debt

    def counted(self, before: date | None = None) -> int:
        return sum(n for day, n in self.recorded if before is None or day < before)

    def held(self, today: date) -> int:
        if self.manual and self.manual[1] >= today and self.manual[0] > self.tier:
            return self.manual[0]
        return self.tier

    def _move(self, to: int, start: date) -> None:
        if to < self.tier:
            self.regain = max(self.tier, -1 if self.regain is None else self.regain)
        elif self.regain is not None and to >= self.regain:
            self.regain = None
        self.tier, self.period_start, self.period_growth, self.grace_until = to, start, 0, None
        months = TIERS[to][2]
        self.valid_until = last_day(start, months) if months else None

    def earn(self, order: str, yuan: int, today: date) -> None:
        repaid = min(self.debt, yuan)
        self.debt -= repaid
        self.available += yuan - repaid
        self.recorded.append((today, yuan))
        self.lots[order] = {"day": today, "clawed": 0, "growth": yuan, "amount": yuan * 100, "refunded": 0}
        # a tier up to the one a downgrade left is regained only by growth earned since (its keep)
        period = self.period_growth + yuan
        ceiling = self.tier if self.regain is None else self.regain
        reached = max(i for i, t in enumerate(TIERS) if i <= self.tier or (
            t[1] <= max(self.growth, 0) and (i > ceiling or period >= t[3])))
        if reached > self.tier:
            self._move(reached, today)
        else:
            self.period_growth = period

    def refund(self, order: str, fen: int, today: date) -> None:
        lot = self.lots[order]
        lot["refunded"] += fen
        claw = lot["growth"] * lot["refunded"] // lot["amount"] - lot["clawed"]
        lot["clawed"] += claw
        if claw <= 0 or (self.cut is not None and lot["day"] < self.cut):     # a reset expired it: not again
            return
        took = min(self.available, claw)
        self.available -= took
        self.debt += claw - took
        self.recorded.append((today, -claw))
        self.period_growth -= claw

    def review(self, today: date) -> None:
        if self.manual and self.manual[1] < today:
            self.manual = None
        end = self.grace_until or self.valid_until
        if self.valid_until is None or end is None or end >= today:
            return
        next_start = self.valid_until + timedelta(days=1)
        keep = TIERS[self.tier][3]
        if self.period_growth >= keep:
            self._move(self.tier, next_start)
        elif self.grace and self.grace_until is None:
            self.grace_until = self.valid_until + timedelta(days=self.grace)
            self._reset(next_start)         # when the grace begins: what is recorded in it stays
            return
        elif self.downgrade == "one_step":
            self._move(self.tier - 1, next_start)
        else:
            self._move(max((i for i in range(self.tier) if self.period_growth >= TIERS[i][3]), default=0), next_start)
        self._reset(next_start)

    def _reset(self, start: date) -> None:
        """Under reset, what was recorded before ``start`` expires, once (the reviews run daily)."""
        if self.reset and self.recorded and (self.cut is None or self.cut < start):
            expired = max(0, min(self.available, self.growth - (self.counted() - self.counted(start))))
            self.available -= expired
            self.cut = start


class TierMachine(RuleBasedStateMachine):
    backend = "memory"

    def __init__(self) -> None:
        super().__init__()
        from chalicelib.shared import clock
        self.restore = machines.use(self.backend)
        from tests.integration.conftest import seed_merchants
        seed_merchants()
        import app
        from chalicelib.shared.credentials import mint_token
        self.clock, self.now = clock, START
        clock.freeze(self.now)
        self.client = Client(app.app)
        self.staff = {"Authorization": "Bearer " + mint_token("staff", "t", 60 * 24 * 4000, role="super_admin",
                                                              merchant_id="m1"), "Content-Type": "application/json"}
        self.n = 0
        self.delivered: set[str] = set()
        self.member = self.send("post", "/v1/members", {"phone": "13800138000"})["member_id"]

    def teardown(self) -> None:
        self.clock.freeze(None)
        self.restore()

    # helpers ------------------------------------------------------------------------------------
    def send(self, method: str, path: str, body: dict) -> dict:
        self.n += 1
        r = getattr(self.client.http, method)(path, headers={**self.staff, "Idempotency-Key": f"k{self.n}"},
                                              body=json.dumps(body))
        assert r.status_code < 300, (path, r.status_code, r.body)
        return json.loads(r.body)

    def deliver(self) -> None:
        from chalicelib.db import backend
        fresh = [e for e in outbox_events(None, backend=backend.current()) if e.id not in self.delivered]
        for event in sorted(fresh, key=lambda e: (e.occurred_at, e.id)):
            dispatch.dispatch(event)
            self.delivered.add(event.id)

    @property
    def today(self) -> date:
        return self.clock.program_date()

    # rules --------------------------------------------------------------------------------------
    @initialize(downgrade=st.sampled_from(["one_step", "by_growth"]), grace=st.sampled_from([0, 10]),
                reset=st.booleans())
    def ladder(self, downgrade, grace, reset):
        tiers = [{"code": c, "name": c, "threshold": t, **({"validity_months": m, "retain": k} if m else {})}
                 for c, t, m, k in TIERS]
        self.send("put", "/v1/tiers/ladder", {"ladder": {
            "tiers": tiers, "downgrade": downgrade, "grace_days": grace,
            "growth_at_period_end": "reset" if reset else "carry_over"}, "effective_from": "2026-01-01T00:00:00Z"})
        self.model = Model(self.today, downgrade, grace, reset)

    @rule(yuan=st.integers(min_value=1, max_value=600))
    def earn(self, yuan):
        order = f"o{len(self.model.lots)}"
        self.send("post", f"/v1/members/{self.member}/points/earn",
                  {"order_id": order, "amount_fen": yuan * 100, "merchant_id": "m1"})
        self.deliver()
        self.model.earn(order, yuan, self.today)

    @precondition(lambda self: any(lot["refunded"] < lot["amount"] for lot in self.model.lots.values()))
    @rule(pick=st.integers(min_value=0, max_value=10**6), share=st.integers(min_value=1, max_value=100))
    def refund(self, pick, share):
        open_orders = sorted(o for o, lot in self.model.lots.items() if lot["refunded"] < lot["amount"])
        order = open_orders[pick % len(open_orders)]
        lot = self.model.lots[order]
        fen = max(1, (lot["amount"] - lot["refunded"]) * share // 100)
        self.send("post", f"/v1/orders/{order}/refunds", {"refund_id": f"r{self.n}", "amount_fen": fen,
                                                          "merchant_id": "m1"})
        self.deliver()
        self.model.refund(order, fen, self.today)

    @rule(days=st.integers(min_value=1, max_value=40))
    def days_pass(self, days):
        from chalicelib import jobs
        for _ in range(days):
            self.now += timedelta(days=1)
            self.clock.freeze(self.now)
            jobs.run("tier-review", self.now)
            self.model.review(self.today)

    @rule(tier=st.integers(min_value=0, max_value=3), days=st.integers(min_value=0, max_value=60))
    def manual_floor(self, tier, days):
        until = self.today + timedelta(days=days)
        self.send("put", f"/v1/members/{self.member}/tier", {"tier": TIERS[tier][0], "until": until.isoformat(),
                                                             "reason": "test"})
        self.model.manual = (tier, until)

    @precondition(lambda self: hasattr(self, "model"))
    @invariant()
    def tier_is_the_models(self) -> None:
        seen = json.loads(self.client.http.get(f"/v1/members/{self.member}/tier", headers=self.staff).body)
        m = self.model
        want = {"tier": TIERS[m.held(self.today)][0], "earned": TIERS[m.tier][0],
                "valid_until": m.valid_until.isoformat() if m.valid_until else None,
                "grace_until": m.grace_until.isoformat() if m.grace_until else None,
                "growth": m.growth, "period_growth": m.period_growth}
        got = {"tier": seen["tier"]["code"], "earned": seen["earned_tier"], "valid_until": seen["valid_until"],
               "grace_until": seen["grace_until"], "growth": seen["growth"], "period_growth": seen["period_growth"]}
        assert got == want, (self.today, got, want)


TestTiers = TierMachine.TestCase
NIGHTLY = os.environ.get("TIERS_MACHINE") == "nightly"
TestTiers.settings = settings(max_examples=machines.examples(100, NIGHTLY, mutation=20), stateful_step_count=30 if NIGHTLY else 20,
                              derandomize=not NIGHTLY, deadline=None, database=None,
                              suppress_health_check=list(HealthCheck))
TestTiers = pytest.mark.timeout(7200 if NIGHTLY else 600)(TestTiers)
