"""A job run for one program counts for that program only (attack C, findings 7 and 8), over HTTP
with two programs of this test's own: the platform admin's runJob with ``program_id`` shows in
that program's listProgramJobs and balance sheet, never in the other's; a run for every program
shows in both, unless it began before the program was made (it did not serve it)."""

from __future__ import annotations

from devstack.credentials import staff_token
from tests.e2e.conftest import fresh_phone


def _program(api, tag: str) -> tuple[str, dict[str, str]]:
    program = f"jr{tag}-{fresh_phone()[-7:]}"
    made = api.call("POST", "/v1/programs", {"program_id": program, "name": f"job runs {tag}"},
                    headers=api.staff("platform_admin"), key=f"jr-{program}")
    assert made.status_code == 201, made.text
    return program, api.bearer(staff_token("super_admin", f"jr-hq-{program}", program_id=program))


def _job(api, hq: dict[str, str], name: str) -> dict:
    r = api.call("GET", "/v1/program/jobs", headers=hq)
    assert r.status_code == 200, r.text
    return next(row for row in r.json()["jobs"] if row["job"] == name)


def _reconciliation(api, hq: dict[str, str]) -> dict:
    r = api.call("GET", "/v1/balance-sheet", headers=hq)
    assert r.status_code == 200, r.text
    return r.json()["points"]["reconciliation"]


def test_a_run_for_one_program_shows_in_that_programs_jobs_only(api):
    (a, hq_a), (_, hq_b) = _program(api, "a"), _program(api, "b")
    platform = api.staff("platform_admin")
    ran = api.call("POST", "/v1/jobs/points-reminders/runs", {"program_id": a, "as_of": "2027-06-15T01:23:45Z"},
                   headers=platform)
    assert ran.status_code == 200, ran.text
    mine = _job(api, hq_a, "points-reminders")
    assert (mine["ran"], mine["as_of"], mine["continues"]) == (True, "2027-06-15T01:23:45.000Z", False)
    theirs = _job(api, hq_b, "points-reminders")
    assert theirs["as_of"] != "2027-06-15T01:23:45.000Z", theirs
    # a run for every program (both already made) counts for each
    every = api.call("POST", "/v1/jobs/points-reminders/runs", {"as_of": "2027-06-16T02:00:00Z"}, headers=platform)
    assert every.status_code == 200, every.text
    for hq in (hq_a, hq_b):
        assert _job(api, hq, "points-reminders")["as_of"] == "2027-06-16T02:00:00.000Z"


def test_the_balance_sheet_reconciliation_is_a_run_for_this_program(api):
    (_, hq_x), (y, hq_y) = _program(api, "x"), _program(api, "y")
    # every earlier run of points-reconcile began before X and Y were made: it served neither
    assert _reconciliation(api, hq_x) == {"status": "never_run", "at": None, "job": "points-reconcile"}
    ran = api.call("POST", "/v1/jobs/points-reconcile/runs", {"program_id": y}, headers=api.staff("platform_admin"))
    assert ran.status_code == 200, ran.text
    assert _reconciliation(api, hq_x) == {"status": "never_run", "at": None, "job": "points-reconcile"}
    mine = _reconciliation(api, hq_y)
    assert mine["status"] == "ok" and mine["at"] is not None, mine
    # X's super admin reconciles its own points: now X's line says ok, from that run
    own = api.call("POST", "/v1/reconciliations/points/runs", {}, headers=hq_x)
    assert own.status_code == 200, own.text
    assert _reconciliation(api, hq_x)["status"] == "ok"
