"""listProgramJobs over HTTP (#30): a program's HQ and readers see when each scheduled job last
ran and whether it is behind, the same moments the platform admin's listJobRuns gives, never what
a run did (its counts are every program's); another program's HQ reads the same moments and no
count either; merchant staff and keys are refused; runJob stays the platform admin's."""

from __future__ import annotations

from datetime import UTC, datetime


def test_hq_reads_the_jobs_last_runs_without_their_counts(api, stack, monkeypatch):
    from chalicelib.db import due
    monkeypatch.setattr(due, "programs", lambda: ("default",))     # (every program the suite made: minutes)
    platform = api.staff("platform_admin")
    ran = api.call("POST", "/v1/jobs/points-holds/runs", {}, headers=platform)
    assert ran.status_code == 200, ran.text
    [last] = api.call("GET", "/v1/jobs/points-holds/runs", headers=platform).json()["runs"]
    other = {"Authorization": "Bearer " + stack.credentials["programs"]["demo-2"]["staff_tokens"]["super_admin"]}
    for headers in (*(api.staff(role) for role in ("super_admin", "ops_manager", "finance", "auditor")), other):
        r = api.call("GET", "/v1/program/jobs", headers=headers)
        assert r.status_code == 200, r.text
        rows = {row["job"]: row for row in r.json()["jobs"]}
        held = rows["points-holds"]
        # the record may have moved on since (the stack's scheduler runs it every 5 minutes)
        assert held["finished_at"] >= last["finished_at"] and held["ran"] and held["every_minutes"] == 5
        assert datetime.fromisoformat(held["as_of"]) <= datetime.now(UTC)
        assert set(held) == {"job", "every_minutes", "ran", "as_of", "finished_at", "continues", "part", "behind"}
        assert not any(key in r.text for key in ("result", *last["result"])), r.text
    for role in ("merchant_admin", "store_manager", "clerk"):
        assert api.call("GET", "/v1/program/jobs", headers=api.staff(role)).status_code == 403
    assert api.call("GET", "/v1/program/jobs", pos=True).status_code == 403
    assert api.call("POST", "/v1/jobs/points-holds/runs", {}, headers=api.staff()).status_code == 403
