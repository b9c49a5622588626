"""Scheduled jobs by name: what the EventBridge schedules call and what runJob runs on demand.

Every run is recorded (``JOB#<name> / LAST``) so operators can see when a job last ran and what
it did.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Callable

from pynamodb.attributes import UnicodeAttribute

from chalicelib.members import lifecycle
from chalicelib.points import jobs as points
from chalicelib.shared import clock
from chalicelib.store.models import MainModel

JOBS: dict[str, Callable[[datetime], dict[str, Any]]] = {
    "member-lifecycle": lifecycle.review,
    "points-expiry": points.expiry,
    "points-reminders": points.reminders,
    "points-holds": points.holds,
    "points-inflation": points.inflation,
    "points-reconcile": lambda as_of: _reconcile(),
}


def _reconcile() -> dict[str, Any]:
    from chalicelib.points import reconcile
    result = reconcile.everything()
    return {"accounts_checked": result["accounts_checked"], "balanced": result["balanced"],
            "mismatched_accounts": [(m["member_id"], m["point_type"]) for m in result["mismatches"]]}


class JobRun(MainModel):
    job = UnicodeAttribute()
    as_of = UnicodeAttribute()
    finished_at = UnicodeAttribute()
    result = UnicodeAttribute()


def run(name: str, as_of: datetime) -> dict[str, Any]:
    result = JOBS[name](as_of)
    JobRun(f"JOB#{name}", "LAST", job=name, as_of=clock.iso(as_of), finished_at=clock.iso(clock.now()),
           result=json.dumps(result)).save()
    return {"job": name, "as_of": clock.iso(as_of), "result": result}
