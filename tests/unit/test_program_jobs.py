"""listProgramJobs' pure parts: each job's period is its schedule's in app.py, and when a job is behind."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import jobs
from chalicelib.system import program_jobs
from chalicelib.system.program_jobs import DAY, HOUR, PERIOD_MINUTES, behind


def _period(expression: str) -> int:
    """A schedule's period in minutes: rate(n minutes), cron(m * ...) hourly, cron(m h ...) daily."""
    if m := re.fullmatch(r"rate\((\d+) minutes?\)", expression):
        return int(m[1])
    minute, hour, *rest = expression.removeprefix("cron(").removesuffix(")").split()
    assert minute.isdigit() and rest[:3] == ["*", "*", "?"], expression
    return HOUR if hour == "*" else DAY


def test_the_periods_are_the_apps_schedules_for_every_job():
    import app
    schedules = {s.name: s.schedule_expression for s in app.app.event_sources if hasattr(s, "schedule_expression")}
    periods = {name: _period(e if isinstance(e, str) else e.to_string()) for name, e in schedules.items()}
    assert periods == PERIOD_MINUTES
    assert set(PERIOD_MINUTES) == set(jobs.registered())


NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def _run(ago: timedelta, continues: bool = False) -> jobs.JobRun:
    at = (NOW - ago).isoformat()
    return jobs.JobRun(*jobs.JobRun.key("x"), job="x", as_of=at, finished_at=at, result="{}", continues=continues,
                       part=1)


@pytest.mark.parametrize(("period", "ago", "late"), [
    (5, timedelta(minutes=9), False), (5, timedelta(minutes=11), True),            # 5 + 5
    (HOUR, timedelta(minutes=89), False), (HOUR, timedelta(minutes=91), True),     # 60 + 30
    (DAY, timedelta(hours=24, minutes=29), False), (DAY, timedelta(hours=24, minutes=31), True),
    (1, timedelta(seconds=110), False), (1, timedelta(seconds=130), True),
])
def test_a_job_is_behind_when_its_last_run_is_older_than_its_period_and_margin(period, ago, late):
    assert behind(_run(ago), period, NOW) is late


def test_a_job_that_never_ran_or_still_continues_is_behind():
    assert behind(None, HOUR, NOW)
    assert behind(_run(timedelta(0), continues=True), HOUR, NOW)
    assert not behind(_run(timedelta(0)), HOUR, NOW)
    assert program_jobs.MARGIN_MINUTES == 30
