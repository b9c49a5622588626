"""Rolling points given back by a hold after their window ended expire on their way back (attack E,
finding 1): rolling lots have no date of their own, so before, a cancel or the holds job's release
of a lapsed hold after the expiry job had taken the account's lots returned them as a lot that
never expired. Now, as dated points past their day do (points.md), they expire on return, and the
liability files them out. Through the app on every backend (figures by hand)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from chalicelib.db.uow import UnitOfWork
from chalicelib.points import filing, repository
from chalicelib.shared import clock
from tests.integration.test_edges_points import rolling
from tests.integration.test_points_features import T0, balanced, earn
from tests.outbox import outbox_events

HOLDS = "/v1/members/{}/points/holds"
APRIL_1 = datetime(2026, 3, 31, 16, tzinfo=UTC)          # 1 April begins, program time: the window (31 March) ended


def points(api, mid):
    return api.ok("GET", f"/v1/members/{mid}/points")["accounts"]["points"]


def rolling_owed(mid):
    """What the account keeps filed under its rolling window's month."""
    return int(repository.of(UnitOfWork()).account(mid, "points").rolling_owed or 0)


def owed_by_month(mid):
    """The liability's figures for one member, from the events the projection files."""
    months: Counter = Counter()
    for e in outbox_events(subject=f"member:{mid}"):
        if e.data.get("point_type") == "points" and "kind" in e.data:
            months.update(filing.by_month(e.data))
    return {m: v for m, v in months.items() if v}


def test_a_lapsed_hold_released_after_the_rolling_expiry_took_the_lots_expires_its_points_on_return(api):
    clock.freeze(T0)                                                   # 1 March: the window ends 31 March
    mid = api.member("13800297001")
    rolling(api)
    earn(api, mid, "o1", 10_000)                                       # 100 points
    api.ok("POST", HOLDS.format(mid), {"points": 40, "ttl_seconds": 60})
    clock.freeze(APRIL_1 + timedelta(days=1))
    assert api.run_job("points-expiry")["points_expired"] == 60        # the 40 are in the lapsed hold
    view = points(api, mid)                                            # before the holds job: not the member's
    assert (view["held"], view["balance"], view["spendable"], view["lapsed"], view["next_lots"]) == (0, 0, 0, 40, [])
    released = api.run_job("points-holds")
    assert (released["holds_released"], released["points_expired_on_return"]) == (1, 40)
    view = points(api, mid)
    assert (view["balance"], view["lapsed"], view["next_lots"], view["expired"]) == (0, 0, [], 100)
    account = balanced(mid)
    assert (account["available"], account["held"], account["expired"], rolling_owed(mid)) == (0, 0, 100, 0)
    assert owed_by_month(mid) == {}                                    # nothing owed, in no month


def test_a_hold_cancelled_after_its_window_ended_expires_its_points_whether_or_not_the_job_ran(api):
    clock.freeze(T0)
    mid = api.member("13800297002")
    rolling(api)
    earn(api, mid, "o1", 10_000)                                       # ends 31 March
    clock.freeze(APRIL_1 - timedelta(minutes=30))                      # 23:30 on 31 March, the window's last day
    hold = api.ok("POST", HOLDS.format(mid), {"points": 40, "ttl_seconds": 3_600})
    clock.freeze(APRIL_1 + timedelta(minutes=5))                       # the window ended; the hold is open
    cancel = api.ok("POST", f"{HOLDS.format(mid)}/{hold['hold_id']}/cancel", {})
    assert cancel["expired_on_return"] == 40
    assert api.run_job("points-expiry")["points_expired"] == 60
    account = balanced(mid)
    assert (account["available"], account["expired"]) == (0, 100)
    assert owed_by_month(mid) == {}


def test_a_hold_cancelled_after_the_expiry_and_a_new_window_expires_the_old_windows_points(api):
    """The held 40 were of the window that ended on 31 March: a purchase since opened a new one
    (its own 100 only), which the returning points do not join."""
    clock.freeze(T0)
    mid = api.member("13800297003")
    rolling(api)
    earn(api, mid, "o1", 10_000)
    clock.freeze(APRIL_1 - timedelta(minutes=30))
    hold = api.ok("POST", HOLDS.format(mid), {"points": 40, "ttl_seconds": 3_600})
    clock.freeze(APRIL_1 + timedelta(minutes=5))
    assert api.run_job("points-expiry")["points_expired"] == 60
    assert earn(api, mid, "o2", 10_000)["expires_on"] == "2026-05-01"   # a new window, for its own points
    cancel = api.ok("POST", f"{HOLDS.format(mid)}/{hold['hold_id']}/cancel", {})
    assert cancel["expired_on_return"] == 40
    view = points(api, mid)
    assert (view["balance"], view["next_lots"]) == (100, [{"expires_on": "2026-05-01", "points": 100}])
    clock.freeze(datetime(2026, 5, 1, 16, tzinfo=UTC))                 # 2 May: the new window ended
    assert api.run_job("points-expiry")["points_expired"] == 100
    account = balanced(mid)
    assert (account["available"], account["expired"], account["earned"], rolling_owed(mid)) == (0, 200, 200, 0)
    assert owed_by_month(mid) == {}


def test_a_hold_made_in_the_new_window_gives_its_points_back_to_it(api):
    """Only points of a window that ended expire: a hold made after the expiry, of the new
    window's points, gives them back to that window."""
    clock.freeze(T0)
    mid = api.member("13800297004")
    rolling(api)
    earn(api, mid, "o1", 10_000)
    clock.freeze(APRIL_1 - timedelta(minutes=30))
    clock.freeze(APRIL_1 + timedelta(minutes=5))
    assert api.run_job("points-expiry")["points_expired"] == 100
    earn(api, mid, "o2", 10_000)
    hold = api.ok("POST", HOLDS.format(mid), {"points": 40, "ttl_seconds": 3_600})
    assert api.ok("POST", f"{HOLDS.format(mid)}/{hold['hold_id']}/cancel", {})["expired_on_return"] == 0
    view = points(api, mid)
    assert (view["balance"], view["next_lots"]) == (100, [{"expires_on": "2026-05-01", "points": 100}])
    assert owed_by_month(mid) == {"2026-05": 100}
