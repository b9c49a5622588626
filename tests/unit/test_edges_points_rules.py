"""Edges of the points program's arithmetic, with no I/O: multipliers at their bounds, lines of
odd amounts, every factor combined with another, rounding of growth, caps exactly reached, the
grace months of year-end expiry across the year, and the redemption rate on amounts that do not
divide."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from chalicelib.points.rules import (
    Expiry,
    OrderLine,
    ProgramRules,
    expiry_date,
    order_points,
    points_value_fen,
    redeem_limit_points,
)

AT = datetime(2026, 6, 18, 12, 0, tzinfo=UTC)
CAMPAIGN = {"name": "c", "starts_at": "2026-06-18T00:00:00Z", "ends_at": "2026-06-19T00:00:00Z", "multiplier": "2"}


def earned(rules, paid=10_000, lines=(), store=None, tier=None, at=AT, by_points=0, by_bonus=0, bonus=None):
    return order_points(rules, paid_fen=paid, points_paid_fen=by_points, bonus_paid_fen=by_bonus,
                        lines=[OrderLine(**line) for line in lines], store_id=store, tier=tier, at=at, bonus=bonus)


def points(rules, **kw):
    return earned(rules, **kw)[0]


# --- multipliers ------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["0", "0.5", "100"])
def test_a_multiplier_may_be_zero_a_fraction_below_one_or_exactly_100(value):
    assert ProgramRules(points_per_yuan=value, store_multipliers={"s": value}).points_per_yuan == value


@pytest.mark.parametrize("value", ["100.01", "101", "-0.01"])
def test_a_multiplier_above_100_or_below_zero_is_refused(value):
    with pytest.raises(ValidationError):
        ProgramRules(points_per_yuan=value)


# --- order lines --------------------------------------------------------------------------------

def test_lines_of_no_amount_leave_the_whole_eligible_amount_at_factor_one():
    rules = ProgramRules(category_multipliers={"c": "3"})
    assert points(rules, paid=10_000, lines=[{"category": "c", "amount_fen": 0}]) == 100


def test_a_single_one_fen_line_still_weighs_the_order_by_its_factor():
    rules = ProgramRules(category_multipliers={"c": "3"})
    assert points(rules, paid=10_000, lines=[{"category": "c", "amount_fen": 1}]) == 300


def test_two_one_fen_lines_share_the_order_equally():
    """One line at x2 and one at x1, 1 fen each: the order earns at x1.5, not a fen more."""
    rules = ProgramRules(category_multipliers={"c": "2"}, rounding="ceil")
    assert points(rules, paid=10_000, lines=[{"category": "c", "amount_fen": 1}, {"amount_fen": 1}]) == 150


def test_a_line_with_an_unconfigured_category_or_sku_earns_at_factor_one():
    rules = ProgramRules(category_multipliers={"c": "4"}, sku_multipliers={"k": "4"})
    assert points(rules, paid=9_000, lines=[{"category": "x", "sku": "y", "amount_fen": 3_000},
                                            {"category": "x", "amount_fen": 3_000},
                                            {"sku": "y", "amount_fen": 3_000}]) == 90


@pytest.mark.parametrize("factor,expected", [("2", 175), ("0.5", 62)])
def test_a_category_and_a_sku_on_one_line_multiply(factor, expected):
    """A line of category x3 and SKU x``factor``, beside a plain line of the same amount."""
    rules = ProgramRules(category_multipliers={"c": "3"}, sku_multipliers={"k": factor})
    lines = [{"category": "c", "sku": "k", "amount_fen": 2_500}, {"amount_fen": 2_500}]
    assert points(rules, paid=5_000, lines=lines) == expected


def test_a_half_factor_on_a_category_or_a_sku_halves_that_line():
    assert points(ProgramRules(category_multipliers={"c": "0.5"}), paid=10_000,
                  lines=[{"category": "c", "amount_fen": 5_000}, {"amount_fen": 5_000}]) == 75
    assert points(ProgramRules(sku_multipliers={"k": "0.5"}), paid=10_000,
                  lines=[{"sku": "k", "amount_fen": 5_000}, {"amount_fen": 5_000}]) == 75


def test_lines_share_an_eligible_amount_other_than_their_total():
    """Lines of 3,000 fen (x2) and 1,000 fen on an order whose eligible amount is 2,000 fen."""
    rules = ProgramRules(category_multipliers={"c": "2"})
    assert points(rules, paid=2_000, lines=[{"category": "c", "amount_fen": 3_000}, {"amount_fen": 1_000}]) == 35


# --- order factors ------------------------------------------------------------------------------

def test_paid_with_points_and_bonus_are_each_taken_off_the_eligible_amount():
    assert points(ProgramRules(), paid=10_000, by_points=2_500) == 75
    assert points(ProgramRules(), paid=10_000, by_bonus=2_500) == 75
    assert points(ProgramRules(exclude_paid_with_points=False), paid=10_000, by_points=2_500, by_bonus=1_000) == 90


def test_an_order_paid_beyond_its_amount_in_points_earns_nothing_not_one_fens_worth():
    rules = ProgramRules(points_per_yuan="100")
    assert points(rules, paid=100, by_points=200) == 0
    assert points(rules, paid=100, by_points=99) == 1            # 1 fen eligible at 100 points a yuan


def test_of_two_steps_reached_the_higher_applies():
    rules = ProgramRules(steps=[{"min_amount_fen": 100, "multiplier": "3"}, {"min_amount_fen": 200, "multiplier": "2"}])
    assert points(rules, paid=10_000) == 200
    assert points(rules, paid=199) == 5                           # 1.99 x3 = 5.97


def test_step_store_tier_benefit_and_campaign_factors_all_multiply():
    rules = ProgramRules(steps=[{"min_amount_fen": 0, "multiplier": "2"}], store_multipliers={"s": "3"},
                         tier_multipliers={"gold": "5"}, campaigns=[CAMPAIGN])
    assert points(rules, paid=100, store="s", tier="gold", bonus=("birthday", "7")) == 2 * 3 * 5 * 7 * 2
    assert points(rules, paid=100, store="s") == 2 * 3 * 2
    assert points(rules, paid=100, tier="gold") == 2 * 5 * 2


@pytest.mark.parametrize("key", ["store_multipliers", "tier_multipliers"])
def test_a_half_store_or_tier_factor_halves_the_points(key):
    rules = ProgramRules(**{key: {"x": "0.5"}})
    assert points(rules, paid=10_000, store="x", tier="x") == 50


def test_a_half_benefit_step_or_campaign_factor_halves_the_points():
    assert points(ProgramRules(), paid=10_000, bonus=("slow", "0.5")) == 50
    assert points(ProgramRules(steps=[{"min_amount_fen": 0, "multiplier": "0.5"}]), paid=10_000) == 50
    assert points(ProgramRules(campaigns=[{**CAMPAIGN, "multiplier": "0.5"}]), paid=10_000) == 50


def test_a_store_or_tier_without_a_multiplier_earns_at_factor_one():
    rules = ProgramRules(store_multipliers={"s": "3"}, tier_multipliers={"gold": "5"})
    assert points(rules, paid=10_000, store="other", tier="silver") == 100


def test_no_benefit_means_no_benefit_factor_and_the_benefit_is_named_in_the_explanation():
    assert points(ProgramRules(), paid=10_000, bonus=None) == 100
    _, _, why = earned(ProgramRules(), paid=10_000, bonus=("birthday", "2"))
    assert "benefit birthday x2" in why


def test_a_campaign_outside_its_window_does_not_apply_even_at_an_unscoped_store():
    rules = ProgramRules(campaigns=[CAMPAIGN])
    assert points(rules, paid=10_000, at=datetime(2026, 6, 19, 0, 0, tzinfo=UTC)) == 100
    assert points(rules, paid=10_000) == 200


def test_a_campaign_for_some_stores_applies_only_there_and_one_for_none_applies_everywhere():
    scoped = ProgramRules(campaigns=[{**CAMPAIGN, "store_ids": ["s1"]}])
    everywhere = ProgramRules(campaigns=[CAMPAIGN])
    assert (points(scoped, store="s1"), points(scoped, store="s2"), points(scoped)) == (200, 100, 100)
    assert (points(everywhere, store="s1"), points(everywhere)) == (200, 200)


def test_points_per_yuan_above_one_multiplies():
    assert points(ProgramRules(points_per_yuan="4"), paid=10_000) == 400


# --- rounding ---------------------------------------------------------------------------------

@pytest.mark.parametrize("rounding,expected", [("floor", 12), ("half_up", 13), ("ceil", 13)])
def test_each_rounding_at_exactly_half_a_point(rounding, expected):
    assert points(ProgramRules(rounding=rounding), paid=1_250) == expected


@pytest.mark.parametrize("rounding,expected", [("floor", 12), ("half_up", 12), ("ceil", 13)])
def test_each_rounding_just_below_half_a_point(rounding, expected):
    assert points(ProgramRules(rounding=rounding), paid=1_249) == expected


def test_growth_rounds_down_at_its_own_rate():
    _, growth, _ = earned(ProgramRules(growth_per_yuan="3"), paid=1_299)
    assert growth == 38                                            # 12.99 x3 = 38.97
    _, growth, _ = earned(ProgramRules(), paid=10_099)
    assert growth == 100


# --- the per-order cap --------------------------------------------------------------------------

def test_an_order_exactly_at_the_per_order_cap_is_not_explained_as_capped():
    got, _, why = earned(ProgramRules(caps={"per_order": 100}), paid=10_000)
    assert got == 100 and not any("capped" in line for line in why)
    got, _, why = earned(ProgramRules(caps={"per_order": 99}), paid=10_000)
    assert got == 99 and "capped per order at 99" in why


def test_no_per_order_cap_leaves_big_orders_alone():
    assert points(ProgramRules(caps={"per_day": 5}), paid=10**9) == 10**7


# --- year-end expiry with grace months ----------------------------------------------------------

@pytest.mark.parametrize("grace,earned_on,last_day", [
    (0, date(2026, 12, 31), date(2026, 12, 31)),
    (1, date(2026, 1, 1), date(2027, 1, 31)),
    (2, date(2027, 6, 1), date(2028, 2, 29)),                  # leap year's February
    (2, date(2026, 6, 1), date(2027, 2, 28)),
    (11, date(2026, 6, 1), date(2027, 11, 30)),
    (12, date(2026, 6, 1), date(2027, 12, 31)),
])
def test_year_end_grace_months_run_into_the_next_year(grace, earned_on, last_day):
    assert expiry_date(Expiry(policy="year_end", grace_months=grace), earned_on) == last_day


def test_each_expiry_policy_keeps_to_itself():
    on, until = date(2026, 3, 1), date(2026, 9, 30)
    assert expiry_date(Expiry(policy="never"), on, until) is None
    assert expiry_date(Expiry(policy="days", days=1), on, until) == date(2026, 3, 2)
    assert expiry_date(Expiry(policy="tier_validity"), on, until) == until
    assert expiry_date(Expiry(policy="rolling"), on, until) is None
    assert expiry_date(Expiry(policy="year_end"), on, until) == date(2026, 12, 31)


# --- the redemption rate ------------------------------------------------------------------------

def test_points_are_worth_whole_fen_rounded_down():
    rules = ProgramRules(redeem={"points_per_yuan": 3})
    assert points_value_fen(rules, 1) == 33 and isinstance(points_value_fen(rules, 1), int)
    assert points_value_fen(ProgramRules(), 150) == 150
    assert points_value_fen(ProgramRules(redeem={"points_per_yuan": 1}), 2) == 200


def test_the_share_limit_is_whole_points_on_odd_amounts():
    got = redeem_limit_points(ProgramRules(redeem={"points_per_yuan": 3, "max_share_percent": 50}), 999)
    assert got == 14 and isinstance(got, int)                     # 499 fen -> 14.97 points


# --- point types --------------------------------------------------------------------------------

def test_points_are_redeemable_under_the_programs_expiry_growth_never_and_others_as_configured():
    rules = ProgramRules(expiry={"policy": "days", "days": 10},
                         point_types={"stars": {"redeemable": False, "expiry": {"policy": "rolling"}}})
    assert rules.type_config("points").redeemable is True
    assert rules.type_config("points").expiry.policy == "days"
    growth = rules.type_config("growth")
    assert (growth.redeemable, growth.expiry.policy) == (False, "never")
    stars = rules.type_config("stars")
    assert (stars.redeemable, stars.expiry.policy) == (False, "rolling")
    with pytest.raises(KeyError):
        rules.type_config("moons")
