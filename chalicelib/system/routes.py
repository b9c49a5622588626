"""Operational routes."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from chalice import Blueprint
from pydantic import Field, model_validator

from chalicelib import jobs
from chalicelib.api.auth import ANY_STAFF, HQ, PLATFORM, staff
from chalicelib.api.endpoint import Call, endpoint
from chalicelib.api.openapi import document
from chalicelib.shared import clock, lazy
from chalicelib.shared.config import settings
from chalicelib.shared.errors import Forbidden, NotFound, ValidationProblem
from chalicelib.shared.principal import DEFAULT_PROGRAM
from chalicelib.shared.types import Instant, Strict

if TYPE_CHECKING:
    from chalicelib.events import stats
    from chalicelib.programs import service as programs
    from chalicelib.system import program_jobs
else:
    stats = lazy.module("chalicelib.events.stats")
    programs = lazy.module("chalicelib.programs.service")
    program_jobs = lazy.module("chalicelib.system.program_jobs")

bp = Blueprint(__name__)


class StatsQuery(Strict):
    start: date
    end: date
    merchant_id: str | None = Field(None, max_length=64)

    @model_validator(mode="after")
    def _range(self) -> StatsQuery:
        if self.end < self.start or self.end - self.start > timedelta(days=366):
            raise ValueError("end must be on or after start, at most 366 days later")
        return self


@endpoint(bp, "/health", "GET", "healthCheck", summary="Liveness", allow=(), tags=("system",),
          response="chalicelib.system.replies:HealthOut")
def health(call: Call):
    return {"status": "ok"}


@endpoint(bp, "/openapi.json", "GET", "getOpenApi", summary="This document", allow=(), tags=("system",),
          response="chalicelib.system.replies:OpenApiDocument")
def openapi(call: Call):
    return document()


@endpoint(bp, "/v1/stats/daily", "GET", "getDailyStats", tags=("dashboard",),
          summary="Daily counters (new members, identities bound) for the program or one merchant",
          allow=(ANY_STAFF,), query=StatsQuery, response="chalicelib.system.replies:DailyStatsOut")
def daily_stats(call: Call):
    q: StatsQuery = call.query
    p = call.caller
    scope = q.merchant_id or "ALL"
    if not p.is_hq:
        if not p.merchant_id or (q.merchant_id and q.merchant_id != p.merchant_id):
            raise Forbidden("store staff see only their own merchant's counters")
        scope = p.merchant_id
    if scope != "ALL" and len(scope) > 64:
        raise ValidationProblem("merchant_id too long")
    return {"scope": scope, "days": stats.daily(call.uow, scope, q.start, q.end)}


JOB_NAMES = {"job": lambda: sorted(jobs.registered())}     # for the document only


class RunJob(Strict):
    as_of: Instant | None = Field(None, description="local and test stages only: run as if it were this time")
    program_id: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9\-]{1,39}$",
                                   description="run for this program only (default: every program); "
                                   "one that does not exist is a 404")


# Jobs serve every program at once (a run expires, releases and reconciles across all of them) and
# their results name other programs' items: they belong to the platform, never to one program's
# staff. A program's HQ proves its own books with the reconciliation reads (stored value, points,
# gift cards), which are scoped to the caller's program.
@endpoint(bp, "/v1/jobs/{job}/runs", "GET", "listJobRuns", tags=("operations",), errors=(404,), path_values=JOB_NAMES,
          summary="A scheduled job's last run: when, as of when, for which programs, and what it did (platform admin)", allow=(PLATFORM,),
          response="chalicelib.system.replies:JobRunsOut")
def list_job_runs(call: Call):
    name = call.params["job"]
    if name not in jobs.registered():
        raise NotFound(f"no job '{name[:64]}'; jobs: {', '.join(sorted(jobs.registered()))}")
    last = jobs.last_run(name)
    return {"job": name, "runs": [last] if last else []}


@endpoint(bp, "/v1/jobs/{job}/runs", "POST", "runJob", tags=("operations",), errors=(404,), idempotent=False,
          path_values=JOB_NAMES,
          summary="Run a scheduled job now, for every program (platform admin; jobs are idempotent: a second "
          "run of a day does nothing)", allow=(PLATFORM,), body=RunJob,
          response="chalicelib.system.replies:JobRunOut")
def run_job(call: Call):
    name = call.params["job"]
    if name not in jobs.registered():
        raise NotFound(f"no job '{name[:64]}'; jobs: {', '.join(sorted(jobs.registered()))}")
    as_of = call.body.as_of
    if as_of is not None and settings().stage not in ("local", "test"):
        raise ValidationProblem("as_of is accepted on the local and test stages only")
    only = call.body.program_id
    if only is not None and only != DEFAULT_PROGRAM and programs.created_at(call.uow, only) is None:
        raise NotFound(f"no program {only}: a run for it would serve nothing")
    return jobs.run(name, as_of or clock.now(), programs=None if only is None else [only])


# A program's HQ (and its readers) sees when each job last ran and whether it is behind, never what
# a run did (its counts are every program's): chalicelib/system/program_jobs.py.
@endpoint(bp, "/v1/program/jobs", "GET", "listProgramJobs", tags=("operations",),
          summary="Every scheduled job's last run: as of when, finished when, whether it continues or is behind "
          "(HQ; never a run's counts, which are every program's)", allow=(HQ,),
          response="chalicelib.system.replies:ProgramJobsOut")
def list_program_jobs(call: Call):
    return program_jobs.listing(call.uow)


RECONCILIATIONS = ("points", "stored-value", "gift-card", "coupon")


@endpoint(bp, "/v1/reconciliations/{ledger}/runs", "POST", "runReconciliation", tags=("operations",), errors=(404,),
          idempotent=False, path_values={"ledger": lambda: list(RECONCILIATIONS)},
          summary="Run a ledger's reconciliation now, for the caller's own program only (super admin; the daily "
          "job does it for every program)", allow=(staff("super_admin"),),
          response="chalicelib.system.replies:JobRunOut")
def run_reconciliation(call: Call):
    ledger = call.params["ledger"]
    if ledger not in RECONCILIATIONS:
        raise NotFound(f"no reconciliation '{ledger[:64]}'; ledgers: {', '.join(RECONCILIATIONS)}")
    return jobs.run(f"{ledger}-reconcile", clock.now(), programs=[call.caller.program_id])
