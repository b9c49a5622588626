"""A cash-out takes back the bonus already spent (attack B #3, 退卡 practice), on every backend:
the rules' ``cash_out_deducts_spent_bonus`` (on by default) keeps from the principal paid back the
bonus the member spent, net of refunds, that no earlier cash-out took back; the account's running
totals say how much, whatever its history. Figures by hand."""

from datetime import UTC, datetime

from chalicelib.shared import clock
from tests.integration.test_stored_value import pay, proof, second_approver, top_up

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
RULES = {"bonus_rules": [{"id": "200-30", "name": "储值200送30", "kind": "fixed", "min_fen": 20_000,
                          "bonus_fen": 3_000}]}


def rules(api, **more):
    clock.freeze(T0)
    api.ok("PUT", "/v1/stored-value/rules", {"rules": {**RULES, **more}, "effective_from": "2026-01-01T00:00:00Z"})


def cash_out(api, mid):
    return api.ok("POST", f"/v1/members/{mid}/stored-value/cash-out", {"reason": "closing the card",
                                                                       "refund_ref": "WX"})


def test_bonus_first_top_up_200_spend_the_30_cash_out_gives_back_170(api):
    rules(api, spend_order="bonus_first")
    mid = api.member("13800139501")
    top_up(api, mid, 20_000, "B-1")                                     # 200.00 + 30.00 bonus
    assert pay(api, mid, 3_000, "O-1")[1]["bonus_fen"] == 3_000          # the 30.00 is all bonus
    out = cash_out(api, mid)
    assert (out["cashed_out_fen"], out["bonus_forfeited_fen"], out["spent_bonus_deducted_fen"]) == (17_000, 0, 3_000)
    account = proof(api, mid)                                           # balances = postings = lines = totals
    assert (account["principal"], account["cashed_out"], account["spent_bonus_deducted"]) == (0, 17_000, 3_000)
    entries = api.ok("GET", f"/v1/members/{mid}/stored-value/ledger")["postings"][0]["entries"]
    assert sorted((e["account"], e["fen"]) for e in entries) == [
        ("bonus_recovered", -3_000), ("cash_clearing", -17_000), ("member:principal", 3_000),
        ("member:principal", 17_000)]


def test_proportional_spending_refunds_and_a_second_cash_out_count_only_what_is_still_owed(api):
    rules(api)                                                          # proportional
    mid = api.member("13800139502")
    top_up(api, mid, 20_000, "P-1")                                     # 20,000 + 3,000
    assert (pay(api, mid, 11_500, "O-1")[1]["bonus_fen"]) == 1_500      # 10,000 / 1,500
    back = api.ok("POST", "/v1/stored-value/payments/O-1/refunds", {"refund_id": "r1", "amount_fen": 2_300,
                                                                    "merchant_id": "m1"})
    assert (back["principal_fen"], back["bonus_fen"]) == (2_000, 300)   # bonus spent net: 1,200
    out = cash_out(api, mid)                                            # principal 12,000, bonus 1,800
    assert (out["cashed_out_fen"], out["bonus_forfeited_fen"], out["spent_bonus_deducted_fen"]) == (10_800, 1_800, 1_200)
    top_up(api, mid, 20_000, "P-2")                                     # afresh: 20,000 + 3,000
    assert pay(api, mid, 100, "O-2")[1]["bonus_fen"] == 13              # ⌊100 × 3,000 / 23,000⌋
    out = cash_out(api, mid)                                            # only the 13 since: not the 1,200 again
    assert (out["cashed_out_fen"], out["bonus_forfeited_fen"], out["spent_bonus_deducted_fen"]) == (19_900, 2_987, 13)
    account = proof(api, mid)
    assert (account["cashed_out"], account["spent_bonus_deducted"], account["spent_bonus"],
            account["refunded_bonus"]) == (30_700, 1_213, 1_513, 300)


def test_the_deduction_stops_at_the_principal_and_the_rest_waits_for_the_next_cash_out(api):
    rules(api)
    mid = api.member("13800139503")
    top_up(api, mid, 20_000, "D-1")
    assert pay(api, mid, 22_000, "O-1")[1]["bonus_fen"] == 2_869        # ⌊22,000 × 3,000 / 23,000⌋; 869 principal left
    out = cash_out(api, mid)
    assert (out["cashed_out_fen"], out["bonus_forfeited_fen"], out["spent_bonus_deducted_fen"]) == (0, 131, 869)
    top_up(api, mid, 20_000, "D-2")                                     # 2,000 still owed
    out = cash_out(api, mid)
    assert (out["cashed_out_fen"], out["spent_bonus_deducted_fen"]) == (18_000, 2_000)
    assert proof(api, mid)["spent_bonus_deducted"] == 2_869


def test_switched_off_the_whole_principal_goes_back(api):
    rules(api, spend_order="bonus_first", cash_out_deducts_spent_bonus=False)
    mid = api.member("13800139504")
    top_up(api, mid, 20_000, "F-1")
    pay(api, mid, 3_000, "O-1")
    out = cash_out(api, mid)
    assert (out["cashed_out_fen"], out["spent_bonus_deducted_fen"]) == (20_000, 0)
    assert proof(api, mid)["spent_bonus_deducted"] == 0


def test_an_approved_cash_out_deducts_what_was_spent_up_to_its_approval(api):
    rules(api, spend_order="bonus_first", cash_out_approval_above_fen=10_000)
    mid = api.member("13800139505")
    top_up(api, mid, 20_000, "A-1")
    pay(api, mid, 1_000, "O-1")                                         # bonus
    pending = cash_out(api, mid)
    assert (pending["status"], pending["principal_fen"], pending["spent_bonus_deducted_fen"]) == ("pending", 20_000, 0)
    pay(api, mid, 500, "O-2")                                           # the bonus is still spendable meanwhile
    path = f"/v1/members/{mid}/stored-value/cash-outs/{pending['cash_out_id']}"
    assert api.ok("GET", path)["spent_bonus_deducted_fen"] is None      # not paid yet
    status, paid = second_approver(api)("POST", f"{path}/approve", {}, "approve-1")
    assert status == 200 and (paid["principal_fen"], paid["cashed_out_fen"], paid["bonus_forfeited_fen"],
                              paid["spent_bonus_deducted_fen"]) == (20_000, 18_500, 1_500, 1_500), paid
    assert api.ok("GET", path)["spent_bonus_deducted_fen"] == 1_500
    account = proof(api, mid)
    assert (account["cashed_out"], account["spent_bonus_deducted"], account["held_principal"]) == (18_500, 1_500, 0)
