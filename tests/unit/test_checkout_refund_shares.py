"""A checkout refund's arithmetic (issue #27 item 5): each part of a line comes back as
floor(part × refunded share), cumulatively. A Hypothesis property: any sequence of partial refunds
(by units, or by amount) never gives back more than a part had, never takes anything back, and
refunding everything gives back exactly every part; worked figures by hand; refusals."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.checkout import refund_shares as shares

# the integration test's checkout: TEA 2 × 100.00 and CAKE 1 × 50.00, coupons A and B, points
# 50.00, stored value 30.00, the rest cash (parts as the commit spread them)
TEA = {"quantity": 2, "member_discount_fen": 0, "coupons": {"A": 1_600, "B": 1_840}, "points_fen": 4_000,
       "stored_value_fen": 2_400, "gift_cards": {}, "cash_fen": 10_160}
CAKE = {"quantity": 1, "member_discount_fen": 0, "coupons": {"A": 400, "B": 460}, "points_fen": 1_000,
        "stored_value_fen": 600, "gift_cards": {}, "cash_fen": 2_540}
ZERO = [Fraction(0), Fraction(0)]


def _back(lines, before, after):
    return [shares.minus(shares.at(x, a), shares.at(x, b)) for x, b, a in zip(lines, before, after, strict=True)]


def test_worked_refunds_of_one_tea_then_the_rest():
    first = shares.by_lines([TEA, CAKE], ZERO, {0: 1})
    assert first == [Fraction(1, 2), 0]
    back = _back([TEA, CAKE], ZERO, first)[0]
    assert back == {"member_discount_fen": 0, "coupons": {"A": 800, "B": 920}, "points_fen": 2_000,
                    "stored_value_fen": 1_200, "gift_cards": {}, "cash_fen": 5_080, "fen": 8_280}
    assert shares.left_fen([TEA, CAKE], first) == [8_280, 4_140]
    assert shares.coupons_freed([TEA, CAKE], first) == set()
    rest = shares.by_amount([TEA, CAKE], first, 12_420)
    assert rest == [1, 1] and shares.coupons_freed([TEA, CAKE], rest) == {"A", "B"}
    assert [b["fen"] for b in _back([TEA, CAKE], first, rest)] == [8_280, 4_140]


def test_an_amount_is_spread_in_proportion_to_what_each_line_has_left():
    # 62.10 of 207.00 paid: 30 % of each line (165.60 and 41.40 paid): 49.68 + 12.42, each part
    # rounded down: TEA points 12.00, stored value 7.20, cash 30.48; CAKE 3.00, 1.80, 7.62
    after = shares.by_amount([TEA, CAKE], ZERO, 6_210)
    assert after == [Fraction(3, 10), Fraction(3, 10)]
    back = _back([TEA, CAKE], ZERO, after)
    assert [(b["points_fen"], b["stored_value_fen"], b["cash_fen"], b["fen"]) for b in back] == [
        (1_200, 720, 3_048, 4_968), (300, 180, 762, 1_242)]


def test_an_amount_gives_back_exactly_that_amount_where_the_parts_can():
    # 100.00 of 207.00 paid: 48.31 % of each line, each part rounded down gives back 99.98; the
    # factor steps up to where the parts give back 100.00 exactly
    after = shares.by_amount([TEA, CAKE], ZERO, 10_000)
    assert sum(b["fen"] for b in _back([TEA, CAKE], ZERO, after)) == 10_000
    assert all(Fraction(10_000, 20_700) <= a < Fraction(10_010, 20_700) for a in after)


def test_thirds_round_down_and_the_last_unit_gives_back_what_is_left():
    line = {"quantity": 3, "member_discount_fen": 10, "coupons": {"C": 100}, "points_fen": 0,
            "stored_value_fen": 0, "gift_cards": {"9000": 101}, "cash_fen": 1}
    given_back = []
    s = [Fraction(0)]
    for _ in range(3):
        after = shares.by_lines([line], s, {0: 1})
        given_back.append(_back([line], s, after)[0])
        s = after
    assert [g["gift_cards"]["9000"] for g in given_back] == [33, 34, 34]
    assert [g["coupons"]["C"] for g in given_back] == [33, 33, 34]
    assert [g["cash_fen"] for g in given_back] == [0, 0, 1]
    with pytest.raises(shares.BeyondPaid, match="0 of 3 units left"):
        shares.by_lines([line], s, {0: 1})


def test_units_after_an_amount_give_back_what_the_line_has_left():
    fifth = shares.by_amount([TEA, CAKE], ZERO, 4_140)                   # a fifth of each line
    assert fifth == [Fraction(1, 5), Fraction(1, 5)]
    # the CAKE returned: its four fifths; the TEAs: 2 units still there (1.6 left, rounded up)
    assert shares.by_lines([TEA, CAKE], fifth, {1: 1}) == [Fraction(1, 5), 1]
    assert shares.by_lines([TEA, CAKE], fifth, {0: 1}) == [Fraction(7, 10), Fraction(1, 5)]
    assert shares.by_lines([TEA, CAKE], fifth, {0: 2}) == [1, Fraction(1, 5)]
    with pytest.raises(shares.BeyondPaid, match="2 of 2 units left"):
        shares.by_lines([TEA, CAKE], fifth, {0: 3})


def test_refusals():
    with pytest.raises(shares.BeyondPaid, match="1 of 2 units left"):
        shares.by_lines([TEA, CAKE], [Fraction(1, 2), 0], {0: 2})
    with pytest.raises(shares.BeyondPaid, match="12420 fen left"):
        shares.by_amount([TEA, CAKE], [Fraction(1, 2), 0], 12_421)
    with pytest.raises(ValueError, match="no line 2"):
        shares.by_lines([TEA, CAKE], ZERO, {2: 1})


money = st.integers(0, 10**7)
line = st.builds(lambda q, d, c1, c2, p, sv, g, cash: {
    "quantity": q, "member_discount_fen": d, "coupons": {"A": c1, "B": c2}, "points_fen": p, "stored_value_fen": sv,
    "gift_cards": {"9001": g}, "cash_fen": cash}, st.integers(1, 12), money, money, money, money, money, money, money)
step = st.one_of(st.tuples(st.just("units"), st.integers(0, 5), st.integers(1, 12)),
                 st.tuples(st.just("amount"), st.integers(1, 10**8), st.just(0)))


def _plus(a, b):
    return {**{k: a[k] + b[k] for k in (*shares.PARTS, "fen")},
            **{n: {k: a[n].get(k, 0) + v for k, v in b[n].items()} for n in shares.SPLIT}}


@settings(max_examples=300, deadline=None)
@given(st.lists(line, min_size=1, max_size=5), st.lists(step, max_size=12))
def test_partial_refunds_never_give_back_more_than_a_part_had_and_all_of_them_give_back_every_part(lines, steps):
    s = [Fraction(0)] * len(lines)
    given_back = [shares.at(x, Fraction(0)) for x in lines]         # all zero
    for kind, a, b in steps:
        try:
            after = shares.by_lines(lines, s, {a: b}) if kind == "units" else shares.by_amount(lines, s, a)
        except ValueError:
            continue                                 # refused: beyond what is left (or no such line)
        backs = _back(lines, s, after)
        for i, back in enumerate(backs):
            assert min([back[k] for k in shares.PARTS] + [v for n in shares.SPLIT for v in back[n].values()]) >= 0
            given_back[i] = _plus(given_back[i], back)
            assert all(given_back[i][k] <= lines[i][k] for k in shares.PARTS)
            assert all(given_back[i][n][k] <= lines[i][n][k] for n in shares.SPLIT for k in lines[i][n])
        assert sum(b["fen"] for b in backs) <= (a if kind == "amount" else sum(shares.left_fen(lines, s)))
        s = after
    # whatever came before, the rest gives back exactly every part
    for i, back in enumerate(_back(lines, s, [Fraction(1)] * len(lines))):
        whole = _plus(given_back[i], back)
        assert {k: whole[k] for k in shares.PARTS} == {k: lines[i][k] for k in shares.PARTS}
        assert all(whole[n] == lines[i][n] for n in shares.SPLIT)
