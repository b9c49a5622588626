"""A program's HQ reads how the scheduled jobs stand (listProgramJobs): for every job, when its last
run acted as of and finished, whether its continuations still carry on, and whether it is behind.

Never a run's ``result``: a job serves every program at once, so its counts are the whole
deployment's (another program's volume). The run read is the last that served this program
(:func:`chalicelib.jobs.last_runs`, one BatchGetItem for all of them): the later of the last part
of a run for every program that began after the program was made (``JOB#<name>/EVERY``) and the
last run for this program only (``JOB#<name>/PROGRAM#<id>``: runJob's ``program_id``,
runReconciliation); never a run for another program only.

**Behind**: the job never ran, or its last part stopped with work left for a continuation, or its
last run acted as of longer ago than its schedule's period and a margin (:data:`PERIOD_MINUTES`,
the schedules of ``app.py``, which a test holds this table to; the margin the period again, at
most :data:`MARGIN_MINUTES`): a run that should have finished by now has not.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chalicelib import jobs
from chalicelib.db.uow import UnitOfWork
from chalicelib.programs import service as programs
from chalicelib.shared import clock

HOUR, DAY = 60, 1440
# each job's schedule in app.py, as its period in minutes
PERIOD_MINUTES: dict[str, int] = {
    "checkout-lapse": 5, "coupon-expiry": HOUR, "coupon-holds": 5, "coupon-issues": 5, "coupon-owed": DAY,
    "coupon-reconcile": DAY, "exports": 1, "gift-card-batches": 5, "gift-card-holds": 5,
    "gift-card-reconcile": HOUR, "member-lifecycle": HOUR, "membership-expiry": HOUR, "points-expiry": HOUR,
    "points-holds": 5, "points-inflation": DAY, "points-reconcile": HOUR, "points-reminders": DAY,
    "stored-value-bonus-expiry": HOUR, "stored-value-holds": 5,
    "stored-value-reconcile": HOUR, "tier-reminders": DAY, "tier-review": HOUR,
}
MARGIN_MINUTES = 30


def behind(run: jobs.JobRun | None, period_minutes: int, now: datetime) -> bool:
    """Whether a job whose last run is ``run`` (None: never ran) is behind at ``now``."""
    if run is None or run.continues:
        return True
    late = timedelta(minutes=period_minutes + min(period_minutes, MARGIN_MINUTES))
    return clock.parse_iso(run.as_of) < now - late


def listing(uow: UnitOfWork) -> dict[str, Any]:
    """Every scheduled job's last run for the unit's program, without its result, and whether it is behind."""
    names = sorted(jobs.registered())
    runs = jobs.last_runs(uow, names, uow.program, programs.created_at(uow, uow.program))
    now = clock.now()
    rows = []
    for name in names:
        run, period = runs[name], PERIOD_MINUTES.get(name, DAY)
        rows.append({"job": name, "every_minutes": period, "ran": run is not None,
                     "as_of": run.as_of if run else None, "finished_at": run.finished_at if run else None,
                     "continues": bool(run.continues) if run else False, "part": int(run.part or 1) if run else None,
                     "behind": behind(run, period, now)})
    return {"as_of": clock.iso(now), "jobs": rows}
