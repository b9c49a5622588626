"""Scheduled jobs: run on demand through runJob, and fired by the local scheduler."""

import time
from datetime import UTC, datetime, timedelta

from chalicelib.jobs import JobRun
from devstack.scheduler import Scheduler
from tests.e2e.conftest import fresh_phone


def test_run_job_with_as_of_moves_a_member_on(api, stack):
    mid = api.call("POST", "/v1/members", {"phone": fresh_phone()}, headers=api.staff(), key=fresh_phone()).json()["member_id"]
    as_of = (datetime.now(UTC) + timedelta(days=100)).isoformat()
    platform = api.staff("platform_admin")
    r = api.call("POST", "/v1/jobs/member-lifecycle/runs", {"as_of": as_of}, headers=platform)
    assert r.status_code == 200, r.text
    assert r.json()["result"]["members_read"] >= 1
    # a run works half the request's time: with the suite's members due, its continuations (the
    # jobs queue) may be the parts that reach this one
    deadline = time.monotonic() + 90
    while (stage := api.call("GET", f"/v1/members/{mid}", headers=api.staff()).json()["stage"]) != "dormant" \
            and r.json()["continues"] and time.monotonic() < deadline:
        time.sleep(0.5)
    assert stage == "dormant"
    assert api.call("POST", "/v1/jobs/nope/runs", {}, headers=platform).status_code == 404
    assert api.call("POST", "/v1/jobs/member-lifecycle/runs", {}, headers=api.staff("ops_manager")).status_code == 403


def test_a_programs_super_admin_runs_no_job_and_reads_no_runs(api, stack, monkeypatch):
    """Issue #20 item 8: demo-2's super admin ran points-expiry 400 days ahead, and default's members
    lost their points; listJobRuns showed every program's results. Jobs serve every program: they
    are the platform admin's. A program proves its own books with its reconciliation reads."""
    mid = api.call("POST", "/v1/members", {"phone": fresh_phone()}, key=fresh_phone(), pos=True).json()["member_id"]
    earned = api.call("POST", f"/v1/members/{mid}/points/earn", {"order_id": f"{mid}-j", "amount_fen": 50_000},
                      key=f"earn-{mid}-j", pos=True)
    assert earned.status_code == 201, earned.text
    before = api.call("GET", f"/v1/members/{mid}/points", pos=True).json()["accounts"]["points"]
    platform = api.staff("platform_admin")
    from chalicelib.db import due
    monkeypatch.setattr(due, "programs", lambda: ("default",))     # (every program the suite made: minutes)
    api.call("POST", "/v1/jobs/points-expiry/runs", {}, headers=platform)
    last = api.call("GET", "/v1/jobs/points-expiry/runs", headers=platform).json()["runs"]
    ahead = (datetime.now(UTC) + timedelta(days=400)).isoformat()
    for program in ("demo-2", "default"):
        for role in ("super_admin", "ops_manager"):
            token = {"Authorization": "Bearer " + stack.credentials["programs"][program]["staff_tokens"][role]}
            r = api.call("POST", "/v1/jobs/points-expiry/runs", {"as_of": ahead}, headers=token)
            assert r.status_code == 403, r.text
            assert api.call("GET", "/v1/jobs/points-expiry/runs", headers=token).status_code == 403
    for role in ("super_admin", "ops_manager", "store_manager", "clerk"):
        assert api.call("POST", "/v1/jobs/points-expiry/runs", {}, headers=api.staff(role)).status_code == 403
    assert api.call("POST", "/v1/jobs/points-expiry/runs", {}, pos=True).status_code == 403
    # nothing ran: the points are there, the last run is the platform's
    assert api.call("GET", f"/v1/members/{mid}/points", pos=True).json()["accounts"]["points"] == before
    assert api.call("GET", "/v1/jobs/points-expiry/runs", headers=platform).json()["runs"] == last


def test_a_programs_reconciliation_reads_are_its_own(api, stack):
    """What a program's super admin may run instead of the jobs: the reconciliation reads, each
    scoped to the caller's program (another program's member or batch does not exist there)."""
    mid = api.call("POST", "/v1/members", {"phone": fresh_phone()}, key=fresh_phone(), pos=True).json()["member_id"]
    mine = api.staff()
    other = {"Authorization": "Bearer " + stack.credentials["programs"]["demo-2"]["staff_tokens"]["super_admin"]}
    for path in ("/v1/points/reconciliation", "/v1/stored-value/reconciliation"):
        assert api.call("GET", path, params={"member_id": mid}, headers=mine).status_code == 200
        r = api.call("GET", path, params={"member_id": mid}, headers=other)
        assert r.status_code == 404, (path, r.text)
        assert api.call("GET", path, headers=other).status_code == 200
    batch = api.call("POST", "/v1/gift-cards/batches", {"name": "own", "face_value_fen": 100, "count": 1,
                                                         "valid_until": "2099-01-01"},
                     headers=mine, key=f"own-batch-{mid}").json()["batch_id"]
    assert api.call("GET", "/v1/gift-cards/reconciliation", params={"batch_id": batch},
                    headers=mine).status_code == 200
    assert api.call("GET", "/v1/gift-cards/reconciliation", params={"batch_id": batch},
                    headers=other).status_code == 404


def test_the_scheduler_fires_the_apps_schedule_handlers(stack, monkeypatch):
    from chalicelib.db import due
    # the default program's due work only: every program the suite made before this test would
    # have each job read its due partitions (minutes, late in a run), which proves nothing more
    monkeypatch.setattr(due, "programs", lambda: ("default",))
    jobs = stack.scheduled_jobs()
    assert {name for name, _, _ in jobs} == {"member-lifecycle", "points-expiry", "points-reminders",
                                             "points-holds", "points-inflation", "points-reconcile", "tier-review",
                                             "tier-reminders", "membership-expiry",
                                             "stored-value-reconcile", "stored-value-holds",
                                             "gift-card-batches", "stored-value-bonus-expiry",
                                             "gift-card-reconcile", "gift-card-holds", "coupon-expiry", "coupon-issues", "coupon-reconcile", "coupon-holds",
                                             "coupon-owed", "checkout-lapse", "exports"}
    errors = []
    scheduler = Scheduler(jobs, on_error=lambda name, e: errors.append((name, e)))
    start = datetime(2026, 6, 1, 16, 5, tzinfo=UTC)
    # half an hour (each firing is a job's real run): 16:10, 16:20 and 16:30 UTC fall in it
    scheduler.tick(start, start + timedelta(minutes=30), start)
    fired = [n for n, _ in scheduler.fired]
    assert errors == []
    assert fired.count("points-holds") == 6 and fired.count("exports") == 30
    assert {"member-lifecycle", "points-expiry", "tier-review"} <= set(fired) and "points-reconcile" not in fired
    last = JobRun.get("JOB#member-lifecycle", "LAST")
    assert last.finished_at >= start.isoformat()[:10] and "members_read" in last.result


def test_a_job_that_stops_at_its_deadline_is_continued_through_the_jobs_queue(api, stack, monkeypatch):
    """#24 item 2 on the local stack: runJob works to a deadline; the run that stops sends its
    continuations (one per due shard) to the jobs queue, which the stack's poller hands to
    continue-job as the jobs role (IAM enforced), part after part, until every due member is
    reviewed."""
    from chalicelib.db import backend, due
    from chalicelib.members.tables import MemberItem
    mine = [api.call("POST", "/v1/members", {"phone": fresh_phone()}, headers=api.staff(),
                     key=fresh_phone()).json()["member_id"] for _ in range(4)]
    as_of = datetime.now(UTC) + timedelta(days=120)
    waiting = sum(1 for _ in due.due_items(backend.current(), MemberItem, "lifecycle", as_of))
    per_part = max(1, waiting // 3)                      # three parts or so, whatever the stack holds

    class Ticking:                                       # the due reader's clock: a second a read
        t = 0.0

        def monotonic(self) -> float:
            self.t += 1
            return self.t
    monkeypatch.setattr(due, "time", Ticking())
    monkeypatch.setenv("JOB_BUDGET_SECONDS", str(per_part + 0.5))
    delivered = stack.jobs_poller.delivered
    platform = api.staff("platform_admin")
    first = api.call("POST", "/v1/jobs/member-lifecycle/runs", {"as_of": as_of.isoformat()}, headers=platform).json()
    assert (first["continues"], first["part"], first["result"]["members_read"]) == (True, 1, per_part), first
    deadline = time.monotonic() + 120              # its parts, one per due shard, then theirs
    while time.monotonic() < deadline:
        left = sum(1 for _ in due.due_items(backend.current(), MemberItem, "lifecycle", as_of))
        if left == 0 and stack.jobs_poller.delivered - delivered >= due.LANES:
            break
        time.sleep(0.2)
    assert left == 0 and stack.jobs_poller.delivered - delivered >= due.LANES
    [last] = api.call("GET", "/v1/jobs/member-lifecycle/runs", headers=platform).json()["runs"]
    assert last["part"] > 1, last
    assert {api.call("GET", f"/v1/members/{mid}", headers=api.staff()).json()["stage"] for mid in mine} == {"dormant"}


def test_run_job_for_one_program_touches_no_other_program(api, stack):
    """runJob's ``program_id``: an operator re-runs a job for the program that needs it; another
    program's due work waits for its own run (or the schedule's)."""
    platform = api.staff("platform_admin")
    tag = fresh_phone()
    hq = {"default": api.staff(),
          "demo-2": {"Authorization": "Bearer " + stack.credentials["programs"]["demo-2"]["staff_tokens"]["super_admin"]}}
    made = {program: api.call("POST", "/v1/gift-cards/batches", {"name": "one", "face_value_fen": 100, "count": 1,
                                                                  "valid_until": "2099-01-01"},
                              headers=headers, key=f"one-{program}-{tag}").json()["batch_id"]
            for program, headers in hq.items()}

    def status(program: str) -> str:
        return api.call("GET", f"/v1/gift-cards/batches/{made[program]}", headers=hq[program]).json()["status"]

    r = api.call("POST", "/v1/jobs/gift-card-batches/runs", {"program_id": "demo-2"}, headers=platform)
    assert r.status_code == 200 and r.json()["result"]["batches_ready"] >= 1, r.text
    assert (status("demo-2"), status("default")) == ("ready", "generating")
    reconciled = api.call("POST", "/v1/jobs/points-reconcile/runs", {"program_id": "demo-2"}, headers=platform).json()
    assert {program for program, *_ in reconciled["result"]["mismatched_accounts"]} <= {"demo-2"}
    for bad in ("DEMO", "x", "a" * 41, "de mo"):                                    # the programs' id rule
        no = api.call("POST", "/v1/jobs/gift-card-batches/runs", {"program_id": bad}, headers=platform)
        assert no.status_code == 422 and no.headers["Content-Type"] == "application/problem+json", bad
    assert status("default") == "generating"
    assert api.call("POST", "/v1/jobs/gift-card-batches/runs", {"program_id": "default"}, headers=platform).status_code == 200
    assert status("default") == "ready"
