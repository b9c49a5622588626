"""Stored value rules at their edges, by hand: a bonus rule's least top-up and its window's first
and last instants, steps exactly reached, percent bonuses of odd amounts and their cap, payments
split in each spend order with odd balances, and refunds of odd amounts that add up to the payment
(never drifting a fen)."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from chalicelib.stored_value import rules as R

START, END = datetime(2026, 3, 1, 0, 0, tzinfo=UTC), datetime(2026, 4, 1, 0, 0, tzinfo=UTC)
AT = datetime(2026, 3, 15, tzinfo=UTC)
MS = timedelta(milliseconds=1)


def rule(**fields):
    return R.BonusRule(**{"id": "r", "name": "r", **fields})


# bonus rules ----------------------------------------------------------------------------------

def test_a_top_up_of_exactly_the_least_amount_gets_the_bonus_and_one_fen_less_does_not():
    fixed = rule(kind="fixed", min_fen=20_000, bonus_fen=3_000)
    assert (fixed.bonus(20_000, AT), fixed.bonus(19_999, AT), fixed.bonus(20_001, AT)) == (3_000, 0, 3_000)


def test_a_top_up_under_the_least_amount_gets_nothing_inside_the_window_too():
    windowed = rule(kind="fixed", min_fen=20_000, bonus_fen=3_000, starts_at=START, ends_at=END)
    assert windowed.bonus(19_999, AT) == 0
    assert windowed.bonus(20_000, AT) == 3_000


def test_the_window_includes_its_first_instant_and_excludes_its_end():
    windowed = rule(kind="fixed", min_fen=1, bonus_fen=500, starts_at=START, ends_at=END)
    assert windowed.bonus(1, START - MS) == 0
    assert windowed.bonus(1, START) == 500
    assert windowed.bonus(1, END - MS) == 500
    assert windowed.bonus(1, END) == 0


def test_a_window_must_last_at_least_a_moment():
    with pytest.raises(ValidationError):
        rule(kind="fixed", bonus_fen=500, starts_at=START, ends_at=START)
    assert rule(kind="fixed", bonus_fen=500, starts_at=START, ends_at=START + MS).bonus(1, START) == 500


def test_a_step_exactly_reached_is_given_and_the_highest_reached_wins():
    stepped = rule(kind="stepped", steps=[{"min_fen": 50_000, "bonus_fen": 8_000},
                                          {"min_fen": 100_000, "bonus_fen": 20_000}])
    assert stepped.bonus(49_999, AT) == 0
    assert stepped.bonus(50_000, AT) == 8_000
    assert stepped.bonus(99_999, AT) == 8_000
    assert stepped.bonus(100_000, AT) == 20_000


def test_a_percent_bonus_of_an_odd_amount_rounds_down_to_the_fen():
    ten = rule(kind="percent", percent=10)
    assert ten.bonus(999, AT) == 99                    # 99.9
    assert ten.bonus(9, AT) == 0
    assert ten.bonus(1_000, AT) == 100
    assert rule(kind="percent", percent=33).bonus(1, AT) == 0
    assert rule(kind="percent", percent=100).bonus(999, AT) == 999
    assert rule(kind="percent", percent=50).bonus(999, AT) == 499


def test_a_percent_bonus_stops_at_its_cap_and_below_it_is_its_share():
    capped = rule(kind="percent", percent=10, max_bonus_fen=5_000)
    assert capped.bonus(49_999, AT) == 4_999
    assert capped.bonus(50_000, AT) == 5_000
    assert capped.bonus(50_010, AT) == 5_000
    assert rule(kind="percent", percent=10).bonus(50_010, AT) == 5_001


def test_a_rule_without_what_its_kind_needs_is_refused():
    for kind in ("fixed", "stepped", "percent"):
        with pytest.raises(ValidationError):
            rule(kind=kind)


# how a payment is split ---------------------------------------------------------------------

def test_a_proportional_payment_takes_the_bonus_share_rounded_down():
    """999 fen from 2,000 principal and 1,000 bonus: a third of 999 = 333 of bonus."""
    assert R.split(999, 2_000, 1_000, "proportional") == (666, 333)
    assert R.split(1, 2_000, 1_000, "proportional") == (1, 0)
    assert R.split(3_000, 2_000, 1_000, "proportional") == (2_000, 1_000)
    assert R.split(7, 3, 4, "proportional") == (3, 4)
    assert R.split(5, 0, 10, "proportional") == (0, 5)


def test_principal_first_and_bonus_first_take_the_other_only_for_what_is_missing():
    assert R.split(999, 2_000, 1_000, "principal_first") == (999, 0)
    assert R.split(2_001, 2_000, 1_000, "principal_first") == (2_000, 1)
    assert R.split(999, 2_000, 1_000, "bonus_first") == (0, 999)
    assert R.split(1_001, 2_000, 1_000, "bonus_first") == (1, 1_000)


def test_refunds_of_odd_amounts_add_up_to_the_payments_split_exactly():
    """A 999 fen payment of 666 principal and 333 bonus refunded 1, 499 and 499 fen: each refund
    gives back its cumulative share, and together they give back exactly 666 and 333."""
    done, parts = [0, 0], []
    before = 0
    for fen in (1, 499, 499):
        p, b = R.refund_split(666, 333, 999, before, done[0], done[1], fen)
        parts.append((p, b))
        done, before = [done[0] + p, done[1] + b], before + fen
    assert parts == [(1, 0), (333, 166), (332, 167)]
    assert done == [666, 333]


def test_a_refund_of_the_whole_payment_gives_back_its_split():
    assert R.refund_split(666, 333, 999, 0, 0, 0, 999) == (666, 333)
    assert R.refund_split(1, 0, 1, 0, 0, 0, 1) == (1, 0)
    assert R.refund_split(0, 1, 1, 0, 0, 0, 1) == (0, 1)


# expiring bonus given back by refunds ----------------------------------------------------------

def test_a_refund_smaller_than_the_latest_lot_taken_leaves_the_earlier_lots_still_taken():
    from datetime import date

    from chalicelib.stored_value import bonus_lots as L
    taken = [{"expires": "2026-03-31", "fen": 300}, {"expires": "2026-04-30", "fen": 500}]
    lots, still = L.give_back([], taken, 200)
    assert lots == [{"expires": "2026-04-30", "fen": 200}]
    assert still == [{"expires": "2026-03-31", "fen": 300}, {"expires": "2026-04-30", "fen": 300}]
    lots, still = L.give_back(lots, still, 299)
    assert lots == [{"expires": "2026-04-30", "fen": 499}]
    assert still == [{"expires": "2026-03-31", "fen": 300}, {"expires": "2026-04-30", "fen": 1}]
    lots, still = L.give_back(lots, still, 2)                  # the 1 fen left is still owed to its lot
    assert lots == [{"expires": "2026-03-31", "fen": 1}, {"expires": "2026-04-30", "fen": 500}]
    assert still == [{"expires": "2026-03-31", "fen": 299}]
    assert L.add(lots, date(2026, 3, 31), 0) == lots
