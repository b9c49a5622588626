"""A paid membership's last day, through the app on the in-memory fake (issue #21's survivors):
PLUS runs through the last minute of its last day in the program's time zone and not a
millisecond after, whether or not the expiry job has run yet."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.shared import clock
from tests.integration.conftest import AppClient

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)          # 2026-03-01 in Shanghai
PLANS = {"plans": [{"code": "PLUS-M", "name": "PLUS 月卡", "period": "month", "price_fen": 1_500, "trial_days": 7}]}


@pytest.fixture
def api(memory):
    clock.freeze(T0)
    client = AppClient()
    client.ok("PUT", "/v1/memberships/plans", {"plans": PLANS, "effective_from": "2026-01-01T00:00:00Z"})
    yield client
    clock.freeze(None)


def plus(api, mid):
    return api.ok("GET", f"/v1/members/{mid}/tier")["plus"]


def test_plus_runs_to_the_end_of_its_last_day_and_stops_at_midnight_before_the_job_runs(api):
    mid = api.member("13800139951")
    trial = api.ok("POST", f"/v1/members/{mid}/membership/purchase", {"plan": "PLUS-M", "trial": True})
    assert (trial["started"], trial["until"]) == ("2026-03-01", "2026-03-07")
    clock.freeze(datetime(2026, 3, 7, 15, 59, 59, 999_000, tzinfo=UTC))         # 23:59:59.999 on 7 March
    assert plus(api, mid) == {"plan": "PLUS-M", "status": "active", "until": "2026-03-07"}
    clock.freeze(datetime(2026, 3, 7, 16, 0, tzinfo=UTC))                       # midnight: 8 March
    assert plus(api, mid) is None                                               # still "active": no job yet
    assert api.ok("GET", f"/v1/members/{mid}/membership")["status"] == "active"


def test_a_membership_cancelled_today_runs_out_at_midnight(api):
    mid = api.member("13800139952")
    assert api.call("POST", f"/v1/members/{mid}/membership/purchase",
                    {"plan": "PLUS-M", "payment_ref": "WX-C1", "amount_fen": 1_500})[0] == 201
    clock.freeze(datetime(2026, 3, 10, 4, tzinfo=UTC))
    done = api.ok("POST", f"/v1/members/{mid}/membership/cancel", {"reason": "moving abroad"})
    assert (done["status"], done["until"]) == ("cancelled", "2026-03-10")
    assert plus(api, mid) == {"plan": "PLUS-M", "status": "cancelled", "until": "2026-03-10"}
    clock.freeze(datetime(2026, 3, 10, 16, 0, tzinfo=UTC))                      # 11 March in Shanghai
    assert plus(api, mid) is None
