"""The liability and daily figures are exact under redelivery, and the inflation warning fires once."""

from datetime import UTC, datetime

import pytest

from chalicelib.events import dispatch
from chalicelib.shared import clock
from chalicelib.shared.config import settings
from devstack.pump import StreamReader
from tests.aws import client as aws_client
from tests.integration.conftest import AppClient
from tests.outbox import record_events


@pytest.fixture
def api(aws):
    """These tests read the emulator's stream: moto only."""
    yield AppClient()
    clock.freeze(None)


def records():
    arn = aws_client("dynamodb").describe_table(TableName=settings().events_table)["Table"]["LatestStreamArn"]
    return StreamReader(aws_client("dynamodbstreams"), arn, "cn-north-1")(1000)


def test_liability_survives_redelivery_and_matches_balances(api):
    clock.freeze(datetime(2026, 5, 1, 4, tzinfo=UTC))
    a, b = api.member("13800138201"), api.member("13800138202")
    api.ok("POST", f"/v1/members/{a}/points/earn", {"order_id": "o1", "amount_fen": 30_000, "merchant_id": "m1"})
    api.ok("POST", f"/v1/members/{b}/points/earn", {"order_id": "o2", "amount_fen": 20_000, "merchant_id": "m1"})
    hold = api.ok("POST", f"/v1/members/{a}/points/holds", {"points": 40})
    api.ok("POST", f"/v1/members/{a}/points/holds/{hold['hold_id']}/confirm", {})
    api.ok("POST", f"/v1/members/{b}/points/redeem", {"points": 25, "reward": "gift"})
    api.ok("POST", "/v1/orders/o2/refunds", {"refund_id": "r1", "amount_fen": 10_000, "merchant_id": "m1"})
    batch = records()
    assert dispatch.handle_records(batch) == {"batchItemFailures": []}
    first = api.ok("GET", "/v1/points/liability")
    assert dispatch.handle_records(batch) == {"batchItemFailures": []}        # delivered again
    assert api.ok("GET", "/v1/points/liability") == first
    owed = sum(api.ok("GET", f"/v1/members/{m}/points")["accounts"]["points"]["available"] for m in (a, b))
    assert first["outstanding_points"] == owed == (300 - 40) + (200 - 25 - 100)
    assert first["by_expiry_month"] == [{"expires": "2026-12", "points": owed, "value_fen": owed}]
    window = first["last_30_days"]
    assert (window["issued"], window["redeemed"], window["clawed_back"]) == (500, 65, 100)


def test_inflation_warning_fires_once_a_day(api):
    clock.freeze(datetime(2026, 5, 1, 4, tzinfo=UTC))
    m = api.member("13800138203")
    api.ok("POST", f"/v1/members/{m}/points/earn", {"order_id": "o1", "amount_fen": 100_000, "merchant_id": "m1"})
    api.ok("POST", f"/v1/members/{m}/points/redeem", {"points": 100, "reward": "gift"})
    dispatch.handle_records(records())
    result = api.run_job("points-inflation")["programs"]["default"]
    assert result["warned"] is True and result["ratio_percent"] == 1000
    assert api.run_job("points-inflation")["programs"]["default"]["warned"] == "already warned today"
    types = [e.type for e in record_events(records())]
    assert types.count("points.inflation_warning") == 1


def test_liability_reports_a_chosen_period(api):
    clock.freeze(datetime(2026, 5, 1, 4, tzinfo=UTC))
    m = api.member("13800138204")
    api.ok("POST", f"/v1/members/{m}/points/earn", {"order_id": "o1", "amount_fen": 10_000, "merchant_id": "m1"})
    clock.freeze(datetime(2026, 5, 3, 4, tzinfo=UTC))
    api.ok("POST", f"/v1/members/{m}/points/redeem", {"points": 30, "reward": "gift"})
    dispatch.handle_records(records())
    report = api.ok("GET", "/v1/points/liability?start=2026-05-02&end=2026-05-31")
    assert (report["period"]["issued"], report["period"]["redeemed"]) == (0, 30)
    status, _ = api.call("GET", "/v1/points/liability?start=2026-05-02")
    assert status == 422


def test_rolling_points_are_owed_in_the_month_of_the_members_window_which_each_purchase_moves(api):
    """Finding 4 (b): under rolling expiry (30 days) the liability files points under the month of
    the member's window end, not under 'never'; a purchase moving the window moves them all."""
    clock.freeze(datetime(2026, 5, 1, 4, tzinfo=UTC))                 # windows end 31 May
    api.ok("PUT", "/v1/points/rules", {"rules": {"expiry": {"policy": "rolling", "days": 30}},
                                       "effective_from": "2025-01-01T00:00:00Z"})
    a, b = api.member("13800138211"), api.member("13800138212")
    api.ok("POST", f"/v1/members/{a}/points/earn", {"order_id": "r1", "amount_fen": 30_000, "merchant_id": "m1"})
    api.ok("POST", f"/v1/members/{b}/points/earn", {"order_id": "r2", "amount_fen": 20_000, "merchant_id": "m1"})
    clock.freeze(datetime(2026, 5, 10, 4, tzinfo=UTC))                # a's purchase: a's window ends 9 June
    api.ok("POST", f"/v1/members/{a}/points/earn", {"order_id": "r3", "amount_fen": 10_000, "merchant_id": "m1"})
    hold = api.ok("POST", f"/v1/members/{a}/points/holds", {"points": 40})
    api.ok("POST", f"/v1/members/{a}/points/holds/{hold['hold_id']}/confirm", {})
    api.ok("POST", f"/v1/members/{b}/points/redeem", {"points": 25, "reward": "gift"})
    assert dispatch.handle_records(records()) == {"batchItemFailures": []}
    report = api.ok("GET", "/v1/points/liability")
    assert report["by_expiry_month"] == [{"expires": "2026-05", "points": 175, "value_fen": 175},
                                         {"expires": "2026-06", "points": 360, "value_fen": 360}]
    assert report["outstanding_points"] == 535
    clock.freeze(datetime(2026, 6, 1, 4, tzinfo=UTC))                 # b's window ended on 31 May
    assert api.run_job("points-expiry")["points_expired"] == 175
    assert dispatch.handle_records(records()) == {"batchItemFailures": []}
    report = api.ok("GET", "/v1/points/liability")
    assert report["by_expiry_month"] == [{"expires": "2026-06", "points": 360, "value_fen": 360}]
