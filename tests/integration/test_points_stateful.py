"""A Hypothesis state machine drives random points operations through the whole app (Chalice's
in-process client: auth, validation, idempotency, the DynamoDB code on moto) and checks, after
every step, that the ledger adds up and that the member's money-like balance is what a simple
model says it is; and that the member's growth value (earned, clawed back, adjusted, rewarded by
a task, reset at a tier period's end) is what :mod:`tests.integration.growth_model` says."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, timedelta

import pytest
from chalice.test import Client
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from chalicelib.db.uow import UnitOfWork
from chalicelib.events import dispatch
from chalicelib.ledger.lots import expiry_due_day
from chalicelib.points import dates, reconcile
from chalicelib.points import repository as points_repository
from tests import dynamodb_local
from tests.integration import machines
from tests.integration.growth_model import LADDER, TASKS, GrowthModel, program_day
from tests.outbox import outbox_events

START = datetime(2026, 12, 20, 4, 0, tzinfo=UTC)


class PointsMachine(RuleBasedStateMachine):
    """On moto; :class:`PointsMachineOnFake` runs the same machine on the in-memory fake."""

    backend = "dynamodb"

    def __init__(self) -> None:
        super().__init__()
        from chalicelib.shared import clock
        self.restore = machines.use(self.backend)
        from tests.integration.conftest import seed_merchants
        seed_merchants()
        seed_merchants("p2")
        import app
        from chalicelib.shared.credentials import mint_token
        self.clock = clock
        self.now = START
        clock.freeze(self.now)
        self.client = Client(app.app)
        self.staff = {"Authorization": "Bearer " + mint_token("staff", "t", 60 * 24 * 400, role="super_admin",
                                                              merchant_id="m1"),
                      "Content-Type": "application/json"}
        for path, body in (("/v1/tiers/ladder", {"ladder": LADDER}), ("/v1/tasks", {"tasks": TASKS})):
            assert self.post(path, body, f"put-{path}", method="put")["status"] == 201
        self.growth = GrowthModel()
        self.reviews, self.checked = 0, None
        self.delivered: set[str] = set()
        r = self.post("/v1/members", {"phone": "13800138000"}, "reg")
        self.member = r["body"]["member_id"]
        self.platform = {**self.staff, "Authorization": "Bearer " + mint_token(      # runs jobs
            "staff", "platform", 60 * 24 * 400, role="platform_admin")}
        # A second program in the same tables: the same person, the same order ids and keys there.
        self.p2 = {**self.staff, "Authorization": "Bearer " + mint_token(
            "staff", "t", 60 * 24 * 400, role="super_admin", merchant_id="m1", program_id="p2")}
        assert self.post("/v1/points/rules", {"rules": {"expiry": {"policy": "never"}}}, "p2-rules",
                         headers=self.p2, method="put")["status"] == 201
        other = self.post("/v1/members", {"phone": "13800138000"}, "reg", headers=self.p2)["body"]["member_id"]
        assert other != self.member
        earned = self.post(f"/v1/members/{other}/points/earn", {"order_id": "o0", "amount_fen": 77_700,
                                                                 "merchant_id": "m1"}, "k1", headers=self.p2)
        assert earned["status"] == 201
        self.other = other
        self.net = 0               # available - debt + held: what the member is owed
        self.orders: dict[str, dict] = {}
        self.hold_orders: dict[str, str | None] = {}
        self.hold_terms: dict[str, tuple[int, datetime]] = {}     # hold id -> (points, until)
        self.holds: list[str] = []
        self.sent: list[tuple[str, dict, str, dict]] = []
        self.n = 0

    def teardown(self) -> None:
        try:
            if hasattr(self, "member"):
                result = self.reconciled()
                assert result["balanced"], result
        finally:
            self._stop()

    def _stop(self) -> None:
        self.clock.freeze(None)
        self.restore()

    # --- helpers -------------------------------------------------------------------------------
    def post(self, path: str, body: dict, key: str, headers: dict | None = None, method: str = "post") -> dict:
        r = getattr(self.client.http, method)(path, headers={**(headers or self.staff), "Idempotency-Key": key},
                                              body=json.dumps(body))
        return {"status": r.status_code, "body": json.loads(r.body) if r.body else None}

    def call(self, path: str, body: dict) -> dict:
        self.n += 1
        key = f"k{self.n}"
        result = self.post(path, body, key)
        assert result["status"] < 500, result
        self.sent.append((path, body, key, result))
        if result["status"] < 300:                  # a refusal changes nothing: no events
            self.deliver()
        return result

    def deliver(self) -> None:
        """The member's new events to the consumers that move growth and tiers (the tiers' and the
        tasks'), as the stream would, until they emit no more (a task's reward is an event too)."""
        dispatch.PROVIDERS.load()
        while fresh := [e for e in outbox_events(subject=f"member:{self.member}") if e.id not in self.delivered]:
            for event in fresh:
                self.delivered.add(event.id)
                with self.clock.in_program(event.program_id or "default"):
                    for name, consumer in dispatch.subscribers_of(event.type):
                        if name in ("tiers", "tasks"):
                            consumer(event)
            if not any(e.type == "order.earned" for e in fresh):        # only the tasks' reward follows
                return

    def account(self) -> dict:
        """The account as stored (one read): what every step checks."""
        return {"account": points_repository.of(UnitOfWork()).account(self.member, "points").view()}

    def growth_account(self) -> dict:
        return points_repository.of(UnitOfWork()).account(self.member, "growth").view()

    def reconciled(self) -> dict:
        """Balances = postings = lots (reads every posting): checked at the end of each example."""
        return reconcile.account(UnitOfWork(), self.member, "points")

    # --- rules ---------------------------------------------------------------------------------
    @rule(amount=st.integers(min_value=100, max_value=50_000))
    def earn(self, amount):
        order = f"o{len(self.orders)}"
        r = self.call(f"/v1/members/{self.member}/points/earn", {"order_id": order, "amount_fen": amount,
                                                                  "merchant_id": "m1"})
        assert r["status"] == 201, r
        assert r["body"]["points"] == amount // 100          # default program: ¥1 = 1 point, floor
        assert r["body"]["growth"] == self.growth.earn(order, amount, self.now)
        self.net += r["body"]["points"]
        self.orders[order] = {"amount": amount, "refunded": 0, "earned": r["body"]["points"], "spent": 0,
                              "taken": {}, "back": {}}

    @rule(amount=st.integers(min_value=100, max_value=20_000), days_ago=st.integers(min_value=0, max_value=40),
          minutes_ahead=st.sampled_from([0, 4, 10]))
    def earn_dated(self, amount, days_ago, minutes_ahead):
        """An order paid earlier (or stamped a little ahead by a till's clock): refused past the
        back-dating window (30 days) or more than 5 minutes ahead; a lot whose year-end expiry had
        already passed when the order was recorded is never made."""
        order = f"d{len(self.orders)}"
        paid = self.now - timedelta(days=days_ago) + timedelta(minutes=minutes_ahead)
        r = self.call(f"/v1/members/{self.member}/points/earn",
                      {"order_id": order, "amount_fen": amount, "merchant_id": "m1",
                       "occurred_at": paid.strftime("%Y-%m-%dT%H:%M:%SZ")})
        if (days_ago == 0 and minutes_ahead > 5) or days_ago > 30:      # ahead of the clock, or too old
            assert r["status"] == 422, r
            return
        assert r["status"] == 201, r
        china = timedelta(hours=8)                       # the program's days are Asia/Shanghai days
        born_expired = date((paid + china).year, 12, 31) < (self.now + china).date()
        assert r["body"]["points"] == (0 if born_expired else amount // 100), (r, paid)
        assert r["body"]["growth"] == self.growth.earn(order, amount, self.now)     # growth never expires
        self.net += r["body"]["points"]
        self.orders[order] = {"amount": amount, "refunded": 0, "earned": r["body"]["points"], "spent": 0,
                              "taken": {}, "back": {}}

    @rule(points=st.integers(min_value=1, max_value=400), with_order=st.booleans())
    def redeem(self, points, with_order):
        self._redeem(points, sorted(self.orders)[points % len(self.orders)] if with_order and self.orders else None)

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), fraction=st.integers(min_value=1, max_value=100))
    def spend_on_an_order(self, data, fraction):
        """A redemption on an order that its share and the balance allow (often from several lots):
        what the refunds of the order give back lot by lot."""
        order = data.draw(st.sampled_from(sorted(self.orders)))
        o, a = self.orders[order], self.account()["account"]
        room = min(o["amount"] * 50 // 100 - o["spent"] - self.held_on(order), a["available"] - a["debt"] - self.lapsed())
        if room > 0:
            self._redeem(max(1, room * fraction // 100), order)

    def _redeem(self, points: int, order: str | None) -> None:
        before = self.account()["account"]
        body: dict = {"points": points, "reward": "voucher"}
        limit = None
        if order:
            body = {"points": points, "order_id": order, "merchant_id": "m1",
                    "order_amount_fen": self.orders[order]["amount"]}
            limit = self.orders[order]["amount"] * 50 // 100       # default: 50% of the order, 100 points = ¥1
        freed, ended = self.lapsed_holds()
        spendable = before["available"] - before["debt"] - self.lapsed()          # owed or lapsed: not spendable
        short = points > spendable
        r = self.call(f"/v1/members/{self.member}/points/redeem", body)
        if limit is not None and points > limit:
            assert r["status"] == 422, r                            # more than the order's share in one call
            return
        if freed and (short or order):       # the spend gave back the lapsed holds first, as the job would
            self.net -= ended
            spendable += freed - ended
        if points > spendable:
            assert r["status"] == 409 and r["body"]["type"].endswith("/insufficient-points")
        elif order and self.refund_refuses(order, points):
            assert r["status"] == 409 and r["body"]["type"].endswith("/order-refunded"), r
        elif limit is not None and self.orders[order]["spent"] + self.held_on(order) + points > limit:
            assert r["status"] == 422, r                            # the share holds across the order and its holds
        else:
            assert r["status"] == 200, r
            self.net -= points
            if order:
                self.orders[order]["spent"] += points
                self.took(order, r["body"]["lots"])

    @rule(points=st.integers(min_value=1, max_value=200), with_order=st.booleans())
    def hold(self, points, with_order):
        """A checkout hold, on an order or not: on one, the share spent and held on it counts (an
        open hold reserves its share until it is settled or the holds job releases it)."""
        self._hold(points, sorted(self.orders)[points % len(self.orders)] if with_order and self.orders else None)

    def _hold(self, points: int, order: str | None) -> str | None:
        """Hold ``points`` (on ``order``): the hold's id, or None when refused."""
        before = self.account()["account"]
        body: dict = {"points": points, "ttl_seconds": 600}
        if order:
            body.update(order_id=order, merchant_id="m1", order_amount_fen=self.orders[order]["amount"])
            limit = self.orders[order]["amount"] * 50 // 100
        freed, ended = self.lapsed_holds()
        spendable = before["available"] - before["debt"] - self.lapsed()          # owed or lapsed: not spendable
        short = points > spendable
        r = self.call(f"/v1/members/{self.member}/points/holds", body)
        if order and points > limit:
            assert r["status"] == 422, r
            return None
        if freed and (short or order):       # the hold gave back the lapsed holds first, as the job would
            self.net -= ended
            spendable += freed - ended
        if points > spendable:
            assert r["status"] == 409
        elif order and self.refund_refuses(order, points):
            assert r["status"] == 409 and r["body"]["type"].endswith("/order-refunded"), r
        elif order and self.orders[order]["spent"] + self.held_on(order) + points > limit:
            assert r["status"] == 422, r
        else:
            assert r["status"] == 201, r
            hold_id = r["body"]["hold_id"]
            self.holds.append(hold_id)
            self.hold_orders[hold_id] = order
            self.hold_terms[hold_id] = (points, self.now + timedelta(seconds=600))
            return hold_id
        return None

    @precondition(lambda self: any(o["refunded"] < o["amount"] for o in self.orders.values()))
    @rule(data=st.data(), fraction=st.integers(min_value=1, max_value=100),
          share=st.sampled_from([1, 30, 50, 70, 99, 100]))       # percent of what is left of the order
    def hold_refund_then_confirm(self, data, fraction, share):
        """points.md: a hold on an order, the order refunded in part or whole, the hold confirmed.
        The refunds count against the confirm as they would have given back a spend: once they
        leave a share of what is left (50% of amount - refunded, in points at 100 points per yuan)
        smaller than what is spent and held on the order net of what they gave back, it is 409
        ``hold-order-refunded`` and the hold stays open (refunded in full: never confirms)."""
        order = data.draw(st.sampled_from(sorted(k for k, o in self.orders.items() if o["refunded"] < o["amount"])))
        o, a = self.orders[order], self.account()["account"]
        freed, _ = self.lapsed_holds()       # given back first by a spend on an order
        room = min(o["amount"] * 50 // 100 - o["spent"] - self.held_in_time(order),
                   a["available"] - a["debt"] - self.lapsed() + freed)
        if room <= 0:
            return
        hold_id = self._hold(max(1, room * fraction // 100), order)
        if hold_id is None:
            return
        self._refund(order, max(1, (o["amount"] - o["refunded"]) * share // 100))
        held = self.held_in_time(order)      # this hold among them; none lapsed: this hold's spend gave them back
        net = o["spent"] + held - sum(o["back"].values())
        refused = o["refunded"] > 0 and net > (o["amount"] - o["refunded"]) * 50 // 100
        lots = json.loads(points_repository.of(UnitOfWork()).hold(self.member, "points", hold_id).lots)
        r = self.call(f"/v1/members/{self.member}/points/holds/{hold_id}/confirm", {})
        if refused:
            assert r["status"] == 409 and r["body"]["type"].endswith("/hold-order-refunded"), (r, o, held)
            assert r["body"]["limit_points"] == (o["amount"] - o["refunded"]) * 50 // 100, r
            assert self._open(hold_id)                # still open: a cancel (or the job) gives it back
            return
        assert r["status"] == 200, (r, o, held)
        points = self.hold_terms[hold_id][0]
        self.net -= points
        o["spent"] += points
        self.took(order, lots)
        self.holds.remove(hold_id)

    def refund_refuses(self, order: str, points: int) -> bool:
        """points.md: a use of an order by points (a redemption, a hold) once its refunds leave a share
        of what is left (50% of amount - refunded) smaller than what would then be spent and held on
        it net of what they gave back: 409 ``order-refunded``."""
        o = self.orders[order]
        net = o["spent"] + self.held_in_time(order) + points - sum(o["back"].values())
        return o["refunded"] > 0 and net > (o["amount"] - o["refunded"]) * 50 // 100

    def held_in_time(self, order: str) -> int:
        """What the holds the model knows open on ``order`` and not past their time reserve of its share."""
        return sum(points for hold_id, (points, until) in self.hold_terms.items()
                   if hold_id in self.holds and self.hold_orders.get(hold_id) == order and until > self.now)

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), points=st.integers(min_value=1, max_value=100), earlier=st.booleans())
    def replay_a_hold_after_it_lapsed(self, data, points, earlier):
        """A hold on an order lapses (its time passes, no job runs) and is sent again under its key
        (or, ``earlier``, a spend on an order sent before it): the same answer, and nothing changes,
        no give-back of the lapsed hold, no posting, no version (a new spend on an order would give
        it back first, as the job will)."""
        if self._hold(points, data.draw(st.sampled_from(sorted(self.orders)))) is None:
            return
        path, body, key, first = self.sent[-1]
        if earlier:
            path, body, key, first = data.draw(st.sampled_from(
                [s for s in self.sent if s[0].endswith(("/points/holds", "/points/redeem")) and "order_id" in s[1]]))
        self.now += timedelta(seconds=601)                         # past its ttl_seconds (600)
        self.clock.freeze(self.now)

        def stored() -> tuple:
            holds = points_repository.of(UnitOfWork()).holds(self.member, "points")
            return self.account()["account"], sorted((h.hold_id, h.status, h.returned) for h in holds)
        before = stored()
        again = self.post(path, body, key)
        assert again == first
        assert stored() == before                                      # a replay changes nothing

    @precondition(lambda self: self.holds)
    @rule(data=st.data(), confirm=st.booleans())
    def settle_hold(self, data, confirm):
        self._settle(data.draw(st.sampled_from(self.holds)), confirm)

    def _settle(self, hold_id: str, confirm: bool) -> None:
        held = points_repository.of(UnitOfWork()).hold(self.member, "points", hold_id)
        order = self.hold_orders.get(hold_id)
        refunded_past = bool(order) and self.refunded_past(order)       # read before: its confirm moves it
        r = self.call(f"/v1/members/{self.member}/points/holds/{hold_id}/{'confirm' if confirm else 'cancel'}", {})
        if held.status != "open" or confirm and held.hold_expires_at <= self.clock.iso(self.now):
            assert r["status"] == 409, r            # settled, or (to confirm) past its time: the job releases it
        elif confirm and refunded_past:
            assert r["status"] == 409 and r["body"]["type"].endswith("/hold-order-refunded"), r
            return                                  # still open: a cancel (or the job) gives it back
        else:
            assert r["status"] == 200, r
            self.net -= r["body"].get("expired_on_return") or 0      # a cancel late: lots ended meanwhile
            if confirm:
                self.net -= int(held.points)
                if order:
                    self.orders[order]["spent"] += int(held.points)
                    self.took(order, json.loads(held.lots))
        self.holds.remove(hold_id)

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), share=st.integers(min_value=1, max_value=120))
    def refund(self, data, share):
        order = data.draw(st.sampled_from(sorted(self.orders)))
        self._refund(order, max(1, self.orders[order]["amount"] * share // 100))

    @precondition(lambda self: any(o["spent"] and o["refunded"] < o["amount"] for o in self.orders.values()))
    @rule(data=st.data(), share=st.integers(min_value=1, max_value=100))
    def refund_a_spend_in_parts(self, data, share):
        """A part of what is left of an order points were spent on: partial refunds of one spend,
        which give its points back lot by lot."""
        order = data.draw(st.sampled_from(sorted(k for k, o in self.orders.items()
                                                 if o["spent"] and o["refunded"] < o["amount"])))
        o = self.orders[order]
        self._refund(order, max(1, (o["amount"] - o["refunded"]) * share // 100))

    def _refund(self, order: str, amount: int) -> None:
        o = self.orders[order]
        lapsed = self.lapsed_lots(order)
        r = self.call(f"/v1/orders/{order}/refunds", {"refund_id": f"r{self.n}", "amount_fen": amount,
                                                       "merchant_id": "m1"})
        if o["refunded"] + amount > o["amount"]:
            assert r["status"] == 409 and r["body"]["type"].endswith("/refund-exceeds-order")
            return
        assert r["status"] == 201, r
        o["refunded"] += amount
        assert r["body"]["clawed_back"].get("growth", 0) == self.growth.refund(order, amount, self.now), r
        # The order's own lots past their last day (the job not run) are expired by a refund that
        # reaches them, whole, as the job would: never clawed back (that would count them twice here).
        left = self.lapsed_lots(order)
        gone = sum(points - left.get(lot_id, 0) for lot_id, points in lapsed.items())
        assert gone in (0, sum(lapsed.values())), (lapsed, left)
        self.net -= gone
        self.net -= r["body"]["clawed_back"].get("points", 0)
        self.net += r["body"]["restored"] - r["body"]["restored_expired"]
        assert r["body"]["restored"] <= o["spent"]
        # Where the give-back went, lot by lot, from the refund's posting (every lot in the one
        # transaction: the machine's spends touch far fewer lots than one holds).
        assert r["body"]["restoring"] == 0, r
        given: dict[str, int] = {}
        for posting in self.postings():
            if posting["kind"] == "refund" and posting["idempotency_key"] == self.sent[-1][2]:
                for lot in posting["lots"]:
                    if lot["delta"] > 0:                    # clawbacks take (negative); give-backs add
                        given[lot["lot_id"]] = given.get(lot["lot_id"], 0) + lot["delta"]
        assert sum(given.values()) == r["body"]["restored"], (given, r)
        for lot_id, part in given.items():
            o["back"][lot_id] = o["back"].get(lot_id, 0) + part
        if o["refunded"] == o["amount"]:                    # refunded in full: every lot as before the spend
            assert o["back"] == {k: v for k, v in o["taken"].items() if v}, o

    @rule(points=st.integers(min_value=-400, max_value=300).filter(bool))
    def adjust_growth(self, points):
        """Growth added or removed by hand: a removal beyond the balance is refused."""
        self._adjust_growth(points)

    @precondition(lambda self: self.growth.balance > 0)
    @rule(share=st.integers(min_value=1, max_value=110))
    def remove_growth(self, share):
        """A share of the growth removed by hand, from the balance (an order's refund may then owe
        what the balance no longer holds); more than all of it is refused."""
        self._adjust_growth(-max(1, self.growth.balance * share // 100))

    def _adjust_growth(self, points: int) -> None:
        r = self.call(f"/v1/members/{self.member}/points/adjustments",
                      {"points": points, "point_type": "growth", "reason": "by hand"})
        if self.growth.adjust(points, self.now):
            assert r["status"] == 201 and r["body"]["balance"] == self.growth.replied, r
        else:
            assert r["status"] == 409 and r["body"]["type"].endswith("/insufficient-points"), r

    @precondition(lambda self: any(self.growth.expired_order(k) and o["refunded"] < o["amount"]
                                   for k, o in self.growth.orders.items()))
    @rule(data=st.data(), share=st.integers(min_value=1, max_value=100))
    def refund_after_a_reset(self, data, share):
        """A refund of an order whose growth a tier period's reset expired: not clawed back again."""
        order = data.draw(st.sampled_from(sorted(k for k, o in self.growth.orders.items()
                                                 if self.growth.expired_order(k) and o["refunded"] < o["amount"])))
        o = self.orders[order]
        self._refund(order, max(1, (o["amount"] - o["refunded"]) * share // 100))

    @precondition(lambda self: self.growth.owing())
    @rule(data=st.data(), share=st.integers(min_value=1, max_value=100))
    def refund_after_a_removal(self, data, share):
        """A refund of an order whose growth the balance no longer holds (removed by hand, or
        clawed back): what it does not hold is owed (debt), and the next growth repays it first."""
        order = data.draw(st.sampled_from(self.growth.owing()))
        o = self.orders[order]
        self._refund(order, max(1, (o["amount"] - o["refunded"]) * share // 100))

    @precondition(lambda self: self.growth.valid_until is not None)
    @rule(late=st.integers(min_value=0, max_value=3), amount=st.none() | st.integers(min_value=100, max_value=20_000))
    def tier_period_ends(self, late, amount):
        """The clock moves past the tier period's last day (up to 3 days late) and the jobs run; an
        order recorded before they run, from the new period's first day, keeps its growth."""
        self.time_passes_before_the_jobs_run(max(1, (self.growth.valid_until - program_day(self.now)).days + 1 + late))
        if amount is not None:
            self.earn(amount)
        self.time_passes(0)

    @rule(days=st.integers(min_value=1, max_value=20))
    def time_passes(self, days):
        self.now += timedelta(days=days)
        self.clock.freeze(self.now)
        for job in ("points-holds", "points-expiry"):
            r = self.post(f"/v1/jobs/{job}/runs", {}, f"job-{self.n}-{job}", headers=self.platform)
            assert r["status"] == 200, r
            if job == "points-expiry":
                self.net -= r["body"]["result"]["points_expired"]
                assert self.lapsed() == 0            # the job expired every lot past its last day
            else:                       # a lapsed hold's points whose lot ended meanwhile expire on return
                self.net -= r["body"]["result"]["points_expired_on_return"]
        self.holds = [h for h in self.holds if self._open(h)]
        self.review_tiers()

    def review_tiers(self) -> None:
        """The tier-review job, run until nothing is due (a period per member a run)."""
        self.reviews += 1
        for n in range(40):
            r = self.post("/v1/jobs/tier-review/runs", {}, f"job-{self.n}-tiers-{n}", headers=self.platform)
            assert r["status"] == 200, r
            if not r["body"]["result"]["retained"] + r["body"]["result"]["downgraded"]:
                break
        self.growth.review(program_day(self.now))

    @rule(days=st.integers(min_value=1, max_value=400))
    def time_passes_before_the_jobs_run(self, days):
        """The clock moves and no job runs: a lot past its last day is no longer spendable all the same."""
        self.now += timedelta(days=days)
        self.clock.freeze(self.now)

    def lapsed_holds(self) -> tuple[int, int]:
        """What the open holds past their time keep (the member's again, whatever the holds job has
        done), and of that what returns to lots that have ended (it expires on its way back)."""
        today, now = (self.now + timedelta(hours=8)).date().isoformat(), self.clock.iso(self.now)
        freed = ended = 0
        store = points_repository.of(UnitOfWork())
        account = store.account(self.member, "points")     # points a refund found held repay its debt first
        owed, debt = json.loads(account.owed_lots or "{}"), int(account.debt or 0)
        for h in store.holds(self.member, "points"):
            if h.status == "open" and h.hold_expires_at <= now:
                freed += int(h.points)
                for lot in json.loads(h.lots):
                    repaid = min(int(lot["points"]), int(owed.get(lot["lot_id"], 0)), debt)
                    owed[lot["lot_id"]] = int(owed.get(lot["lot_id"], 0)) - repaid
                    debt -= repaid
                    if lot["expires_on"] and lot["expires_on"] < today:
                        ended += int(lot["points"]) - repaid
        return freed, ended

    def held_on(self, order: str) -> int:
        """Points the open holds on the order reserve of its share (until the holds job releases them)."""
        repo = points_repository.of(UnitOfWork())
        return sum(int(h.points) for hold_id, on in self.hold_orders.items() if on == order
                   if (h := repo.hold(self.member, "points", hold_id)) is not None and h.status == "open")

    def refunded_past(self, order: str) -> bool:
        """Whether the order's refunds leave a share of what is left (50%) smaller than what is spent
        and held on it net of what they gave back: a hold on it is then not confirmed."""
        o = self.orders[order]
        net = o["spent"] + self.held_on(order) - sum(o["back"].values())
        return o["refunded"] > 0 and net > (o["amount"] - o["refunded"]) * 50 // 100

    def took(self, order: str, lots: list[dict]) -> None:
        taken = self.orders[order]["taken"]
        for lot in lots:
            taken[lot["lot_id"]] = taken.get(lot["lot_id"], 0) + int(lot["points"])

    def postings(self) -> list[dict]:
        r = self.client.http.get(f"/v1/members/{self.member}/points/ledger?limit=5", headers=self.staff)
        assert r.status_code == 200, r.body
        return json.loads(r.body)["postings"]

    def lapsed_lots(self, order: str) -> dict[str, int]:
        """The order's own stored lots whose last day has passed: lot id -> points left. Its own:
        the lots it earned, even one a spend emptied and a refund's give-back made again."""
        today = (self.now + timedelta(hours=8)).date().isoformat()
        repo = points_repository.of(UnitOfWork())
        own = {lot["lot_id"] for lot in json.loads(repo.order("m1", order).earned or "{}").get("points", [])}
        return {lot.lot_id: int(lot.remaining) for lot in repo.live_lots(self.member, "points")
                if lot.expires_on and lot.expires_on < today and lot.lot_id in own}

    def lapsed(self) -> int:
        """Points in stored lots whose last day (a program day, Asia/Shanghai) has passed: by the
        rules no longer the member's, whatever the expiry job has done."""
        today = (self.now + timedelta(hours=8)).date().isoformat()
        return sum(int(lot.remaining) for lot in points_repository.of(UnitOfWork()).live_lots(self.member, "points")
                   if lot.expires_on and lot.expires_on < today)

    @precondition(lambda self: self.sent)
    @rule(data=st.data())
    def replay(self, data):
        path, body, key, first = data.draw(st.sampled_from(self.sent))
        version, growth = self.account()["account"]["version"], self.growth_account()["version"]
        again = self.post(path, body, key)
        assert again == first                                          # successes and refusals alike
        assert self.account()["account"]["version"] == version        # a replay posts nothing
        assert self.growth_account()["version"] == growth

    def _open(self, hold_id: str) -> bool:
        return points_repository.of(UnitOfWork()).hold(self.member, "points", hold_id).status == "open"

    # --- invariants ----------------------------------------------------------------------------
    @invariant()
    def ledger_adds_up(self):
        if not hasattr(self, "member"):
            return
        a = self.account()["account"]
        assert a["available"] - a["debt"] + a["held"] == self.net, (a, self.net)

    @invariant()
    def growth_is_the_models(self):
        """The growth getPointsAccount and getMemberTier show, the growth statement's sum and the
        tier's period are the model's, and the growth account reconciles."""
        if not hasattr(self, "member"):
            return
        model = self.growth
        stored = self.growth_account()
        assert (stored["available"] - stored["debt"], stored["debt"]) == (model.balance, model.debt), stored
        seen = (stored["version"], self.reviews, tuple(model.tier_view().values()))
        if seen == self.checked:            # no growth posting, review or model change since the last step
            return
        self.checked = seen
        shown = self.get(f"/v1/members/{self.member}/points")["accounts"]["growth"]
        assert shown["balance"] == model.balance and shown["spendable"] == 0, (shown, model.balance)
        tier = self.get(f"/v1/members/{self.member}/tier")
        assert {k: tier[k] for k in model.tier_view()} == model.tier_view(), (self.now, tier)
        postings, before = [], ""
        while page := self.get(f"/v1/members/{self.member}/points/ledger?point_type=growth&limit=200{before}"):
            postings += page["postings"]
            if not page["next_before"]:
                break
            before = f"&before={page['next_before']}"
        assert sum(p["available_delta"] - p["debt_delta"] for p in postings) == model.balance, postings
        result = reconcile.account(UnitOfWork(), self.member, "growth")
        assert result["balanced"], result

    def get(self, path: str) -> dict:
        r = self.client.http.get(path, headers=self.staff)
        assert r.status_code == 200, (path, r.body)
        return json.loads(r.body)

    @invariant()
    def the_accounts_next_date_is_never_late(self):
        """The account's one due entry (points/dates.py) is never after the day its soonest live
        lot (or its rolling window) is due to expire: the expiry job would find that lot late."""
        if not hasattr(self, "member"):
            return
        store = points_repository.of(UnitOfWork())
        account = store.account(self.member, "points")
        ends = [lot.expires_on for lot in store.live_lots(self.member, "points") if lot.expires_on]
        ends += [account.rolling_until] if account.rolling_until else []
        if ends:
            entry = dates.current(account)
            assert entry is not None and entry[0] <= expiry_due_day(min(ends)), (entry, min(ends))

    @invariant()
    def the_other_program_is_untouched(self):
        if not hasattr(self, "other"):
            return
        result = reconcile.account(UnitOfWork(program="p2"), self.other, "points")
        assert result["balanced"] and result["account"]["available"] == 777
        assert result["account"]["version"] == 1

    @invariant()
    def no_lot_gets_back_more_than_was_taken_from_it(self):
        for order in getattr(self, "orders", {}).values():
            for lot_id, back in order["back"].items():
                assert back <= order["taken"].get(lot_id, 0), order

    @invariant()
    def refunds_never_exceed_orders(self):
        for order in getattr(self, "orders", {}).values():
            assert order["refunded"] <= order["amount"]


TestPoints = PointsMachine.TestCase
# CI strength (the default): derandomized, so CI replays the same sequences every run and a
# failure is reproducible, never a coin toss. Nightly strength (POINTS_MACHINE=nightly): random,
# 200 examples of 30 steps; run it on a schedule or before touching the ledger, e.g.
#   POINTS_MACHINE=nightly .venv/bin/python -m pytest tests/integration/test_points_stateful.py
# The timeout leaves room for shrinking, so a failure reports its smallest example.
NIGHTLY = os.environ.get("POINTS_MACHINE") == "nightly"
STRENGTH = settings(max_examples=machines.examples(12, NIGHTLY, mutation=20), stateful_step_count=30 if NIGHTLY else 20,
                    derandomize=not NIGHTLY, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))
TestPoints.settings = STRENGTH
TestPoints = pytest.mark.timeout(7200 if NIGHTLY else 900)(TestPoints)


class PointsMachineOnFake(PointsMachine):
    backend = "memory"


TestPointsOnFake = PointsMachineOnFake.TestCase
TestPointsOnFake.settings = STRENGTH
TestPointsOnFake = pytest.mark.timeout(7200 if NIGHTLY else 900)(TestPointsOnFake)


class PointsMachineOnDDBLocal(PointsMachine):
    backend = "ddblocal"


if dynamodb_local.enabled():        # only inside the loopback-only namespace of `make test`
    TestPointsOnDDBLocal = PointsMachineOnDDBLocal.TestCase
    TestPointsOnDDBLocal.settings = STRENGTH
    TestPointsOnDDBLocal = pytest.mark.timeout(7200 if NIGHTLY else 900)(TestPointsOnDDBLocal)
