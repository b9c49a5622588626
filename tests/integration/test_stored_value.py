"""Stored value through the app on every backend: top-ups with the best bonus (applied once per
payment reference), payments split proportionally, cumulative refunds to the same split,
cash-out forfeiting the bonus, the limits of the prepaid-card measures, and the double-entry
reconciliation. Figures are worked out by hand from the rules."""

from datetime import UTC, datetime

import pytest

from chalicelib.shared import clock

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
RULES = {"bonus_rules": [
    {"id": "200-30", "name": "储值200送30", "kind": "fixed", "min_fen": 20_000, "bonus_fen": 3_000},
    {"id": "steps", "name": "Stepped", "kind": "stepped", "steps": [{"min_fen": 50_000, "bonus_fen": 8_000},
                                                                   {"min_fen": 100_000, "bonus_fen": 20_000}]},
    {"id": "first", "name": "First top-up 10%", "kind": "percent", "percent": 10, "max_bonus_fen": 5_000,
     "first_top_up_only": True},
    {"id": "once", "name": "Once per member", "kind": "fixed", "min_fen": 10_000, "bonus_fen": 1_000,
     "per_member_limit": 1},
], "daily_top_up_max_fen": 300_000}


@pytest.fixture
def program(api):
    clock.freeze(T0)
    api.ok("PUT", "/v1/stored-value/rules", {"rules": RULES, "effective_from": "2026-01-01T00:00:00Z"})


def top_up(api, mid, fen, ref):
    return api.call("POST", f"/v1/members/{mid}/stored-value/top-ups", {"amount_fen": fen, "payment_ref": ref,
                                                                        "merchant_id": "m1"})


def pay(api, mid, fen, order):
    return api.call("POST", f"/v1/members/{mid}/stored-value/payments", {"amount_fen": fen, "order_id": order,
                                                                         "merchant_id": "m1"})


def second_approver(api):
    """Calls as another HQ staff member ("cfo") than the test's own ("ops")."""
    from chalicelib.shared.credentials import mint_token
    token = mint_token("staff", "cfo", 60, role="ops_manager")

    def call(method, path, body, key):
        r = getattr(api.client.http, method.lower())(path, body=api.json.dumps(body), headers={
            "Authorization": "Bearer " + token, "Content-Type": "application/json", "Idempotency-Key": key})
        return r.status_code, api.json.loads(r.body)
    return call


def proof(api, mid):
    result = api.ok("GET", f"/v1/stored-value/reconciliation?member_id={mid}")
    assert result["balanced"], result
    return result["account"]


def test_top_up_bonus_payment_refund_and_cash_out_to_the_fen(api, program):
    mid = api.member("13800139401")
    status, first = top_up(api, mid, 20_000, "WX-1")          # first: 10% = 2,000; 200-30 = 3,000 wins
    assert status == 201 and (first["principal"], first["bonus"], first["bonus_rule"]) == (20_000, 3_000, "200-30")
    status, again = top_up(api, mid, 20_000, "WX-1")           # the provider calls back twice
    assert status == 201 and again["already_applied"] and again["principal"] == 20_000
    assert top_up(api, mid, 1, "WX-1")[1]["type"].endswith("/payment-ref-reused")
    second = top_up(api, mid, 10_000, "WX-2")[1]               # "once" (1,000); not first any more
    assert (second["principal"], second["bonus"], second["bonus_rule"]) == (30_000, 4_000, "once")
    third = top_up(api, mid, 10_000, "WX-3")[1]                # "once" is used up: no bonus
    assert (third["principal"], third["bonus"], third["bonus_rule"]) == (40_000, 4_000, None)
    status, paid = pay(api, mid, 11_000, "O-1")                # 11,000 of 40,000 + 4,000: bonus 1,000
    assert status == 201 and (paid["principal_fen"], paid["bonus_fen"]) == (10_000, 1_000)
    assert pay(api, mid, 1, "O-1")[0] == 409                   # an order is paid once
    r1 = api.ok("POST", "/v1/stored-value/payments/O-1/refunds", {"refund_id": "r1", "amount_fen": 5_500,
                                                                 "merchant_id": "m1"})
    assert (r1["principal_fen"], r1["bonus_fen"]) == (5_000, 500)
    status, problem = api.call("POST", "/v1/stored-value/payments/O-1/refunds",
                               {"refund_id": "r2", "amount_fen": 5_501, "merchant_id": "m1"})
    assert status == 409 and problem["type"].endswith("/refund-exceeds-payment")
    r2 = api.ok("POST", "/v1/stored-value/payments/O-1/refunds", {"refund_id": "r2", "amount_fen": 5_500,
                                                                 "merchant_id": "m1"})
    assert (r2["principal_fen"], r2["bonus_fen"], r2["refunded_fen"]) == (5_000, 500, 11_000)
    account = proof(api, mid)
    assert (account["principal"], account["bonus"]) == (40_000, 4_000)
    out = api.ok("POST", f"/v1/members/{mid}/stored-value/cash-out", {"reason": "closing the card",
                                                                     "refund_ref": "WX-1"})
    assert (out["cashed_out_fen"], out["bonus_forfeited_fen"], out["balance_fen"]) == (40_000, 4_000, 0)
    account = proof(api, mid)
    assert (account["cashed_out"], account["bonus_forfeited"]) == (40_000, 4_000)
    ledger = api.ok("GET", f"/v1/members/{mid}/stored-value/ledger")["postings"]
    assert [p["kind"] for p in ledger] == ["cash_out", "refund", "refund", "payment", "top_up", "top_up", "top_up"]
    assert sum(line["fen"] for line in ledger[0]["entries"]) == 0
    assert {line["account"] for line in ledger[-1]["entries"]} == {"cash_clearing", "member:principal",
                                                                  "bonus_expense", "member:bonus"}


def test_limits_refuse_and_change_nothing(api, program):
    mid = api.member("13800139402")
    status, problem = top_up(api, mid, 500_001, "L-1")                     # one top-up at most ¥5,000: a limit
    assert status == 409 and problem["type"].endswith("/stored-value-limit") and problem["limit_fen"] == 500_000
    assert api.ok("GET", f"/v1/members/{mid}/stored-value")["topped_up"] == 0
    ok = top_up(api, mid, 300_000, "L-2")[1]                               # 20,000 bonus (stepped)
    assert ok["balance_fen"] == 320_000
    status, problem = top_up(api, mid, 1, "L-3")                           # the day's ¥3,000 is used
    assert status == 409 and problem["type"].endswith("/stored-value-limit")
    clock.freeze(datetime(2026, 3, 2, 4, tzinfo=UTC))
    status, problem = top_up(api, mid, 200_000, "L-4")                     # would hold 523,000 > 500,000
    assert status == 409 and "500000" in problem["detail"]
    assert top_up(api, mid, 150_000, "L-5")[0] == 201                      # 320,000 + 150,000 + 20,000 = 490,000
    status, problem = pay(api, mid, 490_001, "O-big")
    assert status == 409 and problem["type"].endswith("/insufficient-balance")
    assert pay(api, mid, 0, "O-zero")[0] == 422
    assert proof(api, mid)["principal"] + proof(api, mid)["bonus"] == 490_000


def test_a_bonus_only_balance_cannot_be_cashed_out_and_big_cash_outs_need_an_approver(api, program):
    api.ok("PUT", "/v1/stored-value/rules", {"rules": {**RULES, "spend_order": "principal_first",
                                                       "cash_out_approval_above_fen": 10_000}})
    mid = api.member("13800139403")
    top_up(api, mid, 20_000, "C-1")                                        # + 3,000 bonus
    pay(api, mid, 20_000, "O-c")                                           # principal first: bonus left
    status, problem = api.call("POST", f"/v1/members/{mid}/stored-value/cash-out", {"reason": "leaving"})
    assert status == 409 and problem["type"].endswith("/nothing-to-cash-out")
    other = api.member("13800139404")
    top_up(api, other, 20_000, "C-2")                                      # + 3,000 bonus
    status, problem = api.call("POST", f"/v1/members/{other}/stored-value/cash-out",
                               {"reason": "leaving", "approved_by": "nobody-at-all"})
    assert status == 422                                                   # a name is no approval
    pending = api.ok("POST", f"/v1/members/{other}/stored-value/cash-out", {"reason": "leaving", "refund_ref": "C-2"})
    assert (pending["status"], pending["principal_fen"], pending["cashed_out_fen"]) == ("pending", 20_000, 0)
    assert (pending["principal"], pending["bonus"]) == (0, 3_000)          # held: not spendable meanwhile
    assert pay(api, other, 3_001, "O-held")[1]["type"].endswith("/insufficient-balance")
    assert api.call("POST", f"/v1/members/{other}/stored-value/cash-out", {"reason": "again"})[0] == 409
    path = f"/v1/members/{other}/stored-value/cash-outs/{pending['cash_out_id']}"
    status, problem = api.call("POST", f"{path}/approve", {})              # the requester cannot approve
    assert status == 403
    cfo = second_approver(api)
    status, paid = cfo("POST", f"{path}/approve", {}, "approve-1")
    assert status == 200 and (paid["status"], paid["cashed_out_fen"], paid["bonus_forfeited_fen"]) == ("paid", 20_000,
                                                                                                      3_000)
    assert (paid["requested_by"], paid["decided_by"]) == ("staff:ops", "staff:cfo") and paid["balance_fen"] == 0
    assert cfo("POST", f"{path}/approve", {}, "approve-1") == (status, paid)   # a retry: the same answer
    status, problem = cfo("POST", f"{path}/approve", {}, "approve-2")      # once only
    assert status == 409 and problem["type"].endswith("/cash-out-not-pending")
    assert (problem["status"], problem["state"]) == (409, "paid")               # RFC 9457's status is the code
    assert cfo("POST", f"{path}/reject", {"reason": "too late"}, "reject-1")[0] == 409
    account = proof(api, other)
    assert (account["cashed_out"], account["bonus_forfeited"], account["held_principal"]) == (20_000, 3_000, 0)
    ledger = api.ok("GET", f"/v1/members/{other}/stored-value/ledger")["postings"]
    assert [p["kind"] for p in ledger[:2]] == ["cash_out", "cash_out_held"]
    assert (ledger[0]["actor"], ledger[1]["actor"]) == ("staff:cfo", "staff:ops")
    third = api.member("13800139407")                                      # rejected: the principal comes back
    top_up(api, third, 15_000, "C-3")
    held = api.ok("POST", f"/v1/members/{third}/stored-value/cash-out", {"reason": "leaving"})
    path = f"/v1/members/{third}/stored-value/cash-outs/{held['cash_out_id']}"
    assert cfo("POST", f"{path}/reject", {}, "reject-2")[0] == 422         # a rejection says why
    status, rejected = cfo("POST", f"{path}/reject", {"reason": "fraud check failed"}, "reject-3")
    assert status == 200 and rejected["status"] == "rejected" and rejected["principal"] == 15_000
    assert api.ok("GET", path)["decided_by"] == "staff:cfo"
    assert proof(api, third)["cashed_out"] == 0
    everything = api.ok("GET", "/v1/stored-value/reconciliation")
    assert everything["balanced"] and everything["accounts_checked"] >= 2
    assert api.run_job("stored-value-reconcile")["balanced"] is True


def test_a_checkout_hold_confirms_into_a_refundable_payment_cancels_or_lapses(api, program):
    from datetime import timedelta
    mid = api.member("13800139405")
    top_up(api, mid, 20_000, "H-1")                                        # + 3,000 bonus
    base = f"/v1/members/{mid}/stored-value/holds"
    held = api.ok("POST", base, {"amount_fen": 2_300, "order_id": "HO-1", "merchant_id": "m1", "ttl_seconds": 60})
    assert (held["principal_fen"], held["bonus_fen"], held["balance_fen"]) == (2_000, 300, 20_700)
    account = proof(api, mid)
    assert (account["held_principal"], account["held_bonus"]) == (2_000, 300)
    done = api.ok("POST", f"{base}/{held['hold_id']}/confirm")
    assert done["status"] == "confirmed" and done["balance_fen"] == 20_700
    assert api.call("POST", f"{base}/{held['hold_id']}/cancel")[1]["type"].endswith("/hold-not-open")
    back = api.ok("POST", "/v1/stored-value/payments/HO-1/refunds", {"refund_id": "x", "amount_fen": 2_300,
                                                                    "merchant_id": "m1"})
    assert (back["principal_fen"], back["bonus_fen"], back["balance_fen"]) == (2_000, 300, 23_000)
    second = api.ok("POST", base, {"amount_fen": 23_000, "order_id": "HO-2", "merchant_id": "m1", "ttl_seconds": 60})
    assert pay(api, mid, 1, "HO-3")[0] == 409                             # everything is held
    assert api.ok("POST", f"{base}/{second['hold_id']}/cancel")["balance_fen"] == 23_000
    third = api.ok("POST", base, {"amount_fen": 1_000, "order_id": "HO-4", "merchant_id": "m1", "ttl_seconds": 60})
    assert api.run_job("stored-value-holds")["holds_released"] == 0
    clock.freeze(T0 + timedelta(minutes=2))
    assert api.call("POST", f"{base}/{third['hold_id']}/confirm")[0] == 409   # expired
    assert api.run_job("stored-value-holds")["holds_released"] == 1
    account = proof(api, mid)
    assert (account["principal"], account["bonus"], account["held_principal"], account["held_bonus"]) == (20_000, 3_000, 0, 0)


def test_a_payment_and_a_top_up_are_two_requests_each(memory):
    from tests.integration.conftest import AppClient
    api = AppClient()
    clock.freeze(T0)
    api.ok("PUT", "/v1/stored-value/rules", {"rules": RULES, "effective_from": "2026-01-01T00:00:00Z"})
    mid = api.member("13800139406")
    top_up(api, mid, 1_000, "R-0")                                # rules and merchant cached after this
    pay(api, mid, 10, "R-warm")
    before = memory.requests
    assert top_up(api, mid, 1_000, "R-1")[0] == 201               # member, account, payment ref: one batch
    assert memory.requests - before == 2
    before = memory.requests
    assert pay(api, mid, 10, "R-2")[0] == 201
    assert memory.requests - before == 2
    before = memory.requests
    api.ok("GET", f"/v1/members/{mid}/stored-value")
    assert memory.requests - before == 1
    clock.freeze(None)


def test_expiring_bonus_is_spent_first_given_back_by_refunds_and_expires_by_the_due_index(api):
    from datetime import timedelta

    def at(day: str) -> None:                       # noon in Shanghai on a program date
        clock.freeze(datetime.fromisoformat(f"{day}T04:00:00+00:00"))

    at("2026-03-01")
    api.ok("PUT", "/v1/stored-value/rules", {"rules": {"bonus_rules": [
        {"id": "exp", "name": "30 days", "kind": "fixed", "min_fen": 10_000, "bonus_fen": 2_000, "valid_days": 30},
        {"id": "perm", "name": "forever", "kind": "fixed", "min_fen": 50_000, "bonus_fen": 5_000}]},
        "effective_from": "2026-01-01T00:00:00Z"})
    mid = api.member("13800139410")
    first = top_up(api, mid, 10_000, "E-1")[1]
    assert (first["bonus_fen"], first["bonus_until"]) == (2_000, "2026-03-31")
    at("2026-03-10")
    top_up(api, mid, 10_000, "E-2")                                # 2,000 more, until 04-09
    paid = pay(api, mid, 12_000, "E-O1")[1]                          # bonus 2,000: all of the 03-31 lot
    assert (paid["principal_fen"], paid["bonus_fen"]) == (10_000, 2_000)
    api.ok("POST", "/v1/stored-value/payments/E-O1/refunds", {"refund_id": "r", "amount_fen": 6_000,
                                                              "merchant_id": "m1"})   # 1,000 back to the 03-31 lot
    assert top_up(api, mid, 50_000, "E-3")[1]["bonus_until"] is None  # 5,000 that never expires
    account = api.ok("GET", f"/v1/members/{mid}/stored-value")
    assert (account["principal"], account["bonus"]) == (65_000, 8_000)
    assert account["bonus_expiring"] == [{"expires": "2026-03-31", "fen": 1_000}, {"expires": "2026-04-09", "fen": 2_000}]
    at("2026-03-31")
    assert api.run_job("stored-value-bonus-expiry")["items_read"] == 0      # usable through its last day
    at("2026-04-01")
    run = api.run_job("stored-value-bonus-expiry")
    assert (run["items_read"], run["accounts_expired"], run["bonus_expired_fen"]) == (1, 1, 1_000)
    assert api.run_job("stored-value-bonus-expiry")["items_read"] == 0      # done: due again on 04-10
    at("2026-04-09")
    hold = api.ok("POST", f"/v1/members/{mid}/stored-value/holds", {"amount_fen": 72_000, "order_id": "E-H",
                                                                   "merchant_id": "m1", "ttl_seconds": 86_400})
    assert hold["bonus_fen"] == 7_000
    clock.freeze(datetime.fromisoformat("2026-04-09T20:00:00+00:00"))          # 04:00 on 04-10 in Shanghai
    run = api.run_job("stored-value-bonus-expiry")                 # the 04-09 lot is held: it waits
    assert (run["items_read"], run["bonus_expired_fen"]) == (1, 0)
    api.ok("POST", f"/v1/members/{mid}/stored-value/holds/{hold['hold_id']}/cancel", {})
    clock.freeze(clock.now() + timedelta(hours=1))
    run = api.run_job("stored-value-bonus-expiry")
    assert (run["accounts_expired"], run["bonus_expired_fen"]) == (1, 2_000)
    account = proof(api, mid)
    assert (account["principal"], account["bonus"], account["bonus_expired"]) == (65_000, 5_000, 3_000)
    assert account["bonus_expiring"] == []
    ledger = api.ok("GET", f"/v1/members/{mid}/stored-value/ledger")["postings"]
    assert ledger[0]["kind"] == "bonus_expired" and ledger[0]["entries"] == [   # the liability is debited
        {"account": "member:bonus", "fen": 2_000}, {"account": "bonus_expired", "fen": -2_000}]


def test_rules_with_negative_or_absurd_numbers_are_refused_and_nothing_is_saved(api, program):
    """Every number of the rules is bounded: a negative limit, a float, a non-finite number or an
    absurd amount is a 422 naming the field, and the rules in force stay as they were."""
    before = api.ok("GET", "/v1/stored-value/rules")
    bad = [{"issuance_limits_fen": {"program": -1}}, {"issuance_limits_fen": {"m1": 10**13}},
           {"issuance_limits_fen": {"m1": 1.5}}, {"issuance_limits_fen": {"Not An Issuer!": 1}},
           {"merchant_daily_top_up_max_fen": 0}, {"key_daily_top_up_max_fen": -5},
           {"merchant_daily_top_up_limits_fen": {"m1": -1}}, {"daily_top_up_max_fen": -1},
           {"single_top_up_max_fen": 0}, {"balance_cap_fen": 10**10}, {"cash_out_approval_above_fen": -1},
           {"reserve_percent": 101}, {"bonus_rules": [{"id": "x", "name": "x", "kind": "fixed", "bonus_fen": -3}]},
           {"issuance_limits_fen": {"no-such-merchant": 1_000}},                 # found from outside: names nothing
           {"merchant_daily_top_up_limits_fen": {"m1": 5_000, "nosuch": 5}}]
    for fields in bad:
        status, problem = api.call("PUT", "/v1/stored-value/rules", {"rules": {**RULES, **fields}})
        assert status == 422, (fields, problem)
    headers = {"Authorization": "Bearer " + api.token, "Content-Type": "application/json", "Idempotency-Key": "nan"}
    for raw in ('{"rules": {"issuance_limits_fen": {"program": NaN}}}',
                '{"rules": {"issuance_limits_fen": {"program": Infinity}}}'):
        assert api.client.http.put("/v1/stored-value/rules", body=raw, headers=headers).status_code in (400, 422)
    assert api.ok("GET", "/v1/stored-value/rules")["version"] == before["version"]
