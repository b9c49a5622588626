"""More stored value at its edges, through the app on every backend: a member's daily top-up limit
and an API key's exactly reached and one fen over, the cash-out approval amount exactly at and one
fen over, and payments and refunds of odd amounts (1 fen, 999 fen, refunds adding up exactly to
the payment and one fen over) taking principal and bonus in the configured proportion. Figures by
hand."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.shared import clock
from chalicelib.shared.credentials import mint_token

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)                 # 12:00 on 1 March in Shanghai
FIXED = {"id": "200-30", "name": "储值200送30", "kind": "fixed", "min_fen": 20_000, "bonus_fen": 3_000}


def rules(api, **fields):
    api.ok("PUT", "/v1/stored-value/rules", {"rules": {"bonus_rules": [FIXED], **fields},
                                             "effective_from": "2026-01-01T00:00:00Z"})


@pytest.fixture
def program(api):
    clock.freeze(T0)
    rules(api)


def top_up(api, mid, fen, ref, merchant="m1"):
    return api.call("POST", f"/v1/members/{mid}/stored-value/top-ups", {"amount_fen": fen, "payment_ref": ref,
                                                                        "merchant_id": merchant})


def pay(api, mid, fen, order):
    return api.call("POST", f"/v1/members/{mid}/stored-value/payments", {"amount_fen": fen, "order_id": order,
                                                                         "merchant_id": "m1"})


def refund(api, order, fen, refund_id):
    return api.call("POST", f"/v1/stored-value/payments/{order}/refunds", {"refund_id": refund_id, "amount_fen": fen,
                                                                          "merchant_id": "m1"})


def account(api, mid):
    proof = api.ok("GET", f"/v1/stored-value/reconciliation?member_id={mid}")
    assert proof["balanced"], proof
    return proof["account"]


# daily top-up limits --------------------------------------------------------------------------

def test_a_members_daily_top_ups_reach_the_limit_exactly_and_not_one_fen_more(api, program):
    """50,000 a day: 30,000 then 20,001 is refused (nothing written), 20,000 fills the day exactly
    (its bonus does not count), then not one fen more; another member has their own day."""
    rules(api, daily_top_up_max_fen=50_000)
    mid = api.member("13800139801")
    assert top_up(api, mid, 30_000, "DD-1")[0] == 201
    status, problem = top_up(api, mid, 20_001, "DD-2")
    assert status == 409 and problem["type"].endswith("/stored-value-limit") and problem["limit_fen"] == 50_000
    assert account(api, mid)["topped_up"] == 30_000
    status, done = top_up(api, mid, 20_000, "DD-3")
    assert status == 201 and (done["principal"], done["bonus"]) == (50_000, 6_000)
    status, problem = top_up(api, mid, 1, "DD-4")
    assert status == 409 and problem["limit_fen"] == 50_000, problem
    assert account(api, mid)["topped_up"] == 50_000
    other = api.member("13800139802")
    assert top_up(api, other, 50_000, "DD-5")[0] == 201
    assert top_up(api, other, 1, "DD-6")[0] == 409


def test_a_single_top_up_may_be_exactly_its_maximum(api, program):
    rules(api, single_top_up_max_fen=20_000)
    mid = api.member("13800139803")
    status, problem = top_up(api, mid, 20_001, "SM-1")
    assert status == 409 and problem["limit_fen"] == 20_000, problem
    status, done = top_up(api, mid, 20_000, "SM-2")
    assert status == 201 and done["balance_fen"] == 23_000


def _key_top_up(member_id, fen, ref, key_id="key-1"):
    """A top-up taken by a merchant's API key (a till), called as the route would."""
    from chalicelib.db.uow import UnitOfWork
    from chalicelib.shared.errors import Problem
    from chalicelib.shared.principal import Principal
    from chalicelib.stored_value import service
    from chalicelib.stored_value.schemas import TopUp
    till = Principal("merchant", key_id, None, "m1", None, capabilities=("pos",))
    uow = UnitOfWork(till.ref, "corr-key")
    try:
        reply = service.top_up(member_id, TopUp(amount_fen=fen, payment_ref=ref), till, uow, None)
        uow.commit()
    except Problem as problem:
        return problem
    return reply


def test_an_api_keys_daily_top_ups_reach_its_limit_exactly_and_staff_are_not_counted_on_it(api, program):
    """A key may take 10,000 a day: 6,000 and 4,000 pass, one fen more is refused naming the
    limit; another key of the same merchant and HQ staff naming that merchant are not counted on it."""
    from chalicelib.shared.errors import Problem
    rules(api, key_daily_top_up_max_fen=10_000)
    mid = api.member("13800139804")
    assert _key_top_up(mid, 6_000, "KD-1")["principal"] == 6_000
    assert _key_top_up(mid, 4_000, "KD-2")["principal"] == 10_000
    refused = _key_top_up(mid, 1, "KD-3")
    assert isinstance(refused, Problem) and refused.slug == "stored-value-limit", refused
    assert refused.extensions["limit_fen"] == 10_000 and "key key-1" in refused.detail
    assert account(api, mid)["topped_up"] == 10_000
    assert _key_top_up(mid, 10_000, "KD-4", key_id="key-2")["principal"] == 20_000
    assert top_up(api, mid, 10_001, "KD-5")[0] == 201                    # staff: no key limit
    assert account(api, mid)["topped_up"] == 30_001


# the cash-out approval amount -----------------------------------------------------------------

def test_a_cash_out_of_exactly_the_approval_amount_is_paid_at_once_and_one_fen_more_waits(api, program):
    rules(api, cash_out_approval_above_fen=10_000)
    exact, over = api.member("13800139805"), api.member("13800139806")
    top_up(api, exact, 10_000, "CA-1")
    top_up(api, over, 10_001, "CA-2")
    paid = api.ok("POST", f"/v1/members/{exact}/stored-value/cash-out", {"reason": "leaving"})
    assert (paid["status"], paid["cashed_out_fen"], paid["balance_fen"]) == ("paid", 10_000, 0)
    pending = api.ok("POST", f"/v1/members/{over}/stored-value/cash-out", {"reason": "leaving"})
    assert (pending["status"], pending["principal_fen"], pending["cashed_out_fen"]) == ("pending", 10_001, 0)
    assert pending["bonus_forfeited_fen"] == 0                           # nothing forfeited until approved
    assert (account(api, exact)["cashed_out"], account(api, over)["held_principal"]) == (10_000, 10_001)


def test_with_no_approval_amount_any_cash_out_is_paid_at_once(api, program):
    mid = api.member("13800139807")
    top_up(api, mid, 450_000, "CA-3")                                    # + 3,000 bonus
    paid = api.ok("POST", f"/v1/members/{mid}/stored-value/cash-out", {"reason": "leaving"})
    assert (paid["status"], paid["cashed_out_fen"], paid["bonus_forfeited_fen"]) == ("paid", 450_000, 3_000)


def test_an_approval_amount_of_zero_holds_a_cash_out_of_one_fen(api, program):
    rules(api, cash_out_approval_above_fen=0)
    mid = api.member("13800139808")
    top_up(api, mid, 1, "CA-4")
    pending = api.ok("POST", f"/v1/members/{mid}/stored-value/cash-out", {"reason": "leaving"})
    assert (pending["status"], pending["principal_fen"]) == ("pending", 1)


def test_a_rejected_cash_out_gives_the_principal_back_and_the_requester_cannot_decide(api, program):
    rules(api, cash_out_approval_above_fen=10_000)
    mid = api.member("13800139809")
    top_up(api, mid, 20_000, "CA-5")                                     # + 3,000 bonus
    pending = api.ok("POST", f"/v1/members/{mid}/stored-value/cash-out", {"reason": "leaving"})
    path = f"/v1/members/{mid}/stored-value/cash-outs/{pending['cash_out_id']}"
    assert api.call("POST", f"{path}/reject", {"reason": "changed my mind"})[0] == 403
    cfo = mint_token("staff", "cfo", 60, role="ops_manager")
    status, problem = api.call("POST", f"{path}/reject", {}, token=cfo)
    assert status == 422, problem
    status, done = api.call("POST", f"{path}/reject", {"reason": "fraud check"}, token=cfo)
    assert status == 200 and (done["status"], done["principal"], done["bonus"]) == ("rejected", 20_000, 3_000)
    assert done["balance_fen"] == 23_000
    held = account(api, mid)
    assert (held["principal"], held["held_principal"], held["cashed_out"]) == (20_000, 0, 0)


# payments and refunds of odd amounts ----------------------------------------------------------

def test_a_payment_of_odd_amounts_takes_principal_and_bonus_in_proportion(api, program):
    """20,000 + 3,000 bonus: 999 fen takes 999 * 3,000 // 23,000 = 130 of bonus; 1 fen takes none."""
    mid = api.member("13800139810")
    top_up(api, mid, 20_000, "PP-1")
    status, done = pay(api, mid, 999, "PP-O1")
    assert status == 201 and (done["principal_fen"], done["bonus_fen"]) == (869, 130)
    assert (done["principal"], done["bonus"]) == (19_131, 2_870)
    status, done = pay(api, mid, 1, "PP-O2")
    assert status == 201 and (done["principal_fen"], done["bonus_fen"]) == (1, 0)
    status, done = pay(api, mid, 22_000, "PP-O3")                        # 22,000 of 22,000: everything
    assert status == 201 and (done["principal_fen"], done["bonus_fen"], done["balance_fen"]) == (19_130, 2_870, 0)
    status, problem = pay(api, mid, 1, "PP-O4")
    assert status == 409 and problem["type"].endswith("/insufficient-balance")


def test_refunds_adding_up_exactly_to_the_payment_give_back_its_split_and_one_fen_more_is_refused(api, program):
    """A 999 fen payment of 869 principal and 130 bonus refunded 1, 499 and 499 fen: each gives
    back its cumulative share (0, 65, then the rest, 65 of bonus), exactly the payment's split."""
    mid = api.member("13800139811")
    top_up(api, mid, 20_000, "RF-1")
    pay(api, mid, 999, "RF-O")
    got = []
    for fen, rid in ((1, "r1"), (499, "r2"), (499, "r3")):
        status, done = refund(api, "RF-O", fen, rid)
        assert status == 201, done
        got.append((done["principal_fen"], done["bonus_fen"], done["refunded_fen"]))
    assert got == [(1, 0, 1), (434, 65, 500), (434, 65, 999)]
    status, problem = refund(api, "RF-O", 1, "r4")
    assert status == 409 and problem["type"].endswith("/refund-exceeds-payment") and problem["refunded_fen"] == 999
    held = account(api, mid)
    assert (held["principal"], held["bonus"], held["refunded_principal"], held["refunded_bonus"]) == (20_000, 3_000,
                                                                                                      869, 130)


def test_a_refund_one_fen_over_what_is_left_is_refused_and_what_is_left_exactly_passes(api, program):
    mid = api.member("13800139812")
    top_up(api, mid, 20_000, "RF-2")
    pay(api, mid, 999, "RF-P")
    assert refund(api, "RF-P", 500, "a")[0] == 201
    status, problem = refund(api, "RF-P", 500, "b")
    assert status == 409 and problem["refunded_fen"] == 500, problem
    assert problem["detail"] == "refunds would total 1000 fen of a 999 fen payment"
    status, done = refund(api, "RF-P", 499, "c")
    assert status == 201 and done["refunded_fen"] == 999 and done["balance_fen"] == 23_000


# accounts from before the listing -------------------------------------------------------------

def test_an_account_from_before_the_listing_is_listed_again_by_its_next_posting(api, program):
    """An account item written before accounts were listed (no listing keys, on keys1 or gsi1) is
    missing from the proof of every account until its next posting lists it."""
    from chalicelib.db.uow import UnitOfWork
    from chalicelib.stored_value.tables import SvAccountItem
    mid = api.member("13800139813")
    top_up(api, mid, 10_000, "LS-1")
    uow = UnitOfWork("test")
    item = uow.get(SvAccountItem, SvAccountItem.key(mid), consistent=True)
    item.gsi1pk = item.gsi1sk = item.k1pk = item.k1sk = None
    uow.put(item)
    assert api.ok("GET", "/v1/stored-value/reconciliation")["accounts_checked"] == 0
    top_up(api, mid, 1, "LS-2")
    proof = api.ok("GET", "/v1/stored-value/reconciliation")
    assert (proof["accounts_checked"], proof["balanced"]) == (1, True)
    assert proof["totals"]["principal"] == 10_001


def test_a_refund_of_an_order_never_paid_with_stored_value_is_a_404_and_writes_nothing(api, program):
    mid = api.member("13800139814")
    top_up(api, mid, 10_000, "NF-1")
    status, problem = refund(api, "NF-O", 1, "r1")
    assert status == 404 and problem["type"].endswith("/not-found"), problem
    assert problem["detail"] == "no stored value payment for order NF-O at merchant m1"
    held = account(api, mid)
    assert (held["principal"], held["refunded_principal"], held["version"]) == (10_000, 0, 1)


def test_a_refund_id_used_twice_is_refused_and_gives_nothing_back_twice(api, program):
    mid = api.member("13800139815")
    top_up(api, mid, 20_000, "RR-1")
    pay(api, mid, 999, "RR-O")
    assert refund(api, "RR-O", 100, "same")[0] == 201
    status, problem = refund(api, "RR-O", 100, "same")
    assert status == 409 and problem["detail"] == "refund same was applied already", problem
    held = account(api, mid)
    assert held["refunded_principal"] + held["refunded_bonus"] == 100


def test_hq_staff_refunding_without_naming_the_merchant_are_asked_for_it(api, program):
    """HQ staff act for no merchant of their own: a refund must name the merchant (422), not
    look for the order at no merchant."""
    mid = api.member("13800139816")
    top_up(api, mid, 20_000, "RM-1")
    pay(api, mid, 999, "RM-O")
    cfo = mint_token("staff", "cfo", 60, role="ops_manager")
    status, problem = api.call("POST", "/v1/stored-value/payments/RM-O/refunds", {"refund_id": "r", "amount_fen": 1},
                               token=cfo)
    assert status == 422 and "merchant_id is required" in problem["detail"], problem


def test_a_cancelled_hold_names_its_canceller_and_a_confirmed_one_says_so_when_cancelled(api, program):
    mid = api.member("13800139817")
    top_up(api, mid, 10_000, "HC-1")
    base = f"/v1/members/{mid}/stored-value/holds"
    first = api.ok("POST", base, {"amount_fen": 1_000, "order_id": "HC-A", "merchant_id": "m1", "ttl_seconds": 60})
    assert api.ok("POST", f"{base}/{first['hold_id']}/cancel")["status"] == "released"
    [released] = api.ok("GET", f"/v1/members/{mid}/stored-value/ledger?limit=1")["postings"]
    assert (released["kind"], released["actor"]) == ("hold_released", "staff:ops")
    second = api.ok("POST", base, {"amount_fen": 1_000, "order_id": "HC-B", "merchant_id": "m1", "ttl_seconds": 60})
    api.ok("POST", f"{base}/{second['hold_id']}/confirm")
    status, problem = api.call("POST", f"{base}/{second['hold_id']}/cancel")
    assert status == 409 and problem["detail"] == f"hold {second['hold_id']} is confirmed", problem
    held = account(api, mid)
    assert (held["principal"], held["held_principal"], held["spent_principal"]) == (9_000, 0, 1_000)


def test_hq_staff_taking_a_hold_without_naming_the_merchant_are_asked_for_it(api, program):
    mid = api.member("13800139818")
    top_up(api, mid, 10_000, "HM-1")
    cfo = mint_token("staff", "cfo", 60, role="ops_manager")
    status, problem = api.call("POST", f"/v1/members/{mid}/stored-value/holds", {"amount_fen": 1_000,
                                                                                 "order_id": "HM-O"}, token=cfo)
    assert status == 422 and "merchant_id is required" in problem["detail"], problem
    assert account(api, mid)["held_principal"] == 0
