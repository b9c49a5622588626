"""The dashboard over real HTTP on the local stack (issue #29 item 1): after a random mixed
workload in a program of its own (registrations, points earned and redeemed, stored value topped
up and spent, PLUS bought, coupons claimed and written off, member and walk-in checkouts, refunds),
``getDashboard`` equals what the test itself counted from its successful calls, for the program, a
merchant and a store; a stream batch delivered again changes nothing; who may read what."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import pytest

from chalicelib.reports.dashboard_replies import DashboardOut, DashboardSeriesOut
from devstack.credentials import staff_token
from tests.e2e.conftest import fresh_phone, program_with_merchants

PROGRAM, M1, M2, STORE = "dash-e2e", "dash-m1", "dash-m2", "dash-s1"
LINES = [{"sku": "TEA", "category": "tea", "quantity": 1, "unit_price_fen": 0}]


def _ok(r, status=201):
    assert r.status_code == status, r.text
    return r.json()


@pytest.fixture(scope="module")
def world(api, stack):
    hq, keys = program_with_merchants(api, PROGRAM, "看板", "dash", (M1, M2), STORE)
    _ok(api.call("PUT", "/v1/memberships/plans", {"plans": {"plans": [
        {"code": "PLUS-Y", "name": "年卡", "period": "year", "price_fen": 9_900}]}}, headers=hq,
        key=f"dash-plans-{fresh_phone()}"))
    tpl = _ok(api.call("POST", "/v1/coupon-templates", {"merchant_id": M2, "stock": 1_000, "state": "active", "terms": {
        "kind": "no_threshold", "title": "5元券", "amount_off_fen": 500, "validity": {"days_after_claim": 30}}},
        headers=hq, key=f"dash-tpl-{fresh_phone()}"))["template_id"]
    return hq, keys, tpl


class Workload:
    """Random calls; what succeeded is counted here, never read back from the dashboard."""

    def __init__(self, api, world, seed: int) -> None:
        self.api, (self.hq, self.keys, self.tpl) = api, world
        self.rnd = random.Random(seed)
        self.members: dict[str, str] = {}              # member -> merchant registered at
        self.points: Counter[str] = Counter()
        self.sv: Counter[str] = Counter()
        self.codes: list[str] = []
        self.done: list[dict] = []                      # completed checkouts
        self.all, self.m1, self.s1 = Counter(), Counter(), Counter()
        self.active: set[str] = set()
        self.buyers: set[str] = set()
        self.plus_members: set[str] = set()
        self.n = 0

    def call(self, method, path, body, merchant=None):
        self.n += 1
        auth = {"signed_by": self.keys[merchant]} if merchant else {"headers": self.hq}
        return self.api.call(method, path, body, key=f"dash-{self.n}-{fresh_phone()}", **auth)

    def add(self, merchant, **figures):
        for k, v in figures.items():
            self.all[k] += v
            if merchant == M1:
                self.m1[k] += v
                self.s1[k] += v

    def run(self, steps: int) -> None:
        for _ in range(3):
            self.register()
        ops = [self.register, self.earn, self.redeem, self.top_up, self.pay, self.plus, self.claim, self.write_off,
               self.checkout, self.checkout, self.walk_in, self.refund]
        for _ in range(steps):
            self.rnd.choice(ops)()

    def member(self) -> str:
        return self.rnd.choice(sorted(self.members))

    def register(self):
        merchant = self.rnd.choice((M1, M2))
        m = _ok(self.call("POST", "/v1/members", {"phone": fresh_phone()}, merchant))["member_id"]
        self.members[m] = merchant
        self.active.add(m)
        self.add(merchant, new_members=1)

    def earn(self):
        m, merchant = self.member(), self.rnd.choice((M1, M2))
        r = self.call("POST", f"/v1/members/{m}/points/earn", {"order_id": f"E{self.n}-{fresh_phone()}",
                                                               "amount_fen": self.rnd.randint(10, 500) * 100}, merchant)
        if r.status_code == 201:
            self.points[m] += r.json()["points"]
            self.active.add(m)
            self.buyers.add(m)
            self.all["points_issued"] += r.json()["points"]
            if merchant == M1:
                self.m1["points_issued"] += r.json()["points"]

    def redeem(self):
        m = self.member()
        if self.points[m] < 10:
            return
        r = self.call("POST", f"/v1/members/{m}/points/redeem", {"points": 10, "order_id": f"R{self.n}-{fresh_phone()}",
                                                                 "order_amount_fen": 100_000}, M1)
        if r.status_code == 200:
            self.points[m] -= 10
            self.active.add(m)
            self.all["points_redeemed"] += 10
            self.m1["points_redeemed"] += 10

    def top_up(self):
        m, fen = self.member(), self.rnd.randint(1, 50) * 1_000
        merchant = self.rnd.choice((M1, M2))
        _ok(self.call("POST", f"/v1/members/{m}/stored-value/top-ups", {"amount_fen": fen,
                                                                        "payment_ref": f"T{self.n}-{fresh_phone()}"}, merchant))
        self.sv[m] += fen
        self.active.add(m)
        self.all["sv_topped_up_fen"] += fen
        if merchant == M1:
            self.m1["sv_topped_up_fen"] += fen

    def pay(self):
        m = self.member()
        if self.sv[m] < 100:
            return
        fen = self.rnd.randint(1, self.sv[m] // 100) * 100
        _ok(self.call("POST", f"/v1/members/{m}/stored-value/payments", {"amount_fen": fen,
                                                                         "order_id": f"P{self.n}-{fresh_phone()}"}, M2))
        self.sv[m] -= fen
        self.active.add(m)
        self.all["sv_spent_fen"] += fen

    def plus(self):
        m = self.member()
        _ok(self.call("POST", f"/v1/members/{m}/membership/purchase", {"plan": "PLUS-Y", "payment_ref": f"Y{self.n}-{m}",
                                                                       "amount_fen": 9_900}))
        self.plus_members.add(m)                         # a second purchase stacks a period: still one member
        self.active.add(m)

    def claim(self):
        m = self.member()
        self.codes.append(_ok(self.call("POST", f"/v1/members/{m}/coupons", {"template_id": self.tpl}, M2))["code"])
        self.active.add(m)
        self.all["coupons_issued"] += 1

    def write_off(self):
        if not self.codes:
            return
        code = self.codes.pop(self.rnd.randrange(len(self.codes)))
        r = self.call("POST", "/v1/coupons/write-offs", {"code": code, "order_id": f"W{self.n}-{fresh_phone()}",
                                                         "order_amount_fen": 5_000}, M2)
        assert r.status_code == 201, r.text
        self.all["coupons_used"] += 1

    def _checkout(self, member: str | None):
        lines = [{**LINES[0], "unit_price_fen": self.rnd.randint(1, 300) * 100}]
        q = _ok(self.call("POST", "/v1/checkouts/quotes", {"lines": lines, **(
            {"member_id": member, "channel": "pos"} if member else {})}, M1))
        sv = min(self.sv[member], q["totals"]["to_pay_fen"]) if member and self.rnd.random() < 0.5 else 0
        c = _ok(self.call("POST", "/v1/checkouts", {"quote_id": q["quote_id"], "lines": lines, "use_points": False,
                                                    "stored_value_fen": sv}, M1))
        done = _ok(self.call("POST", f"/v1/checkouts/{c['checkout_id']}/complete",
                             {"payment_ref": f"wx-{self.n}"}, M1), 200)
        amount = done["totals"]["order_amount_fen"]
        who = "member" if member else "walk_in"
        self.add(M1, checkouts=1, gmv_fen=amount, **{f"{who}_orders": 1, f"{who}_amount_fen": amount})
        if member:
            self.sv[member] -= sv
            self.all["sv_spent_fen"] += sv
            self.active.add(member)
            self.buyers.add(member)
            earned = (done.get("earned") or {}).get("points", 0)
            self.points[member] += earned
            self.all["points_issued"] += earned
            self.m1["points_issued"] += earned
        self.done.append({**done, "member": member, "left": amount})

    def checkout(self):
        self._checkout(self.member())

    def walk_in(self):
        self._checkout(None)

    def refund(self):
        open_ = [c for c in self.done if c["left"] >= 200]
        if not open_:
            return
        c = self.rnd.choice(open_)
        fen = self.rnd.randint(1, c["left"] // 100) * 100
        r = _ok(self.call("POST", f"/v1/checkouts/{c['checkout_id']}/refunds",
                          {"refund_id": f"RF{self.n}", "amount_fen": fen, "reason": "退货"}, M1))
        c["left"] -= r["amount_fen"]
        self.add(M1, refunds=1, refunded_fen=r["amount_fen"])
        self.all["sv_refunded_fen"] += r["stored_value_fen"]
        if c["member"]:
            self.sv[c["member"]] += r["stored_value_fen"]


def _dashboard(api, headers, **params) -> dict:
    r = api.call("GET", "/v1/dashboard", headers=headers, params={"period": "day", **params})
    assert r.status_code == 200, r.text
    DashboardOut.model_validate(r.json())
    return {k: v["value"] for k, v in r.json()["metrics"].items()}


FIELDS = ("new_members", "points_issued", "points_redeemed", "sv_topped_up_fen", "sv_spent_fen", "sv_refunded_fen",
          "coupons_issued", "coupons_used", "checkouts", "gmv_fen", "member_orders", "member_amount_fen",
          "walk_in_orders", "walk_in_amount_fen", "refunds", "refunded_fen")


def test_the_dashboard_equals_a_recount_of_a_random_workload_and_a_redelivered_batch_changes_nothing(
        api, stack, world):
    stack.drain()
    delivered: list[dict] = []
    originals = [p.invoke for p in stack.pumps]
    for pump, invoke in zip(stack.pumps, originals, strict=True):
        pump.invoke = lambda event, invoke=invoke: (delivered.append(event), invoke(event))[1]
    try:
        w = Workload(api, world, seed=29)
        w.run(45)
        stack.drain(60)
    finally:
        for pump, invoke in zip(stack.pumps, originals, strict=True):
            pump.invoke = invoke
    hq = w.hq
    assert all(w.all[k] for k in FIELDS if k != "sv_refunded_fen"), w.all      # the workload did a bit of everything
    program, m1, s1 = (_dashboard(api, hq), _dashboard(api, hq, merchant_id=M1),
                       _dashboard(api, hq, merchant_id=M1, store_id=STORE))
    assert {k: program[k] for k in FIELDS} == {k: w.all[k] for k in FIELDS}
    assert program["members_total"] == len(w.members)
    assert program["active_members"] == len(w.active)
    assert program["buyers"] == len(w.buyers) and program["repeat_buyers"] == 0     # all bought today, first time
    assert program["paid_members"] == len(w.plus_members)
    assert program["sv_balance_fen"] == sum(w.sv.values())
    for got, want in ((m1, w.m1), (s1, w.s1)):
        for k in ("checkouts", "gmv_fen", "member_orders", "walk_in_orders", "walk_in_amount_fen", "refunded_fen"):
            assert got[k] == want[k], (k, got[k], want[k])
    assert m1["new_members"] == w.m1["new_members"]
    assert m1["points_issued"] == w.m1["points_issued"] and m1["sv_topped_up_fen"] == w.m1["sv_topped_up_fen"]
    # what a store's rows never keep (its events name no store) is null there, not a 0 that says nothing happened
    assert s1["points_redeemed"] is None and s1["sv_spent_fen"] is None and m1["points_redeemed"] is not None
    # the whole stream delivered again: nothing counted twice
    assert delivered
    for event in delivered:
        stack.pumps[0].invoke(event)
    assert (_dashboard(api, hq), _dashboard(api, hq, merchant_id=M1),
            _dashboard(api, hq, merchant_id=M1, store_id=STORE)) == (program, m1, s1)
    series = api.call("GET", "/v1/dashboard/series", headers=hq, params={
        "start": "2026-01-01", "end": "2026-12-31", "metrics": "gmv_fen,checkouts"})
    assert series.status_code == 200, series.text
    DashboardSeriesOut.model_validate(series.json())


def test_who_reads_which_dashboard(api, stack, world):
    hq, keys, _ = world
    admin = api.bearer(staff_token("merchant_admin", "dash-ma", M1, program_id=PROGRAM))
    clerk = api.bearer(staff_token("clerk", "dash-clerk", M1, STORE, program_id=PROGRAM))
    auditor = api.bearer(staff_token("auditor", "dash-aud", program_id=PROGRAM))

    def get(headers=None, signed=None, **params):
        return api.call("GET", "/v1/dashboard", headers=headers, signed_by=signed, params=params)
    assert get(auditor).status_code == 200 and get(auditor, merchant_id=M2).json()["merchant_id"] == M2
    assert get(admin).json()["merchant_id"] == M1 and get(admin).json()["store_id"] is None
    assert get(admin, merchant_id=M2).status_code == 403
    assert get(clerk).json()["store_id"] == STORE                  # store staff: their store only
    assert get(clerk, store_id="another").status_code == 403
    assert get(signed=keys[M1]).status_code == 403                 # a POS key is not a reports key
    reports = _ok(api.call("POST", f"/v1/merchants/{M2}/api-keys", {"capabilities": ["reports"]}, headers=hq,
                           key=f"dash-rk-{fresh_phone()}"))
    key = {"key_id": reports["key_id"], "secret": reports["secret"]}
    assert get(signed=key).json()["merchant_id"] == M2
    assert get(signed=key, merchant_id=M1).status_code == 403
    bad = get(hq, period="range", start="2026-01-01", end="2027-06-01")
    assert bad.status_code == 422 and bad.headers["Content-Type"] == "application/problem+json"
    assert get(hq, period="range", start="2026-01-02").status_code == 422
    assert api.call("GET", "/v1/dashboard/series", headers=hq, params={
        "start": "2026-01-01", "end": "2026-01-31", "metrics": "gmv_fen,nonsense"}).status_code == 422


def test_a_merchant_or_store_that_is_not_there_and_a_period_off_the_calendar_are_refused(api, stack, world):
    """Found from outside: zeros for a merchant that does not exist said it sold nothing; year 1
    and 9999 answered 500; a future period answered zeros."""
    hq, _, _ = world
    from chalicelib.shared import clock
    tomorrow = (clock.program_date() + timedelta(days=1)).isoformat()

    def get(path="/v1/dashboard", **params):
        return api.call("GET", path, headers=hq, params=params)
    assert get(merchant_id="no-such-merchant").status_code == 404
    assert get(merchant_id=M1, store_id="no-such-store").status_code == 404
    assert get("/v1/balance-sheet", merchant_id="no-such-merchant").status_code == 404
    for params in ({"start": "0001-01-01"}, {"period": "month", "start": "9999-12-31"},
                   {"period": "week", "start": tomorrow}, {"period": "range", "start": tomorrow, "end": tomorrow}):
        r = get(**params)
        assert r.status_code == 422 and r.headers["Content-Type"] == "application/problem+json", (params, r.text)
    series = get("/v1/dashboard/series", start="0001-01-01", end="0001-01-31", metrics="gmv_fen")
    assert series.status_code == 422
    assert get(period="month").status_code == 200                  # this month, today in it: fine
    assert get("/v1/dashboard/series", start="2026-01-01", end=tomorrow, metrics="gmv_fen").status_code == 200


def test_a_refused_report_is_audited(api, stack, world):
    """Issue #29: another merchant's report, a period not allowed: refused, and the attempt audited."""
    admin = api.bearer(staff_token("merchant_admin", "dash-ma-refused", M1, program_id=PROGRAM))
    assert api.call("GET", "/v1/dashboard", headers=admin, params={"merchant_id": M2}).status_code == 403
    assert api.call("GET", "/v1/balance-sheet", headers=admin, params={"as_of": "2999-01-01"}).status_code == 422
    reader = api.bearer(staff_token("super_admin", "dash-sa-audit", program_id=PROGRAM))
    log = api.call("GET", "/v1/audit-log", headers=reader,
                   params={"staff_id": "dash-ma-refused", "action": "access.refused"})
    assert log.status_code == 200, log.text
    details = sorted(e["detail"] for e in log.json()["entries"])
    assert len(details) == 2 and details[0].startswith("getBalanceSheet") and details[1].startswith("getDashboard")
    assert all(e["actor"] == "staff:dash-ma-refused" and e["merchant_id"] == M1 for e in log.json()["entries"])
