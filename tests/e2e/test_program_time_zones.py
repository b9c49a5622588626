"""Two programs in two time zones, over HTTP: each keeps its calendar in its own zone (issue #20,
item 16). Shanghai is UTC+8, Los Angeles UTC-8 in winter: for 16 hours of every day the two are
on different calendar days, and every figure below is worked out from the wall clock by hand.

- a lot earned under ``days`` expiry ends N days after the program's own today;
- year-end expiry: the points-expiry job run at 00:30 on 1 January in Shanghai expires the
  Shanghai member's lot, not the Los Angeles member's (still 31 December there); at 00:30 in
  Los Angeles the second lot goes;
- the member day is the program's day of the month;
- a top-up bonus valid 30 days counts them from the program's today;
- daily statistics file an event under the program's day.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.shared.credentials import mint_token
from tests.e2e.conftest import fresh_phone

ZONES = {"tz-shanghai": "Asia/Shanghai", "tz-los-angeles": "America/Los_Angeles"}


def local_today(program: str) -> date:
    return datetime.now(UTC).astimezone(ZoneInfo(ZONES[program])).date()


@pytest.fixture(scope="module")
def programs(api, stack):
    """Each program with its HQ token and a merchant ``shop``."""
    platform = api.bearer(stack.credentials["staff_tokens"]["platform_admin"])
    headers = {}
    for program, zone in ZONES.items():
        r = api.call("POST", "/v1/programs", {"program_id": program, "name": program, "timezone": zone},
                     headers=platform, key=f"prog-{program}")
        assert r.status_code in (201, 409), r.text
        listed = {p["program_id"]: p for p in api.call("GET", "/v1/programs", headers=platform).json()["programs"]}
        assert listed[program]["timezone"] == zone
        hq = api.bearer(mint_token("staff", f"{program}-admin", 60, role="super_admin", program_id=program))
        assert api.call("POST", "/v1/merchants", {"merchant_id": "shop", "name": "Shop"}, headers=hq,
                        key=f"shop-{program}").status_code in (201, 409)
        headers[program] = hq
    return headers


def put(api, hq, path, body):
    r = api.call("PUT", path, body, headers=hq, key=f"{path}-{fresh_phone()}")
    assert r.status_code == 201, r.text


def member(api, hq) -> str:
    r = api.call("POST", "/v1/members", {"phone": fresh_phone(), "merchant_id": "shop"}, headers=hq,
                 key=fresh_phone())
    assert r.status_code == 201, r.text
    return r.json()["member_id"]


def earn(api, hq, mid, yuan):
    r = api.call("POST", f"/v1/members/{mid}/points/earn",
                 {"order_id": f"o-{fresh_phone()}", "merchant_id": "shop", "amount_fen": yuan * 100},
                 headers=hq, key=fresh_phone())
    assert r.status_code == 201, r.text


def lots(api, hq, mid) -> list[dict]:
    r = api.call("GET", f"/v1/members/{mid}/points", headers=hq)
    assert r.status_code == 200, r.text
    return r.json()["accounts"]["points"]["next_lots"]


def balance(api, hq, mid) -> int:
    return api.call("GET", f"/v1/members/{mid}/points", headers=hq).json()["accounts"]["points"]["balance"]


def steady(fn):
    """``fn()`` where no midnight passed in either zone meanwhile (it is retried if one did)."""
    for _ in range(3):
        before = {p: local_today(p) for p in ZONES}
        result = fn()
        if before == {p: local_today(p) for p in ZONES}:
            return result
    raise AssertionError("midnight kept passing")


def test_days_expiry_counts_from_each_programs_own_today(api, programs):
    def run():
        out = {}
        for program, hq in programs.items():
            put(api, hq, "/v1/points/rules", {"rules": {"points_per_yuan": "1",
                                                        "expiry": {"policy": "days", "days": 10}}})
            mid = member(api, hq)
            earn(api, hq, mid, 50)
            out[program] = lots(api, hq, mid)
        return out
    seen = steady(run)
    for program in ZONES:
        assert seen[program] == [{"expires_on": (local_today(program) + timedelta(days=10)).isoformat(),
                                  "points": 50}]


def test_year_end_expiry_waits_for_each_programs_midnight(api, stack, programs):
    platform = api.bearer(stack.credentials["staff_tokens"]["platform_admin"])

    def run():
        out = {}
        for program, hq in programs.items():
            put(api, hq, "/v1/points/rules", {"rules": {"points_per_yuan": "1", "expiry": {"policy": "year_end"}}})
            mid = member(api, hq)
            earn(api, hq, mid, 30)
            out[program] = (mid, local_today(program).year)
        return out
    made = steady(run)
    for program, (mid, year) in made.items():
        assert lots(api, programs[program], mid) == [{"expires_on": f"{year}-12-31", "points": 30}]

    def expire(as_of: datetime) -> None:
        for program in programs:        # these programs only: the suite's others' lots are not this test's
            r = api.call("POST", "/v1/jobs/points-expiry/runs", {"as_of": as_of.isoformat(), "program_id": program},
                         headers=platform)
            assert r.status_code == 200, r.text

    def expired_by(program: str, at: datetime) -> bool:
        """By hand: a lot ending 31 December has expired once the program's calendar shows a later day."""
        return at.astimezone(ZoneInfo(ZONES[program])).date() > date(made[program][1], 12, 31)

    sh_midnight = datetime(made["tz-shanghai"][1] + 1, 1, 1, 0, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    la_midnight = datetime(made["tz-los-angeles"][1] + 1, 1, 1, 0, 30, tzinfo=ZoneInfo("America/Los_Angeles"))
    for at in (sh_midnight, la_midnight):
        expire(at)
        for program, (mid, _) in made.items():
            want = 0 if expired_by(program, at) else 30
            assert balance(api, programs[program], mid) == want, (program, at)
    # the usual case, spelled out: 00:30 on 1 January in Shanghai is 08:30 on 31 December in LA
    if made["tz-shanghai"][1] == made["tz-los-angeles"][1]:
        assert expired_by("tz-shanghai", sh_midnight) and not expired_by("tz-los-angeles", sh_midnight)


def test_member_day_is_the_programs_day_of_the_month(api, programs):
    def run():
        out = {}
        for program, hq in programs.items():
            days = sorted({local_today(p).day for p in ZONES})
            put(api, hq, "/v1/benefits/rules", {"rules": {"rules": [
                {"id": f"day-{d}", "name": f"会员日 {d}", "when": {"member_day": d},
                 "give": [{"kind": "discount_percent", "percent": 10}]} for d in days]}})
            mid = member(api, hq)
            r = api.call("GET", f"/v1/members/{mid}/benefits", headers=hq)
            assert r.status_code == 200, r.text
            out[program] = {b["rule"] for b in r.json()["benefits"]}
        return out
    seen = steady(run)
    for program in ZONES:
        assert seen[program] == {f"day-{local_today(program).day}"}


def test_a_top_up_bonus_lasts_from_the_programs_today(api, programs):
    """A bonus valid 30 days is usable until 30 days after the program's own today."""
    def run():
        out = {}
        for program, hq in programs.items():
            put(api, hq, "/v1/stored-value/rules", {"rules": {"bonus_rules": [
                {"id": "b30", "name": "送30", "kind": "fixed", "min_fen": 10_000, "bonus_fen": 3_000,
                 "valid_days": 30}]}})
            mid = member(api, hq)
            r = api.call("POST", f"/v1/members/{mid}/stored-value/top-ups",
                         {"payment_ref": f"P-{fresh_phone()}", "amount_fen": 20_000, "merchant_id": "shop"},
                         headers=hq, key=fresh_phone())
            assert r.status_code == 201, r.text
            out[program] = (r.json()["bonus_fen"], r.json()["bonus_until"])
        return out
    seen = steady(run)
    for program in ZONES:
        assert seen[program] == (3_000, (local_today(program) + timedelta(days=30)).isoformat())


def test_an_event_subscriber_counts_on_the_programs_day(api, stack, programs):
    """Daily statistics (the stream's subscriber) file a registration under the program's day."""
    def run():
        out = {}
        for program, hq in programs.items():
            member(api, hq)
            out[program] = local_today(program)
        return out
    days = steady(run)
    deadline = time.time() + 10
    for program, hq in programs.items():
        day = days[program].isoformat()
        while True:
            r = api.call("GET", "/v1/stats/daily", headers=hq, params={"start": day, "end": day})
            assert r.status_code == 200, r.text
            counted = r.json()["days"]
            if any(d["members_registered"] for d in counted) or time.time() > deadline:
                break
            time.sleep(0.2)
        assert [d["day"] for d in counted if d["members_registered"]] == [day], counted
