"""The order's arithmetic (``orders.domain``): a part's spread over lines, and how much of a
part refunds reverse, against the rule it replaced (total × refunded ÷ amount, rounded down) and
against a by-line computation done by hand."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.orders.domain import OrderLine, Refunded, allocate, dump_lines, load_lines


@given(st.integers(0, 10**9), st.lists(st.integers(0, 10**7), min_size=1, max_size=12))
def test_allocate_adds_up_and_stays_within_one_fen_of_the_exact_share(total, weights):
    spread = allocate(total, weights)
    assert sum(spread) == total and len(spread) == len(weights)
    whole = sum(weights)
    if whole:
        assert all(abs(Fraction(total * w, whole) - s) < 1 for s, w in zip(spread, weights, strict=True))
    else:
        assert spread[0] == total


def test_allocate_gives_the_odd_fen_to_the_largest_remainder_then_the_earlier_line():
    assert allocate(10, [1, 1, 1]) == [4, 3, 3]
    assert allocate(100, [2, 1]) == [67, 33]
    assert allocate(7, []) == []


@given(amount=st.integers(1, 10**8), data=st.data())
def test_refunds_of_amounts_reverse_exactly_what_the_order_level_rule_did(amount, data):
    """Every order refunded by amounts only (every order so far): each part reverses
    total × refunded ÷ amount rounded down, whatever its lines."""
    cuts = sorted(data.draw(st.lists(st.integers(0, amount), max_size=5)))     # lines add up to the amount
    lines = [OrderLine(amount_fen=b - a) for a, b in zip([0, *cuts], [*cuts, amount], strict=True)] if cuts else []
    state = Refunded.of(amount, lines, None, 0)
    refunded = 0
    totals = data.draw(st.lists(st.integers(0, 10**6), min_size=1, max_size=3))
    for fen in data.draw(st.lists(st.integers(1, amount), max_size=4)):
        if refunded + fen > amount:
            break
        state = Refunded.of(amount, lines, state.dump() if lines else None, refunded).plus_amount(fen)
        refunded += fen
        for total in totals:
            assert state.reversed_of(total) == total * refunded // amount


def test_a_refund_by_line_reverses_the_part_of_that_line():
    lines = [OrderLine(sku="A", amount_fen=6000), OrderLine(sku="B", amount_fen=4000)]
    state = Refunded.of(10_000, lines, None, 0).plus_lines({1: 4000})       # line B back in full
    assert state.reversed_of(1000, by_line=[0, 1000]) == 1000              # a part all on line B: all of it
    assert state.reversed_of(1000, by_line=[1000, 0]) == 0                 # all on line A: none
    assert state.reversed_of(1000) == 400                                  # in proportion: B's 40%
    after = state.plus_amount(3000)                                       # then 3000 of what is left (A's 6000)
    assert after.taken == (Fraction(3000), Fraction(4000))
    assert after.reversed_of(1000, by_line=[600, 400]) == 700


def test_no_line_gives_back_more_than_it_had_left():
    state = Refunded.of(100, [OrderLine(amount_fen=60), OrderLine(amount_fen=40)], None, 0).plus_lines({0: 50})
    with pytest.raises(ValueError):
        state.plus_lines({0: 11})
    with pytest.raises(ValueError):
        state.plus_lines({2: 1})
    with pytest.raises(ValueError):
        state.plus_amount(51)


def test_lines_survive_the_round_trip_through_the_order_item():
    lines = [OrderLine(sku="S1", category="tea", amount_fen=1200), OrderLine(amount_fen=0)]
    assert load_lines(dump_lines(lines)) == lines
    assert dump_lines([]) is None and load_lines(None) == []
