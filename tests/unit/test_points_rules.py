from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from chalicelib.points.rules import Expiry, OrderLine, ProgramRules, expiry_date, order_points, redeem_limit_points

AT = datetime(2026, 6, 18, 12, 0, tzinfo=UTC)


def points(rules, paid=10_000, lines=(), store=None, tier=None, at=AT, by_points=0, by_bonus=0):
    return order_points(rules, paid_fen=paid, points_paid_fen=by_points, bonus_paid_fen=by_bonus,
                        lines=[OrderLine(**line) for line in lines], store_id=store, tier=tier, at=at)[0]


def test_base_ratio_and_rounding():
    assert points(ProgramRules(), paid=12_399) == 123
    assert points(ProgramRules(rounding="half_up"), paid=12_350) == 124
    assert points(ProgramRules(rounding="ceil"), paid=12_301) == 124
    assert points(ProgramRules(points_per_yuan="2.5"), paid=1_000) == 25


def test_steps_take_the_highest_reached():
    rules = ProgramRules(steps=[{"min_amount_fen": 50_000, "multiplier": "1.5"}, {"min_amount_fen": 100_000, "multiplier": "2"}])
    assert points(rules, paid=49_999) == 499
    assert points(rules, paid=50_000) == 750
    assert points(rules, paid=100_000) == 2000


def test_category_sku_store_and_tier_multipliers():
    rules = ProgramRules(category_multipliers={"cosmetics": "3"}, sku_multipliers={"SKU1": "2"},
                         store_multipliers={"flagship": "1.5"}, tier_multipliers={"gold": "1.2"})
    lines = [{"category": "cosmetics", "amount_fen": 5_000}, {"sku": "SKU1", "amount_fen": 5_000}]
    assert points(rules, paid=10_000, lines=lines) == 250                   # 50*3 + 50*2
    assert points(rules, paid=10_000, lines=lines, store="flagship", tier="gold") == 450


def test_campaign_window_and_store_scope():
    rules = ProgramRules(campaigns=[{"name": "double-day", "starts_at": "2026-06-18T00:00:00+08:00",
                                     "ends_at": "2026-06-19T00:00:00+08:00", "multiplier": "2", "store_ids": ["s1"]}])
    assert points(rules, store="s1") == 200
    assert points(rules, store="s2") == 100
    assert points(rules, store="s1", at=datetime(2026, 6, 19, 1, tzinfo=UTC)) == 100


def test_exclusions_and_per_order_cap():
    assert points(ProgramRules(), paid=10_000, by_points=2_000, by_bonus=3_000) == 50
    assert points(ProgramRules(exclude_paid_with_stored_value_bonus=False), paid=10_000, by_points=2_000, by_bonus=3_000) == 80
    assert points(ProgramRules(caps={"per_order": 70}), paid=10_000) == 70


def test_growth_is_counted_apart():
    _, growth, _ = order_points(ProgramRules(growth_per_yuan="2"), paid_fen=10_000, points_paid_fen=10_000,
                                bonus_paid_fen=0, lines=[], store_id=None, tier=None, at=AT)
    assert growth == 200


@pytest.mark.parametrize("expiry,earned,expected", [
    ({"policy": "never"}, date(2026, 3, 1), None),
    ({"policy": "days", "days": 30}, date(2026, 3, 1), date(2026, 3, 31)),
    ({"policy": "year_end"}, date(2026, 3, 1), date(2026, 12, 31)),
    ({"policy": "year_end", "grace_months": 3}, date(2026, 3, 1), date(2027, 3, 31)),
    ({"policy": "year_end", "grace_months": 2}, date(2026, 12, 31), date(2027, 2, 28)),
])
def test_expiry_policies(expiry, earned, expected):
    assert expiry_date(Expiry(**expiry), earned) == expected


def test_tier_validity_uses_the_tier_end():
    assert expiry_date(Expiry(policy="tier_validity"), date(2026, 3, 1), date(2027, 1, 31)) == date(2027, 1, 31)


def test_max_share_of_an_order():
    assert redeem_limit_points(ProgramRules(), 10_000) == 5_000            # 50% of ¥100 at 100 points per ¥1


@pytest.mark.parametrize("bad", [{"points_per_yuan": "-1"}, {"points_per_yuan": "abc"}, {"points_per_yuan": "NaN"},
                                 {"behaviors": {"dance": {"points": 1}}}, {"reminder_days": [0]},
                                 {"campaigns": [{"name": "x", "starts_at": "2026-01-02T00:00:00Z",
                                                 "ends_at": "2026-01-01T00:00:00Z", "multiplier": "2"}]},
                                 {"unknown": 1}])
def test_bad_programs_are_refused(bad):
    with pytest.raises(ValidationError):
        ProgramRules(**bad)


@pytest.mark.parametrize("bad", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "2026-01-01T00:00:00"])
def test_instants_must_be_zoned_and_in_range(bad):
    from chalicelib.points.schemas import PutRules
    with pytest.raises(ValidationError):
        PutRules(rules={}, effective_from=bad)
    assert PutRules(rules={}, effective_from="2026-01-01T08:00:00+08:00").effective_from.isoformat() == "2026-01-01T00:00:00+00:00"
