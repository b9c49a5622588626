"""Settlement's cumulative points corrections at their edges, on every backend (written against
the survivors of session 50's mutation run): an order that redeemed at a lower rate first and a
higher one after gets back exactly what it cleared; a memo left by the release before the count
(period and rate, no points) still values its corrections, and one whose count started midway
does not cap what is given back; a refund read right after its original while replicas lag
still finds the original's memo (the read is strongly consistent)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.db.uow import UnitOfWork
from chalicelib.merchants.tables import MerchantItem
from chalicelib.reports.valuation import VALUATION, PointsValuation
from chalicelib.settlement.tables import MemoItem
from chalicelib.shared import clock
from tests.integration import test_settlement as base
from tests.integration.conftest import fake_backend
from tests.integration.test_edges_stored_value import LaggingReplica
from tests.integration.test_settlement import HQ, deliver, points, statement
from tests.integration.test_settlement_corrections import order_lines, redeem_and_refund, value_points_at

valued = base.valued                   # a point is worth half a fen, late November 2026
NOV_10 = "2026-11-10T04:00:00.000Z"


def refund(order: str, part: int, at: str = NOV_10) -> None:
    deliver([points("refund", "C", 0, at, restored=part, clawed_back=0, order_id=order)])


def as_before_the_count(order: str) -> None:
    """The order's memo as the release before the count left it: its period and rate only."""
    uow = UnitOfWork("test")
    old = uow.get(MemoItem, MemoItem.key(f"points:C:{order}"), consistent=True)
    uow.put(MemoItem(*MemoItem.key(f"points:C:{order}"), period=old.period, rate=old.rate))
    uow.commit()


def test_an_order_that_redeemed_at_a_lower_rate_first_gets_back_what_it_cleared(valued):
    """10 points at 0.3 fen (+3), then 10 at 0.5 (+5): 20 points cleared 8 fen, where 20 at the
    first's rate (the memo's) is 6. The full refund in one part gives back the 8."""
    value_points_at("0.3", datetime(2026, 11, 1, tzinfo=UTC))
    deliver([points("redeem", "C", 10, NOV_10, order_id="o-low-first")])
    value_points_at("0.5", datetime(2026, 11, 10, 5, tzinfo=UTC))
    later = "2026-11-10T06:00:00.000Z"
    deliver([points("redeem", "C", 10, later, order_id="o-low-first")])
    refund("o-low-first", 20, later)
    assert order_lines("points:C:o-low-first") == [(10, 3), (10, 5), (-20, -8)]


def test_a_memo_from_before_the_count_still_values_its_refunds_at_its_rate(valued):
    """5 points at 0.5 fen (+3, 2.5 rounded), redeemed before the count: refunds of 1 and 4 are
    worth 1 and 2 (0.5 rounded, 2.5 rounded, less the 1): the original's rate, cumulatively."""
    deliver([points("redeem", "C", 5, NOV_10, order_id="o-old")])
    as_before_the_count("o-old")
    refund("o-old", 1)
    refund("o-old", 4)
    assert order_lines("points:C:o-old") == [(5, 3), (-1, -1), (-4, -2)]


def test_a_count_begun_midway_does_not_cap_what_the_refund_gives_back(valued):
    """10 points (+5) redeemed before the count, 4 (+2) after it: the memo counts 4 points, 2 fen.
    A refund of all 14 is more than counted: it is valued as before, 7 fen, not capped at the 2."""
    deliver([points("redeem", "C", 10, NOV_10, order_id="o-mid")])
    as_before_the_count("o-mid")
    deliver([points("redeem", "C", 4, NOV_10, order_id="o-mid")])
    refund("o-mid", 14)
    assert order_lines("points:C:o-mid") == [(10, 5), (4, 2), (-14, -7)]


@pytest.fixture
def lagging():
    with fake_backend(LaggingReplica()) as fake:
        clock.freeze(datetime(2026, 11, 20, 4, tzinfo=UTC))
        uow = UnitOfWork("test")
        VALUATION.put(uow, PointsValuation(fen_per_point="0.3"), datetime(2026, 1, 1, tzinfo=UTC), HQ)
        uow.put(MerchantItem(*MerchantItem.key("C"), merchant_id="C", name="C", created_at="2026-01-01"))
        uow.commit()
        yield fake
        clock.freeze(None)


def test_refunds_read_right_after_their_original_find_its_memo_while_replicas_lag(lagging):
    """333 points at 0.3 fen cleared +100; a replica lags from before it: the thirds given back
    still net the order to zero (-33, -34, -33), each valued from the memo's running figure."""
    lagging.lag()
    reference = redeem_and_refund(333, [111, 111, 111], datetime(2026, 11, 10, 4, tzinfo=UTC))
    lines = [(line["points"], line["fen"]) for line in statement("2026-11", "C", "program")["lines"]
             if line["reference"] == reference]
    assert lines == [(333, 100), (-111, -33), (-111, -34), (-111, -33)]


def test_a_refund_that_gives_back_no_points_adds_no_line_to_a_redeemed_order(valued):
    """The order redeemed 10 points (+5); a refund that only claws back (restored 0) clears
    nothing: no line of 0 points and 0 fen joins the order's."""
    deliver([points("redeem", "C", 10, NOV_10, order_id="o-none-back")])
    deliver([points("refund", "C", 0, NOV_10, restored=0, clawed_back=5, order_id="o-none-back")])
    assert order_lines("points:C:o-none-back") == [(10, 5)]
    assert statement("2026-11", "C", "program")["line_count"] == 1
