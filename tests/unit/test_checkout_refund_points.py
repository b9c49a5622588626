"""The points a checkout's refunds give back (stop 44's F4): the fewest points worth the fen the
refunds' points parts have given back so far, at the rate they were spent at; all of them with the
last fen. Worked figures (the defect's checkout), and a Hypothesis property over checkouts spread
as the commit spreads them and any sequence of partial refunds (by units, by amount), at 100, 150
and any rate: what the points given back so far are worth is exactly the points parts so far
(a point worth more than a fen: never more), never more than was spent, never taken back, and
every point spent comes back with the rest."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.checkout import domain
from chalicelib.checkout import refund_shares as shares

# the defect's checkout: 2 × 50.00 + 1 × 25.00, 65 fen of points (52 + 13 over 100.00 : 25.00),
# 30.00 stored value (24.00 + 6.00 over 99.48 : 24.87), the rest cash
TEA = {"quantity": 2, "member_discount_fen": 0, "coupons": {}, "points_fen": 52, "stored_value_fen": 2_400,
       "gift_cards": {}, "cash_fen": 7_548}
CAKE = {"quantity": 1, "member_discount_fen": 0, "coupons": {}, "points_fen": 13, "stored_value_fen": 600,
        "gift_cards": {}, "cash_fen": 1_887}


def _points_fen(lines, s):
    return sum(shares.at(x, a)["points_fen"] for x, a in zip(lines, s, strict=True))


def test_the_defects_refund_gives_back_the_points_its_16_fen_are_worth():
    after = shares.by_amount([TEA, CAKE], [Fraction(0)] * 2, 3_333)
    assert _points_fen([TEA, CAKE], after) == 16                 # 13 + 3: each line's part rounded down
    assert shares.points_back(65, 65, 16, 100) == 16             # not the order's share, 17
    assert shares.points_back(98, 65, 16, 150) == 24             # 24 points are worth 16 fen, 23 are 15
    assert shares.points_back(98, 65, 65, 150) == 98 == shares.points_back(98, 65, 70, 150)
    assert shares.points_back(3, 2, 1, 150) == 2                 # the fewest: 2 points are worth 1 fen, so is 3
    # a point worth 2 fen: 1 fen back is worth no whole point yet; 2 fen, one
    assert [shares.points_back(5, 10, f, 50) for f in (0, 1, 2, 3, 9, 10)] == [0, 0, 1, 1, 4, 5]
    # a checkout from before the rate was kept: in proportion, rounded down
    assert shares.points_back(98, 65, 16, None) == 24 and shares.points_back(98, 65, 1, None) == 1


@st.composite
def checkouts(draw):
    """A checkout's lines as the commit spreads them, its points, fen and rate."""
    rate = draw(st.one_of(st.sampled_from([100, 150]), st.integers(1, 1_000)))
    totals = draw(st.lists(st.integers(1, 10**6), min_size=1, max_size=4))
    quantities = draw(st.lists(st.integers(1, 6), min_size=len(totals), max_size=len(totals)))
    most = draw(st.integers(0, sum(totals) // 2)) * rate // 100        # points the cap and balance allow
    fen = most * 100 // rate
    points = -(-fen * rate // 100)                                     # the fewest worth them, as the quote takes
    settled = domain.settle([(t, t) for t in totals], [], fen)
    stored = draw(st.integers(0, settled.total("to_pay_fen")))
    paid, cash = domain.tenders([p.to_pay_fen for p in settled.lines], [("stored_value", stored)])
    lines = [{"quantity": q, "member_discount_fen": 0, "coupons": {}, "points_fen": p.points_fen,
              "stored_value_fen": paid[p.line].get("stored_value", 0), "gift_cards": {}, "cash_fen": cash[p.line]}
             for q, p in zip(quantities, settled.lines, strict=True)]
    return lines, points, fen, rate


step = st.one_of(st.tuples(st.just("units"), st.integers(0, 3), st.integers(1, 6)),
                 st.tuples(st.just("amount"), st.integers(1, 10**6), st.just(0)))


@settings(max_examples=300, deadline=None)
@given(checkouts(), st.lists(step, max_size=10), st.booleans())
def test_the_points_given_back_so_far_are_worth_the_points_parts_so_far(checkout, steps, rate_kept):
    lines, points, fen, rate = checkout
    kept = rate if rate_kept else None
    s = [Fraction(0)] * len(lines)
    back = 0
    for kind, a, b in [*steps, ("rest", 0, 0)]:
        try:
            after = [Fraction(1)] * len(lines) if kind == "rest" else \
                shares.by_lines(lines, s, {a: b}) if kind == "units" else shares.by_amount(lines, s, a)
        except ValueError:
            continue                                 # refused: beyond what is left (or no such line)
        f = _points_fen(lines, after)
        now = shares.points_back(points, fen, f, kept)
        assert back <= now <= points                 # never taken back, never more than spent
        if kept and rate >= 100:
            assert now * 100 // rate == f            # worth exactly what the checkout says points gave back
        elif kept:
            assert now * 100 // rate <= f < (now + 1) * 100 // rate or f == fen
        back, s = now, after
    assert back == points and _points_fen(lines, s) == fen
