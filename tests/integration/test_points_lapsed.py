"""Issue #24 item 1: a lot past its last day is no longer the member's, whether or not the expiry
job has run (the job only makes it permanent). Spending never takes it and the balances a caller
reads leave it out. Balances below are computed by hand from the rules: expiry 100 days after
earning, ¥1 = 1 point. On the in-memory fake."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.db.uow import UnitOfWork
from chalicelib.points import repository as points_repository
from chalicelib.shared import clock
from tests.integration.conftest import AppClient
from tests.integration.test_big_accounts import one_point_lots  # noqa: F401 (a fixture; six_lots is in conftest.py)
from tests.integration.test_points_features import T0, balanced, earn


@pytest.fixture
def api(memory):
    clock.freeze(T0)
    yield AppClient()
    clock.freeze(None)


def _two_lots(api, phone):
    """30 points ending on T0+50 (day) and 100 ending on T0+100."""
    api.ok("PUT", "/v1/points/rules", {"rules": {"expiry": {"policy": "days", "days": 100}},
                                       "effective_from": "2025-01-01T00:00:00Z"})
    mid = api.member(phone)
    clock.freeze(T0 - timedelta(days=50))
    api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 30, "reason": "goodwill"})
    clock.freeze(T0)
    earn(api, mid, "o1", 10_000)
    return mid


def _points(api, mid):
    return api.ok("GET", f"/v1/members/{mid}/points")["accounts"]["points"]


def test_a_lot_past_its_last_day_is_out_of_the_balance_before_the_job_runs(api):
    mid = _two_lots(api, "13800138301")
    early = _points(api, mid)["next_lots"][0]["expires_on"]
    clock.freeze(T0 + timedelta(days=50))                     # its last day: still the member's
    shown = _points(api, mid)
    assert (shown["balance"], shown["lapsed"], shown["spendable"]) == (130, 0, 130)
    clock.freeze(T0 + timedelta(days=51))                     # the day after: lapsed, the job not run
    shown = _points(api, mid)
    assert (shown["available"], shown["lapsed"], shown["balance"], shown["spendable"]) == (130, 30, 100, 100)
    assert [lot["expires_on"] for lot in shown["next_lots"]] != [early] and len(shown["next_lots"]) == 1
    assert all(lot["expires_on"] != early for lot in shown["expiring_soon"])
    assert shown["value_fen"] == 100                          # default program: 100 points = ¥1.00


def test_a_spend_never_takes_a_lapsed_lot(api):
    mid = _two_lots(api, "13800138302")
    clock.freeze(T0 + timedelta(days=51))
    version = balanced(mid)["version"]
    status, problem = api.call("POST", f"/v1/members/{mid}/points/redeem", {"points": 101, "reward": "gift"})
    assert status == 409 and problem["type"].endswith("/insufficient-points"), problem
    assert problem["available"] == 100
    assert balanced(mid)["version"] == version                # refused: nothing posted
    spent = api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 40, "reward": "gift"})
    assert [lot["points"] for lot in spent["lots"]] == [40] and spent["balance"] == 60
    hold = api.ok("POST", f"/v1/members/{mid}/points/holds", {"points": 60, "ttl_seconds": 600})
    assert hold["balance"] == 0
    status, problem = api.call("POST", f"/v1/members/{mid}/points/redeem", {"points": 1, "reward": "gift"})
    assert status == 409 and problem["available"] == 0       # 30 stored points left, none the member's
    # the job makes it permanent; nothing the member could see changes
    assert api.run_job("points-expiry")["points_expired"] == 30
    account = balanced(mid)
    assert (account["available"], account["held"], account["expired"]) == (0, 60, 30)
    shown = _points(api, mid)
    assert (shown["balance"], shown["lapsed"]) == (0, 0)


def test_a_spend_beyond_the_stored_points_is_told_what_is_spendable_without_the_lapsed_lots(api):
    mid = _two_lots(api, "13800138304")
    clock.freeze(T0 + timedelta(days=51))                     # 130 stored, 30 of them lapsed
    status, problem = api.call("POST", f"/v1/members/{mid}/points/redeem", {"points": 131, "reward": "gift"})
    assert status == 409 and problem["type"].endswith("/insufficient-points"), problem
    assert (problem["detail"], problem["available"]) == ("131 points needed, 100 spendable", 100)
    assert _points(api, mid)["spendable"] == 100              # what the account shows, the same figure


def test_the_soonest_live_lot_is_spent_first_once_the_lapsed_ones_are_skipped(api):
    mid = _two_lots(api, "13800138303")
    clock.freeze(T0 + timedelta(days=51))
    earn(api, mid, "o2", 5_000)                               # 50 more, ending on T0+151
    spent = api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 120, "reward": "gift"})
    assert [lot["points"] for lot in spent["lots"]] == [100, 20]
    assert spent["balance"] == 30
    lots = list(points_repository.of(UnitOfWork()).live_lots(mid, "points"))
    assert sorted(int(lot.remaining) for lot in lots) == [30, 30]      # the lapsed 30 untouched, 30 of o2


@pytest.mark.usefixtures("six_lots")
def test_a_spend_in_steps_skips_lapsed_lots_too(api):
    """With 6 lots per transaction: 8 lapsed one-point lots come first in expiry order, then 20
    live ones; a spend of 15 is taken in steps from live lots only."""
    api.ok("PUT", "/v1/points/rules", {"rules": {"expiry": {"policy": "days", "days": 100}},
                                       "effective_from": "2025-01-01T00:00:00Z"})
    mid = api.member("13800138304")
    clock.freeze(T0 - timedelta(days=50))
    one_point_lots(api, mid, 8)                               # last day T0+50
    clock.freeze(T0)
    one_point_lots(api, mid, 20)                              # last day T0+100
    clock.freeze(T0 + timedelta(days=51))
    assert _points(api, mid)["balance"] == 20
    spent = api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 15, "reward": "tv"}, key="steps-1")
    assert (spent["points"], len(spent["lots"]), spent["balance"]) == (15, 15, 5)
    late = (T0 + timedelta(days=100)).date().isoformat()
    assert {lot["expires_on"] for lot in spent["lots"]} == {late}
    account = balanced(mid)
    assert (account["available"], account["held"]) == (13, 0)       # 8 lapsed (the job's) + 5
    status, problem = api.call("POST", f"/v1/members/{mid}/points/redeem", {"points": 6, "reward": "tv"})
    assert status == 409 and problem["available"] == 5
