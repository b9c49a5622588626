"""The part of an order that earns, which the preview reports and earning multiplies."""

from chalicelib.points import rules as R


def test_what_points_and_bonus_paid_earns_nothing_where_the_rules_exclude_it():
    both = R.ProgramRules()
    assert R.eligible_fen(both, 10_000, 2_000, 1_000) == 7_000
    assert R.eligible_fen(both, 1_000, 800, 800) == 0                     # never negative
    points_only = R.ProgramRules(exclude_paid_with_stored_value_bonus=False)
    assert R.eligible_fen(points_only, 10_000, 2_000, 1_000) == 8_000
    neither = R.ProgramRules(exclude_paid_with_points=False, exclude_paid_with_stored_value_bonus=False)
    assert R.eligible_fen(neither, 10_000, 2_000, 1_000) == 10_000


def test_the_explanation_starts_with_the_eligible_amount():
    rules = R.ProgramRules(steps=[R.EarnStep(min_amount_fen=5_000, multiplier="2")])
    points, growth, why = R.order_points(rules, paid_fen=10_000, points_paid_fen=4_000, bonus_paid_fen=0,
                                         lines=[], store_id=None, tier=None, at=R.datetime(2026, 3, 1))
    assert (points, growth) == (120, 100)
    assert why == [f"eligible {R.eligible_fen(rules, 10_000, 4_000, 0)} fen", "step >= 5000 fen x2"]


def test_each_line_s_category_and_sku_factor_is_named_in_the_explanation():
    rules = R.ProgramRules(category_multipliers={"tea": "2"}, sku_multipliers={"cup": "0.5"})
    lines = [R.OrderLine(category="tea", amount_fen=3_000), R.OrderLine(amount_fen=1_000),
             R.OrderLine(category="tea", sku="cup", amount_fen=2_000)]
    points, _, why = R.order_points(rules, paid_fen=6_000, points_paid_fen=0, bonus_paid_fen=0, lines=lines,
                                    store_id=None, tier=None, at=R.datetime(2026, 3, 1))
    assert points == 90                         # 3,000 x2 + 1,000 + 2,000 x2 x0.5 = 9,000 fen
    assert why[1:] == ["line 1 (3000 fen): category tea x2", "line 3 (2000 fen): category tea x2, sku cup x0.5"]
