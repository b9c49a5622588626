"""Rolling expiry, holds past their time and points given back, at their edges, through the app on
the in-memory fake (written against the survivors of session 50's mutation run): a rolling hold
cancelled inside its window (and one of points that never expire) gives every point back; a refund
after the rolling expiry gives back points that expire on their way; a back-dated purchase joins
the live window its own has missed, and one paid on the window's very last day renews it; two
purchases on one day remind once, and a reminder run after the window ended reminds of nothing; an
order id with colons has its expired lot noted on it (the refund and getOrder say so); lapsed holds
count back whole: two of them, one of rolling points in their window, one over two lots that ended."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.shared import clock
from tests.integration.conftest import AppClient
from tests.integration.test_edges_points import rolling
from tests.integration.test_points_features import T0, balanced, earn, rules
from tests.outbox import outbox_events

HOLDS = "/v1/members/{}/points/holds"


@pytest.fixture
def api(memory):
    yield AppClient()
    clock.freeze(None)


def points(api, mid):
    return api.ok("GET", f"/v1/members/{mid}/points")["accounts"]["points"]


def redeem(api, mid, points, order, amount):
    return api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": points, "order_id": order,
                                                               "merchant_id": "m1", "order_amount_fen": amount})


def refund(api, order, refund_id, amount):
    return api.ok("POST", f"/v1/orders/{order}/refunds", {"refund_id": refund_id, "amount_fen": amount,
                                                           "merchant_id": "m1"})


def hold_then_cancel(api, mid, held):
    hold = api.ok("POST", HOLDS.format(mid), {"points": held, "ttl_seconds": 3_600})
    return api.ok("POST", f"{HOLDS.format(mid)}/{hold['hold_id']}/cancel", {})


# --- points given back: window_ended -------------------------------------------------------------

def test_a_rolling_hold_cancelled_inside_its_window_gives_every_point_back(api):
    """No expiry has ever run on the account (rolling_expired_at unset): the 40 come back live."""
    clock.freeze(T0)
    mid = api.member("13800298001")
    rolling(api)
    earn(api, mid, "o1", 10_000)                                       # 100 points, the window ends 31 March
    clock.freeze(T0 + timedelta(days=29))                              # 30 March, the window's last day but one
    assert hold_then_cancel(api, mid, 40)["expired_on_return"] == 0
    view = points(api, mid)
    assert (view["balance"], view["held"], view["next_lots"]) == (100, 0, [{"expires_on": "2026-03-31", "points": 100}])
    account = balanced(mid)
    assert (account["available"], account["expired"]) == (100, 0)


def test_points_that_never_expire_come_back_from_a_cancelled_hold(api):
    clock.freeze(T0)
    mid = api.member("13800298002")
    api.ok("PUT", "/v1/points/rules", {"rules": {"expiry": {"policy": "never"}}, "effective_from": "2025-01-01T00:00:00Z"})
    earn(api, mid, "o1", 10_000)
    assert hold_then_cancel(api, mid, 40)["expired_on_return"] == 0
    account = balanced(mid)
    assert (account["available"], account["expired"]) == (100, 0)


def test_a_refund_after_the_rolling_expiry_gives_back_points_that_expire_on_their_way(api):
    """40 of the window that ended 31 March were spent on R1; the job expired the other 60. The
    refund of R1 (no purchase since, the spend's time unknown to the give-back) gives the 40 back
    expired: they never join a window again."""
    clock.freeze(T0)
    mid = api.member("13800298003")
    rolling(api)
    earn(api, mid, "o1", 10_000)
    redeem(api, mid, 40, "R1", 4_000)
    clock.freeze(datetime(2026, 4, 1, 4, tzinfo=UTC))
    assert api.run_job("points-expiry")["points_expired"] == 60
    reply = refund(api, "R1", "r1", 4_000)
    assert (reply["restored"], reply["restored_expired"]) == (40, 40)
    view = points(api, mid)
    assert (view["balance"], view["next_lots"]) == (0, [])
    account = balanced(mid)
    assert (account["available"], account["expired"], account["restored"]) == (0, 100, 40)


# --- a purchase and the window: window_end, ended_before, push -----------------------------------

def test_a_back_dated_purchase_whose_own_window_ended_joins_the_accounts_live_window(api):
    """A 2-day window: o1 on 1 March keeps the points to 3 March. On 2 March an order paid on 25
    February is recorded: its own window ended 27 February, but the account's is live: it earns,
    and its points last with the account's to 3 March."""
    clock.freeze(T0)
    mid = api.member("13800298004")
    rolling(api, days=2)
    earn(api, mid, "o1", 10_000)
    clock.freeze(T0 + timedelta(days=1))
    late = earn(api, mid, "late", 5_000, occurred_at=clock.iso(T0 - timedelta(days=4)))
    assert (late["points"], late["expires_on"]) == (50, "2026-03-03")
    assert balanced(mid)["available"] == 150


def test_a_purchase_paid_on_the_windows_last_day_renews_it_though_recorded_after(api):
    """A 2-day window ends 3 March; on 5 March (the job not run) an order paid on 3 March, the last
    day, is recorded: it was inside the window, so it renews the 100 to 5 March; none expire."""
    clock.freeze(T0)
    mid = api.member("13800298005")
    rolling(api, days=2)
    earn(api, mid, "o1", 10_000)                                       # the window ends 3 March
    clock.freeze(T0 + timedelta(days=4))                               # 5 March, 12:00 in the program
    late = earn(api, mid, "late", 5_000, occurred_at=clock.iso(T0 + timedelta(days=2)))
    assert (late["points"], late["expires_on"]) == (50, "2026-03-05")
    account = balanced(mid)
    assert (account["available"], account["expired"]) == (150, 0)
    assert api.run_job("points-expiry")["points_expired"] == 0


def test_two_purchases_on_one_day_are_reminded_once_of_all_their_points(api):
    """The second purchase moves the window to the day it already is: its lot carries no reminder
    of its own, so 7 days before the end one points.expiring says 150 points."""
    clock.freeze(T0)
    mid = api.member("13800298006")
    rolling(api)
    rules(api, expiry={"policy": "rolling", "days": 30}, reminder_days=[7])
    earn(api, mid, "o1", 10_000)
    earn(api, mid, "o2", 5_000)                                        # the same day: the same last day
    clock.freeze(datetime(2026, 3, 24, 4, tzinfo=UTC))
    assert api.run_job("points-reminders")["reminders_sent"] == 1
    reminded = [e.data for e in outbox_events(kind="points.expiring") if e.data["member_id"] == mid]
    assert [(r["expires_on"], r["points"], r["days_left"]) for r in reminded] == [("2026-03-31", 150, 7)]


# --- record_expired: the order a lot came from -----------------------------------------------------

def test_an_order_id_with_colons_has_its_expired_lot_noted_and_its_refund_claws_back_none_of_it(api):
    """Order ids may hold ':' (POS:2026:0001): the expiry job finds the order by the lot's source
    and notes the 100 expired on it, so the full refund finds them expired, not owed."""
    clock.freeze(T0)
    mid = api.member("13800298007")
    api.ok("PUT", "/v1/points/rules", {"rules": {"expiry": {"policy": "days", "days": 10}},
                                       "effective_from": "2025-01-01T00:00:00Z"})
    earn(api, mid, "POS:2026:0001", 10_000)
    clock.freeze(T0 + timedelta(days=12))
    assert api.run_job("points-expiry")["points_expired"] == 100
    reply = refund(api, "POS:2026:0001", "r1", 10_000)
    assert (reply["already_expired"], reply["debt_added"], reply["forgiven"]) == (100, 0, 0)
    order = api.ok("GET", "/v1/orders/POS:2026:0001?merchant_id=m1")        # getOrder says so too
    assert (order["already_expired"], order["clawed_back"]["points"]) == ({"points": 100}, 0)
    account = balanced(mid)
    assert (account["available"], account["debt"], account["expired"]) == (0, 0, 100)


def test_a_reminder_run_late_after_the_window_ended_reminds_of_nothing(api):
    """The reminder of 28 March (3 days before the window's end) is first run on 2 April: the window
    ended 31 March and its points have lapsed, so no points.expiring is sent for a day gone by."""
    clock.freeze(T0)
    mid = api.member("13800298008")
    rules(api, expiry={"policy": "rolling", "days": 30}, reminder_days=[3])
    earn(api, mid, "o1", 10_000)
    clock.freeze(datetime(2026, 4, 2, 4, tzinfo=UTC))
    assert api.run_job("points-reminders")["reminders_sent"] == 0
    assert [e for e in outbox_events(kind="points.expiring") if e.data["member_id"] == mid] == []


# --- lapsing.holding: holds past their time -------------------------------------------------------

def test_two_lapsed_holds_both_count_back_before_the_holds_job(api):
    """30 and 20 held for a minute; two minutes on (the holds job not run) neither is the member's
    hold any more: held 0, and all 100 in the balance and spendable."""
    clock.freeze(T0)
    mid = api.member("13800298009")
    earn(api, mid, "o1", 10_000)
    for held in (30, 20):
        api.ok("POST", HOLDS.format(mid), {"points": held, "ttl_seconds": 60})
    assert (points(api, mid)["held"], points(api, mid)["balance"]) == (50, 50)
    clock.freeze(T0 + timedelta(minutes=2))
    view = points(api, mid)
    assert (view["held"], view["balance"], view["spendable"]) == (0, 100, 100)


def test_a_lapsed_hold_of_rolling_points_inside_their_window_counts_them_back_live(api):
    """Rolling points (no last day of their own) held for a minute: two minutes on, the window
    still open, the 40 are back in the balance and the next lots, none lapsed."""
    clock.freeze(T0)
    mid = api.member("13800298010")
    rolling(api)
    earn(api, mid, "o1", 10_000)
    api.ok("POST", HOLDS.format(mid), {"points": 40, "ttl_seconds": 60})
    clock.freeze(T0 + timedelta(minutes=2))
    view = points(api, mid)
    assert (view["held"], view["balance"], view["lapsed"]) == (0, 100, 0)
    assert view["next_lots"] == [{"expires_on": "2026-03-31", "points": 100}]


def test_a_lapsed_hold_over_two_lots_that_ended_meanwhile_counts_both_as_lapsed(api):
    """Two lots of 100 end 31 December (year_end); on that day 150 are held from both for an hour.
    On 1 January (no job run) the hold has lapsed and both lots have ended: all 200 have lapsed."""
    clock.freeze(T0)
    mid = api.member("13800298011")
    earn(api, mid, "o1", 10_000)
    earn(api, mid, "o2", 10_000)
    clock.freeze(datetime(2026, 12, 31, 4, tzinfo=UTC))
    api.ok("POST", HOLDS.format(mid), {"points": 150, "ttl_seconds": 3_600})
    clock.freeze(datetime(2027, 1, 1, 4, tzinfo=UTC))
    view = points(api, mid)
    assert (view["held"], view["balance"], view["lapsed"]) == (0, 0, 200)

