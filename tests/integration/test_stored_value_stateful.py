"""A Hypothesis state machine drives top-ups (and their replays), payments, checkout holds
(confirmed or cancelled), partial refunds and cash-outs through the whole app, and checks after every step that principal and bonus are what
a model of the rules says, and at the end of each example that the double entry reconciles.
The model follows the rules as written (best single bonus, proportional spending, refunds to
the payment's split cumulatively, the balance cap), not the code."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import pytest
from chalice.test import Client
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tests.integration import machines

START = datetime(2026, 5, 1, 4, 0, tzinfo=UTC)
CAP = 500_000
RULES = {"bonus_rules": [
    {"id": "200-30", "name": "200-30", "kind": "fixed", "min_fen": 20_000, "bonus_fen": 3_000},
    {"id": "first", "name": "first 10%", "kind": "percent", "percent": 10, "max_bonus_fen": 5_000,
     "first_top_up_only": True}], "balance_cap_fen": CAP}


class Model:
    def __init__(self) -> None:
        self.principal = self.bonus = 0
        self.topped_up = 0
        self.payments: dict[str, dict] = {}
        self.holds: dict[str, dict] = {}

    def bonus_for(self, amount: int) -> int:
        fixed = 3_000 if amount >= 20_000 else 0
        first = min(amount * 10 // 100, 5_000) if self.topped_up == 0 else 0
        return max(fixed, first)


class StoredValueMachine(RuleBasedStateMachine):
    backend = "memory"

    def __init__(self) -> None:
        super().__init__()
        from chalicelib.shared import clock
        self.restore = machines.use(self.backend)
        from tests.integration.conftest import seed_merchants
        seed_merchants()
        import app
        from chalicelib.shared.credentials import mint_token
        self.clock = clock
        clock.freeze(START)
        self.client = Client(app.app)
        self.staff = {"Authorization": "Bearer " + mint_token("staff", "t", 60 * 24 * 400, role="super_admin",
                                                              merchant_id="m1"), "Content-Type": "application/json"}
        self.n = 0
        assert self.send("put", "/v1/stored-value/rules", {"rules": RULES})[0] == 201
        self.member = self.send("post", "/v1/members", {"phone": "13800138000"})[1]["member_id"]
        self.model = Model()
        self.refs: list[tuple[str, int]] = []

    def teardown(self) -> None:
        try:
            if hasattr(self, "member"):
                result = self.send("get", f"/v1/stored-value/reconciliation?member_id={self.member}", None)[1]
                assert result["balanced"], result
        finally:
            self.clock.freeze(None)
            self.restore()

    def send(self, method: str, path: str, body: dict | None, key: str | None = None) -> tuple[int, dict]:
        self.n += 1
        headers = {**self.staff, "Idempotency-Key": key or f"k{self.n}"}
        r = getattr(self.client.http, method)(path, headers=headers, body=json.dumps(body) if body is not None else None)
        assert r.status_code < 500, r.body
        return r.status_code, json.loads(r.body)

    # rules --------------------------------------------------------------------------------------
    @rule(amount=st.integers(min_value=1, max_value=200_000))
    def top_up(self, amount):
        m = self.model
        ref = f"pay-{len(self.refs)}"
        status, body = self.send("post", f"/v1/members/{self.member}/stored-value/top-ups",
                                 {"amount_fen": amount, "payment_ref": ref, "merchant_id": "m1"})
        bonus = m.bonus_for(amount)
        if m.principal + m.bonus + amount + bonus > CAP:
            assert status == 409 and body["type"].endswith("/stored-value-limit"), body
            return
        assert status == 201 and body["bonus_fen"] == bonus, (body, bonus)
        m.principal, m.bonus, m.topped_up = m.principal + amount, m.bonus + bonus, m.topped_up + amount
        self.refs.append((ref, amount))

    @precondition(lambda self: bool(self.refs))
    @rule(pick=st.integers(min_value=0, max_value=10**6))
    def replay_top_up(self, pick):
        ref, amount = self.refs[pick % len(self.refs)]
        status, body = self.send("post", f"/v1/members/{self.member}/stored-value/top-ups",
                                 {"amount_fen": amount, "payment_ref": ref, "merchant_id": "m1"})
        assert status == 201 and body["already_applied"] is True

    @rule(amount=st.integers(min_value=1, max_value=150_000))
    def pay(self, amount):
        m = self.model
        order = f"o{len(m.payments)}-{self.n}"
        status, body = self.send("post", f"/v1/members/{self.member}/stored-value/payments",
                                 {"amount_fen": amount, "order_id": order, "merchant_id": "m1"})
        if amount > m.principal + m.bonus:
            assert status == 409 and body["type"].endswith("/insufficient-balance")
            return
        b = amount * m.bonus // (m.principal + m.bonus)
        assert status == 201 and (body["principal_fen"], body["bonus_fen"]) == (amount - b, b)
        m.principal, m.bonus = m.principal - (amount - b), m.bonus - b
        m.payments[order] = {"amount": amount, "p": amount - b, "b": b, "refunded": 0, "rp": 0, "rb": 0}

    @precondition(lambda self: any(p["refunded"] < p["amount"] for p in self.model.payments.values()))
    @rule(pick=st.integers(min_value=0, max_value=10**6), share=st.integers(min_value=1, max_value=100))
    def refund(self, pick, share):
        m = self.model
        open_ = sorted(o for o, p in m.payments.items() if p["refunded"] < p["amount"])
        order = open_[pick % len(open_)]
        p = m.payments[order]
        amount = max(1, (p["amount"] - p["refunded"]) * share // 100)
        status, body = self.send("post", f"/v1/stored-value/payments/{order}/refunds",
                                 {"refund_id": f"r{self.n}", "amount_fen": amount, "merchant_id": "m1"})
        assert status == 201, body
        after = p["refunded"] + amount
        tb = p["b"] * after // p["amount"]
        rb, rp = tb - p["rb"], (after - tb) - p["rp"]
        assert (body["principal_fen"], body["bonus_fen"]) == (rp, rb)
        p["refunded"], p["rp"], p["rb"] = after, p["rp"] + rp, p["rb"] + rb
        m.principal, m.bonus = m.principal + rp, m.bonus + rb

    @rule(amount=st.integers(min_value=1, max_value=150_000))
    def hold(self, amount):
        m = self.model
        order = f"h{len(m.holds)}-{self.n}"
        status, body = self.send("post", f"/v1/members/{self.member}/stored-value/holds",
                                 {"amount_fen": amount, "order_id": order, "merchant_id": "m1"})
        if amount > m.principal + m.bonus:
            assert status == 409 and body["type"].endswith("/insufficient-balance")
            return
        b = amount * m.bonus // (m.principal + m.bonus)
        assert status == 201 and (body["principal_fen"], body["bonus_fen"]) == (amount - b, b)
        m.principal, m.bonus = m.principal - (amount - b), m.bonus - b
        m.holds[body["hold_id"]] = {"order": order, "amount": amount, "p": amount - b, "b": b}

    @precondition(lambda self: bool(self.model.holds))
    @rule(pick=st.integers(min_value=0, max_value=10**6), confirm=st.booleans())
    def settle_hold(self, pick, confirm):
        m = self.model
        hold_id = sorted(m.holds)[pick % len(m.holds)]
        h = m.holds.pop(hold_id)
        action = "confirm" if confirm else "cancel"
        status, body = self.send("post", f"/v1/members/{self.member}/stored-value/holds/{hold_id}/{action}", None)
        assert status == 200, body
        if confirm:
            m.payments[h["order"]] = {"amount": h["amount"], "p": h["p"], "b": h["b"], "refunded": 0, "rp": 0, "rb": 0}
        else:
            m.principal, m.bonus = m.principal + h["p"], m.bonus + h["b"]

    @rule()
    def cash_out(self):
        m = self.model
        status, body = self.send("post", f"/v1/members/{self.member}/stored-value/cash-out", {"reason": "closing"})
        if m.principal == 0:
            assert status == 409 and body["type"].endswith("/nothing-to-cash-out")
            return
        assert status == 200 and (body["cashed_out_fen"], body["bonus_forfeited_fen"]) == (m.principal, m.bonus)
        m.principal = m.bonus = 0

    @invariant()
    def balances_are_the_models(self):
        if not hasattr(self, "member"):
            return
        seen = self.send("get", f"/v1/members/{self.member}/stored-value", None)[1]
        assert (seen["principal"], seen["bonus"]) == (self.model.principal, self.model.bonus)
        held = self.model.holds.values()
        assert (seen["held_principal"], seen["held_bonus"]) == (sum(h["p"] for h in held), sum(h["b"] for h in held))
        assert seen["principal"] >= 0 and seen["bonus"] >= 0


NIGHTLY = os.environ.get("STORED_VALUE_MACHINE") == "nightly"
STRENGTH = settings(max_examples=200 if NIGHTLY else 30, stateful_step_count=30 if NIGHTLY else 20,
                    derandomize=not NIGHTLY, deadline=None, database=None, suppress_health_check=list(HealthCheck))
TestStoredValue = StoredValueMachine.TestCase
TestStoredValue.settings = STRENGTH
TestStoredValue = pytest.mark.timeout(7200 if NIGHTLY else 600)(TestStoredValue)


class StoredValueMachineOnMoto(StoredValueMachine):
    backend = "dynamodb"


TestStoredValueOnMoto = StoredValueMachineOnMoto.TestCase
TestStoredValueOnMoto.settings = settings(STRENGTH, max_examples=200 if NIGHTLY else 6)
TestStoredValueOnMoto = pytest.mark.timeout(7200 if NIGHTLY else 600)(TestStoredValueOnMoto)
