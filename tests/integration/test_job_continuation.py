"""#24 item 2: every job works to a deadline, records where it stopped, and continues.

A run's deadline is time; here the due reader's clock moves one second each time it is read, so
a budget of ``n + 0.5`` seconds lets a run hand out exactly ``n`` items and find its time up at
the next one. The continuations (kept in process where no queue is configured) then finish the
rest, each item once, on moto and on the in-memory fake.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib import jobs
from chalicelib.db import due
from chalicelib.db.uow import UnitOfWork
from chalicelib.points import repository as points_repository
from chalicelib.points.tables import PostingItem
from chalicelib.shared import clock
from tests.integration.conftest import scan
from tests.integration.test_points_features import T0, earn, rules
from tests.outbox import outbox_events

MEMBERS = 5


class Ticking:
    """A monotonic clock that moves one second each time it is read."""

    def __init__(self) -> None:
        self.t = 0.0

    def monotonic(self) -> float:
        self.t += 1
        return self.t


@pytest.fixture
def pages_of(monkeypatch):
    """``pages_of(n)``: every run (and continuation) hands out ``n`` items, then stops at its deadline."""
    jobs.WAITING.clear()

    def stop_after(n: int) -> None:
        monkeypatch.setattr(due, "time", Ticking())
        monkeypatch.setenv("JOB_BUDGET_SECONDS", str(n + 0.5))
    yield stop_after
    jobs.WAITING.clear()


def run(api, name: str) -> dict:
    return api.ok("POST", f"/v1/jobs/{name}/runs", {}, token=api.platform)


def expiring_members(api) -> list[str]:
    clock.freeze(T0)
    rules(api, expiry={"policy": "days", "days": 10})
    members = [api.member(f"1380024{n:04d}") for n in range(MEMBERS)]
    for n, mid in enumerate(members):
        earn(api, mid, f"o{n}", 10_000)                 # 100 points, expiring 10 March
    clock.freeze(T0 + timedelta(days=12))
    return members


def expiries(mid: str) -> list[PostingItem]:
    return [p for p in scan(PostingItem) if p.member_id == mid and p.kind == "expire"]


def test_points_expiry_stops_at_its_deadline_and_its_continuations_expire_each_lot_once(api, pages_of):
    members = expiring_members(api)
    pages_of(2)
    first = run(api, "points-expiry")
    assert (first["continues"], first["part"]) == (True, 1)
    assert (first["result"]["items_read"], first["result"]["points_expired"]) == (2, 200)
    # where it stopped: the lot kind's shards read to the end are done, the one it was in names its
    # last lot (or nothing, when it stopped at that shard's first), the rest are still to read;
    # it fans out to one continuation per shard
    assert [(w["job"], w["part"], w["as_of"], w["shards"]) for w in jobs.WAITING] == [
        ("points-expiry", 2, first["as_of"], [shard]) for shard in range(due.LANES)]
    positions = jobs.WAITING[0]["cursor"]["points-dates"]          # the accounts' next dates
    assert 0 < len(positions) < due.LANES or due.DONE not in positions.values()
    assert all(p == due.DONE or p.startswith("2026-03-") for p in positions.values())
    last = api.ok("GET", "/v1/jobs/points-expiry/runs", token=api.platform)["runs"][0]
    assert (last["continues"], last["part"]) == (True, 1)

    parts = jobs.run_waiting()
    assert sum(p["result"]["points_expired"] for p in parts) == 300 and all(p["part"] >= 2 for p in parts)
    assert all(p["result"]["items_read"] <= 2 for p in parts) and not parts[-1]["continues"]
    assert jobs.WAITING == []
    for mid in members:                            # each lot expired exactly once
        assert [int(p.available_delta) for p in expiries(mid)] == [-100]
        assert api.ok("GET", f"/v1/members/{mid}/points")["accounts"]["points"]["balance"] == 0
    assert len(outbox_events(kind="points.expired")) == MEMBERS
    assert parts[-1]["due_backlog_days"]["points-dates"] == 0
    assert run(api, "points-expiry")["result"]["items_read"] == 0


def test_the_lifecycle_review_continues_the_same_way(api, pages_of):
    clock.freeze(T0)
    members = [api.member(f"1380025{n:04d}") for n in range(MEMBERS)]
    clock.freeze(T0 + timedelta(days=100))
    pages_of(3)
    first = run(api, "member-lifecycle")
    assert (first["continues"], first["result"]["stages_changed"]) == (True, 3)
    parts = jobs.run_waiting()
    assert len(parts) == due.LANES and sum(p["result"]["stages_changed"] for p in parts) == 2
    assert {api.ok("GET", f"/v1/members/{mid}")["stage"] for mid in members} == {"dormant"}
    changed = [e.data for e in outbox_events(kind="member.stage_changed")]
    assert sorted(c["member_id"] for c in changed) == sorted(members)


def test_a_backlog_is_reported_in_days_and_a_part_that_reads_nothing_does_not_continue(api, pages_of):
    expiring_members(api)
    [due_on] = {due.due_day(account.duesk)
                for _, account in points_repository.of(UnitOfWork("test")).due_dates(clock.now(), expiry=True)}
    clock.freeze(T0 + timedelta(days=40))           # 10 April: the lots have waited since their due day
    pages_of(0)
    stalled = run(api, "points-expiry")
    assert (stalled["continues"], stalled["result"]["items_read"]) == (False, 0)
    assert stalled["due_backlog_days"]["points-dates"] == (date(2026, 4, 10) - due_on).days > 28
    assert jobs.WAITING == []


def test_two_overlapping_runs_over_the_same_due_items_expire_each_lot_once(api, monkeypatch):
    """A run that read the due lots before another run expired them (the index still listing them,
    or two runs at once) finds nothing left to do: every handler is conditional."""
    members = expiring_members(api)
    as_of = clock.now()
    stale = list(points_repository.of(UnitOfWork("test")).due_dates(as_of, expiry=True))
    assert len(stale) == MEMBERS
    assert jobs.run("points-expiry", as_of)["result"]["points_expired"] == 100 * MEMBERS
    monkeypatch.setattr(points_repository.PointsRepository, "due_dates", lambda self, _, expiry=False: iter(stale))
    late = jobs.run("points-expiry", as_of)["result"]
    assert (late["items_read"], late["points_expired"]) == (MEMBERS, 0)
    for mid in members:
        assert [int(p.available_delta) for p in expiries(mid)] == [-100]


def test_a_continuation_runs_as_of_the_moment_its_first_part_did(api, pages_of):
    members = expiring_members(api)
    as_of = clock.now()
    pages_of(1)
    assert jobs.run("points-expiry", as_of)["continues"] is True
    clock.freeze(datetime(2026, 1, 1, tzinfo=UTC))      # a continuation read later still acts as of then
    parts = jobs.run_waiting()
    assert sum(p["result"]["points_expired"] for p in parts) == 100 * (MEMBERS - 1)
    assert {p["as_of"] for p in parts} == {clock.iso(as_of)}
    assert all(len(expiries(mid)) == 1 for mid in members)


def test_an_account_with_more_lots_due_than_a_part_has_time_for_is_finished_by_the_continuations(
        api, pages_of, monkeypatch):
    """Attack J, F1: a member's lots due on one day are expired by one account visit; a part whose
    time runs out midway leaves the account to its continuation, which reads it again and goes on,
    where the continuation skipped it and the rest waited for the next hourly runs."""
    from chalicelib.points import jobs as points_jobs
    clock.freeze(T0)
    rules(api, expiry={"policy": "days", "days": 10})
    mid = api.member("13800260001")
    for i in range(6):
        api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 10, "reason": f"lot {i}"})
    clock.freeze(T0 + timedelta(days=12))
    monkeypatch.setattr(points_jobs, "DEADLINE_EVERY", 2)        # a look at the deadline every 2 lots
    pages_of(2)
    first = run(api, "points-expiry")
    assert first["continues"] is True and 0 < first["result"]["points_expired"] < 60
    parts = jobs.run_waiting()
    assert first["result"]["points_expired"] + sum(p["result"]["points_expired"] for p in parts) == 60
    assert sorted(int(p.available_delta) for p in expiries(mid)) == [-10] * 6     # each lot once
    assert api.ok("GET", f"/v1/members/{mid}/points")["accounts"]["points"]["balance"] == 0
