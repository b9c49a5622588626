"""Stored value where the earlier tests did not look, through the app on the in-memory fake (issue
#21's survivors): HQ staff booking to no merchant, what one top-up costs in requests with a
limited bonus and an issuance limit in play, races lost at commit (a payment reference, a
bonus's last use, the day's top-ups, an order, a refund, a hold), the best bonus after a rule
that gives nothing, which limit a refused top-up names, the posting and event of a top-up with
an expiring bonus, the shortfall a refused payment reports, reads right after a write while
replicas lag, a proof that finds altered lines, a proportional split of equal parts, gift
a card of another issuer redeemed into stored value, a merged member's hold and a lot left with
one fen. Figures by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.shared import clock
from chalicelib.shared.credentials import mint_token
from tests.integration.conftest import AppClient
from tests.outbox import outbox_events
from tests.racing import appear, bump, put

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)                 # 12:00 on 1 March in Shanghai
FIXED = {"id": "200-30", "name": "储值200送30", "kind": "fixed", "min_fen": 20_000, "bonus_fen": 3_000}


@pytest.fixture
def api(memory):
    clock.freeze(T0)
    client = AppClient()
    rules(client)
    yield client
    clock.freeze(None)


@pytest.fixture
def raced(racing):
    """The app on the staged-race fake: ``raced.fake.race(...)`` before the call that loses."""
    clock.freeze(T0)
    client = AppClient()
    client.fake = racing
    rules(client)
    yield client
    clock.freeze(None)


def rules(api, **fields):
    body = {"bonus_rules": [FIXED], **fields}
    api.ok("PUT", "/v1/stored-value/rules", {"rules": body, "effective_from": "2026-01-01T00:00:00Z"})


def top_up(api, mid, fen, ref, merchant="m1", token=None):
    body = {"amount_fen": fen, "payment_ref": ref, **({"merchant_id": merchant} if merchant else {})}
    return api.call("POST", f"/v1/members/{mid}/stored-value/top-ups", body, token=token)


def pay(api, mid, fen, order, merchant="m1", token=None):
    body = {"amount_fen": fen, "order_id": order, **({"merchant_id": merchant} if merchant else {})}
    return api.call("POST", f"/v1/members/{mid}/stored-value/payments", body, token=token)


def refund(api, order, fen, refund_id):
    return api.call("POST", f"/v1/stored-value/payments/{order}/refunds", {"refund_id": refund_id, "amount_fen": fen,
                                                                          "merchant_id": "m1"})


def hold(api, mid, fen, order, ttl=600):
    return api.call("POST", f"/v1/members/{mid}/stored-value/holds", {"amount_fen": fen, "order_id": order,
                                                                      "merchant_id": "m1", "ttl_seconds": ttl})


def account(api, mid):
    proof = api.ok("GET", f"/v1/stored-value/reconciliation?member_id={mid}")
    assert proof["balanced"], proof
    return proof["account"]


def events(kind):
    return [e.data for e in outbox_events(kind=kind)]


HQ = mint_token("staff", "cfo", 60 * 24, role="ops_manager")            # HQ staff of no merchant


# who a top-up or a payment is booked to -------------------------------------------------------

def test_hq_staff_may_top_up_without_naming_a_merchant_and_no_merchant_is_booked(api):
    mid = api.member("13800139901")
    status, done = top_up(api, mid, 10_000, "HQ-1", merchant=None, token=HQ)
    assert status == 201 and done["balance_fen"] == 10_000, done
    [posting] = api.ok("GET", f"/v1/members/{mid}/stored-value/ledger")["postings"]
    assert (posting["kind"], posting["merchant_id"], posting["amount_fen"]) == ("top_up", None, 10_000)


def test_hq_staff_paying_without_naming_the_merchant_are_asked_for_it_and_nothing_is_spent(api):
    mid = api.member("13800139902")
    top_up(api, mid, 10_000, "HQ-2")
    status, problem = pay(api, mid, 1_000, "HQ-O", merchant=None, token=HQ)
    assert status == 422 and "merchant_id is required" in problem["detail"], problem
    held = account(api, mid)
    assert (held["principal"], held["spent_principal"], held["version"]) == (10_000, 0, 1)


# what a request costs -------------------------------------------------------------------------

def test_a_top_up_with_a_limited_bonus_under_an_issuance_limit_is_still_two_requests(api, memory):
    """The bonus's use counter and the issuer's outflow shards the limit reads are read with the
    member and the account: one read, one write."""
    api.ok("PUT", "/v1/stored-value/rules", {"rules": {
        "bonus_rules": [{"id": "once", "name": "once", "kind": "fixed", "min_fen": 10_000, "bonus_fen": 1_000,
                         "per_member_limit": 2}],
        "issuance_limits_fen": {"program": 1_000_000}}, "effective_from": "2026-01-01T00:00:00Z"})
    mid = api.member("13800139903")
    assert top_up(api, mid, 10_000, "RQ-0")[1]["bonus_fen"] == 1_000         # rules and merchant cached after this
    before = memory.requests
    status, done = top_up(api, mid, 10_000, "RQ-1")
    assert status == 201 and (done["bonus_fen"], done["balance_fen"]) == (1_000, 22_000), done
    assert memory.requests - before == 2
    before = memory.requests
    status, done = top_up(api, mid, 10_000, "RQ-2")                         # both uses taken: no bonus
    assert status == 201 and (done["bonus_fen"], done["balance_fen"]) == (0, 32_000), done
    assert memory.requests - before == 2


def test_a_hold_under_an_issuance_limit_is_two_requests(api, memory):
    """Money moved to held is still the program's: the hold reads no issuer counter."""
    rules(api, issuance_limits_fen={"program": 1_000_000})
    mid = api.member("13800139904")
    top_up(api, mid, 10_000, "HR-1")
    hold(api, mid, 100, "HR-warm")
    before = memory.requests
    status, held = hold(api, mid, 1_000, "HR-O")
    assert status == 201 and held["balance_fen"] == 8_900, held
    assert memory.requests - before == 2


# races lost at commit -------------------------------------------------------------------------

def test_a_top_up_whose_payment_reference_was_applied_meanwhile_is_answered_as_applied(raced):
    """Another request applied the same payment between this one's read and its commit: the
    retry answers it as applied and adds nothing (the staged race writes only the other
    request's payment record, so the account stays as this request found it)."""
    from chalicelib.stored_value.tables import SvTopUpRefItem
    mid = raced.member("13800139905")
    raced.fake.race(SvTopUpRefItem, create=appear(SvTopUpRefItem, member_id=mid, amount_fen=10_000, bonus_fen=0,
                                                  at="2026-03-01T04:00:00.000Z"))
    status, done = top_up(raced, mid, 10_000, "RACE-REF")
    assert status == 201 and done["already_applied"] is True, done
    assert raced.fake.raced == 1
    held = account(raced, mid)
    assert (held["principal"], held["topped_up"], held["version"]) == (0, 0, 0)


def test_a_top_up_that_lost_a_bonus_rules_last_use_is_retried_without_the_bonus(raced):
    from chalicelib.stored_value.tables import SvCounterItem
    api = raced
    api.ok("PUT", "/v1/stored-value/rules", {"rules": {"bonus_rules": [
        {"id": "once", "name": "once", "kind": "fixed", "min_fen": 10_000, "bonus_fen": 1_000, "per_member_limit": 1}]},
        "effective_from": "2026-01-01T00:00:00Z"})
    mid = api.member("13800139906")
    api.fake.race(SvCounterItem, create=appear(SvCounterItem, total=1), where=lambda pk, sk: sk == "SV#BONUS#once")
    status, done = top_up(api, mid, 10_000, "LAST-USE")
    assert status == 201 and (done["bonus_fen"], done["bonus_rule"], done["balance_fen"]) == (0, None, 10_000), done
    assert api.fake.raced == 1
    held = account(api, mid)
    assert (held["principal"], held["bonus"], held["bonus_granted"]) == (10_000, 0, 0)


def test_a_top_up_that_lost_the_days_room_to_another_is_refused_by_the_daily_limit(raced):
    from chalicelib.stored_value.tables import SvCounterItem
    api = raced
    rules(api, daily_top_up_max_fen=50_000)
    mid = api.member("13800139907")
    assert top_up(api, mid, 30_000, "DAY-1")[0] == 201
    api.fake.race(SvCounterItem, bump("total", 10_000), where=lambda pk, sk: sk == "SV#DAY#2026-03-01")
    status, problem = top_up(api, mid, 15_000, "DAY-2")                 # 30,000 + 10,000 meanwhile + 15,000
    assert status == 409 and problem["type"].endswith("/stored-value-limit"), problem
    assert problem["limit_fen"] == 50_000 and api.fake.raced == 1
    assert account(api, mid)["topped_up"] == 30_000


def test_a_payment_of_an_order_paid_meanwhile_is_refused_and_spends_nothing(raced):
    from chalicelib.stored_value.tables import SvPaymentItem
    api = raced
    mid = api.member("13800139908")
    top_up(api, mid, 10_000, "PO-1")
    api.fake.race(SvPaymentItem, create=appear(SvPaymentItem))
    status, problem = pay(api, mid, 1_000, "PO-O")
    assert status == 409 and problem["detail"] == "order PO-O was paid with stored value already", problem
    held = account(api, mid)
    assert (held["principal"], held["spent_principal"]) == (10_000, 0)


def test_a_refund_racing_another_refund_of_the_payment_is_refused_and_gives_nothing_back(raced):
    """A 1,000 fen payment (all principal) refunded 600 while another refund of 600 committed
    after this one read the payment: only the principal refunded changed, and the refund must
    not write over it (1,200 of 1,000 back)."""
    from chalicelib.stored_value.tables import SvPaymentItem
    api = raced
    mid = api.member("13800139909")
    top_up(api, mid, 10_000, "RP-1")
    assert pay(api, mid, 1_000, "RP-O")[0] == 201
    api.fake.race(SvPaymentItem, put("refunded_principal", {"N": "600"}))
    status, problem = refund(api, "RP-O", 600, "second")
    assert status == 409 and problem["detail"] == "the payment changed meanwhile; retry", problem
    assert api.fake.raced == 1
    held = account(api, mid)
    assert (held["principal"], held["refunded_principal"]) == (9_000, 0)
    status, problem = refund(api, "RP-O", 600, "third")                  # 600 + 600 > 1,000
    assert status == 409 and problem["type"].endswith("/refund-exceeds-payment"), problem


def test_a_confirmation_racing_a_cancel_of_the_hold_is_refused_as_not_open(raced):
    """The cancel committed after the confirmation read the hold (the account read after it):
    only the hold's condition fails, a 409, and nothing is spent."""
    from chalicelib.stored_value.tables import SvHoldItem
    api = raced
    mid = api.member("13800139910")
    top_up(api, mid, 10_000, "HC-1")
    status, held = hold(api, mid, 1_000, "HC-O")
    assert status == 201
    api.fake.race(SvHoldItem, put("status", {"S": "released"}))
    status, problem = api.call("POST", f"/v1/members/{mid}/stored-value/holds/{held['hold_id']}/confirm")
    assert status == 409 and problem["type"].endswith("/hold-not-open"), problem
    assert problem["detail"] == f"hold {held['hold_id']} changed"
    after = account(raced, mid)
    assert (after["spent_principal"], after["held_principal"]) == (0, 1_000)


# the best bonus, and which limit a refusal names ----------------------------------------------

def test_the_best_bonus_is_found_after_a_rule_that_gives_nothing(api):
    """200-30 first: a 1,000 fen top-up is under its minimum (nothing), the small rule after it
    still gives its 100."""
    small = {"id": "small", "name": "small", "kind": "fixed", "min_fen": 1, "bonus_fen": 100}
    api.ok("PUT", "/v1/stored-value/rules", {"rules": {"bonus_rules": [FIXED, small]},
                                             "effective_from": "2026-01-01T00:00:00Z"})
    mid = api.member("13800139911")
    status, done = top_up(api, mid, 1_000, "BB-1")
    assert status == 201 and (done["bonus_fen"], done["bonus_rule"], done["balance_fen"]) == (100, "small", 1_100)
    status, done = top_up(api, mid, 20_000, "BB-2")                      # both apply: the better one
    assert status == 201 and (done["bonus_fen"], done["bonus_rule"]) == (3_000, "200-30")


def test_a_limited_bonus_used_up_gives_way_to_the_next_best(api):
    """'once' (1,000, once per member) comes first: the member's second top-up no longer gets it
    and gets the small rule's 100 after it instead."""
    once = {"id": "once", "name": "once", "kind": "fixed", "min_fen": 10_000, "bonus_fen": 1_000, "per_member_limit": 1}
    small = {"id": "small", "name": "small", "kind": "fixed", "min_fen": 1, "bonus_fen": 100}
    api.ok("PUT", "/v1/stored-value/rules", {"rules": {"bonus_rules": [once, small]},
                                             "effective_from": "2026-01-01T00:00:00Z"})
    mid = api.member("13800139926")
    assert top_up(api, mid, 10_000, "UU-1")[1]["bonus_rule"] == "once"
    status, done = top_up(api, mid, 10_000, "UU-2")
    assert status == 201 and (done["bonus_fen"], done["bonus_rule"], done["balance_fen"]) == (100, "small", 21_100)
    assert account(api, mid)["bonus_granted"] == 1_100


def test_a_top_up_past_the_members_day_is_told_the_members_limit_before_the_tills(api):
    """45,000 topped up today at m2; 20,000 more at m1 passes the member's 50,000 a day and m1's
    own 10,000: the member's day is what the member is told, and nothing is written."""
    rules(api, daily_top_up_max_fen=50_000, merchant_daily_top_up_limits_fen={"m1": 10_000})
    mid = api.member("13800139912")
    assert top_up(api, mid, 45_000, "MD-1", merchant="m2")[0] == 201
    status, problem = top_up(api, mid, 20_000, "MD-2")
    assert status == 409 and problem["type"].endswith("/stored-value-limit"), problem
    assert problem["limit_fen"] == 50_000 and problem["detail"] == "top-ups today would exceed 50000 fen", problem
    assert account(api, mid)["topped_up"] == 45_000


# what a top-up writes -------------------------------------------------------------------------

def test_a_top_ups_posting_and_event_carry_the_bonus_and_its_last_day(api):
    api.ok("PUT", "/v1/stored-value/rules", {"rules": {"bonus_rules": [{**FIXED, "valid_days": 30}]},
                                             "effective_from": "2026-01-01T00:00:00Z"})
    mid = api.member("13800139913")
    status, done = top_up(api, mid, 20_000, "EV-1")
    assert status == 201 and done["bonus_until"] == "2026-03-31"
    [posting] = api.ok("GET", f"/v1/members/{mid}/stored-value/ledger")["postings"]
    assert (posting["amount_fen"], posting["principal_delta"], posting["bonus_delta"], posting["balance_after"]) == (
        23_000, 20_000, 3_000, 23_000)
    [event] = events("stored_value.topped_up")
    assert (event["amount_fen"], event["principal"], event["bonus"]) == (23_000, 20_000, 3_000)
    assert (event["bonus_fen"], event["bonus_rule"], event["bonus_until"], event["issuer"]) == (
        3_000, "200-30", "2026-03-31", "program")
    shown = api.ok("GET", f"/v1/members/{mid}/stored-value")
    assert (shown["principal"], shown["bonus"], shown["balance_fen"]) == (20_000, 3_000, 23_000)


# a refused payment --------------------------------------------------------------------------

def test_a_payment_over_the_balance_reports_principal_and_bonus_together(api):
    mid = api.member("13800139914")
    top_up(api, mid, 20_000, "SH-1")                                     # + 3,000 bonus
    status, problem = pay(api, mid, 23_001, "SH-O")
    assert status == 409 and problem["type"].endswith("/insufficient-balance"), problem
    assert problem["detail"] == "23001 fen needed, 23000 held" and problem["balance_fen"] == 23_000
    assert pay(api, mid, 23_000, "SH-O2")[0] == 201


def test_a_hold_for_an_order_already_paid_with_stored_value_is_refused(api):
    mid = api.member("13800139915")
    top_up(api, mid, 10_000, "HP-1")
    assert pay(api, mid, 1_000, "HP-O")[0] == 201
    status, problem = hold(api, mid, 1_000, "HP-O")
    assert status == 409 and problem["detail"] == "order HP-O was paid with stored value already", problem
    held = account(api, mid)
    assert (held["principal"], held["held_principal"], held["spent_principal"]) == (9_000, 0, 1_000)


def test_equal_principal_and_bonus_are_spent_half_and_half(api):
    """5,000 principal and 5,000 bonus: 1,001 fen takes 1,001 * 5,000 // 10,000 = 500 of bonus."""
    rules(api, bonus_rules=[{"id": "all", "name": "all", "kind": "percent", "min_fen": 1, "percent": 100}])
    mid = api.member("13800139916")
    assert top_up(api, mid, 5_000, "EQ-1")[1]["balance_fen"] == 10_000
    status, done = pay(api, mid, 1_001, "EQ-O")
    assert status == 201 and (done["principal_fen"], done["bonus_fen"]) == (501, 500), done
    held = account(api, mid)
    assert (held["principal"], held["bonus"]) == (4_499, 4_500)


# a lot left with one fen ----------------------------------------------------------------------

def test_an_expiring_lot_spent_down_to_one_fen_keeps_it_and_it_expires(api):
    api.ok("PUT", "/v1/stored-value/rules", {"rules": {"bonus_rules": [
        {"id": "exp", "name": "exp", "kind": "fixed", "min_fen": 1, "bonus_fen": 1_000, "valid_days": 1}],
        "spend_order": "bonus_first"}, "effective_from": "2026-01-01T00:00:00Z"})
    mid = api.member("13800139917")
    top_up(api, mid, 5_000, "LOT-1")
    status, done = pay(api, mid, 999, "LOT-O")
    assert status == 201 and (done["principal_fen"], done["bonus_fen"]) == (0, 999)
    assert api.ok("GET", f"/v1/members/{mid}/stored-value")["bonus_expiring"] == [{"expires": "2026-03-02", "fen": 1}]
    clock.freeze(T0 + timedelta(days=2))
    run = api.run_job("stored-value-bonus-expiry")
    assert (run["accounts_expired"], run["bonus_expired_fen"]) == (1, 1)
    held = account(api, mid)
    assert (held["principal"], held["bonus"], held["bonus_expired"]) == (5_000, 0, 1)


# the proof of an account ----------------------------------------------------------------------

def test_the_proof_finds_a_posting_whose_principal_lines_were_altered(api):
    """A top-up's lines altered to 9,999 on both sides still balance, and every other check
    passes: only 'lines = deltas' fails, and the proof with it."""
    from chalicelib.db.uow import UnitOfWork
    from chalicelib.stored_value.tables import SvPostingItem
    mid = api.member("13800139918")
    top_up(api, mid, 10_000, "TL-1")
    uow = UnitOfWork("test")
    posting = uow.get(SvPostingItem, SvPostingItem.key(mid, 1), consistent=True)
    lines = json.loads(posting.entries)
    assert sorted((x["account"], x["fen"]) for x in lines if x["fen"]) == [("cash_clearing", 10_000),
                                                                            ("member:principal", -10_000)]
    posting.entries = json.dumps([{**x, "fen": 9_999 if x["fen"] > 0 else -9_999} if x["fen"] else x
                                  for x in lines])
    uow.put(posting)
    proof = api.ok("GET", f"/v1/stored-value/reconciliation?member_id={mid}")
    assert [name for name, ok in proof["checks"].items() if not ok] == ["lines = deltas"], proof["checks"]
    assert proof["balanced"] is False


# a card of an issuer sorted after 'program' redeemed into stored value -------------------------

def _cards(api, issuer):
    from tests.integration.test_gift_cards import make_batch, secrets_of
    batch = make_batch(api, count=1, issuer_merchant_id=issuer)
    api.ok("POST", f"/v1/gift-cards/batches/{batch['batch_id']}/sales", {"invoice_ref": f"INV-{issuer}", "purchaser": "p"})
    return batch, sorted(secrets_of(batch).items())


def test_a_card_of_an_issuer_sorted_after_program_redeemed_into_stored_value_frees_its_room(api):
    """Merchant 'shop' (sorted after 'program') may have 10,000 of cards outstanding: one sold
    fills it; redeemed into a member's stored value it is the program's money, no longer the
    shop's, so the shop's next card sells."""
    from chalicelib.db.uow import UnitOfWork
    from chalicelib.merchants.tables import MerchantItem
    from tests.integration.test_gift_cards import redeem
    UnitOfWork("test").put(MerchantItem(*MerchantItem.key("shop"), merchant_id="shop", name="shop",
                                        created_at="2026-01-01"))
    rules(api, issuance_limits_fen={"shop": 10_000})
    _, [(number, secret)] = _cards(api, "shop")
    second = api.call("POST", "/v1/gift-cards/batches", {"name": "more", "face_value_fen": 10_000, "count": 1,
                                                          "valid_until": "2027-12-31", "issuer_merchant_id": "shop"})
    assert second[0] == 202
    assert api.run_job("gift-card-batches")["batches_ready"] == 1
    sale = {"invoice_ref": "INV-shop-2", "purchaser": "p"}
    status, problem = api.call("POST", f"/v1/gift-cards/batches/{second[1]['batch_id']}/sales", sale)
    assert status == 409 and problem["type"].endswith("/issuance-limit"), problem        # full
    mid = api.member("13800139920")
    assert redeem(api, mid, number, secret)[0] == 201
    status, sold = api.call("POST", f"/v1/gift-cards/batches/{second[1]['batch_id']}/sales", sale)
    assert status == 201, sold


# a merged member's hold -----------------------------------------------------------------------

def _merge(old, survivor):
    from chalicelib.db.uow import UnitOfWork
    from chalicelib.members.tables import MemberItem
    uow = UnitOfWork("test")
    item = uow.get(MemberItem, MemberItem.key(old), consistent=True)
    item.status, item.merged_into = "merged", survivor
    uow.save(item)
    uow.commit()


def test_a_hold_is_cancelled_through_the_id_of_a_member_merged_away(api):
    old, survivor = api.member("13800139921"), api.member("13800139922")
    top_up(api, survivor, 10_000, "MG-1")
    _merge(old, survivor)
    status, held = hold(api, old, 1_000, "MG-O")
    assert status == 201 and held["member_id"] == survivor
    status, done = api.call("POST", f"/v1/members/{old}/stored-value/holds/{held['hold_id']}/cancel")
    assert status == 200 and (done["status"], done["balance_fen"]) == ("released", 10_000), done
    after = account(api, survivor)
    assert (after["principal"], after["held_principal"]) == (10_000, 0)


# reads right after a write, while replicas lag ------------------------------------------------

@pytest.fixture
def lagging():
    from tests.integration.conftest import fake_backend
    from tests.integration.test_edges_stored_value import LaggingReplica
    with fake_backend(LaggingReplica()) as fake:
        clock.freeze(T0)
        client = AppClient()
        rules(client)
        yield client, fake
        clock.freeze(None)


def test_an_account_is_proven_and_its_ledger_read_right_after_a_top_up_while_replicas_lag(lagging):
    api, fake = lagging
    mid = api.member("13800139923")
    top_up(api, mid, 10_000, "LG-1")
    fake.lag()
    top_up(api, mid, 20_000, "LG-2")                                     # + 3,000 bonus
    proof = api.ok("GET", f"/v1/stored-value/reconciliation?member_id={mid}")
    assert proof["balanced"] and proof["postings"] == 2, proof
    postings = api.ok("GET", f"/v1/members/{mid}/stored-value/ledger")["postings"]
    assert [(p["sequence"], p["balance_after"]) for p in postings] == [(2, 33_000), (1, 10_000)]


def test_a_payment_is_refunded_right_after_it_while_replicas_lag(lagging):
    api, fake = lagging
    mid = api.member("13800139924")
    top_up(api, mid, 10_000, "LG-3")
    fake.lag()
    assert pay(api, mid, 1_000, "LG-O")[0] == 201
    status, done = refund(api, "LG-O", 400, "r1")
    assert status == 201 and (done["refunded_fen"], done["balance_fen"]) == (400, 9_400), done


def test_a_hold_is_confirmed_right_after_it_while_replicas_lag(lagging):
    api, fake = lagging
    mid = api.member("13800139925")
    top_up(api, mid, 10_000, "LG-4")
    fake.lag()
    status, held = hold(api, mid, 1_000, "LG-H")
    assert status == 201
    status, done = api.call("POST", f"/v1/members/{mid}/stored-value/holds/{held['hold_id']}/confirm")
    assert status == 200 and (done["status"], done["balance_fen"]) == ("confirmed", 9_000), done
