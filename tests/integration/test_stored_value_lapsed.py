"""Issue #24 item 1, stored value: bonus past its lot's last day is no longer the member's, whether
or not the ``stored-value-bonus-expiry`` job has run (the job only makes it permanent). A payment
or a hold never takes it (nor counts it in the principal/bonus split), every reply leaves it out
of ``bonus`` and ``balance_fen`` and shows it as ``lapsed_bonus_fen``, and the job then takes
exactly that. Figures are worked out by hand from the rules; on every backend."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.shared import clock

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)                 # 12:00 on 1 March in Shanghai
EXPIRING = {"id": "exp", "name": "10 days", "kind": "fixed", "min_fen": 10_000, "bonus_fen": 2_000, "valid_days": 10}
FOREVER = {"id": "perm", "name": "forever", "kind": "fixed", "min_fen": 50_000, "bonus_fen": 5_000}


def at(moment: str) -> None:
    clock.freeze(datetime.fromisoformat(moment))


def rules(api, **more):
    clock.freeze(T0)
    api.ok("PUT", "/v1/stored-value/rules", {"rules": {"bonus_rules": [EXPIRING, FOREVER], **more},
                                             "effective_from": "2026-01-01T00:00:00Z"})


def top_up(api, mid, fen, ref):
    return api.ok("POST", f"/v1/members/{mid}/stored-value/top-ups", {"amount_fen": fen, "payment_ref": ref,
                                                                      "merchant_id": "m1"})


def pay(api, mid, fen, order):
    return api.call("POST", f"/v1/members/{mid}/stored-value/payments", {"amount_fen": fen, "order_id": order,
                                                                         "merchant_id": "m1"})


def hold(api, mid, fen, order, ttl=600):
    return api.ok("POST", f"/v1/members/{mid}/stored-value/holds", {"amount_fen": fen, "order_id": order,
                                                                    "merchant_id": "m1", "ttl_seconds": ttl})


def shown(api, mid):
    return api.ok("GET", f"/v1/members/{mid}/stored-value")


def proof(api, mid):
    result = api.ok("GET", f"/v1/stored-value/reconciliation?member_id={mid}")
    assert result["balanced"], result
    return result["account"]


def test_a_payment_before_the_job_runs_never_spends_lapsed_bonus_nor_splits_by_it(api):
    rules(api)
    mid = api.member("13800139501")
    assert top_up(api, mid, 10_000, "LA-1")["bonus_until"] == "2026-03-11"      # 2,000 through 03-11
    assert top_up(api, mid, 50_000, "LA-2")["bonus_until"] is None              # 5,000 that never expires
    at("2026-03-11T15:59:59+00:00")                                  # 23:59:59 on its last day: still valid
    account = shown(api, mid)
    assert (account["bonus"], account["lapsed_bonus_fen"], account["balance_fen"]) == (7_000, 0, 67_000)
    at("2026-03-11T16:00:00+00:00")                                  # 00:00 on 03-12: lapsed, the job not run
    account = shown(api, mid)
    assert (account["principal"], account["bonus"], account["lapsed_bonus_fen"], account["balance_fen"]) == (
        60_000, 5_000, 2_000, 65_000)
    assert account["bonus_expiring"] == [] and account["bonus_expired"] == 0
    status, problem = pay(api, mid, 65_001, "LA-O0")
    assert status == 409 and problem["type"].endswith("/insufficient-balance"), problem
    assert problem["balance_fen"] == 65_000
    status, paid = pay(api, mid, 13_000, "LA-O1")                    # 13,000 * 5,000 // 65,000 = 1,000 of bonus
    assert status == 201, paid
    assert (paid["principal_fen"], paid["bonus_fen"]) == (12_000, 1_000)
    assert (paid["principal"], paid["bonus"], paid["lapsed_bonus_fen"], paid["balance_fen"]) == (
        48_000, 4_000, 2_000, 52_000)
    held = hold(api, mid, 5_200, "LA-H")                             # 5,200 * 4,000 // 52,000 = 400 of bonus
    assert (held["principal_fen"], held["bonus_fen"], held["balance_fen"], held["lapsed_bonus_fen"]) == (
        4_800, 400, 46_800, 2_000)
    status, problem = pay(api, mid, 46_801, "LA-O2")
    assert status == 409 and problem["balance_fen"] == 46_800, problem
    # the job makes it permanent; nothing the member could see changes
    run = api.run_job("stored-value-bonus-expiry")
    assert (run["accounts_expired"], run["bonus_expired_fen"]) == (1, 2_000)
    account = proof(api, mid)
    assert (account["principal"], account["bonus"], account["held_bonus"], account["bonus_expired"]) == (
        43_200, 3_600, 400, 2_000)
    account = shown(api, mid)
    assert (account["bonus"], account["lapsed_bonus_fen"], account["balance_fen"]) == (3_600, 0, 46_800)
    assert api.run_job("stored-value-bonus-expiry")["items_read"] == 0


def test_a_cash_out_expires_the_lapsed_bonus_and_forfeits_only_the_members(api):
    rules(api)
    mid = api.member("13800139502")
    top_up(api, mid, 10_000, "LC-1")                                 # 2,000 through 03-11
    top_up(api, mid, 50_000, "LC-2")                                 # 5,000 forever
    at("2026-03-12T04:00:00+00:00")
    out = api.ok("POST", f"/v1/members/{mid}/stored-value/cash-out", {"reason": "closing"})
    assert (out["cashed_out_fen"], out["bonus_forfeited_fen"], out["bonus"]) == (60_000, 5_000, 0)
    account = proof(api, mid)
    assert (account["bonus_forfeited"], account["bonus_expired"], account["bonus_expiring"]) == (5_000, 2_000, [])
    newest = api.ok("GET", f"/v1/members/{mid}/stored-value/ledger")["postings"][0]
    assert newest["kind"] == "cash_out" and newest["bonus_delta"] == -7_000
    assert {"account": "bonus_expired", "fen": -2_000} in newest["entries"]
    assert {"account": "bonus_forfeited", "fen": -5_000} in newest["entries"]
    assert api.run_job("stored-value-bonus-expiry")["items_read"] == 0       # nothing left to expire


def test_a_hold_taken_on_the_last_day_still_spends_its_bonus_when_confirmed_after_it(api):
    """The hold reserved valid bonus: confirmed within its time it is spent, not lapsed."""
    rules(api, spend_order="bonus_first")
    mid = api.member("13800139503")
    top_up(api, mid, 10_000, "LH-1")                                 # 2,000 through 03-11
    at("2026-03-11T15:00:00+00:00")                                  # 23:00 on its last day
    held = hold(api, mid, 3_000, "LH-O", ttl=10_800)
    assert (held["principal_fen"], held["bonus_fen"]) == (1_000, 2_000)
    at("2026-03-11T17:00:00+00:00")                                  # 01:00 on 03-12
    account = shown(api, mid)
    assert (account["bonus"], account["held_bonus"], account["lapsed_bonus_fen"]) == (0, 2_000, 0)
    assert account["bonus_expiring"] == [{"expires": "2026-03-11", "fen": 2_000}]
    done = api.ok("POST", f"/v1/members/{mid}/stored-value/holds/{held['hold_id']}/confirm", {})
    assert (done["bonus_fen"], done["balance_fen"]) == (2_000, 9_000)
    account = proof(api, mid)
    assert (account["bonus"], account["spent_bonus"], account["bonus_expired"], account["bonus_expiring"]) == (
        0, 2_000, 0, [])


def test_a_hold_taken_after_the_last_day_cannot_reserve_the_lapsed_bonus(api):
    rules(api, spend_order="bonus_first")
    mid = api.member("13800139504")
    top_up(api, mid, 10_000, "LN-1")                                 # 2,000 through 03-11
    at("2026-03-12T04:00:00+00:00")
    held = hold(api, mid, 3_000, "LN-O")
    assert (held["principal_fen"], held["bonus_fen"], held["lapsed_bonus_fen"]) == (3_000, 0, 2_000)
    done = api.ok("POST", f"/v1/members/{mid}/stored-value/holds/{held['hold_id']}/confirm", {})
    assert (done["principal_fen"], done["bonus_fen"], done["balance_fen"]) == (3_000, 0, 7_000)
    assert api.run_job("stored-value-bonus-expiry")["bonus_expired_fen"] == 2_000
    assert (proof(api, mid)["bonus"], shown(api, mid)["balance_fen"]) == (0, 7_000)


def test_bonus_refunded_to_a_lot_past_its_last_day_lapses_at_once(api):
    rules(api, spend_order="bonus_first")
    mid = api.member("13800139505")
    top_up(api, mid, 10_000, "LR-1")                                 # 2,000 through 03-11
    at("2026-03-05T04:00:00+00:00")
    status, paid = pay(api, mid, 3_000, "LR-O")
    assert status == 201 and (paid["principal_fen"], paid["bonus_fen"]) == (1_000, 2_000)
    at("2026-03-12T04:00:00+00:00")
    back = api.ok("POST", "/v1/stored-value/payments/LR-O/refunds", {"refund_id": "r", "amount_fen": 3_000,
                                                                     "merchant_id": "m1"})
    assert (back["principal_fen"], back["bonus_fen"]) == (1_000, 2_000)
    assert (back["principal"], back["bonus"], back["lapsed_bonus_fen"], back["balance_fen"]) == (
        10_000, 0, 2_000, 10_000)
    assert api.run_job("stored-value-bonus-expiry")["bonus_expired_fen"] == 2_000


@pytest.mark.parametrize("lapsed", [True, False])
def test_the_balance_cap_counts_only_the_bonus_the_member_holds(api, lapsed):
    rules(api, balance_cap_fen=18_000)
    mid = api.member(f"1380013951{int(lapsed)}")
    top_up(api, mid, 10_000, "LK-1")                                 # 12,000: 2,000 of it through 03-11
    at("2026-03-12T04:00:00+00:00" if lapsed else "2026-03-11T04:00:00+00:00")
    room = 18_000 - 10_000 - (0 if lapsed else 2_000)                # below min_fen: no bonus
    status, problem = api.call("POST", f"/v1/members/{mid}/stored-value/top-ups",
                               {"amount_fen": room + 1, "payment_ref": "LK-2", "merchant_id": "m1"})
    assert status == 409 and problem["type"].endswith("/stored-value-limit"), problem
    assert top_up(api, mid, room, "LK-3")["balance_fen"] == 18_000
