"""listProgramJobs on the store: every job's last run read by key in one BatchGetItem (never a
scan), without the run's result; a job run long enough ago, or never, is behind; a run for another
program only is not this program's, a run for this one only is."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import jobs
from chalicelib.db.uow import UnitOfWork
from chalicelib.shared import clock
from chalicelib.shared.credentials import mint_token

T0 = datetime(2026, 12, 5, 4, 0, tzinfo=UTC)


def _hq(api, role: str = "super_admin") -> str:
    return mint_token("staff", f"s-{role}", 60, role=role)


def test_hq_sees_each_jobs_last_run_without_its_result(api):
    clock.freeze(T0)
    api.ok("POST", "/v1/jobs/points-holds/runs", {}, token=api.platform)
    api.ok("POST", "/v1/jobs/points-reminders/runs", {}, token=api.platform)
    for role in ("super_admin", "ops_manager", "finance", "auditor"):
        reply = api.ok("GET", "/v1/program/jobs", token=_hq(api, role))
        rows = {row["job"]: row for row in reply["jobs"]}
        assert sorted(rows) == sorted(jobs.registered())
        held = UnitOfWork().get(jobs.JobRun, jobs.JobRun.key("points-holds"))
        assert held is not None
        assert rows["points-holds"] == {"job": "points-holds", "every_minutes": 5, "ran": True, "as_of": held.as_of,
                                        "finished_at": held.finished_at, "continues": False, "part": 1,
                                        "behind": False}
        assert rows["tier-review"] == {"job": "tier-review", "every_minutes": 60, "ran": False, "as_of": None,
                                       "finished_at": None, "continues": False, "part": None, "behind": True}
        assert "result" not in json.dumps(reply) and "items_read" not in json.dumps(reply)
    # 20 minutes on: the 5-minute job is behind, the daily one is not
    clock.freeze(T0 + timedelta(minutes=20))
    rows = {row["job"]: row for row in api.ok("GET", "/v1/program/jobs", token=_hq(api))["jobs"]}
    assert (rows["points-holds"]["behind"], rows["points-reminders"]["behind"]) == (True, False)
    clock.freeze(T0 + timedelta(hours=25))
    rows = {row["job"]: row for row in api.ok("GET", "/v1/program/jobs", token=_hq(api))["jobs"]}
    assert rows["points-reminders"]["behind"] is True


@pytest.mark.parametrize("role", ["merchant_admin", "store_manager", "clerk", "platform_admin"])
def test_no_other_role_reads_it(api, role):
    claims = {"merchant_id": "m1"} if role != "platform_admin" else {}
    if role in ("store_manager", "clerk"):
        claims["store_id"] = "s1"
    status, _ = api.call("GET", "/v1/program/jobs", token=mint_token("staff", f"s-{role}", 60, role=role, **claims))
    assert status == 403


def test_the_runs_are_read_in_one_batch_get_never_a_scan(aws):
    from chalicelib.system import program_jobs
    jobs.run("exports", clock.now())
    calls: list[tuple[str, dict]] = []
    record = lambda params, model, **_: calls.append((model.name, params))  # noqa: E731
    from chalicelib.db import backend
    client = backend._connection().client
    client.meta.events.register("provide-client-params.dynamodb.*", record)
    try:
        reply = program_jobs.listing(UnitOfWork())
    finally:
        client.meta.events.unregister("provide-client-params.dynamodb.*", record)
    # the program's record (when it was made), then both records of every job
    assert [name for name, _ in calls] == ["GetItem", "BatchGetItem"]
    [keys] = [table["Keys"] for table in calls[1][1]["RequestItems"].values()]
    assert sorted(k["pk"]["S"] for k in keys) == sorted(f"JOB#{n}" for n in jobs.registered() for _ in (1, 2))
    assert {k["sk"]["S"] for k in keys} == {"EVERY", "PROGRAM#default"}
    assert [row["job"] for row in reply["jobs"] if row["ran"]] == ["exports"]


def test_a_run_for_one_program_is_that_programs_only(api):
    clock.freeze(T0)
    api.ok("POST", "/v1/programs", {"program_id": "other", "name": "Other"}, token=api.platform)
    api.ok("POST", "/v1/jobs/points-holds/runs", {}, token=api.platform)
    clock.freeze(T0 + timedelta(minutes=3))
    api.ok("POST", "/v1/jobs/points-holds/runs", {"program_id": "other"}, token=api.platform)
    row = next(r for r in api.ok("GET", "/v1/program/jobs", token=_hq(api))["jobs"] if r["job"] == "points-holds")
    assert (row["as_of"], row["finished_at"]) == ("2026-12-05T04:00:00.000Z", "2026-12-05T04:00:00.000Z")
    clock.freeze(T0 + timedelta(minutes=4))
    api.ok("POST", "/v1/jobs/points-holds/runs", {"program_id": "default"}, token=api.platform)
    row = next(r for r in api.ok("GET", "/v1/program/jobs", token=_hq(api))["jobs"] if r["job"] == "points-holds")
    assert row["as_of"] == "2026-12-05T04:04:00.000Z"
    # the platform admin's listJobRuns: the last run, whichever programs it was for
    [last] = api.ok("GET", "/v1/jobs/points-holds/runs", token=api.platform)["runs"]
    assert (last["as_of"], last["programs"]) == ("2026-12-05T04:04:00.000Z", ["default"])


def test_a_run_for_a_program_that_does_not_exist_is_a_404_and_runs_nothing(api):
    """It answered 200 having served nothing (attacks H and I): a mistyped id looked like a run."""
    clock.freeze(T0)
    status, problem = api.call("POST", "/v1/jobs/points-holds/runs", {"program_id": "no-such-program"},
                               token=api.platform)
    assert status == 404 and problem["detail"] == "no program no-such-program: a run for it would serve nothing"
    assert api.ok("GET", "/v1/jobs/points-holds/runs", token=api.platform)["runs"] == []
