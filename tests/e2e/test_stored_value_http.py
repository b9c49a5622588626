"""Stored value over real HTTP on the local stack: 32 tills paying at once never overdraw, a
payment provider's repeated callbacks top up once, and a burst of top-ups never passes the
issuer's limit."""

from __future__ import annotations

import threading
import time

from tests.e2e.conftest import all_at_once, configured
from tests.e2e.test_tenancy_http import A, pos, register_at, staff


def test_thirty_two_concurrent_payments_never_overdraw_and_a_repeated_top_up_counts_once(api, stack):
    hq = staff(api, stack, A, "super_admin")
    bob, _ = register_at(api, stack, A)
    replies = []

    def top_up(i):
        replies.append(api.call("POST", f"/v1/members/{bob}/stored-value/top-ups",
                                {"amount_fen": 100_000, "payment_ref": f"WX-{bob}"}, signed_by=pos(stack, A),
                                key=f"t{i}-{bob}"))

    threads = [threading.Thread(target=top_up, args=(i,)) for i in range(16)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert [r.status_code for r in replies].count(201) == 16, replies[0].text
    account = api.call("GET", f"/v1/members/{bob}/stored-value", headers=hq).json()
    assert account["topped_up"] == 100_000
    start = account["balance_fen"]
    paid = []

    def pay(i):
        paid.append(api.call("POST", f"/v1/members/{bob}/stored-value/payments",
                             {"amount_fen": 5_000, "order_id": f"sv-{bob}-{i}"}, signed_by=pos(stack, A),
                             key=f"p{i}-{bob}"))

    threads = [threading.Thread(target=pay, args=(i,)) for i in range(32)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    statuses = [r.status_code for r in paid]
    assert set(statuses) <= {201, 409, 503}
    ok = statuses.count(201)
    assert ok == min(32 - statuses.count(503), start // 5_000)        # every payment the balance allows
    assert all(r.json()["type"].endswith(("/insufficient-balance", "/busy")) for r in paid if r.status_code != 201)
    proof = api.call("GET", f"/v1/stored-value/reconciliation?member_id={bob}", headers=hq).json()
    assert proof["balanced"], proof
    assert proof["account"]["principal"] + proof["account"]["bonus"] == start - 5_000 * ok >= 0


RULES = "/v1/stored-value/rules"


def test_a_burst_of_top_ups_issues_exactly_the_room_under_the_program_limit(api, stack):
    """Eight tills top up eight members at once with 10,000 fen each, 30,000 of room left under
    the program's limit: exactly three are issued, five get 409 issuance-limit and change nothing,
    and once the stream has caught up the counter equals the figures."""
    hq = staff(api, stack, A, "super_admin")
    held = api.call("GET", "/v1/stored-value/reconciliation", headers=hq).json()["issuance"]["program"]["counter_fen"]
    members = [register_at(api, stack, A)[0] for _ in range(8)]

    def limited(rules):
        return {**rules, "issuance_limits_fen": {**rules.get("issuance_limits_fen", {}), "program": held + 30_000}}
    with configured(api, RULES, "rules", limited, headers=hq, key=f"lim-{members[0]}"):
        replies = all_at_once(8, lambda i: api.call(
            "POST", f"/v1/members/{members[i]}/stored-value/top-ups",
            {"amount_fen": 10_000, "payment_ref": f"BURST-{members[i]}"}, signed_by=pos(stack, A),
            key=f"burst-{members[i]}"))
        statuses = sorted(r.status_code for r in replies.values())
        assert statuses == [201] * 3 + [409] * 5, [r.text for r in replies.values()]
        assert all(r.json()["type"].endswith("/issuance-limit") for r in replies.values() if r.status_code == 409)
        balances = [api.call("GET", f"/v1/members/{m}/stored-value", headers=hq).json()["topped_up"] for m in members]
        assert sorted(balances) == [0] * 5 + [10_000] * 3                  # the refused ones changed nothing
        for _ in range(100):                                                # the stream folds the figures in
            proof = api.call("GET", "/v1/stored-value/reconciliation", headers=hq).json()
            if proof["issuance_agrees"]:
                break
            time.sleep(0.1)
        assert proof["issuance_agrees"], proof["issuance"]
        assert proof["issuance"]["program"]["counter_fen"] == held + 30_000


def test_a_pos_key_and_its_merchant_mint_at_most_their_daily_top_up_limits(api, stack):
    """A POS key tops up against payment references nobody here can verify: per key and per
    merchant, the day's top-ups are counted in the transaction and bounded by the rules."""
    from chalicelib.db.uow import UnitOfWork
    from chalicelib.shared import clock
    from chalicelib.stored_value import counters
    from chalicelib.stored_value.tables import SvCounterItem

    hq = staff(api, stack, A, "super_admin")
    key = pos(stack, A)
    day = f"DAY#{clock.program_date().isoformat()}"
    taken = {kind: counters.total(UnitOfWork(), SvCounterItem.of(kind, owner, day))
             for kind, owner in (("KEY", key["key_id"]), ("MERCHANT", A[1]))}
    bob = register_at(api, stack, A)[0]
    limits = {"key_daily_top_up_max_fen": taken["KEY"] + 20_000,
              "merchant_daily_top_up_max_fen": 1,                           # every other merchant: nothing
              "merchant_daily_top_up_limits_fen": {A[1]: taken["MERCHANT"] + 30_000}}

    def top_up(ref, fen=10_000, headers=None, signed=True):
        return api.call("POST", f"/v1/members/{bob}/stored-value/top-ups",
                        {"amount_fen": fen, "payment_ref": ref, **({} if signed else {"merchant_id": A[1]})},
                        signed_by=key if signed else None, headers=headers, key=f"{ref}-{bob}")
    with configured(api, RULES, "rules", lambda rules: {**rules, **limits}, headers=hq, key=f"day-{bob}"):
        assert [top_up(f"K1-{bob}").status_code, top_up(f"K2-{bob}").status_code] == [201, 201]
        refused = top_up(f"K3-{bob}")
        assert refused.status_code == 409 and refused.json()["type"].endswith("/stored-value-limit"), refused.text
        assert "key" in refused.json()["detail"]
        assert top_up(f"K3-{bob}").status_code == 409                       # its retry too: nothing was counted
        assert top_up(f"H1-{bob}", headers=hq, signed=False).status_code == 201       # HQ at the till's merchant
        refused = top_up(f"H2-{bob}", fen=1, headers=hq, signed=False)
        assert refused.status_code == 409 and "merchant" in refused.json()["detail"]
        account = api.call("GET", f"/v1/members/{bob}/stored-value", headers=hq).json()
        assert account["topped_up"] == 30_000
        assert counters.total(UnitOfWork(), SvCounterItem.of("KEY", key["key_id"], day)) == taken["KEY"] + 20_000
        assert counters.total(UnitOfWork(), SvCounterItem.of("MERCHANT", A[1], day)) == taken["MERCHANT"] + 30_000


def test_a_big_cash_out_waits_for_a_second_hq_staff_member(api, stack):
    """A free-text approver paid 48,500 fen: now a cash-out above the approval amount holds the
    principal until another authenticated HQ staff member approves it, once."""
    hq, other = staff(api, stack, A, "super_admin"), staff(api, stack, A, "ops_manager")
    bob = register_at(api, stack, A)[0]
    with configured(api, RULES, "rules", lambda rules: {**rules, "cash_out_approval_above_fen": 10_000}, headers=hq,
                    key=f"co-{bob}"):
        assert api.call("POST", f"/v1/members/{bob}/stored-value/top-ups",
                        {"amount_fen": 48_500, "payment_ref": f"CO-{bob}"}, signed_by=pos(stack, A),
                        key=f"co-top-{bob}").status_code == 201
        named = api.call("POST", f"/v1/members/{bob}/stored-value/cash-out",
                         {"reason": "leaving", "approved_by": "nobody-at-all"}, headers=hq, key=f"co-1-{bob}")
        assert named.status_code == 422
        pending = api.call("POST", f"/v1/members/{bob}/stored-value/cash-out", {"reason": "leaving"}, headers=hq,
                           key=f"co-2-{bob}").json()
        assert (pending["status"], pending["principal_fen"], pending["balance_fen"]) == ("pending", 48_500, 0)
        spent = api.call("POST", f"/v1/members/{bob}/stored-value/payments", {"amount_fen": 1, "order_id": f"co-{bob}"},
                         signed_by=pos(stack, A), key=f"co-pay-{bob}")
        assert spent.status_code == 409                                    # held while pending
        path = f"/v1/members/{bob}/stored-value/cash-outs/{pending['cash_out_id']}/approve"
        assert api.call("POST", path, {}, headers=hq, key=f"co-3-{bob}").status_code == 403
        assert api.call("POST", path, {}, headers=pos_headers(api, stack), key=f"co-4-{bob}").status_code == 403
        approvals = all_at_once(8, lambda i: api.call("POST", path, {}, headers=other, key=f"co-5-{i}-{bob}"))
        statuses = sorted(r.status_code for r in approvals.values())
        assert statuses == [200] + [409] * 7, [r.text for r in approvals.values()]
        account = api.call("GET", f"/v1/members/{bob}/stored-value", headers=hq).json()
        assert (account["cashed_out"], account["held_principal"], account["balance_fen"]) == (48_500, 0, 0)
        proof = api.call("GET", f"/v1/stored-value/reconciliation?member_id={bob}", headers=hq).json()
        assert proof["balanced"], proof


def test_a_cash_out_keeps_back_the_bonus_already_spent(api, stack):
    """Attack B #3: with bonus_first, top up 200.00 (+30.00), spend the 30.00, cash out: 170.00 comes
    back, not 200.00 (cash_out_deducts_spent_bonus, on by default)."""
    hq = staff(api, stack, A, "super_admin")
    bob = register_at(api, stack, A)[0]
    bonus = {"spend_order": "bonus_first", "cash_out_approval_above_fen": None,
             "bonus_rules": [{"id": "sb-200-30", "name": "储值200送30", "kind": "fixed", "min_fen": 20_000,
                              "bonus_fen": 3_000}]}
    with configured(api, RULES, "rules", lambda rules: {**rules, **bonus}, headers=hq, key=f"sb-{bob}"):
        topped = api.call("POST", f"/v1/members/{bob}/stored-value/top-ups",
                          {"amount_fen": 20_000, "payment_ref": f"SB-{bob}"}, signed_by=pos(stack, A), key=f"sb-top-{bob}")
        assert topped.status_code == 201 and topped.json()["bonus_fen"] == 3_000, topped.text
        paid = api.call("POST", f"/v1/members/{bob}/stored-value/payments", {"amount_fen": 3_000, "order_id": f"sb-{bob}"},
                        signed_by=pos(stack, A), key=f"sb-pay-{bob}")
        assert paid.status_code == 201 and paid.json()["bonus_fen"] == 3_000, paid.text
        out = api.call("POST", f"/v1/members/{bob}/stored-value/cash-out", {"reason": "leaving"}, headers=hq,
                       key=f"sb-out-{bob}").json()
        assert (out["status"], out["cashed_out_fen"], out["bonus_forfeited_fen"], out["spent_bonus_deducted_fen"]) == (
            "paid", 17_000, 0, 3_000), out
        account = api.call("GET", f"/v1/members/{bob}/stored-value", headers=hq).json()
        assert (account["cashed_out"], account["spent_bonus_deducted"], account["balance_fen"]) == (17_000, 3_000, 0)
        proof = api.call("GET", f"/v1/stored-value/reconciliation?member_id={bob}", headers=hq).json()
        assert proof["balanced"], proof


def pos_headers(api, stack):
    """A store clerk's token: staff, but not HQ."""
    return staff(api, stack, A, "clerk")
