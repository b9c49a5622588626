from datetime import UTC, datetime, timedelta

import pytest

from devstack.scheduler import Schedule, ScheduleError, Scheduler

UTC = UTC


def test_rate_fires_every_period_from_start():
    s = Schedule.parse("rate(5 minutes)")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert s.next_after(start, start) == start + timedelta(minutes=5)
    assert s.next_after(start + timedelta(minutes=7), start) == start + timedelta(minutes=10)


def test_cron_daily_at_fixed_utc_time():
    s = Schedule.parse("cron(30 16 * * ? *)")     # 00:30 Asia/Shanghai
    t = s.next_after(datetime(2026, 3, 1, 17, 0, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
    assert t == datetime(2026, 3, 2, 16, 30, tzinfo=UTC)


def test_cron_day_of_week_uses_aws_numbering():
    s = Schedule.parse("cron(0 9 ? * MON-FRI *)")
    assert s.matches(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))        # a Monday
    assert not s.matches(datetime(2026, 11, 22, 9, 0, tzinfo=UTC))    # a Sunday
    assert Schedule.parse("cron(0 9 ? * 1 *)").matches(datetime(2026, 11, 22, 9, 0, tzinfo=UTC))


@pytest.mark.parametrize("bad", ["rate(0 minutes)", "cron(0 9 * * * *)", "cron(0 9 L * ? *)", "every day",
                                 "cron(61 * * * ? *)", "cron(0 9 * *)"])
def test_bad_expressions_are_refused(bad):
    with pytest.raises(ScheduleError):
        Schedule.parse(bad)


def test_scheduler_fires_due_jobs_in_order_and_survives_a_failing_job():
    calls = []
    errors = []

    def broken(event):
        raise RuntimeError("boom")

    start = datetime(2026, 1, 1, tzinfo=UTC)
    sched = Scheduler([("every-minute", Schedule.parse("rate(1 minute)"), lambda e: calls.append(e["time"])),
                       ("broken", Schedule.parse("rate(2 minutes)"), broken)],
                      on_error=lambda name, e: errors.append(name))
    sched.tick(start, start + timedelta(minutes=4), start)
    assert calls == ["2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z", "2026-01-01T00:03:00Z", "2026-01-01T00:04:00Z"]
    assert errors == ["broken", "broken"]
    assert [n for n, _ in sched.fired].count("every-minute") == 4
