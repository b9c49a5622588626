"""Scheduled jobs: run on demand through runJob, and fired by the local scheduler."""

from datetime import UTC, datetime, timedelta

from chalicelib.jobs import JobRun
from devstack.scheduler import Scheduler
from tests.e2e.conftest import fresh_phone


def test_run_job_with_as_of_moves_a_member_on(api, stack):
    mid = api.call("POST", "/v1/members", {"phone": fresh_phone()}, headers=api.staff(), key=fresh_phone()).json()["member_id"]
    as_of = (datetime.now(UTC) + timedelta(days=100)).isoformat()
    r = api.call("POST", "/v1/jobs/member-lifecycle/runs", {"as_of": as_of}, headers=api.staff())
    assert r.status_code == 200, r.text
    assert r.json()["result"]["members_read"] >= 1
    assert api.call("GET", f"/v1/members/{mid}", headers=api.staff()).json()["stage"] == "dormant"
    assert api.call("POST", "/v1/jobs/nope/runs", {}, headers=api.staff()).status_code == 404
    assert api.call("POST", "/v1/jobs/member-lifecycle/runs", {}, headers=api.staff("ops_manager")).status_code == 403


def test_the_scheduler_fires_the_apps_schedule_handlers(stack):
    jobs = stack.scheduled_jobs()
    assert {name for name, _, _ in jobs} == {"member-lifecycle", "points-expiry", "points-reminders",
                                             "points-holds", "points-inflation", "points-reconcile", "tier-review",
                                             "tier-reminders", "membership-expiry",
                                             "stored-value-reconcile", "stored-value-holds",
                                             "gift-card-batches", "stored-value-bonus-expiry",
                                             "gift-card-reconcile"}
    errors = []
    scheduler = Scheduler(jobs, on_error=lambda name, e: errors.append((name, e)))
    start = datetime(2026, 6, 1, 16, 0, tzinfo=UTC)
    scheduler.tick(start, start + timedelta(hours=1), start)           # 16:10 and 16:30 UTC fall in it
    fired = [n for n, _ in scheduler.fired]
    assert errors == []
    assert fired.count("points-holds") == 12 and {"member-lifecycle", "points-expiry", "tier-review"} <= set(fired)
    last = JobRun.get("JOB#member-lifecycle", "LAST")
    assert last.finished_at >= start.isoformat()[:10] and "members_read" in last.result
