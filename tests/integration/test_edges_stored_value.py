"""Stored value at its edges, through the app on every backend: the balance cap counts the bonus
(a top-up sized to the room left, and one fen over), the cap on a refund to a card redeemed into
the account, the daily top-up limits of a merchant at the program's midnight, the ledger's pages
at their boundaries, references hidden from another merchant, a hold at its expiry instant and
an order paid meanwhile, the held parts in the liability, bonus expiry of a single fen or of bonus
an open checkout holds, and cash-outs that do not exist or were decided. Figures by hand."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.db.memory import MemoryBackend
from chalicelib.shared import clock
from chalicelib.shared.credentials import mint_token

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)                 # 12:00 on 1 March in Shanghai
FIXED = {"id": "200-30", "name": "储值200送30", "kind": "fixed", "min_fen": 20_000, "bonus_fen": 3_000}


def rules(api, **fields):
    api.ok("PUT", "/v1/stored-value/rules", {"rules": {"bonus_rules": [FIXED], **fields}})


@pytest.fixture
def program(api):
    clock.freeze(T0)
    api.ok("PUT", "/v1/stored-value/rules", {"rules": {"bonus_rules": [FIXED]}, "effective_from": "2026-01-01T00:00:00Z"})


def top_up(api, mid, fen, ref, merchant="m1"):
    return api.call("POST", f"/v1/members/{mid}/stored-value/top-ups", {"amount_fen": fen, "payment_ref": ref,
                                                                        "merchant_id": merchant})


def account(api, mid):
    proof = api.ok("GET", f"/v1/stored-value/reconciliation?member_id={mid}")
    assert proof["balanced"], proof
    return proof["account"]


def ledger(api, mid, query="", token=None):
    return api.ok("GET", f"/v1/members/{mid}/stored-value/ledger{query}", token=token)


# the balance cap: principal and bonus together ------------------------------------------------

def test_a_top_up_whose_principal_fits_under_the_cap_but_not_with_its_bonus_is_refused(api, program):
    """303,000 held: 197,000 of room under ¥5,000. 194,001 (+3,000 bonus) is one fen over, and so
    is a top-up of exactly the room (its bonus on top); 194,000 + 3,000 fills the cap exactly."""
    mid = api.member("13800139701")
    assert top_up(api, mid, 300_000, "CAP-0")[1]["balance_fen"] == 303_000
    for fen, over in ((194_001, 500_001), (197_000, 503_000)):
        status, problem = top_up(api, mid, fen, f"CAP-{fen}")
        assert status == 409 and problem["type"].endswith("/stored-value-limit"), problem
        assert problem["cap_fen"] == 500_000 and f"the balance would be {over} fen" in problem["detail"]
    held = account(api, mid)
    assert (held["principal"], held["bonus"], held["topped_up"], held["bonus_granted"]) == (300_000, 3_000,
                                                                                            300_000, 3_000)
    status, done = top_up(api, mid, 194_000, "CAP-fill")
    assert status == 201 and (done["principal"], done["bonus"], done["balance_fen"]) == (494_000, 6_000, 500_000)
    status, problem = top_up(api, mid, 1, "CAP-1")                       # full: not one fen more
    assert status == 409 and "the balance would be 500001 fen" in problem["detail"]
    assert account(api, mid)["topped_up"] == 494_000


def test_a_top_up_without_a_bonus_may_fill_the_cap_to_the_fen(api, program):
    mid = api.member("13800139702")
    top_up(api, mid, 480_000, "NB-0")                                    # + 3,000: 483,000
    assert top_up(api, mid, 17_001, "NB-1")[0] == 409                    # under 20,000: no bonus, 500,001
    status, done = top_up(api, mid, 17_000, "NB-2")
    assert status == 201 and done["bonus_fen"] == 0 and done["balance_fen"] == 500_000


def test_a_refund_to_a_redeemed_card_is_refused_one_fen_over_the_cap(api, program):
    """A card payment refunded after the card went into the account lands in principal, within
    the cap that counts the bonus too: exactly up to the cap passes, one fen more is refused."""
    from tests.integration.test_gift_cards import make_batch, pay, redeem, refund, secrets_of, sell
    batch = make_batch(api, count=1)
    number, secret = next(iter(secrets_of(batch).items()))
    assert sell(api, batch, 1, 1, "INV-CAP")[0] == 201
    mid = api.member("13800139703")
    assert pay(api, number, secret, 4_000, "CR-1")[0] == 201
    assert redeem(api, mid, number, secret)[1]["redeemed_fen"] == 6_000
    top_up(api, mid, 20_000, "CR-T")                                     # 26,000 principal, 3,000 bonus
    rules(api, balance_cap_fen=31_000)                                   # 2,000 of room
    status, problem = refund(api, number, "CR-1", 2_001, "cr-over")
    assert status == 409 and problem["type"].endswith("/stored-value-limit"), problem
    assert problem["cap_fen"] == 31_000 and "the balance would be 31001 fen" in problem["detail"]
    assert account(api, mid)["refunded_principal"] == 0
    status, back = refund(api, number, "CR-1", 2_000, "cr-fill")
    assert status == 201 and back["refunded_to"]["balance_fen"] == 31_000, back
    assert (back["refunded_to"]["principal"], back["refunded_to"]["bonus"]) == (28_000, 3_000)
    status, problem = refund(api, number, "CR-1", 1, "cr-one")
    assert status == 409 and "the balance would be 31001 fen" in problem["detail"]
    held = account(api, mid)
    assert (held["principal"], held["refunded_principal"], held["card_redeemed"]) == (28_000, 2_000, 6_000)



def test_a_card_that_fills_the_cap_exactly_is_redeemed_and_one_fen_more_is_refused(api, program):
    from tests.integration.test_gift_cards import make_batch, redeem, secrets_of, sell
    batch = make_batch(api, count=2)
    (first, s1), (second, s2) = sorted(secrets_of(batch).items())
    assert sell(api, batch, 1, 2, "INV-RC")[0] == 201
    fits, over = api.member("13800139717"), api.member("13800139718")
    top_up(api, fits, 20_000, "RC-1")                                    # 23,000 with the bonus
    top_up(api, over, 20_001, "RC-2")                                    # 23,001
    rules(api, balance_cap_fen=33_000)
    status, done = redeem(api, fits, first, s1)
    assert status == 201 and done["stored_value"]["balance_fen"] == 33_000, done
    status, problem = redeem(api, over, second, s2)
    assert status == 409 and problem["type"].endswith("/stored-value-limit"), problem
    assert problem["cap_fen"] == 33_000 and "the balance would be 33001 fen" in problem["detail"]
    assert (account(api, over)["principal"], account(api, over)["card_redeemed"]) == (20_001, 0)
    assert api.ok("GET", f"/v1/gift-cards/{second}")["balance_fen"] == 10_000

# a merchant's top-ups in a day ----------------------------------------------------------------

def test_a_merchants_daily_top_ups_reach_its_limit_exactly_and_start_again_at_midnight(api, program):
    """m1 may take 50,000 a day, m2 its own 10,000: exactly the limit passes, one fen more is a
    409 naming the limit (nothing written); the day is the program's (midnight in Shanghai)."""
    rules(api, merchant_daily_top_up_max_fen=50_000, merchant_daily_top_up_limits_fen={"m2": 10_000})
    mid = api.member("13800139704")
    assert top_up(api, mid, 30_000, "MD-1")[0] == 201
    assert top_up(api, mid, 20_000, "MD-2")[0] == 201                    # 50,000: the limit exactly
    status, problem = top_up(api, mid, 1, "MD-3")
    assert status == 409 and problem["type"].endswith("/stored-value-limit"), problem
    assert problem["limit_fen"] == 50_000 and "merchant m1" in problem["detail"]
    status, problem = top_up(api, mid, 50_001, "MD-4")                   # more than the limit on its own
    assert status == 409 and problem["limit_fen"] == 50_000, problem
    assert top_up(api, mid, 10_000, "MD-5", merchant="m2")[0] == 201      # m2's own limit, its own count
    status, problem = top_up(api, mid, 1, "MD-6", merchant="m2")
    assert status == 409 and problem["limit_fen"] == 10_000, problem
    assert account(api, mid)["topped_up"] == 60_000
    clock.freeze(datetime(2026, 3, 1, 15, 59, 59, 999_000, tzinfo=UTC))  # 23:59:59.999 in Shanghai
    assert top_up(api, mid, 1, "MD-7")[0] == 409
    clock.freeze(datetime(2026, 3, 1, 16, 0, tzinfo=UTC))                # midnight: 2 March
    assert top_up(api, mid, 50_000, "MD-8")[0] == 201
    assert account(api, mid)["topped_up"] == 110_000


# the ledger's pages ---------------------------------------------------------------------------

def test_the_ledger_pages_newest_first_and_says_where_the_next_page_starts(api, program):
    mid = api.member("13800139705")
    assert ledger(api, mid) == {"member_id": mid, "postings": [], "next_before": None}     # none yet
    for i in range(4):
        top_up(api, mid, 100 + i, f"PG-{i}")
    page = ledger(api, mid, "?limit=3")
    assert [p["sequence"] for p in page["postings"]] == [4, 3, 2] and page["next_before"] == 2
    page = ledger(api, mid, "?limit=3&before=2")                        # a short page: the last one
    assert [p["sequence"] for p in page["postings"]] == [1] and page["next_before"] is None
    page = ledger(api, mid, "?limit=2&before=3")                        # full, and it ends at the first
    assert [p["sequence"] for p in page["postings"]] == [2, 1] and page["next_before"] is None
    page = ledger(api, mid, "?limit=4")
    assert [p["amount_fen"] for p in page["postings"]] == [103, 102, 101, 100] and page["next_before"] is None
    assert ledger(api, mid, "?before=1") == {"member_id": mid, "postings": [], "next_before": None}
    page = ledger(api, mid, "?limit=1&before=4")
    assert [p["sequence"] for p in page["postings"]] == [3] and page["next_before"] == 3


def test_another_merchants_entries_show_their_balances_but_not_their_references(api, program):
    mid = api.member("13800139706")
    top_up(api, mid, 10_000, "REF-1")                                    # booked to m1
    api.ok("POST", f"/v1/members/{mid}/stored-value/payments", {"amount_fen": 1_000, "order_id": "REF-O",
                                                                "merchant_id": "m2"})
    m1 = mint_token("staff", "m1-manager", 60, role="store_manager", merchant_id="m1")
    mine, theirs = reversed(ledger(api, mid, token=m1)["postings"])
    assert (mine["ref"], mine["actor"]) == ("REF-1", "staff:ops") and "references_hidden" not in mine
    assert {k: theirs.get(k) for k in ("ref", "reason", "actor", "references_hidden")} == {
        "ref": None, "reason": None, "actor": None, "references_hidden": True}
    assert (theirs["merchant_id"], theirs["amount_fen"], theirs["balance_after"]) == ("m2", 1_000, 9_000)
    hq = ledger(api, mid)["postings"][0]                                 # HQ sees every reference
    assert hq["ref"] == "order:m2:REF-O" and "references_hidden" not in hq


# checkout holds -------------------------------------------------------------------------------

def hold(api, mid, fen, order, ttl=60):
    return api.ok("POST", f"/v1/members/{mid}/stored-value/holds", {"amount_fen": fen, "order_id": order,
                                                                    "merchant_id": "m1", "ttl_seconds": ttl})


def test_a_hold_confirms_until_the_millisecond_before_it_expires_and_not_at_it(api, program):
    mid = api.member("13800139707")
    top_up(api, mid, 10_000, "HX-1")
    early, late = hold(api, mid, 1_000, "HX-A"), hold(api, mid, 2_000, "HX-B")
    assert late["expires_at"] == "2026-03-01T04:01:00.000Z"
    clock.freeze(T0 + timedelta(seconds=60) - timedelta(milliseconds=1))
    assert api.ok("POST", f"/v1/members/{mid}/stored-value/holds/{early['hold_id']}/confirm")["status"] == "confirmed"
    clock.freeze(T0 + timedelta(seconds=60))
    status, problem = api.call("POST", f"/v1/members/{mid}/stored-value/holds/{late['hold_id']}/confirm")
    assert status == 409 and problem["type"].endswith("/hold-not-open") and "expired" in problem["detail"]
    held = account(api, mid)
    assert (held["principal"], held["held_principal"], held["spent_principal"]) == (7_000, 2_000, 1_000)
    assert api.run_job("stored-value-holds")["holds_released"] == 1        # due at its expiry instant
    assert (account(api, mid)["principal"], account(api, mid)["held_principal"]) == (9_000, 0)


def test_a_hold_whose_order_was_paid_meanwhile_cannot_be_confirmed_and_stays_open(api, program):
    mid = api.member("13800139708")
    top_up(api, mid, 10_000, "HP-1")
    held = hold(api, mid, 2_000, "HP-O")
    api.ok("POST", f"/v1/members/{mid}/stored-value/payments", {"amount_fen": 1_500, "order_id": "HP-O",
                                                                "merchant_id": "m1"})
    status, problem = api.call("POST", f"/v1/members/{mid}/stored-value/holds/{held['hold_id']}/confirm")
    assert status == 409 and problem["detail"] == "order HP-O was paid with stored value already", problem
    before = account(api, mid)
    assert (before["principal"], before["held_principal"], before["spent_principal"]) == (6_500, 2_000, 1_500)
    released = api.ok("POST", f"/v1/members/{mid}/stored-value/holds/{held['hold_id']}/cancel")
    assert released["status"] == "released" and released["balance_fen"] == 8_500


def test_the_liability_shows_what_open_checkouts_hold(api, program):
    from tests.integration.test_tiers import deliver
    mid = api.member("13800139709")
    top_up(api, mid, 20_000, "LH-1")                                     # + 3,000 bonus
    hold(api, mid, 2_300, "LH-O")                                        # 2,000 principal, 300 bonus
    deliver()
    members = api.ok("GET", "/v1/stored-value/liability")["members"]
    assert members == {"principal_fen": 20_000, "bonus_fen": 3_000, "held_principal_fen": 2_000,
                       "held_bonus_fen": 300}



def test_the_figures_over_a_leap_day_and_the_next_with_odd_reserves(api):
    """Nothing moved: every figure is 0. 20,001 topped up on 29 February 2028, 5,000 spent on
    1 March: each day's movements, opening and closing (a later day's debits taken back, an
    account that did not move that day), and the custodian's statement: the previous day is the
    leap day, reserves of odd amounts are whole fen rounded down, an issuer with a limit and
    nothing issued has its row."""
    from tests.integration.test_tiers import deliver
    clock.freeze(datetime(2028, 2, 29, 4, 0, tzinfo=UTC))
    api.ok("PUT", "/v1/stored-value/rules", {"rules": {"bonus_rules": [FIXED], "spend_order": "principal_first",
                                                       "reserve_percent": 40, "issuance_limits_fen": {"m2": 50_000}},
                                             "effective_from": "2026-01-01T00:00:00Z"})
    empty = api.ok("GET", "/v1/stored-value/liability")
    assert (empty["breakage_fen"], empty["cash_collected_fen"], empty["accounts"], empty["lines_balance"]) == (
        0, 0, {}, True)
    mid = api.member("13800139714")
    top_up(api, mid, 20_001, "LEAP-1")                                   # + 3,000 bonus
    deliver()
    clock.freeze(datetime(2028, 3, 1, 4, 0, tzinfo=UTC))
    api.ok("POST", f"/v1/members/{mid}/stored-value/payments", {"amount_fen": 5_000, "order_id": "LEAP-O",
                                                                "merchant_id": "m1"})
    deliver()
    owed = api.ok("GET", "/v1/stored-value/liability")
    assert (owed["breakage_fen"], owed["cash_collected_fen"], owed["settlement_by_merchant"]) == (0, 20_001,
                                                                                                  {"m1": 5_000})
    leap = api.ok("GET", "/v1/stored-value/movements?day=2028-02-29")["accounts"]
    assert leap["member:principal"] == {"opening_fen": 0, "debit_fen": 0, "credit_fen": 20_001,
                                        "closing_fen": -20_001}
    after = api.ok("GET", "/v1/stored-value/movements?day=2028-03-01")["accounts"]
    assert after["bonus_expense"] == {"opening_fen": 3_000, "debit_fen": 0, "credit_fen": 0, "closing_fen": 3_000}
    assert after["member:principal"] == {"opening_fen": -20_001, "debit_fen": 5_000, "credit_fen": 0,
                                         "closing_fen": -15_001}
    statement = api.ok("GET", "/v1/stored-value/supervision?day=2028-03-01")
    assert (statement["day"], statement["previous_day"]) == ("2028-03-01", "2028-02-29")
    rows = {row["issuer"]: row for row in statement["issuers"]}
    assert sorted(rows) == ["m2", "program"]
    assert rows["program"] == {"issuer": "program", "opening_fen": 20_001, "received_fen": 0, "released_fen": 5_000,
                               "closing_fen": 15_001, "reserve_percent": 40, "reserve_fen": 6_001,
                               "reserve_change_fen": -2_000, "issuance_limit_fen": None}
    assert (rows["m2"]["closing_fen"], rows["m2"]["reserve_fen"], rows["m2"]["issuance_limit_fen"]) == (0, 0, 50_000)

# bonus expiry ---------------------------------------------------------------------------------

def test_a_single_fen_of_bonus_expires_the_day_after_its_last_day(api):
    clock.freeze(T0)
    api.ok("PUT", "/v1/stored-value/rules", {"rules": {"bonus_rules": [
        {"id": "fen", "name": "one fen", "kind": "fixed", "min_fen": 1, "bonus_fen": 1, "valid_days": 1}]},
        "effective_from": "2026-01-01T00:00:00Z"})
    mid = api.member("13800139710")
    assert top_up(api, mid, 100, "F1-1")[1]["bonus_until"] == "2026-03-02"
    clock.freeze(T0 + timedelta(days=1))
    assert api.run_job("stored-value-bonus-expiry")["items_read"] == 0
    clock.freeze(T0 + timedelta(days=2))
    run = api.run_job("stored-value-bonus-expiry")
    assert (run["items_read"], run["accounts_expired"], run["bonus_expired_fen"]) == (1, 1, 1)
    left = account(api, mid)
    assert (left["principal"], left["bonus"], left["bonus_expired"], left["bonus_expiring"]) == (100, 0, 1, [])
    newest = ledger(api, mid)["postings"][0]
    assert (newest["kind"], newest["amount_fen"], newest["bonus_delta"]) == ("bonus_expired", 1, -1)


def test_expired_bonus_an_open_checkout_holds_writes_nothing_until_the_hold_ends(api):
    clock.freeze(T0)
    api.ok("PUT", "/v1/stored-value/rules", {"rules": {"bonus_rules": [
        {"id": "x", "name": "x", "kind": "fixed", "min_fen": 1, "bonus_fen": 1_000, "valid_days": 1}],
        "spend_order": "bonus_first"}, "effective_from": "2026-01-01T00:00:00Z"})
    mid = api.member("13800139711")
    top_up(api, mid, 5_000, "HE-1")
    held = hold(api, mid, 1_000, "HE-O", ttl=86_400)                      # bonus first: all of the bonus
    assert held["bonus_fen"] == 1_000
    clock.freeze(datetime(2026, 3, 2, 16, 0, 1, tzinfo=UTC))             # 00:00:01 on 3 March in Shanghai
    run = api.run_job("stored-value-bonus-expiry")
    assert (run["items_read"], run["accounts_expired"], run["bonus_expired_fen"]) == (1, 0, 0)
    assert [p["kind"] for p in ledger(api, mid)["postings"]] == ["hold", "top_up"]
    assert account(api, mid)["bonus_expiring"] == [{"expires": "2026-03-02", "fen": 1_000}]


# cash-outs ------------------------------------------------------------------------------------

def second_approver(api):
    token = mint_token("staff", "cfo", 60, role="ops_manager")
    return lambda method, path, body=None: api.call(method, path, body, token=token)


def test_a_cash_out_that_does_not_exist_is_a_404_and_a_paid_one_says_what_was_forfeited(api, program):
    rules(api, cash_out_approval_above_fen=10_000)
    mid = api.member("13800139712")
    cfo = second_approver(api)
    base = f"/v1/members/{mid}/stored-value/cash-outs"
    for method, path, body in (("GET", f"{base}/NOPE", None), ("POST", f"{base}/NOPE/approve", {}),
                               ("POST", f"{base}/NOPE/reject", {"reason": "no such thing"})):
        status, problem = cfo(method, path, body)
        assert status == 404 and problem["detail"] == "no cash-out NOPE", problem
    top_up(api, mid, 20_000, "CO-1")                                     # + 3,000 bonus
    pending = api.ok("POST", f"/v1/members/{mid}/stored-value/cash-out", {"reason": "leaving"})
    path = f"{base}/{pending['cash_out_id']}"
    assert api.ok("GET", path)["bonus_forfeited_fen"] is None             # not decided yet
    assert cfo("POST", f"{path}/approve", {})[0] == 200
    record = api.ok("GET", path)
    assert (record["status"], record["principal_fen"], record["bonus_forfeited_fen"]) == ("paid", 20_000, 3_000)



def test_an_approval_that_lost_the_race_to_a_rejection_is_refused_as_decided(api, program):
    """The approval read the record pending, then the rejection committed, then the approval read
    the account (already the rejection's version): only the record's condition fails, a 409."""
    from chalicelib.db.uow import UnitOfWork
    from chalicelib.shared.errors import Problem
    from chalicelib.shared.principal import Principal
    from chalicelib.stored_value import cash_outs
    from chalicelib.stored_value.schemas import CashOutDecision
    from chalicelib.stored_value.tables import SvCashOutItem
    rules(api, cash_out_approval_above_fen=10_000)
    mid = api.member("13800139713")
    top_up(api, mid, 20_000, "RACE-1")                                   # + 3,000 bonus
    pending = api.ok("POST", f"/v1/members/{mid}/stored-value/cash-out", {"reason": "leaving"})
    late = UnitOfWork("staff:cfo")
    late.prefetch([(SvCashOutItem, SvCashOutItem.key(mid, pending["cash_out_id"]))])     # read: pending
    path = f"/v1/members/{mid}/stored-value/cash-outs/{pending['cash_out_id']}"
    assert second_approver(api)("POST", f"{path}/reject", {"reason": "fraud check failed"})[0] == 200
    cash_outs.approve(mid, pending["cash_out_id"], CashOutDecision(), Principal("staff", "cfo", "ops_manager"), late,
                      None)
    try:
        late.commit()
        refused = None
    except Exception as failed:           # what the caller is answered: a problem, not a crash (500)
        refused = failed
    assert isinstance(refused, Problem) and (refused.status, refused.slug) == (409, "cash-out-not-pending"), refused
    held = account(api, mid)
    assert (held["principal"], held["bonus"], held["cashed_out"], held["bonus_forfeited"]) == (20_000, 3_000, 0, 0)
    assert api.ok("GET", path)["status"] == "rejected"

# reads that decide money are strongly consistent ---------------------------------------------

class LaggingReplica(MemoryBackend):
    """The in-memory fake with DynamoDB's eventual consistency made visible: after :meth:`lag`, a
    read that does not ask for a strongly consistent answer is served from a copy of the tables
    as they were then (a replica not caught up); strongly consistent reads see every write."""

    replica = None

    def lag(self) -> None:
        self.replica = copy.deepcopy(self.tables)

    def _read(self, consistent, read):
        if consistent or self.replica is None:
            return read()
        with self._lock:
            live, self.tables = self.tables, self.replica
            try:
                return read()
            finally:
                self.tables = live

    def get(self, model, pk, sk, consistent=False):
        return self._read(consistent, lambda: super(LaggingReplica, self).get(model, pk, sk, consistent))

    def batch_get(self, wanted, consistent=False):
        return self._read(consistent, lambda: super(LaggingReplica, self).batch_get(wanted, consistent))

    def query(self, model, pk, sort=None, **options):
        return self._read(options.get("consistent", False),
                          lambda: super(LaggingReplica, self).query(model, pk, sort, **options))


@pytest.fixture
def lagging():
    from tests.integration.conftest import AppClient, fake_backend
    with fake_backend(LaggingReplica()) as fake:
        clock.freeze(T0)
        api = AppClient()
        api.ok("PUT", "/v1/stored-value/rules", {"rules": {"bonus_rules": [FIXED]},
                                                 "effective_from": "2026-01-01T00:00:00Z"})
        yield api, fake
        clock.freeze(None)


def test_a_cash_out_is_read_and_approved_right_after_its_request_while_replicas_lag(lagging):
    api, fake = lagging
    rules(api, cash_out_approval_above_fen=10_000)
    mid = api.member("13800139720")
    top_up(api, mid, 20_000, "LAG-1")
    fake.lag()
    pending = api.ok("POST", f"/v1/members/{mid}/stored-value/cash-out", {"reason": "leaving"})
    path = f"/v1/members/{mid}/stored-value/cash-outs/{pending['cash_out_id']}"
    assert api.ok("GET", path)["status"] == "pending"
    status, paid = second_approver(api)("POST", f"{path}/approve", {})
    assert status == 200 and (paid["cashed_out_fen"], paid["bonus_forfeited_fen"]) == (20_000, 3_000), paid


def test_a_bonus_a_survivor_used_up_is_not_granted_again_through_the_merged_id_while_replicas_lag(lagging):
    """A top-up named by a member merged away reads the survivor's counters outside the request's
    first batch: strongly, or a replica behind would grant a bonus of one use twice (refused at
    commit, every retry again)."""
    from chalicelib.db.uow import UnitOfWork
    from chalicelib.members.tables import MemberItem
    api, fake = lagging
    api.ok("PUT", "/v1/stored-value/rules", {"rules": {"bonus_rules": [
        {"id": "once", "name": "once", "kind": "fixed", "min_fen": 10_000, "bonus_fen": 1_000, "per_member_limit": 1}]}})
    old, survivor = api.member("13800139721"), api.member("13800139722")
    uow = UnitOfWork("test")
    item = uow.get(MemberItem, MemberItem.key(old), consistent=True)
    item.status, item.merged_into = "merged", survivor
    uow.save(item)
    uow.commit()
    fake.lag()
    assert top_up(api, survivor, 10_000, "ONCE-1")[1]["bonus_fen"] == 1_000
    status, done = top_up(api, old, 10_000, "ONCE-2")
    assert status == 201 and done["member_id"] == survivor and done["bonus_fen"] == 0, done
    assert (done["principal"], done["bonus"]) == (20_000, 1_000)


def test_the_days_movements_are_read_as_written_while_replicas_lag(lagging):
    from tests.integration.test_tiers import deliver
    api, fake = lagging
    mid = api.member("13800139723")
    top_up(api, mid, 10_000, "MV-1")
    deliver()
    fake.lag()
    top_up(api, mid, 20_000, "MV-2")                                     # + 3,000 bonus
    deliver()
    day = api.ok("GET", "/v1/stored-value/movements?day=2026-03-01")
    assert day["accounts"]["member:principal"] == {"opening_fen": 0, "debit_fen": 0, "credit_fen": 30_000,
                                                   "closing_fen": -30_000}
    assert day["accounts"]["member:bonus"] == {"opening_fen": 0, "debit_fen": 0, "credit_fen": 3_000,
                                               "closing_fen": -3_000}


def test_the_nightly_proof_checks_a_page_of_every_shard_a_run_and_compares_the_figures_when_it_saw_all(memory,
                                                                                                     monkeypatch):
    """The job's audit checks a page (1,000 accounts) of every shard a run, from where the last
    run stopped (#24 item 8; it used to check the first 10,000 every night and never the rest):
    10,001 accounts in one shard take 11 runs, none of which saw them all, so the totals are not
    compared with the figures; a program whose shards each fit in a page is compared every run.
    Accounts and their proofs are stand-ins here: what is counted is the cursor."""
    from chalicelib.stored_value import jobs, reconcile
    from chalicelib.stored_value.repository import StoredValueRepository
    listed = [f"M{i:05d}" for i in range(10_001)]
    monkeypatch.setattr(StoredValueRepository, "accounts_in_shard", lambda self, shard, after=None, limit=None:
                        [m for m in (listed if shard == 0 else []) if after is None or m > after][:limit])
    zero = {"principal": 0, "held_principal": 0, "bonus": 0, "held_bonus": 0}
    monkeypatch.setattr(reconcile, "account", lambda uow, member_id: {
        "account": zero, "sums": {"lines_principal": 0, "lines_bonus": 0}, "balanced": True})
    runs = [jobs.reconcile_all(T0) for _ in range(11)]
    assert [r["accounts_checked"] for r in runs] == [1_000] * 10 + [1]
    assert all(r["balanced"] and r["figures_disagree"] == ["default"] for r in runs)
    del listed[999:]                                                     # fewer than a page: all of them
    result = jobs.reconcile_all(T0)
    assert (result["accounts_checked"], result["figures_disagree"]) == (999, [])


def test_a_proof_bounded_at_exactly_the_number_of_accounts_compares_the_figures(api, program):
    """Two accounts proven with limit=2 were all proven: the totals are compared with the
    figures; with limit=1 they cannot be."""
    from tests.integration.test_tiers import deliver
    for phone, ref in (("13800139715", "B-1"), ("13800139716", "B-2")):
        top_up(api, api.member(phone), 20_000, ref)
    deliver()
    every = api.ok("GET", "/v1/stored-value/reconciliation?limit=2")
    assert (every["accounts_checked"], every["balanced"], every["figures_agree"]) == (2, True, True)
    assert every["figures"] == {"principal": 40_000, "bonus": 6_000}
    part = api.ok("GET", "/v1/stored-value/reconciliation?limit=1")
    assert (part["accounts_checked"], part["figures_agree"]) == (1, False)


def test_the_proof_of_every_account_counts_held_money_and_names_an_account_whose_totals_are_off(api, program):
    """One account with an open checkout, one whose running total was tampered with (its balances
    and lines still agree): the program's totals count what is held, the tampered account is
    named and the proof fails; the figures, not caught up with the stream, do not agree."""
    from chalicelib.db.uow import UnitOfWork
    from chalicelib.stored_value.tables import SvAccountItem
    holding, tampered = api.member("13800139724"), api.member("13800139725")
    top_up(api, holding, 20_000, "EV-1")                                 # + 3,000 bonus
    hold(api, holding, 2_300, "EV-O")                                    # 2,000 principal, 300 bonus held
    top_up(api, tampered, 10_000, "EV-2")
    uow = UnitOfWork("test")
    item = uow.get(SvAccountItem, SvAccountItem.key(tampered), consistent=True)
    item.topped_up = int(item.topped_up) + 1
    uow.put(item)
    proof = api.ok("GET", "/v1/stored-value/reconciliation")
    assert proof["totals"] == {"principal": 30_000, "bonus": 3_000, "lines_principal": 30_000, "lines_bonus": 3_000}
    assert [m["member_id"] for m in proof["mismatches"]] == [tampered]
    assert (proof["accounts_checked"], proof["balanced"], proof["figures_agree"]) == (2, False, False)
