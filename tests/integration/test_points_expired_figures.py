"""Attack F finding 10: the day's expired points, as the dashboard (``points_expired``) and the
liability (``last_30_days.expired``) count them, are every point the accounts expired that day:
by the expiry job, by a refund (its order's lot past its last day: ``already_expired``; a spend
given back to a lot that ended: ``restored_expired``) and on a hold's return after its lot ended
(``expired_on_return``). They counted the job's only (the dashboard) or left out the returns (the
liability). Through the app on every backend, the events folded as the stream delivers them;
figures by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime

from chalicelib.db.uow import UnitOfWork
from chalicelib.events import dispatch
from chalicelib.reports import dashboard_read
from chalicelib.shared import clock
from tests.integration.test_dashboard import records
from tests.integration.test_edges_points_refunds import redeem, refund
from tests.integration.test_points_features import T0, balanced, earn, rules
from tests.outbox import outbox_events

LAST_EVENING = datetime(2026, 3, 31, 15, 50, tzinfo=UTC)     # 23:50 on 31 March in Shanghai: the lots' last day
NEXT_DAY = datetime(2026, 4, 1, 0, 10, tzinfo=UTC)           # 08:10 on 1 April: every lot has ended


def test_the_days_expired_points_count_refunds_and_hold_returns_as_the_accounts_do(api):
    clock.freeze(T0)                                          # 1 March: each lot of 100 ends on 31 March
    rules(api, expiry={"policy": "days", "days": 30})
    a, b, c = (api.member(f"1380029910{n}") for n in range(3))
    for mid, order in ((a, "EA"), (b, "EB"), (c, "EC")):
        earn(api, mid, order, 10_000)
    redeem(api, b, 40, order="XB", amount=10_000)
    clock.freeze(LAST_EVENING)
    hold = api.ok("POST", f"/v1/members/{c}/points/holds", {"points": 30, "ttl_seconds": 3_600})
    clock.freeze(NEXT_DAY)
    assert refund(api, "EA", "r1", 10_000)["already_expired"] == 100            # A's lot, unspent
    assert refund(api, "XB", "r1", 10_000)["restored_expired"] == 40            # B's spend, back to an ended lot
    back = api.ok("POST", f"/v1/members/{c}/points/holds/{hold['hold_id']}/cancel", {})
    assert back["expired_on_return"] == 30                                       # C's hold, after its lot ended
    assert api.run_job("points-expiry")["points_expired"] == 130                 # B's 60 and C's 70
    assert [balanced(mid)["expired"] for mid in (a, b, c)] == [100, 100, 100]
    assert dispatch.handle_records(records(outbox_events())) == {"batchItemFailures": []}
    day = dashboard_read.dashboard(UnitOfWork(), "ALL", "day", date(2026, 4, 1), None)["metrics"]
    assert day["points_expired"]["value"] == 300
    liability = api.ok("GET", "/v1/points/liability")
    assert liability["last_30_days"]["expired"] == 300
    assert liability["outstanding_points"] == 0                                  # nothing owed is left
    clock.freeze(None)
