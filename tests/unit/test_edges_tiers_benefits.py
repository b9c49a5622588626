"""Edges of the benefit conditions (pure, no I/O): birthdays on 29 February in every kind of
year, the window's first and last instants, plans, stages, the paid flag's reason, and members
without a birthday."""

from datetime import UTC, date, datetime

import pytest

from chalicelib.benefits.rules import BenefitRules, Facts, When, _birthday, because, benefits

NOW = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
CODES = ("V1", "V2", "V3")


def facts(**changes) -> Facts:
    base = {"codes": CODES, "tier": 0, "plan": None, "birthday": None, "stage": "active", "now": NOW,
            "today": date(2026, 3, 1)}
    return Facts(**{**base, **changes})


def when(**conditions) -> When:
    return When.model_validate(conditions)


@pytest.mark.parametrize(("born", "today", "is_day"), [
    (date(2000, 2, 29), date(2026, 2, 28), True),        # not a leap year: the 28th
    (date(2000, 2, 29), date(2026, 3, 1), False),        # ... and not 1 March
    (date(2000, 2, 29), date(2024, 2, 29), True),        # a leap year: the 29th itself
    (date(2000, 2, 29), date(2024, 2, 28), False),       # ... so not the 28th
    (date(2000, 2, 29), date(2100, 2, 28), True),        # divisible by 100, not by 400: no 29th
    (date(1996, 2, 29), date(2000, 2, 29), True),        # divisible by 400: a leap year
    (date(1996, 2, 29), date(2000, 2, 28), False),
    (date(1990, 2, 10), date(2026, 2, 10), True),        # other February birthdays move nowhere
    (date(1990, 7, 29), date(2026, 7, 29), True),        # nor a 29th of another month
    (date(1990, 7, 9), date(2026, 7, 9), True),
    (date(1990, 7, 9), date(2026, 7, 10), False),
])
def test_the_birthday_is_its_day_and_29_february_counts_on_the_28th_outside_leap_years(born, today, is_day):
    assert _birthday(born, today) == (is_day, today.month == born.month)


def test_a_birthday_rule_by_day_needs_the_day_and_by_month_the_month():
    f = facts(birthday=date(1990, 3, 9), today=date(2026, 3, 1))          # its month, not its day
    assert because(when(birthday="day"), f) is None
    assert because(when(birthday="month"), f) == ["birthday month"]
    assert because(when(birthday="day"), facts(birthday=date(1990, 3, 1))) == ["birthday day"]


@pytest.mark.parametrize("kind", ["day", "month"])
def test_a_member_without_a_birthday_never_meets_a_birthday_rule(kind):
    assert because(when(birthday=kind), facts(birthday=None)) is None


def test_a_plan_rule_holds_for_the_plans_it_names_only():
    rule = when(plans=["PLUS-Y"])
    assert because(rule, facts(plan="PLUS-Y")) == ["plan PLUS-Y"]
    assert because(rule, facts(plan="PLUS-M")) is None
    assert because(rule, facts(plan=None)) is None


def test_the_paid_condition_says_which_way_it_held():
    assert because(when(paid=True), facts(plan="PLUS-Y")) == ["paid member"]
    assert because(when(paid=True), facts(plan=None)) is None
    assert because(when(paid=False), facts(plan=None)) == ["not a paid member"]
    assert because(when(paid=False), facts(plan="PLUS-Y")) is None


def test_a_stage_rule_holds_for_the_stages_it_names_only():
    rule = when(stages=["new", "dormant"])
    assert because(rule, facts(stage="dormant")) == ["stage dormant"]
    assert because(rule, facts(stage="active")) is None


def test_a_window_includes_its_first_instant_and_excludes_its_end():
    rule = when(window={"starts_at": "2026-03-01T00:00:00Z", "ends_at": "2026-03-08T00:00:00Z"})
    start, end = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)
    assert because(rule, facts(now=start)) == ["in its date window"]
    assert because(rule, facts(now=end)) is None
    assert because(rule, facts(now=datetime(2026, 3, 7, 23, 59, 59, 999000, tzinfo=UTC))) == ["in its date window"]
    assert because(rule, facts(now=datetime(2026, 2, 28, 23, 59, 59, 999000, tzinfo=UTC))) is None


def test_a_leap_day_birthday_gets_its_pack_on_28_february_of_a_common_year():
    rules = BenefitRules.model_validate({"rules": [
        {"id": "bday", "name": "Birthday", "when": {"birthday": "day"},
         "give": [{"kind": "coupon_pack", "ref": "PACK-BDAY", "grant": "on_birthday"}]}]})
    born = date(2004, 2, 29)
    assert [g["ref"] for g in benefits(rules, facts(birthday=born, today=date(2027, 2, 28)))] == ["PACK-BDAY"]
    assert benefits(rules, facts(birthday=born, today=date(2027, 3, 1))) == []
    assert benefits(rules, facts(birthday=born, today=date(2028, 2, 28))) == []
