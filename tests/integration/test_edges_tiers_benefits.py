"""Edges of paid membership (PLUS) through the app on every backend: the last day of a
membership (still active, cancellable, stacked onto), a plan taken off sale, renewals applied
once and only at the price, the trials a renewal keeps, what a cancellation keeps of the
periods, the expiry job against a stale due index, and the history, events and item it writes."""

from datetime import UTC, datetime

import pytest

from chalicelib.db.uow import UnitOfWork
from chalicelib.shared import clock
from chalicelib.tiers import repository as tiers_repository
from chalicelib.tiers.repository import TiersRepository
from chalicelib.tiers.tables import PaymentRefItem
from tests.outbox import outbox_events

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)          # 2026-03-01, noon in Shanghai
PLANS = [
    {"code": "PLUS-M", "name": "PLUS 月卡", "period": "month", "price_fen": 1_500, "trial_days": 7},
    {"code": "PLUS-Q", "name": "PLUS 季卡", "period": "quarter", "price_fen": 4_000},
    {"code": "PLUS-Y", "name": "PLUS 年卡", "period": "year", "price_fen": 12_800},
    {"code": "PLUS-1", "name": "PLUS 体验", "period": "month", "price_fen": 1, "trial_days": 1},
]


def day(month, d, year=2026):
    """Noon in Shanghai on that day."""
    return datetime(year, month, d, 4, 0, tzinfo=UTC)


@pytest.fixture
def plans(api):
    clock.freeze(T0)

    def put(plans=PLANS, **policy):
        return api.ok("PUT", "/v1/memberships/plans", {"plans": {"plans": plans, **policy},
                                                      "effective_from": "2026-01-01T00:00:00Z"})
    put()
    return put


def buy(api, mid, plan, ref, amount):
    return api.call("POST", f"/v1/members/{mid}/membership/purchase",
                    {"plan": plan, "payment_ref": ref, "amount_fen": amount})


def trial(api, mid, plan):
    return api.call("POST", f"/v1/members/{mid}/membership/purchase", {"plan": plan, "trial": True})


def renew(api, mid, ref, amount):
    return api.call("POST", f"/v1/members/{mid}/membership/renew", {"payment_ref": ref, "amount_fen": amount})


def cancel(api, mid):
    return api.call("POST", f"/v1/members/{mid}/membership/cancel", {"reason": "no longer needed"})


def shown(api, mid):
    return api.ok("GET", f"/v1/members/{mid}/membership")


def events(kind):
    return [e.data for e in outbox_events(kind=kind)]


def test_a_member_without_a_membership_is_not_active(api, plans):
    mid = api.member("13800139301")
    reply = shown(api, mid)
    assert (reply["status"], reply["active"], reply["history"]) == ("none", False, [])


def test_the_last_day_of_a_membership_is_still_active_and_the_job_leaves_it(api, plans):
    mid = api.member("13800139302")
    assert buy(api, mid, "PLUS-M", "WX-L1", 1_500)[1]["until"] == "2026-03-31"
    clock.freeze(day(3, 31))
    reply = shown(api, mid)
    assert (reply["status"], reply["active"]) == ("active", True)
    assert api.run_job("membership-expiry")["items_read"] == 0             # due the day after its last day
    clock.freeze(day(4, 1))
    assert shown(api, mid)["active"] is False
    assert api.run_job("membership-expiry") == {"items_read": 1, "expired": 1}


def test_bought_on_its_last_day_a_period_stacks_after_it(api, plans):
    mid = api.member("13800139303")
    buy(api, mid, "PLUS-M", "WX-S1", 1_500)
    clock.freeze(day(3, 31))
    status, reply = buy(api, mid, "PLUS-M", "WX-S2", 1_500)
    assert status == 201
    assert (reply["started"], reply["until"]) == ("2026-03-01", "2026-04-30")
    assert [(p["start"], p["end"]) for p in reply["periods"]] == [("2026-03-01", "2026-03-31"),
                                                                 ("2026-04-01", "2026-04-30")]
    assert [h["action"] for h in shown(api, mid)["history"]] == ["renewed", "purchased"]


def test_bought_again_days_after_a_cancellation_a_new_run_starts_that_day(api, plans):
    mid = api.member("13800139304")
    buy(api, mid, "PLUS-M", "WX-C1", 1_500)
    clock.freeze(day(3, 10))
    cancel(api, mid)
    clock.freeze(day(3, 20))
    reply = buy(api, mid, "PLUS-M", "WX-C2", 1_500)[1]
    assert (reply["started"], reply["until"], reply["active"]) == ("2026-03-20", "2026-04-19", True)
    assert [(p["start"], p["end"]) for p in reply["periods"]] == [("2026-03-20", "2026-04-19")]


def test_a_plan_off_sale_is_not_sold_but_those_who_hold_it_renew_it(api, plans):
    holder, newcomer = api.member("13800139305"), api.member("13800139306")
    buy(api, holder, "PLUS-Y", "WX-O1", 12_800)
    plans([{**p, "on_sale": p["code"] != "PLUS-Y"} for p in PLANS])
    status, problem = buy(api, newcomer, "PLUS-Y", "WX-O2", 12_800)
    assert status == 422 and problem["type"].endswith("/validation-failed")
    assert shown(api, newcomer)["status"] == "none"
    status, reply = renew(api, holder, "WX-O3", 12_800)
    assert status == 201 and reply["until"] == "2028-02-29"


def test_a_plan_of_one_fen_is_sold_as_a_paid_period(api, plans):
    mid = api.member("13800139307")
    status, reply = buy(api, mid, "PLUS-1", "WX-F1", 1)
    assert status == 201 and reply["until"] == "2026-03-31"
    assert reply["periods"][0]["price_fen"] == 1 and reply["periods"][0]["payment_ref"] == "WX-F1"
    assert shown(api, mid)["history"][0]["amount_fen"] == 1


def test_a_renewal_is_applied_once_per_payment_reference(api, plans):
    mid = api.member("13800139308")
    buy(api, mid, "PLUS-M", "WX-R1", 1_500)
    first = renew(api, mid, "WX-R2", 1_500)[1]
    status, again = renew(api, mid, "WX-R2", 1_500)                        # the provider's webhook, twice
    assert status == 201 and again["already_applied"] is True
    assert again["until"] == first["until"] == "2026-04-30" and len(again["periods"]) == 2
    assert [h["action"] for h in shown(api, mid)["history"]] == ["renewed", "purchased"]


def test_the_payment_reference_is_read_consistently(api, plans, monkeypatch):
    """A webhook's retry right after the purchase must see its reference (a stale read would
    take it for a new purchase and fail on the reference's item)."""
    from chalicelib.db import backend
    mid = api.member("13800139309")
    buy(api, mid, "PLUS-M", "WX-RC1", 1_500)
    current = backend.current()
    real, reads = current.get, []
    monkeypatch.setattr(current, "get", lambda model, pk, sk, consistent=False:
                        reads.append((model, consistent)) or real(model, pk, sk, consistent))
    assert buy(api, mid, "PLUS-M", "WX-RC1", 1_500)[1]["already_applied"] is True
    assert renew(api, mid, "WX-RC1", 1_500)[1]["already_applied"] is True
    assert [c for model, c in reads if model is PaymentRefItem] == [True, True]


def test_a_renewal_at_another_amount_is_refused_and_changes_nothing(api, plans):
    mid = api.member("13800139310")
    buy(api, mid, "PLUS-Y", "WX-A1", 12_800)
    for amount in (1, 12_799, 12_801):
        status, problem = renew(api, mid, f"WX-A-{amount}", amount)
        assert status == 422 and problem["type"].endswith("/validation-failed")
    reply = shown(api, mid)
    assert reply["until"] == "2027-02-28" and len(reply["periods"]) == 1
    assert [h["action"] for h in reply["history"]] == ["purchased"]


def test_a_renewal_keeps_the_trials_used(api, plans):
    mid = api.member("13800139311")
    assert trial(api, mid, "PLUS-M")[0] == 201
    buy(api, mid, "PLUS-M", "WX-T1", 1_500)
    renew(api, mid, "WX-T2", 1_500)
    status, _ = trial(api, mid, "PLUS-M")
    assert status == 409
    assert shown(api, mid)["until"] == "2026-05-07"


def test_a_membership_can_be_cancelled_on_its_last_day(api, plans):
    mid = api.member("13800139312")
    buy(api, mid, "PLUS-M", "WX-LD1", 1_500)
    clock.freeze(day(3, 31))
    status, done = cancel(api, mid)
    assert status == 200
    assert (done["status"], done["until"], done["active"]) == ("cancelled", "2026-03-31", True)   # to midnight
    clock.freeze(day(4, 1))
    assert shown(api, mid)["active"] is False


def test_a_cancellation_ends_the_running_period_today_and_drops_those_not_begun(api, plans):
    mid = api.member("13800139313")
    buy(api, mid, "PLUS-Q", "WX-Q1", 4_000)                                 # 2026-03-01 .. 2026-05-31
    buy(api, mid, "PLUS-Q", "WX-Q2", 4_000)                                 # 2026-06-01 .. 2026-08-31
    clock.freeze(day(4, 1))
    done = cancel(api, mid)[1]
    assert [(p["start"], p["end"], p["payment_ref"]) for p in done["periods"]] == [
        ("2026-03-01", "2026-04-01", "WX-Q1")]
    assert shown(api, mid)["periods"] == done["periods"]


def test_bought_and_cancelled_the_same_day_keeps_that_day(api, plans):
    mid = api.member("13800139314")
    buy(api, mid, "PLUS-M", "WX-D1", 1_500)
    done = cancel(api, mid)[1]
    assert [(p["start"], p["end"]) for p in done["periods"]] == [("2026-03-01", "2026-03-01")]


def test_history_numbers_each_change_from_one_with_what_was_paid(api, plans):
    plans(PLANS, refund_policy="none")
    mid = api.member("13800139315")
    buy(api, mid, "PLUS-M", "WX-H1", 1_500)
    renew(api, mid, "WX-H2", 1_500)
    clock.freeze(day(3, 15))
    cancel(api, mid)
    history = shown(api, mid)["history"]
    assert [(h["number"], h["action"], h["amount_fen"], h["payment_ref"]) for h in history] == [
        (3, "cancelled", 0, None), (2, "renewed", 1_500, "WX-H2"), (1, "purchased", 1_500, "WX-H1")]


def test_expiry_is_recorded_with_no_amount(api, plans):
    mid = api.member("13800139316")
    buy(api, mid, "PLUS-M", "WX-E1", 1_500)
    clock.freeze(day(4, 1))
    assert api.run_job("membership-expiry")["expired"] == 1
    last = shown(api, mid)["history"][0]
    assert (last["number"], last["action"], last["amount_fen"], last["until"]) == (2, "expired", 0, "2026-03-31")
    assert [(e["amount_fen"], e["until"]) for e in events("membership.expired")] == [(0, "2026-03-31")]


def test_the_purchase_event_says_whether_it_was_a_trial(api, plans):
    mid = api.member("13800139317")
    trial(api, mid, "PLUS-M")
    buy(api, mid, "PLUS-M", "WX-EV1", 1_500)
    other = api.member("13800139318")
    buy(api, other, "PLUS-1", "WX-EV2", 1)
    seen = sorted((e["trial"], e["amount_fen"], e["period"][0]) for e in
                  events("membership.purchased") + events("membership.renewed"))
    assert seen == [(False, 1, "2026-03-01"), (False, 1_500, "2026-03-08"), (True, 0, "2026-03-01")]


def test_the_stored_membership_counts_its_writes_on_its_version(api, plans):
    mid = api.member("13800139319")
    buy(api, mid, "PLUS-M", "WX-V1", 1_500)
    assert int(tiers_repository.of(UnitOfWork()).membership(mid).version) == 1
    renew(api, mid, "WX-V2", 1_500)
    stored = tiers_repository.of(UnitOfWork()).membership(mid)
    assert int(stored.version) == 2 and stored.duesk.startswith("2026-05-01#")


# The job lists what is due from an index (eventually consistent in DynamoDB) and re-reads each
# membership before it expires it: what changed after the listing is left alone.

def listed_then(api, monkeypatch, change):
    """Run the expiry job on a listing of what was due before ``change`` ran."""
    stale = list(tiers_repository.of(UnitOfWork("job:membership-expiry")).due_memberships(clock.now()))
    assert stale
    change()
    monkeypatch.setattr(TiersRepository, "due_memberships", lambda self, as_of: iter(stale))
    return api.run_job("membership-expiry")


def test_a_membership_renewed_after_the_job_listed_it_does_not_expire(api, plans, monkeypatch):
    mid = api.member("13800139320")
    buy(api, mid, "PLUS-M", "WX-J1", 1_500)
    clock.freeze(day(4, 1))
    ran = listed_then(api, monkeypatch, lambda: renew(api, mid, "WX-J2", 1_500))
    assert (ran["items_read"], ran["expired"]) == (1, 0)
    reply = shown(api, mid)
    assert (reply["status"], reply["active"], reply["until"]) == ("active", True, "2026-04-30")
    assert events("membership.expired") == []


def test_a_membership_cancelled_after_the_job_listed_it_stays_cancelled(api, plans, monkeypatch):
    mid = api.member("13800139321")
    buy(api, mid, "PLUS-M", "WX-J3", 1_500)
    clock.freeze(day(3, 31))
    cancel(api, mid)                                                         # until 2026-03-31, off the index
    clock.freeze(day(4, 1))
    stale = [("default", tiers_repository.of(UnitOfWork()).membership(mid))]                # an index entry not yet removed
    monkeypatch.setattr(TiersRepository, "due_memberships", lambda self, as_of: iter(stale))
    assert api.run_job("membership-expiry")["expired"] == 0
    assert [h["action"] for h in shown(api, mid)["history"]] == ["cancelled", "purchased"]
    assert shown(api, mid)["status"] == "cancelled"


def test_a_new_run_on_its_only_day_does_not_expire_on_a_stale_listing(api, plans, monkeypatch):
    mid = api.member("13800139322")
    buy(api, mid, "PLUS-M", "WX-J4", 1_500)                                  # ends 2026-03-31
    clock.freeze(day(4, 1))
    ran = listed_then(api, monkeypatch, lambda: trial(api, mid, "PLUS-1"))   # a one-day trial: 2026-04-01
    assert ran["expired"] == 0
    reply = shown(api, mid)
    assert (reply["plan"], reply["status"], reply["active"], reply["until"]) == ("PLUS-1", "active", True, "2026-04-01")
