"""Edges of the benefit conditions (pure, no I/O): birthdays on 29 February in every kind of
year, the window's first and last instants, plans, stages, the paid flag's reason, and members
without a birthday."""

from datetime import UTC, date, datetime

import pytest

from chalicelib.benefits.rules import (
    BenefitRules,
    Facts,
    When,
    _birthday,
    _plans,
    _tiers,
    because,
    benefits,
    gained,
    summary,
)

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


RULES = BenefitRules.model_validate({"rules": [
    {"id": "gold", "name": "Gold", "when": {"min_tier": "V3"},
     "give": [{"kind": "points_multiplier", "multiplier": "1.5"}, {"kind": "discount_percent", "percent": 5}]},
    {"id": "silver", "name": "Silver", "when": {"tiers": ["V2"]},
     "give": [{"kind": "price_list", "ref": "PL-SILVER"}]},
    {"id": "all", "name": "Everyone", "give": [{"kind": "free_shipping"}]},
    {"id": "plus", "name": "PLUS", "when": {"plans": ["PLUS-Y", "PLUS-M"], "tiers": ["V1", "V3"]},
     "give": [{"kind": "points_multiplier", "multiplier": "2"}, {"kind": "discount_percent", "percent": 3},
              {"kind": "price_list", "ref": "PL-PLUS"}, {"kind": "coupon_pack", "ref": "PK", "grant": "monthly"},
              {"kind": "custom", "ref": "lounge"}, {"kind": "custom", "ref": "lounge"},
              {"kind": "custom", "ref": "concierge"}]},
]})


def test_every_rule_that_holds_gives_all_its_benefits_in_rule_order():
    given = benefits(RULES, facts(tier=2, plan="PLUS-Y"))        # gold and PLUS, not silver
    assert [(g["rule"], g["kind"]) for g in given] == [
        ("gold", "points_multiplier"), ("gold", "discount_percent"), ("all", "free_shipping"),
        ("plus", "points_multiplier"), ("plus", "discount_percent"), ("plus", "price_list"),
        ("plus", "coupon_pack"), ("plus", "custom"), ("plus", "custom"), ("plus", "custom")]
    assert given[2] == {"rule": "all", "rule_name": "Everyone", "because": ["everyone"], "kind": "free_shipping"}
    assert given[0] == {"rule": "gold", "rule_name": "Gold", "because": ["tier V3 >= V3"],
                        "kind": "points_multiplier", "multiplier": "1.5"}


def test_the_summary_takes_the_best_multiplier_and_discount_and_the_first_price_list():
    best = summary(benefits(RULES, facts(tier=2, plan="PLUS-Y")))
    assert best == {"points_multiplier": "2", "points_multiplier_rule": "plus",
                    "discount_percent": 5, "discount_rule": "gold", "price_list": "PL-PLUS",
                    "free_shipping": True, "dedicated_service": False,
                    "coupon_packs": [{"ref": "PK", "grant": "monthly", "rule": "plus"}],
                    "custom": ["concierge", "lounge"]}
    silver = summary(benefits(RULES, facts(tier=1, plan=None)))
    assert silver == {"points_multiplier": None, "points_multiplier_rule": None, "discount_percent": None,
                      "discount_rule": None, "price_list": "PL-SILVER", "free_shipping": True,
                      "dedicated_service": False, "coupon_packs": [], "custom": []}


def test_the_summary_of_nothing_gives_nothing():
    assert summary([]) == {"points_multiplier": None, "points_multiplier_rule": None, "discount_percent": None,
                           "discount_rule": None, "price_list": None, "free_shipping": False,
                           "dedicated_service": False, "coupon_packs": [], "custom": []}
    only = summary([{"rule": "ds", "kind": "dedicated_service"}])
    assert (only["dedicated_service"], only["free_shipping"]) == (True, False)


def test_the_next_tier_gains_only_what_the_member_lacks():
    now = benefits(RULES, facts(tier=1))                          # silver, everyone
    then = benefits(RULES, facts(tier=2))                         # gold, everyone
    assert [(g["rule"], g["kind"]) for g in gained(now, then)] == [("gold", "points_multiplier"),
                                                                     ("gold", "discount_percent")]
    assert gained(then, then) == []


def test_the_rules_name_every_tier_and_plan_they_refer_to():
    named = BenefitRules.model_validate({"rules": [
        {"id": "a", "name": "a", "when": {"tiers": ["V1", "V2"]}, "give": [{"kind": "free_shipping"}]},
        {"id": "b", "name": "b", "when": {"min_tier": "V3", "tiers": ["V4"], "plans": ["P1", "P2"]},
         "give": [{"kind": "free_shipping"}]},
        {"id": "c", "name": "c", "when": {"min_tier": "V2"}, "give": [{"kind": "free_shipping"}]},
        {"id": "d", "name": "d", "give": [{"kind": "free_shipping"}]}]})
    assert _tiers(named) == [("rules[0].when.tiers", "V1"), ("rules[0].when.tiers", "V2"),
                             ("rules[1].when.tiers", "V4"), ("rules[1].when.min_tier", "V3"),
                             ("rules[2].when.min_tier", "V2")]
    assert _plans(named) == [("rules[1].when.plans", "P1"), ("rules[1].when.plans", "P2")]


@pytest.mark.parametrize(("period_growth", "shown", "needed"), [
    (None, 0, 3_000), (0, 0, 3_000), (1, 1, 2_999), (2_999, 2_999, 1), (3_000, 3_000, 0), (7_000, 7_000, 0)])
def test_the_expiring_reminder_says_what_keeping_the_tier_still_needs(period_growth, shown, needed):
    """Gold is reached at 5 000 and kept with 3 000 in a period: nothing more once that is met."""
    from chalicelib.tiers.ladder import TierDef
    from chalicelib.tiers.standing import expiring
    from chalicelib.tiers.tables import TierItem
    gold = TierDef(code="V3", name="Gold", threshold=5_000, validity_months=12, retain=3_000)
    item = TierItem(*TierItem.key("M1"), member_id="M1", tier="V3", valid_until="2026-12-31",
                    period_growth=period_growth)                 # an item from before: its running count
    event = expiring(item, gold, 7, 4, 123_456)
    assert event.data["period_growth"] == shown
    item = TierItem(*TierItem.key("M1"), member_id="M1", tier="V3", valid_until="2026-12-31", period_growth=0,
                    growth_base=10_000)                          # the growth counted when the period began
    event = expiring(item, gold, 7, 4, 10_000 + (period_growth or 0))
    assert (event.type, event.subject) == ("tier.expiring", "member:M1")
    assert event.data == {"member_id": "M1", "tier": "V3", "valid_until": "2026-12-31", "days_left": 7,
                          "period_growth": shown, "retain_needed": 3_000, "growth_needed": needed,
                          "ladder_version": 4}
