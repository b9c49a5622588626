"""The dashboard's pure parts: periods and their previous, distinct members per day/week/month,
the change of a metric."""

from datetime import date

from chalicelib.reports.dashboard import member_counts, periods_of
from chalicelib.reports.dashboard_read import change, periods

TODAY = date(2026, 5, 6)          # a Wednesday


def test_periods_and_the_previous_ones():
    day, before = periods("day", date(2026, 3, 1), None, TODAY)
    assert (day.start, day.end, before.start, before.end) == (date(2026, 3, 1),) * 2 + (date(2026, 2, 28),) * 2
    week, before = periods("week", TODAY, None, TODAY)
    assert (week.start, week.end, before.start) == (date(2026, 5, 4), date(2026, 5, 10), date(2026, 4, 27))
    month, before = periods("month", date(2026, 3, 15), None, TODAY)
    assert (month.start, month.end, before.start, before.end) == (date(2026, 3, 1), date(2026, 3, 31),
                                                                  date(2026, 2, 1), date(2026, 2, 28))
    span, before = periods("range", date(2026, 1, 1), date(2026, 1, 10), TODAY)
    assert (span.days, before.start, before.end) == (10, date(2025, 12, 22), date(2025, 12, 31))
    assert periods("day", None, None, TODAY)[0].start == TODAY


def test_a_member_counts_once_per_day_week_and_month():
    keys = [k for k, _ in periods_of(TODAY)]
    assert keys == ["DAY#2026-05-06", "WEEK#2026-05-04", "MONTH#2026-05"]
    first = member_counts(None, None, TODAY, purchase=True)
    assert first == {k: {"active_members": 1, "buyers": 1} for k in keys}
    assert member_counts("2026-05-06", "2026-05-06", TODAY, purchase=True) == {}
    # active on Monday, bought 80 days before the month: a new day, the same week and month
    assert member_counts("2026-05-04", "2026-02-10", TODAY, purchase=True) == {
        "DAY#2026-05-06": {"active_members": 1, "buyers": 1, "repeat_buyers": 1},
        "WEEK#2026-05-04": {"buyers": 1, "repeat_buyers": 1},
        "MONTH#2026-05": {"buyers": 1, "repeat_buyers": 1}}
    # the last purchase 91 days before the month's first day: not a repurchase for the month
    got = member_counts("2026-04-30", "2026-01-30", TODAY, purchase=True)
    assert got["MONTH#2026-05"] == {"active_members": 1, "buyers": 1}
    assert member_counts("2026-04-30", None, TODAY, purchase=False)["DAY#2026-05-06"] == {"active_members": 1}


def test_the_change_of_a_metric():
    assert change(120, 100) == {"value": 120, "previous": 100, "change": 20, "change_percent": 20.0}
    assert change(5, 0)["change_percent"] is None and change(None, 3)["change"] is None
