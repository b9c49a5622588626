"""A Hypothesis state machine over coupons through the whole app: claims and staff issues (within
the stock and the per-member limits, in all and per day), write-offs at a till (the threshold,
the percentage and its cap, the money budget), undone write-offs (given back while still valid,
or void, per the template), stock added and removed, days passing the expiry job and checkout locks. A model
written from the rules (not the code) says after every step what each coupon's state is, what
is left of each stock, and how much of the budget is used: stock + issued = what was made, no
member passes a limit, a locked coupon is used by no other till and its saving holds its place in
the budget until confirmed, cancelled or lapsed, the budget is never exceeded, every coupon is in exactly one state.

Validity: ``days_after_claim`` N ends at local midnight after the Nth day, the claim's day being
the first; the clock moves in whole days from noon in Shanghai, so a coupon claimed on day D is
usable while today < D + N and the expiry job expires it from day D + N."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import pytest
from chalice.test import Client
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tests.integration import machines

START = datetime(2026, 5, 4, 4, 0, tzinfo=UTC)        # a Monday, noon in Shanghai
TEMPLATES = {
    # 满100减20: threshold 100.00, 20.00 off; a budget of 50.00 takes two uses; given back on refund
    "t1": {"terms": {"kind": "amount_off", "title": "满100减20", "amount_off_fen": 2_000, "min_spend_fen": 10_000,
                     "validity": {"days_after_claim": 5}},
           "stock": 5, "per_member_limit": 2, "budget_fen": 5_000, "on_refund": "restore"},
    # 8折 capped at 30.00, one a day, void on refund
    "t2": {"terms": {"kind": "percent_off", "title": "8折", "percent": 80, "cap_fen": 3_000,
                     "validity": {"days_after_claim": 3}},
           "stock": 4, "per_member_limit": 3, "per_member_daily_limit": 1, "on_refund": "void"},
}
MEMBERS = 2
# order amounts: around t1's threshold (100.00) and t2's cap (30.00 is 20% of 150.00), and any other
AMOUNTS = st.one_of(st.sampled_from([9_999, 10_000, 12_345, 15_000, 20_000]), st.integers(100, 30_000))


class Model:
    def __init__(self) -> None:
        self.today = START.date()
        self.left = {t: s["stock"] for t, s in TEMPLATES.items()}
        self.made = dict(self.left)
        self.coupons: list[dict] = []        # template, member, claimed day, state, saving, order
        self.budget_used = 0

    def count(self, t: str, m: int, day=None) -> int:
        return sum(1 for c in self.coupons if c["t"] == t and c["m"] == m and (day is None or c["day"] == day))

    def valid(self, c: dict) -> bool:
        n = TEMPLATES[c["t"]]["terms"]["validity"]["days_after_claim"]
        return (self.today - c["day"]).days < n

    @staticmethod
    def saving(t: str, amount: int) -> int | None:
        if t == "t1":
            return 2_000 if amount >= 10_000 else None
        return min(amount * 20 // 100, 3_000)


class CouponMachine(RuleBasedStateMachine):
    backend = "memory"

    def __init__(self) -> None:
        super().__init__()
        from chalicelib.shared import clock
        from chalicelib.shared.credentials import mint_token
        self.restore = machines.use(self.backend)
        from tests.integration.conftest import seed_merchants
        seed_merchants()
        import app
        self.clock = clock
        clock.freeze(START)
        self.client = Client(app.app)
        self.hq = mint_token("staff", "hq", 60 * 24 * 400, role="super_admin", merchant_id="m1")
        self.till = mint_token("staff", "clerk", 60 * 24 * 400, role="clerk", merchant_id="m1", store_id="s1")
        self.platform = mint_token("staff", "platform", 60 * 24 * 400, role="platform_admin")
        self.n = 0
        self.model = Model()
        self.templates = {t: self.send("post", "/v1/coupon-templates", {**s, "state": "active"})[1]["template_id"]
                          for t, s in TEMPLATES.items()}
        self.members = [self.send("post", "/v1/members", {"phone": f"1380013800{i}"})[1]["member_id"]
                        for i in range(MEMBERS)]
        self.tokens = [mint_token("member", m, 60 * 24 * 400) for m in self.members]
        self.ids: list[tuple[str, str]] = []     # (member id, coupon id), as the model's coupons
        self.codes: list[str] = []

    def teardown(self) -> None:
        self.clock.freeze(None)
        self.restore()

    def send(self, method: str, path: str, body: dict | None, token: str | None = None,
             key: str | None = None) -> tuple[int, dict]:
        self.n += 1
        caller = self.platform if path.startswith("/v1/jobs/") else token or self.hq
        headers = {"Authorization": "Bearer " + caller, "Content-Type": "application/json",
                   "Idempotency-Key": key or f"k{self.n}"}
        r = getattr(self.client.http, method)(path, headers=headers, body=json.dumps(body) if body is not None else None)
        assert r.status_code < 500, r.body
        return r.status_code, json.loads(r.body)

    # rules ----------------------------------------------------------------------------------------
    @rule(t=st.sampled_from(sorted(TEMPLATES)), m=st.integers(0, MEMBERS - 1), by_staff=st.booleans())
    def claim(self, t, m, by_staff):
        s, model = TEMPLATES[t], self.model
        over_limit = model.count(t, m) >= s["per_member_limit"] or (
            "per_member_daily_limit" in s and model.count(t, m, model.today) >= s["per_member_daily_limit"])
        status, reply = self.send("post", f"/v1/members/{self.members[m]}/coupons", {"template_id": self.templates[t]},
                                  token=self.hq if by_staff else self.tokens[m])
        if model.left[t] == 0 or over_limit:
            assert status == 409, reply
            wanted = ({"/stock-exhausted"} if model.left[t] == 0 else set()) | (
                {"/coupon-limit-reached"} if over_limit else set())
            assert reply["type"].endswith(tuple(wanted)), (reply, wanted)
            return
        assert status == 201, reply
        model.left[t] -= 1
        model.coupons.append({"t": t, "m": m, "day": model.today, "state": "unused", "saving": 0, "order": None})
        self.ids.append((self.members[m], reply["coupon_id"]))
        self.codes.append(reply["code"])

    @precondition(lambda self: self.model.coupons)
    @rule(data=st.data(), amount=AMOUNTS)
    def write_off(self, data, amount):
        i = data.draw(st.integers(0, len(self.model.coupons) - 1))
        c, model = self.model.coupons[i], self.model
        order = f"o{self.n}"
        status, reply = self.send("post", "/v1/coupons/write-offs", {"code": self.codes[i], "order_id": order,
                                                                     "order_amount_fen": amount}, token=self.till)
        saving = model.saving(c["t"], amount)
        budget = TEMPLATES[c["t"]].get("budget_fen")
        if c["state"] != "unused" or not model.valid(c) or saving is None:
            assert status == 409 and reply["type"].endswith(("/coupon-used", "/coupon-not-usable")), reply
            return
        if budget is not None and model.budget_used + saving > budget:
            assert status == 409 and reply["type"].endswith("/coupon-budget-exhausted"), reply
            return
        assert status == 201 and reply["saving"]["fen"] == saving, (reply, saving)
        c.update(state="used", saving=saving, order=order)
        if budget is not None:
            model.budget_used += saving

    @precondition(lambda self: self.model.coupons)
    @rule(data=st.data(), amount=AMOUNTS)
    def lock(self, data, amount):
        i = data.draw(st.integers(0, len(self.model.coupons) - 1))
        c, model = self.model.coupons[i], self.model
        status, reply = self.send("post", "/v1/coupons/holds", {"code": self.codes[i], "order_id": f"l{self.n}",
                                                                "order_amount_fen": amount}, token=self.till)
        saving = model.saving(c["t"], amount)
        budget = TEMPLATES[c["t"]].get("budget_fen")
        if c["state"] != "unused" or not model.valid(c) or saving is None:
            assert status == 409, reply
            return
        if budget is not None and model.budget_used + saving > budget:
            assert status == 409 and reply["type"].endswith("/coupon-budget-exhausted"), reply
            return
        assert status == 201 and reply["saving_fen"] == saving, reply
        c.update(state="locked", saving=saving, order=reply["order_id"], hold=reply["hold_id"])
        if budget is not None:
            model.budget_used += saving

    @precondition(lambda self: any(c["state"] == "locked" for c in self.model.coupons))
    @rule(data=st.data(), confirm=st.booleans())
    def settle(self, data, confirm):
        c = data.draw(st.sampled_from([c for c in self.model.coupons if c["state"] == "locked"]))
        status, reply = self.send("post", f"/v1/coupons/holds/{c['hold']}/{'confirm' if confirm else 'cancel'}", {},
                                  token=self.till)
        assert status == 200, reply
        if confirm:
            c["state"] = "used"
            return
        if TEMPLATES[c["t"]].get("budget_fen") is not None:
            self.model.budget_used -= c["saving"]
        c.update(state="unused", saving=0, order=None)

    @precondition(lambda self: any(c["state"] == "used" for c in self.model.coupons))
    @rule(data=st.data())
    def undo(self, data):
        used = [i for i, c in enumerate(self.model.coupons) if c["state"] == "used"]
        i = data.draw(st.sampled_from(used))
        c = self.model.coupons[i]
        status, reply = self.send("post", "/v1/coupons/write-offs/undo", {"code": self.codes[i], "order_id": c["order"]},
                                  token=self.till)
        assert status == 200, reply
        back = TEMPLATES[c["t"]]["on_refund"] == "restore" and self.model.valid(c)
        assert reply["restored"] is back
        if TEMPLATES[c["t"]].get("budget_fen") is not None:
            self.model.budget_used -= c["saving"]
        c.update(state="unused" if back else "void", saving=0, order=None)

    @rule(days=st.integers(1, 3))
    def days_pass(self, days):
        self.model.today += timedelta(days=days)
        self.clock.freeze(START + (self.model.today - START.date()))
        status, reply = self.send("post", "/v1/jobs/coupon-holds/runs", {})       # every lock has lapsed
        assert status == 200, reply
        lapsed = [c for c in self.model.coupons if c["state"] == "locked"]
        assert reply["result"]["holds_released"] == len(lapsed), (reply, lapsed)
        for c in lapsed:
            if TEMPLATES[c["t"]].get("budget_fen") is not None:
                self.model.budget_used -= c["saving"]
            c.update(state="unused", saving=0, order=None)

    @rule()
    def expiry_job(self):
        status, reply = self.send("post", "/v1/jobs/coupon-expiry/runs", {})
        assert status == 200, reply
        expired = 0
        for c in self.model.coupons:
            if c["state"] == "unused" and not self.model.valid(c):
                c["state"] = "expired"
                expired += 1
        assert reply["result"]["expired"] == expired, (reply, expired)

    @rule(t=st.sampled_from(sorted(TEMPLATES)), units=st.integers(1, 3), add=st.booleans())
    def change_stock(self, t, units, add):
        status, reply = self.send("patch", f"/v1/coupon-templates/{self.templates[t]}",
                                  {"add_stock" if add else "remove_stock": units})
        if not add and units > self.model.left[t]:
            assert status == 409, reply
            return
        assert status == 200, reply
        self.model.left[t] += units if add else -units
        self.model.made[t] += units if add else -units

    # invariants -----------------------------------------------------------------------------------
    @invariant()
    def stock_and_coupons_are_as_the_model_says(self):
        for t, tid in self.templates.items():
            stock = self.send("get", f"/v1/coupon-templates/{tid}", None)[1]["stock"]
            issued = sum(1 for c in self.model.coupons if c["t"] == t)
            assert stock == {"total": self.model.made[t], "left": self.model.left[t], "taken": issued}, (t, stock)
            assert stock["left"] + issued == self.model.made[t]
        for (member, coupon), c in zip(self.ids, self.model.coupons, strict=True):
            shown = self.send("get", f"/v1/members/{member}/coupons/{coupon}", None)[1]
            assert shown["state"] == c["state"], (shown, c)
            assert shown["usable_now"] is (c["state"] == "unused" and self.model.valid(c)), (shown, c)
        assert self.model.budget_used <= TEMPLATES["t1"]["budget_fen"]
        from chalicelib.coupons.tables import BudgetItem
        from chalicelib.db.uow import UnitOfWork
        from chalicelib.ledger import counters
        assert counters.total(UnitOfWork(), BudgetItem, BudgetItem.key(self.templates["t1"])) == self.model.budget_used
        for t, s in TEMPLATES.items():
            for m in range(MEMBERS):
                assert self.model.count(t, m) <= s["per_member_limit"]


NIGHTLY = os.environ.get("COUPON_MACHINE") == "nightly"
STRENGTH = settings(max_examples=machines.examples(50, NIGHTLY, mutation=15), stateful_step_count=30,
                    derandomize=not NIGHTLY, deadline=None, database=None, suppress_health_check=list(HealthCheck))
TestCoupons = CouponMachine.TestCase
TestCoupons.settings = STRENGTH
TestCoupons = pytest.mark.timeout(7200 if NIGHTLY else 600)(TestCoupons)


class CouponMachineOnMoto(CouponMachine):
    backend = "dynamodb"


TestCouponsOnMoto = CouponMachineOnMoto.TestCase
TestCouponsOnMoto.settings = settings(STRENGTH, max_examples=200 if NIGHTLY else 4)
TestCouponsOnMoto = pytest.mark.timeout(7200 if NIGHTLY else 600)(TestCouponsOnMoto)
