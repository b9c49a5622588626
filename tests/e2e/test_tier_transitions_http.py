"""Every tier transition over real HTTP on the local stack, in a program of its own (its ladder,
rules and jobs touch nobody else's members): growth arrives through the stream pump, reviews and
expiries run through runJob with the clock moved by ``as_of``, and each figure is worked out by
hand from the rules."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest

from chalicelib.shared import clock
from chalicelib.shared.credentials import mint_token
from tests.e2e.conftest import fresh_phone

PROGRAM = "tiers-e2e"
LADDER = {"tiers": [{"code": "V1", "name": "普通", "threshold": 0},
                    {"code": "V2", "name": "白银", "threshold": 1_000, "validity_months": 12, "retain": 500},
                    {"code": "V3", "name": "黄金", "threshold": 5_000, "validity_months": 12, "retain": 2_000}],
          "grace_days": 0}


@pytest.fixture(scope="module")
def hq(api, stack):
    platform = api.bearer(stack.credentials["staff_tokens"]["platform_admin"])
    assert api.call("POST", "/v1/programs", {"program_id": PROGRAM, "name": "Tier transitions"}, headers=platform,
                    key=f"prog-{PROGRAM}").status_code in (201, 409)
    headers = api.bearer(mint_token("staff", "tiers-admin", 60, role="super_admin", program_id=PROGRAM))
    assert api.call("POST", "/v1/merchants", {"merchant_id": "shop", "name": "Shop"}, headers=headers,
                    key="shop").status_code in (201, 409)
    put(api, headers, "/v1/tiers/ladder", {"ladder": LADDER})
    put(api, headers, "/v1/points/rules", {"rules": {"tier_multipliers": {"V3": "2"},
                                                     "expiry": {"policy": "tier_validity"}}})
    return headers


def put(api, headers, path, body):
    r = api.call("PUT", path, body, headers=headers, key=f"{path}-{fresh_phone()}")
    assert r.status_code == 201, r.text


def member(api, hq):
    r = api.call("POST", "/v1/members", {"phone": fresh_phone(), "merchant_id": "shop"}, headers=hq, key=fresh_phone())
    assert r.status_code == 201
    return r.json()["member_id"]


def earn(api, hq, mid, yuan):
    r = api.call("POST", f"/v1/members/{mid}/points/earn", {"order_id": f"o-{fresh_phone()}", "merchant_id": "shop",
                                                             "amount_fen": yuan * 100}, headers=hq, key=fresh_phone())
    assert r.status_code == 201, r.text
    return r.json()


def tier(api, hq, mid, wait_for=None):
    """The member's tier; with ``wait_for``, polled until the stream has delivered it (10 s at most)."""
    deadline = time.time() + 10
    while True:
        seen = api.call("GET", f"/v1/members/{mid}/tier", headers=hq).json()
        if wait_for is None or seen["tier"]["code"] == wait_for or time.time() > deadline:
            return seen
        time.sleep(0.05)


def run(api, hq, job, day):
    # this program only: the suite's other programs' due work is not this test's (nor its time)
    r = api.call("POST", f"/v1/jobs/{job}/runs", {"as_of": f"{day.isoformat()}T02:00:00Z", "program_id": PROGRAM},
                 headers=api.staff("platform_admin"),
                 key=f"{job}-{fresh_phone()}")
    assert r.status_code in (200, 201), r.text
    return r.json()["result"]


def causes(api, hq, mid):
    return [c["cause"] for c in api.call("GET", f"/v1/members/{mid}/tier/history", headers=hq).json()["changes"]]


def test_upgrade_retention_downgrade_and_the_tier_inside_earning(api, hq):
    today = clock.program_date()
    end = (date(today.year + 1, today.month, min(today.day, 28)) if today.day <= 28 else None)
    keeper, loser = member(api, hq), member(api, hq)
    first = earn(api, hq, keeper, 5_000)                       # V1 -> V3 at once; this order earns as V1
    assert first["points"] == 5_000 and first["expires_on"] is None
    assert tier(api, hq, keeper, "V3")["tier"]["code"] == "V3"
    later = earn(api, hq, keeper, 2_000)                       # as V3: x2, expiring with the tier
    valid_until = tier(api, hq, keeper)["valid_until"]
    assert later["points"] == 4_000 and later["expires_on"] == valid_until
    if end is not None:
        assert valid_until == (end - timedelta(days=1)).isoformat()
    earn(api, hq, loser, 1_200)                                # V2; its period growth stays 0
    assert tier(api, hq, loser, "V2")["tier"]["code"] == "V2"
    deadline = time.time() + 10                                # the second order's growth reaches the period
    while tier(api, hq, keeper)["period_growth"] < 2_000 and time.time() < deadline:
        time.sleep(0.05)
    after = date.fromisoformat(valid_until) + timedelta(days=1)
    result = run(api, hq, "tier-review", after)
    assert result["retained"] >= 1 and result["downgraded"] >= 1
    assert tier(api, hq, keeper)["tier"]["code"] == "V3" and causes(api, hq, keeper)[0] == "retention"
    assert tier(api, hq, loser)["tier"]["code"] == "V1" and causes(api, hq, loser)[0] == "downgrade"


def test_a_manual_floor_ends_by_the_review_and_grace_keeps_the_tier(api, hq):
    mid = member(api, hq)
    until = clock.program_date() + timedelta(days=10)
    r = api.call("PUT", f"/v1/members/{mid}/tier", {"tier": "V3", "until": until.isoformat(), "reason": "VIP"},
                 headers=hq, key=fresh_phone())
    assert r.status_code == 200 and r.json()["tier"] == "V3"
    run(api, hq, "tier-review", until + timedelta(days=1))
    assert tier(api, hq, mid)["tier"]["code"] == "V1" and causes(api, hq, mid)[:2] == ["manual_end", "manual"]
    put(api, hq, "/v1/tiers/ladder", {"ladder": {**LADDER, "grace_days": 30}})
    graced = member(api, hq)
    earn(api, hq, graced, 1_000)
    valid_until = date.fromisoformat(tier(api, hq, graced, "V2")["valid_until"])
    run(api, hq, "tier-review", valid_until + timedelta(days=1))
    assert tier(api, hq, graced)["tier"]["code"] == "V2"           # kept through the grace
    assert tier(api, hq, graced)["grace_until"] == (valid_until + timedelta(days=30)).isoformat()
    run(api, hq, "tier-review", valid_until + timedelta(days=31))
    assert tier(api, hq, graced)["tier"]["code"] == "V1"
    put(api, hq, "/v1/tiers/ladder", {"ladder": LADDER})


def test_plus_renews_and_expires_and_tasks_complete_over_http(api, hq):
    put(api, hq, "/v1/memberships/plans", {"plans": {"plans": [
        {"code": "PLUS-Q", "name": "季卡", "period": "quarter", "price_fen": 4_000}]}})
    put(api, hq, "/v1/tasks", {"tasks": {"tasks": [
        {"id": "two-orders", "name": "Two orders", "kind": "orders", "target": 2, "reward": {"points": 88}}]}})
    mid = member(api, hq)
    buy = api.call("POST", f"/v1/members/{mid}/membership/purchase",
                   {"plan": "PLUS-Q", "payment_ref": f"P-{mid}", "amount_fen": 4_000}, headers=hq, key=fresh_phone())
    renew = api.call("POST", f"/v1/members/{mid}/membership/renew",
                     {"payment_ref": f"R-{mid}", "amount_fen": 4_000}, headers=hq, key=fresh_phone())
    assert buy.status_code == renew.status_code == 201
    until = date.fromisoformat(renew.json()["until"])
    assert len(renew.json()["periods"]) == 2
    assert run(api, hq, "membership-expiry", until)["expired"] == 0
    assert run(api, hq, "membership-expiry", until + timedelta(days=1))["expired"] >= 1
    assert api.call("GET", f"/v1/members/{mid}/membership", headers=hq).json()["status"] == "expired"
    earn(api, hq, mid, 10)
    earn(api, hq, mid, 10)                                       # the second order completes the task
    deadline = time.time() + 10
    while time.time() < deadline:
        tasks = api.call("GET", f"/v1/members/{mid}/tasks", headers=hq).json()["tasks"]
        if tasks[0]["completed_at"]:
            break
        time.sleep(0.05)
    assert tasks[0]["progress"] == 2 and tasks[0]["completed_at"]
    points = api.call("GET", f"/v1/members/{mid}/points", headers=hq).json()["accounts"]["points"]
    assert points["balance"] == 10 + 10 + 88
