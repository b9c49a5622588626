"""Mall settlement over real HTTP on the local stack (issue #29 item 4), driven as its callers
would: in a program of its own, three merchants' tills (signed POS keys) take points, a mall
coupon and stored value from one member in November; once the stream has delivered, finance
reads the statements (worked out by hand below), a merchant's admin its own; in December finance
closes November (a replay answers the same; again, a month not ended, a bad month: refused and
audited); a December payment leaves November's statement as it was; the reconciliation balances."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from chalicelib.shared import clock
from devstack.credentials import staff_token
from tests.e2e.conftest import fresh_phone

NOV = datetime(2026, 11, 10, 4, 0, tzinfo=UTC)        # noon in Shanghai
DEC = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)
A, B, C = "stl-a", "stl-b", "stl-c"
LIST = "/v1/settlement/statements"


class Mall:
    def __init__(self, api, program_id: str) -> None:
        self.api, self.id = api, program_id
        self.hq = api.bearer(staff_token("super_admin", f"stl-hq-{program_id}", program_id=program_id))
        self.finance = api.bearer(staff_token("finance", f"stl-fin-{program_id}", program_id=program_id))
        self.tills: dict[str, dict[str, str]] = {}

    def admin(self, merchant: str):
        return self.api.bearer(staff_token("merchant_admin", f"stl-ma-{merchant}", merchant, program_id=self.id))

    def ok(self, method: str, path: str, body=None, headers=None, till: str | None = None, status=(200, 201, 202),
           **more):
        auth = {"signed_by": self.tills[till]} if till else {"headers": headers or self.hq}
        r = self.api.call(method, path, body, key=None if method == "GET" else f"stl-{fresh_phone()}", **auth, **more)
        assert r.status_code in status, (path, r.status_code, r.text)
        return r.json()


def setup(api) -> Mall:
    program_id = f"stl-{fresh_phone()[-8:]}"
    r = api.call("POST", "/v1/programs", {"program_id": program_id, "name": "商场结算"},
                 headers=api.staff("platform_admin"), key=f"stlp-{program_id}")
    assert r.status_code == 201, r.text
    m = Mall(api, program_id)
    for merchant in (A, B, C):
        m.ok("POST", "/v1/merchants", {"merchant_id": merchant, "name": merchant})
        m.ok("POST", f"/v1/merchants/{merchant}/stores", {"store_id": "s1", "name": "s1"})
        key = m.ok("POST", f"/v1/merchants/{merchant}/api-keys", {"store_id": "s1"})
        m.tills[merchant] = {"key_id": key["key_id"], "secret": key["secret"]}
    m.ok("PUT", "/v1/points/valuation", {"valuation": {"fen_per_point": "0.5"}, "effective_from": "2026-01-01T00:00:00Z"})
    return m


def statements(m: Mall, expect, period: str = "2026-11", headers=None) -> dict:
    """The period's statements once the stream has delivered what ``expect`` waits for."""
    deadline = time.monotonic() + 30
    while True:
        got = m.ok("GET", LIST, headers=headers or m.finance, params={"period": period})
        if expect(got) or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def nets(listing: dict) -> dict[str, int]:
    return {f"{s['party_a']}~{s['party_b']}": s["net_fen"] for s in listing["statements"]}


def _exported(api, m: Mall, headers, **filters) -> list[dict]:
    """November's settlement lines, exported as CSV, parsed back."""
    import csv
    import io

    import requests
    made = m.ok("POST", "/v1/exports", {"kind": "settlement_lines", "start": "2026-11-01", "end": "2026-11-30",
                                        **filters}, headers=headers)
    for _ in range(5):
        m.ok("POST", "/v1/jobs/exports/runs", {"program_id": m.id}, headers=api.staff("platform_admin"))
        got = m.ok("GET", f"/v1/exports/{made['export_id']}", headers=headers)
        if got["status"] == "done":
            body = requests.get(got["url"], timeout=30).content.decode("utf-8-sig")
            return list(csv.DictReader(io.StringIO(body)))
    raise AssertionError(f"export {made['export_id']} not done: {got}")


def test_the_malls_month_settled_closed_and_reconciled(api, stack):
    clock.freeze(NOV)
    try:
        m = setup(api)
        mid = m.ok("POST", "/v1/members", {"phone": fresh_phone()})["member_id"]
        m.ok("POST", f"/v1/members/{mid}/points/earn", {"order_id": "STL-1", "amount_fen": 100_000}, till=A)
        m.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 333, "order_id": "STL-2",
                                                           "order_amount_fen": 1_000_000}, till=C)
        m.ok("POST", f"/v1/members/{mid}/stored-value/top-ups", {"amount_fen": 20_000, "payment_ref": f"WX-{m.id}"},
             till=A)
        m.ok("POST", f"/v1/members/{mid}/stored-value/payments", {"amount_fen": 11_500, "order_id": "STL-3"}, till=A)
        m.ok("POST", f"/v1/members/{mid}/stored-value/payments", {"amount_fen": 5_000, "order_id": "STL-4"}, till=B)
        m.ok("POST", "/v1/stored-value/payments/STL-3/refunds", {"refund_id": "R1", "amount_fen": 2_000}, till=A)
        template = m.ok("POST", "/v1/coupon-templates", {"stock": 10, "state": "active", "terms": {
            "kind": "amount_off", "title": "商场满120减20", "amount_off_fen": 2_000, "min_spend_fen": 10_000,
            "validity": {"days_after_claim": 30}, "cost_bearer": {"shares": {"mall": 60, "merchant": 40}}}})
        code = m.ok("POST", f"/v1/members/{mid}/coupons", {"template_id": template["template_id"]})["code"]
        m.ok("POST", "/v1/coupons/write-offs", {"code": code, "order_id": "STL-5", "order_amount_fen": 12_000}, till=B)

        # By hand: C took 333 points at half a fen: 166.5 -> 167; A took 11,500 of stored value and
        # refunded 2,000: 9,500; B took 5,000 and the mall's 60 % of a 2,000 coupon: 6,200.
        # (a statement's parties are in name order: program < stl-*, so a is the program: a positive net)
        want = {f"program~{A}": 9_500, f"program~{B}": 6_200, f"program~{C}": 167}
        listed = statements(m, lambda got: nets(got) == want)
        assert nets(listed) == want, listed
        assert not listed["closed"]
        b = m.ok("GET", f"/v1/settlement/statements/2026-11/program/{B}", headers=m.finance)
        assert b["a_owes_b"] == {"points_fen": 0, "coupon_fen": 1_200, "stored_value_fen": 5_000, "gift_card_fen": 0,
                                 "total_fen": 6_200}
        assert b["net_position"] == {"debtor": "program", "creditor": B, "fen": 6_200}
        assert sorted((line["kind"], line["fen"]) for line in b["lines"]) == [("coupon", 1_200), ("stored_value", 5_000)]
        c = m.ok("GET", f"/v1/settlement/statements/2026-11/{C}/program", headers=m.hq)
        assert [(line["points"], line["fen"], line["fen_per_point"], line["reference"]) for line in c["lines"]] == [
            (333, 167, "0.5", f"points:{C}:STL-2")]
        # every line names the till's store (found from outside: points and stored value lines had none)
        assert {line["store_id"] for line in [*b["lines"], *c["lines"]]} == {"s1"}

        # a merchant's admin: its own merchant's statements; another's: refused
        own = m.ok("GET", LIST, headers=m.admin(B), params={"period": "2026-11"})
        assert nets(own) == {f"program~{B}": 6_200}
        for path, params in ((f"/v1/settlement/statements/2026-11/{A}/program", None),
                             (LIST, {"period": "2026-11", "merchant_id": A})):
            refused = api.call("GET", path, headers=m.admin(B), params=params)
            assert refused.status_code == 403 and refused.headers["Content-Type"].startswith("application/problem+json")
        assert api.call("GET", LIST, signed_by=m.tills[A]).status_code == 403
        # a party that is not the program's: not found (found from outside: a statement of zeros)
        ghost = api.call("GET", "/v1/settlement/statements/2026-11/no-such-merchant/program", headers=m.hq)
        assert ghost.status_code == 404 and ghost.headers["Content-Type"].startswith("application/problem+json")

        # November has not ended: refused
        early = api.call("POST", "/v1/settlement/periods/2026-11/close", {}, headers=m.finance, key=f"stl-{m.id}-0")
        assert early.status_code == 409 and early.json()["type"].endswith("settlement-period-not-ended")

        clock.freeze(DEC)
        key = f"stl-{m.id}-close"
        closed = api.call("POST", "/v1/settlement/periods/2026-11/close", {}, headers=m.finance, key=key)
        again = api.call("POST", "/v1/settlement/periods/2026-11/close", {}, headers=m.finance, key=key)  # a retry
        assert closed.status_code == again.status_code == 201 and closed.json() == again.json()
        assert closed.json()["closed_by"] == f"staff:stl-fin-{m.id}"
        refusals = {"2026-11": 409, "2026-12": 409, "2027-05": 409, "9999-12": 409, "2026-13": 422, "1999-12": 422,
                    "last-month": 422}
        for period, status in refusals.items():
            r = api.call("POST", f"/v1/settlement/periods/{period}/close", {}, headers=m.finance,
                         key=f"stl-{fresh_phone()}")
            assert r.status_code == status, (period, r.text)
            assert r.headers["Content-Type"].startswith("application/problem+json")
        clerk = api.bearer(staff_token("clerk", f"stl-clerk-{m.id}", A, "s1", program_id=m.id))
        assert api.call("POST", "/v1/settlement/periods/2026-10/close", {}, headers=clerk,
                        key=f"stl-{fresh_phone()}").status_code == 403
        audit = m.ok("GET", "/v1/audit-log", params={"action": "settlement.", "start": "2026-11-10",
                                                     "end": "2026-12-02"})["entries"]
        actions = sorted(e["action"] for e in audit)
        # each refusal once; the retry of the close under its key is answered before anything runs
        # (found from outside: it was audited as a refusal); November's early refusal is on a later page
        assert actions == ["settlement.close_refused"] * len(refusals) + ["settlement.period_closed"], \
            "; ".join(f"{e['action']}={e['detail']}" for e in audit)

        frozen = m.ok("GET", LIST, headers=m.finance, params={"period": "2026-11"})
        assert frozen["closed"] and all(s["closed"] for s in frozen["statements"])
        m.ok("POST", f"/v1/members/{mid}/stored-value/payments", {"amount_fen": 700, "order_id": "STL-6"}, till=A)
        december = statements(m, lambda got: nets(got) == {f"program~{A}": 700}, period="2026-12")
        assert nets(december) == {f"program~{A}": 700}
        assert m.ok("GET", LIST, headers=m.finance, params={"period": "2026-11"}) == frozen
        # a December refund of a November payment: an adjustment of November, tied to its order
        m.ok("POST", "/v1/stored-value/payments/STL-4/refunds", {"refund_id": "R2", "amount_fen": 1_000}, till=B)
        december = statements(m, lambda got: nets(got) == {f"program~{A}": 700, f"program~{B}": -1_000},
                              period="2026-12")
        refund = m.ok("GET", f"{LIST}/2026-12/program/{B}", headers=m.finance)
        assert [(x["fen"], x["adjustment"], x["original_period"], x["reference"]) for x in refund["lines"]] == [
            (-1_000, True, "2026-11", f"prepaid:{B}:STL-4")], refund
        assert m.ok("GET", LIST, headers=m.finance, params={"period": "2026-11"}) == frozen

        check = m.ok("GET", "/v1/settlement/reconciliation", headers=m.finance, params={"period": "2026-11"})
        assert check["balanced"] and check["lines_checked"] == 5, check
        assert {x["merchant_id"]: x["journal_fen"] for x in check["merchants"]} == {A: 10_200, B: 4_000}  # all time

        # the month's lines as an export (settlement_lines), a merchant's holding its statements only
        every, only_b = _exported(api, m, m.finance), _exported(api, m, m.admin(B), merchant_id=B)
        shown = [line for s in frozen["statements"]
                 for line in m.ok("GET", f"{LIST}/2026-11/{s['party_a']}/{s['party_b']}", headers=m.finance)["lines"]]
        assert sorted((r["event_id"], int(r["fen"])) for r in every) == sorted((x["event_id"], x["fen"]) for x in shown)
        assert len(every) == 5 and only_b and all(B in (r["party_a"], r["party_b"]) for r in only_b)
        assert len(only_b) < len(every)
    finally:
        clock.freeze(None)
