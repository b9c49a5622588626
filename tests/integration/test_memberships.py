"""Paid membership (PLUS) through the app on every backend: purchase applied once per payment
reference, renewals stacking, trials once, cancellation refunds by policy, expiry by the job,
and the membership next to the growth tier."""

from datetime import UTC, datetime

import pytest

from chalicelib.shared import clock

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)          # 2026-03-01 in Shanghai
PLANS = {"plans": [
    {"code": "PLUS-M", "name": "PLUS 月卡", "period": "month", "price_fen": 1_500, "trial_days": 7},
    {"code": "PLUS-Q", "name": "PLUS 季卡", "period": "quarter", "price_fen": 4_000},
    {"code": "PLUS-Y", "name": "PLUS 年卡", "period": "year", "price_fen": 12_800, "benefits": ["free_shipping"]},
]}


@pytest.fixture
def plans(api):
    clock.freeze(T0)

    def put(**policy):
        return api.ok("PUT", "/v1/memberships/plans", {"plans": {**PLANS, **policy},
                                                      "effective_from": "2026-01-01T00:00:00Z"})
    put()
    return put


def buy(api, mid, plan, ref, amount, key=None):
    return api.call("POST", f"/v1/members/{mid}/membership/purchase",
                    {"plan": plan, "payment_ref": ref, "amount_fen": amount}, key)


def test_a_purchase_is_applied_once_per_payment_reference_and_renewals_stack(api, plans):
    mid = api.member("13800139101")
    status, first = buy(api, mid, "PLUS-Y", "WX-0001", 12_800)
    assert status == 201 and (first["plan"], first["until"], first["active"]) == ("PLUS-Y", "2027-02-28", True)
    status, again = buy(api, mid, "PLUS-Y", "WX-0001", 12_800)             # the provider's webhook, twice
    assert status == 201 and again["already_applied"] is True and again["until"] == "2027-02-28"
    status, problem = buy(api, mid, "PLUS-Y", "WX-0001", 1)                 # the same reference, another amount
    assert status == 409 and problem["type"].endswith("/payment-ref-reused")
    renewed = api.ok("POST", f"/v1/members/{mid}/membership/renew", {"payment_ref": "WX-0002", "amount_fen": 12_800})
    assert renewed["until"] == "2028-02-29" and len(renewed["periods"]) == 2
    shown = api.ok("GET", f"/v1/members/{mid}/membership")
    assert [h["action"] for h in shown["history"]] == ["renewed", "purchased"]
    assert api.ok("GET", f"/v1/members/{mid}/tier")["plus"] == {"plan": "PLUS-Y", "status": "active",
                                                                "until": "2028-02-29"}


def test_bad_purchases_change_nothing(api, plans):
    mid = api.member("13800139102")
    assert buy(api, mid, "PLUS-Y", "WX-1", 100)[0] == 422                     # not the price
    assert buy(api, mid, "NOPE", "WX-2", 100)[0] == 422                       # no such plan
    status, _ = api.call("POST", f"/v1/members/{mid}/membership/purchase", {"plan": "PLUS-Y", "trial": True})
    assert status == 422                                                     # no trial on this plan
    assert api.call("POST", f"/v1/members/{mid}/membership/renew", {"payment_ref": "WX-3", "amount_fen": 12_800})[0] == 404
    assert api.call("POST", "/v1/memberships/plans", {})[0] in (403, 404, 405)
    status, _ = api.call("PUT", "/v1/memberships/plans", {"plans": {"plans": [{**PLANS["plans"][0], "price_fen": -1}]}})
    assert status == 422
    assert api.ok("GET", f"/v1/members/{mid}/membership")["status"] == "none"
    assert api.ok("GET", "/v1/memberships/plans")["plans"]["plans"][0]["price_fen"] == 1_500


def test_a_trial_once_then_paid_and_the_job_expires_it(api, plans):
    mid = api.member("13800139103")
    trial = api.ok("POST", f"/v1/members/{mid}/membership/purchase", {"plan": "PLUS-M", "trial": True})
    assert trial["until"] == "2026-03-07"
    status, _ = api.call("POST", f"/v1/members/{mid}/membership/purchase", {"plan": "PLUS-M", "trial": True})
    assert status == 409
    paid = buy(api, mid, "PLUS-M", "ALI-9", 1_500)[1]
    assert (paid["until"], [p.get("trial", False) for p in paid["periods"]]) == ("2026-04-07", [True, False])
    clock.freeze(datetime(2026, 4, 7, 4, tzinfo=UTC))
    assert api.run_job("membership-expiry")["expired"] == 0                  # its last day
    clock.freeze(datetime(2026, 4, 8, 4, tzinfo=UTC))
    assert api.run_job("membership-expiry")["expired"] == 1
    shown = api.ok("GET", f"/v1/members/{mid}/membership")
    assert (shown["status"], shown["active"]) == ("expired", False)
    assert api.ok("GET", f"/v1/members/{mid}/tier")["plus"] is None
    again = buy(api, mid, "PLUS-M", "ALI-10", 1_500)[1]                     # after expiry: a fresh run from today
    assert (again["started"], again["until"]) == ("2026-04-08", "2026-05-07")


@pytest.mark.parametrize(("policy", "refund"), [("none", 0), ("prorated", 4_000 + 4_000 * 60 // 92)])
def test_cancellation_refunds_by_policy(api, plans, policy, refund):
    plans(refund_policy=policy)
    mid = api.member("13800139104")
    buy(api, mid, "PLUS-Q", "WX-Q1", 4_000)                                  # 2026-03-01 .. 2026-05-31 (92 days)
    buy(api, mid, "PLUS-Q", "WX-Q2", 4_000)                                  # stacked: not begun
    clock.freeze(datetime(2026, 4, 1, 4, tzinfo=UTC))                        # 60 days of the first left after today
    done = api.ok("POST", f"/v1/members/{mid}/membership/cancel", {"reason": "moving abroad"})
    assert (done["status"], done["until"], done["refund_fen"]) == ("cancelled", "2026-04-01", refund)
    assert api.call("POST", f"/v1/members/{mid}/membership/cancel", {"reason": "again"})[0] == 409


def test_a_purchase_without_a_payment_is_refused_and_changes_nothing(api, plans):
    """Issue #20: ``{"plan", "amount_fen": 1}`` with no payment_ref and no trial was a free full period."""
    plans(refund_policy="prorated")
    mid = api.member("13800139105")
    url = f"/v1/members/{mid}/membership/purchase"
    for body in ({"plan": "PLUS-Y", "amount_fen": 1}, {"plan": "PLUS-Y", "amount_fen": 12_800},
                 {"plan": "PLUS-Y", "payment_ref": "WX-H1"}, {"plan": "PLUS-Y"},
                 {"plan": "PLUS-M", "trial": True, "amount_fen": 1},
                 {"plan": "PLUS-M", "trial": True, "payment_ref": "WX-H2"}):
        status, problem = api.call("POST", url, body)
        assert status == 422, (body, problem)
    shown = api.ok("GET", f"/v1/members/{mid}/membership")
    assert (shown["status"], shown["history"]) == ("none", [])
    # a trial is recorded and once per plan; cancelling it refunds nothing
    trial = api.ok("POST", url, {"plan": "PLUS-M", "trial": True})
    assert [p.get("trial") for p in trial["periods"]] == [True]
    assert api.call("POST", url, {"plan": "PLUS-M", "trial": True})[0] == 409
    done = api.ok("POST", f"/v1/members/{mid}/membership/cancel", {"reason": "no thanks"})
    assert done["refund_fen"] == 0
    assert api.call("POST", url, {"plan": "PLUS-M", "trial": True})[0] == 409        # not again after a cancel


def test_a_refund_never_exceeds_what_a_period_paid():
    from datetime import date

    from chalicelib.tiers.plans import refund_fen
    today = date(2026, 4, 1)
    paid = {"start": "2026-03-01", "end": "2026-05-31", "price_fen": 4_000, "payment_ref": "WX-1"}
    ahead = {"start": "2026-06-01", "end": "2026-08-31", "price_fen": 4_000, "payment_ref": "WX-2"}
    # a period stored by the defect: full price, marked a trial, no payment reference
    unpaid = {"start": "2026-09-01", "end": "2027-08-31", "price_fen": 12_800, "trial": True}
    trial = {"start": "2026-03-25", "end": "2026-04-07", "price_fen": 0, "trial": True}
    assert refund_fen([paid], today) == 4_000 * 60 // 92 <= 4_000
    assert refund_fen([paid, ahead, unpaid, trial], today) == 4_000 * 60 // 92 + 4_000
    assert refund_fen([{**paid, "start": "2026-04-01", "end": "2026-04-01"}], today) == 0     # today is used
