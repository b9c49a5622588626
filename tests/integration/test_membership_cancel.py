"""A paid membership's cancellation through the app, by hand figures: a month of 3,000 fen (31
days) cancelled the day it was bought refunds 3,000 × 30 ÷ 31 = 2,903 and keeps 97 for that day.
The kept fee is received and earned that day on the balance sheet; the member keeps the day's
benefits (``active`` to midnight); a renewal or purchase that day starts the next day (the day is
paid once); a second cancellation is a 409."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.shared import clock
from tests.integration.test_tiers import deliver, earn

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)          # 2026-03-01, noon in Shanghai
NEXT_DAY = T0 + timedelta(days=1)
MONTH = {"code": "PM", "name": "PLUS 月卡", "period": "month", "price_fen": 3_000}
RULES = {"rules": [{"id": "plus", "name": "PLUS", "when": {"paid": True},
                    "give": [{"kind": "points_multiplier", "multiplier": "2"}]}]}
SHEET = "/v1/balance-sheet"


@pytest.fixture
def plans(api):
    clock.freeze(T0)
    api.ok("PUT", "/v1/benefits/rules", {"rules": RULES, "effective_from": "2026-01-01T00:00:00Z"})

    def put(policy="prorated"):
        api.ok("PUT", "/v1/memberships/plans", {"plans": {"plans": [MONTH], "refund_policy": policy},
                                                "effective_from": "2026-01-01T00:00:00Z"})
    put()
    yield put
    clock.freeze(None)


def bought_and_cancelled(api, phone):
    mid = api.member(phone)
    api.ok("POST", f"/v1/members/{mid}/membership/purchase", {"plan": "PM", "payment_ref": f"WX-{phone}",
                                                               "amount_fen": 3_000})
    return mid, api.ok("POST", f"/v1/members/{mid}/membership/cancel", {"reason": "changed my mind"})


def fees(api, as_of=None):
    deliver()
    shown = api.ok("GET", SHEET + (f"?as_of={as_of}" if as_of else ""))["membership_fees"]
    return shown["received_fen"], shown["earned_fen"], shown["deferred_fen"]


def test_the_fee_a_cancellation_keeps_is_earned_that_day_on_the_balance_sheet(api, plans):
    mid = api.member("13800147001")
    api.ok("POST", f"/v1/members/{mid}/membership/purchase", {"plan": "PM", "payment_ref": "WX-F1",
                                                               "amount_fen": 3_000})
    assert fees(api) == (3_000, 96, 2_904)                          # 3,000 × 1 ÷ 31 earned by the close
    done = api.ok("POST", f"/v1/members/{mid}/membership/cancel", {"reason": "moving"})
    assert done["refund_fen"] == 2_903
    assert fees(api) == (97, 97, 0)                                 # received 3,000 − refunded 2,903, all earned
    assert fees(api) == (97, 97, 0)                                 # delivered again: counted once
    clock.freeze(NEXT_DAY)
    assert fees(api) == (97, 97, 0) and fees(api, "2026-03-01") == (97, 97, 0)


def test_under_no_refund_the_whole_fee_is_earned_the_day_of_the_cancellation(api, plans):
    plans("none")
    mid, done = bought_and_cancelled(api, "13800147002")
    assert done["refund_fen"] == 0
    assert fees(api) == (3_000, 3_000, 0)


def test_a_renewal_the_day_of_a_cancellation_starts_the_next_day(api, plans):
    mid, done = bought_and_cancelled(api, "13800147003")
    renewed = api.ok("POST", f"/v1/members/{mid}/membership/renew", {"payment_ref": "WX-R1", "amount_fen": 3_000})
    assert (renewed["status"], renewed["started"], renewed["until"], renewed["active"]) == (
        "active", "2026-03-01", "2026-04-01", True)
    assert [(p["start"], p["end"]) for p in renewed["periods"]] == [("2026-03-01", "2026-03-01"),
                                                                   ("2026-03-02", "2026-04-01")]
    # paid 3,000 + 3,000, refunded 2,903: 97 for the 1st and 3,000 for the month from the 2nd
    assert fees(api) == (3_000 + 3_000 - 2_903, 97, 3_000)
    clock.freeze(NEXT_DAY)
    assert fees(api) == (3_097, 97 + 3_000 // 31, 3_000 - 3_000 // 31)


def test_a_purchase_the_day_of_a_cancellation_starts_the_next_day(api, plans):
    mid, _ = bought_and_cancelled(api, "13800147004")
    bought = api.call("POST", f"/v1/members/{mid}/membership/purchase", {"plan": "PM", "payment_ref": "WX-P2",
                                                                        "amount_fen": 3_000})[1]
    assert (bought["started"], bought["until"], bought["periods"][-1]["start"]) == (
        "2026-03-01", "2026-04-01", "2026-03-02")


def test_a_second_cancellation_is_a_conflict_not_a_missing_membership(api, plans):
    mid, _ = bought_and_cancelled(api, "13800147005")
    for when in (T0, NEXT_DAY):
        clock.freeze(when)
        status, problem = api.call("POST", f"/v1/members/{mid}/membership/cancel", {"reason": "again"})
        assert (status, problem["type"].rsplit("/", 1)[1]) == (409, "membership-cancelled")
        assert api.ok("GET", f"/v1/members/{mid}/membership")["status"] == "cancelled"
    stranger = api.member("13800147006")
    status, problem = api.call("POST", f"/v1/members/{stranger}/membership/cancel", {"reason": "x"})
    assert (status, problem["type"].rsplit("/", 1)[1]) == (404, "no-membership")


def test_a_membership_cancelled_today_is_active_with_its_benefits_until_midnight(api, plans):
    mid, done = bought_and_cancelled(api, "13800147007")
    assert (done["status"], done["until"], done["active"]) == ("cancelled", "2026-03-01", True)
    assert api.ok("GET", f"/v1/members/{mid}/membership")["active"] is True
    assert api.ok("GET", f"/v1/members/{mid}/benefits")["best"]["points_multiplier"] == "2"
    assert earn(api, mid, "C-1", 100)["points"] == 200                # the day the refund charged for
    clock.freeze(datetime(2026, 3, 1, 16, 0, tzinfo=UTC))             # midnight in Shanghai: 2 March
    assert api.ok("GET", f"/v1/members/{mid}/membership")["active"] is False
    assert api.ok("GET", f"/v1/members/{mid}/benefits")["best"]["points_multiplier"] != "2"
    assert earn(api, mid, "C-2", 100)["points"] == 100


def test_a_cancellation_recorded_before_kept_fen_is_read_by_its_refund_policy():
    from chalicelib.reports.balance_history import _kept_fen
    month = {"start": "2026-03-01", "end": "2026-03-31", "price_fen": 3_000}
    assert _kept_fen(month, {"refund_policy": "prorated"}, "2026-03-01") == 97        # 3,000 − 2,903
    assert _kept_fen({**month, "start": "2026-04-01", "end": "2026-04-30"}, {"refund_policy": "prorated"},
                     "2026-03-01") == 0                                                 # not begun: refunded whole
    assert _kept_fen(month, {"refund_policy": "none"}, "2026-03-01") == 3_000
    assert _kept_fen({**month, "kept_fen": 5}, {"refund_policy": "prorated"}, "2026-03-01") == 5
