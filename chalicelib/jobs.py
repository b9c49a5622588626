"""Scheduled jobs by name: what the EventBridge schedules call and what runJob runs on demand.

Capabilities register their jobs with :func:`job`; every run is recorded (``JOB#<name> / LAST``)
so operators can see when a job last ran and what it did. The app names the modules that register
jobs (:func:`provided_by`); they are imported on the first run or listing, so a function that
answers the API never pays for them at its cold start.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pynamodb.attributes import UnicodeAttribute

from chalicelib.db.items import MainModel
from chalicelib.db.uow import UnitOfWork
from chalicelib.shared import clock
from chalicelib.shared.lazy import Modules

Job = Callable[[datetime], dict[str, Any]]
JOBS: dict[str, Job] = {}
PROVIDERS = Modules()


def job(name: str) -> Callable[[Job], Job]:
    """Register ``fn(as_of) -> result`` as the scheduled job ``name``."""
    def register(fn: Job) -> Job:
        JOBS[name] = fn
        return fn
    return register


def provided_by(*modules: str) -> None:
    """Name modules that register jobs, imported when a job is first run or listed."""
    PROVIDERS.add(*modules)


def registered() -> dict[str, Job]:
    """Every job, by name (the providers imported first)."""
    PROVIDERS.load()
    return JOBS


class JobRun(MainModel):
    platform = True                     # a run serves every program
    job = UnicodeAttribute()
    as_of = UnicodeAttribute()
    finished_at = UnicodeAttribute()
    result = UnicodeAttribute()

    @staticmethod
    def key(name: str) -> tuple[str, str]:
        """The record of a job's last run."""
        return f"JOB#{name}", "LAST"


def run(name: str, as_of: datetime) -> dict[str, Any]:
    """Run one job as of ``as_of`` and record the run."""
    result = registered()[name](as_of)
    UnitOfWork(f"job:{name}").put(JobRun(*JobRun.key(name), job=name, as_of=clock.iso(as_of),
                                         finished_at=clock.iso(clock.now()), result=json.dumps(result)))
    return {"job": name, "as_of": clock.iso(as_of), "result": result}


def last_run(name: str) -> dict[str, Any] | None:
    """The record of a job's last run, or None if it never ran."""
    item = UnitOfWork().get(JobRun, JobRun.key(name), consistent=True)
    if item is None:
        return None
    return {"job": item.job, "as_of": item.as_of, "finished_at": item.finished_at, "result": json.loads(item.result)}
