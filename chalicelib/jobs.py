"""Scheduled jobs by name: what the EventBridge schedules call and what runJob runs on demand.

Capabilities register their jobs with :func:`job`; every run is recorded so operators can see when
a job last ran and what it did (``JOB#<name> / LAST``, whichever programs it served: listJobRuns),
and so is the last run that served each program (:func:`last_runs`): a run for every program (the
schedules', runJob's without ``program_id``) and its continuations as ``JOB#<name> / EVERY``, a
run for chosen programs only (runJob's ``program_id``, runReconciliation) as ``JOB#<name> /
PROGRAM#<id>`` for each of them, so that it counts for those programs and no other. The app names the modules that register
jobs (:func:`provided_by`); they are imported on the first run or listing, so a function that
answers the API never pays for them at its cold start.

Every run works to a deadline (:func:`budget`: the Lambda's remaining time less
:data:`MARGIN_SECONDS`, or the request's when runJob runs it, and at most ``JOB_BUDGET_SECONDS``
where that is set), reads its due work page by page (:mod:`chalicelib.db.due`), and when the time
is up records where each kind's shards stopped and hands the rest to continuations: messages on
the jobs queue (``JOBS_QUEUE_URL``) that the jobs function consumes (:func:`resume`), each running
the job again from the cursor, as of the same moment, and so on until nothing is left. A run over
every due shard fans out to one continuation per lane (a lane: every ``due.LANES``-th shard of each
kind) and batch of programs (``due.PROGRAMS_PER_PART``), which then run side by side (as many as
``continue-job`` may run at once), each carrying on its own shards. A run that
times out would record nothing and be retried from the start by EventBridge; a run that stops
itself records what it did (``continues``, ``part``), and its continuation never reads an item
twice. Each run also emits the due backlog (``DueBacklogDays``: how long the oldest item of the
kinds it reads has been due), which the template alarms on.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.db import backend, due
from chalicelib.db.items import MainModel
from chalicelib.db.uow import UnitOfWork
from chalicelib.shared import clock, deadline, queue
from chalicelib.shared.lazy import Modules
from chalicelib.shared.observability import logger, metrics

Job = Callable[[datetime], dict[str, Any]]
JOBS: dict[str, Job] = {}
PROVIDERS = Modules()
# Of a job Lambda's remaining time, what a run leaves itself to finish the item in hand, record the
# run and send its continuation (one AWS call can take up to aws.worst_call_seconds(), 12 s).
MARGIN_SECONDS = 60.0
# runJob: of the request's time left, the share a run works; the rest finishes the item in hand
# (a gift card chunk hashes 1,000 secrets), measures the backlog, records the run and sends its
# continuations, before the gateway gives up on the request (29 s).
IN_REQUEST_SHARE = 0.5
DEFAULT_BUDGET_SECONDS = 600.0      # no Lambda, no request, no JOB_BUDGET_SECONDS (a test, a shell)
BACKLOG_METRIC = "DueBacklogDays"
WAITING: list[dict[str, Any]] = []  # continuations where no queue is configured (in-process tests)


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
    continues = BooleanAttribute(null=True)       # a continuation carries on (older records: none)
    part = NumberAttribute(null=True)             # 1 for a scheduled run, 2.. for its continuations
    started_at = UnicodeAttribute(null=True)      # when its first part began (older records: none)
    programs = UnicodeAttribute(null=True)        # JSON list of the programs it was for (none: every program)

    @staticmethod
    def key(name: str) -> tuple[str, str]:
        """The record of a job's last run, whichever programs it served."""
        return f"JOB#{name}", "LAST"

    @staticmethod
    def served(name: str, program: str | None = None) -> tuple[str, str]:
        """The record of a job's last run for every program, or (``program``) for that program only."""
        return f"JOB#{name}", "EVERY" if program is None else f"PROGRAM#{program}"


def budget(remaining_ms: float | None = None) -> float:
    """Seconds a run may work: its Lambda's remaining time less :data:`MARGIN_SECONDS`, or within
    a request (runJob) :data:`IN_REQUEST_SHARE` of the time the request has left; at most
    ``JOB_BUDGET_SECONDS`` when set (read at each run: locally 15 s, the benchmark's hours)."""
    limit = float(os.environ.get("JOB_BUDGET_SECONDS") or math.inf)
    if remaining_ms is not None:
        return max(0.0, min(limit, remaining_ms / 1000 - MARGIN_SECONDS))
    if deadline.left() < math.inf:
        return max(0.0, min(limit, deadline.left() * IN_REQUEST_SHARE))
    return limit if limit < math.inf else DEFAULT_BUDGET_SECONDS


def run(name: str, as_of: datetime, remaining_ms: float | None = None,
        cursor: dict[str, dict[str, str]] | None = None, part: int = 1, shards: list[int] | None = None,
        programs: list[str] | None = None, scope: list[str] | None = None,
        started_at: str | None = None) -> dict[str, Any]:
    """Run one job as of ``as_of`` to its deadline (:func:`budget`), from ``cursor`` over the
    lanes ``shards`` of ``programs`` (a continuation's; every lane of every program when None),
    record the run, emit the backlog and, when it stopped with work left, send its continuations
    (one per lane and batch of programs it read). A first part given ``programs`` is a run for
    those programs only (its ``scope``, which its continuations carry): it is recorded for each of
    them, never as the run for every program. Returns the record: what it did, whether it
    continues, which part it is."""
    if part == 1 and programs is not None:
        scope = list(programs)
    started_at = started_at or clock.iso(clock.now())
    with due.working_until(budget(remaining_ms), cursor, shards, programs) as work:
        result = registered()[name](as_of)
    # A run that read every due shard to its end and gave nothing up kept up: its backlog is 0,
    # with no read. Else the oldest item still due says how far behind (one query per shard).
    behind = work.stopped or bool(result.get("gave_up"))
    backlog = {kind: due.backlog_days(backend.current(), model, kind, as_of, index, work.of_programs())
               if behind else 0
               for kind, (model, index) in sorted(work.kinds.items())}
    if backlog and not is_metrics_disabled():
        metrics.add_metric(name=BACKLOG_METRIC, unit=MetricUnit.Count, value=max(backlog.values()))
    done: dict[str, Any] = {"job": name, "as_of": clock.iso(as_of), "finished_at": clock.iso(clock.now()),
                            "result": json.dumps(result), "continues": work.continues(), "part": part,
                            "started_at": started_at, "programs": None if scope is None else json.dumps(scope)}
    UnitOfWork(f"job:{name}").put(JobRun(*JobRun.key(name), **done))
    for program in [None] if scope is None else scope:
        UnitOfWork(f"job:{name}").put(JobRun(*JobRun.served(name, program), **done))
    if work.continues():
        for carry_on in work.continuations():
            later({"job": name, "as_of": clock.iso(as_of), "part": part + 1, "started_at": started_at,
                   **({} if scope is None else {"scope": scope}), **carry_on})
    elif work.stopped:
        logger.warning("job part read nothing before its deadline; the next scheduled run carries on",
                       extra={"job": name, "part": part})
    return {"job": name, "as_of": clock.iso(as_of), "result": result, "continues": work.continues(), "part": part,
            "due_backlog_days": backlog}


def later(message: dict[str, Any]) -> None:
    """Hand a continuation to the jobs queue (or, with no queue configured, keep it in
    :data:`WAITING` for :func:`run_waiting`)."""
    queue.send("JOBS_QUEUE_URL", [message], WAITING)
    logger.info("job continues", extra={"job": message["job"], "part": message["part"]})


def resume(message: dict[str, Any], remaining_ms: float | None = None) -> dict[str, Any]:
    """Run the continuation ``message`` (from the jobs queue): the same job, as of the same
    moment, from where the last part stopped."""
    return run(message["job"], clock.parse_iso(message["as_of"]), remaining_ms, message["cursor"],
               int(message["part"]), message.get("shards"), message.get("programs"), message.get("scope"),
               message.get("started_at"))


def run_waiting() -> list[dict[str, Any]]:
    """Run every continuation kept in process (and theirs), in order; their records."""
    done = []
    while WAITING:
        done.append(resume(WAITING.pop(0)))
    return done


def last_runs(uow: UnitOfWork, names: list[str], program: str, since: str | None = None) -> dict[str, JobRun | None]:
    """The last run of each of ``names`` (at most 50) that served ``program``, by name, in one
    BatchGetItem (None: none did): the later of the last run for every program (``EVERY``),
    counted only when it began at or after ``since`` (the program's creation: one begun before did
    not read it), and the last run for ``program`` only (``PROGRAM#<id>``). Never a run for
    other programs only."""
    found = uow.get_many(JobRun, [key for n in names for key in (JobRun.served(n), JobRun.served(n, program))])
    return {name: _later(every if _began_since(every, since) else None, own)
            for name, every, own in zip(names, found[0::2], found[1::2], strict=True)}


def _began_since(run: JobRun | None, since: str | None) -> bool:
    began = run and (run.started_at or run.as_of)
    return bool(began) and (since is None or clock.parse_iso(str(began)) >= clock.parse_iso(since))


def _later(a: JobRun | None, b: JobRun | None) -> JobRun | None:
    if a is None or b is None:
        return a or b
    return a if clock.parse_iso(a.finished_at) >= clock.parse_iso(b.finished_at) else b


def record(item: JobRun) -> dict[str, Any]:
    """A run's record as listJobRuns and runJob answer it."""
    return {"job": item.job, "as_of": item.as_of, "finished_at": item.finished_at, "result": json.loads(item.result),
            "continues": bool(item.continues), "part": int(item.part or 1),
            "programs": json.loads(item.programs) if item.programs else None}


def last_run(name: str) -> dict[str, Any] | None:
    """The record of a job's last run, whichever programs it served, or None if it never ran."""
    item = UnitOfWork().get(JobRun, JobRun.key(name), consistent=True)
    return None if item is None else record(item)
