"""Mall settlement: a points redemption refunded in parts nets to zero (attack E, finding 5: each
part was rounded on its own, 333 points at 0.3 fen cleared +100 and three thirds -33 each), whatever
the parts and the valuation, also when the parts are delivered at once and again; and a refused
close is audited when the refusal comes from the close's own commit (finding 6: a close that read
the month open and lost the race to another was answered 409 and left no entry)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.db.audit import AuditItem
from chalicelib.db.uow import UnitOfWork
from chalicelib.reports.valuation import VALUATION, PointsValuation
from chalicelib.settlement import service, store
from chalicelib.shared import clock
from tests.integration import machines
from tests.integration import test_settlement as base
from tests.integration.conftest import scan
from tests.integration.test_settlement import FINANCE, HQ, deliver, points, statement

valued = base.valued                   # the fixture: a point is worth half a fen, late November 2026

ORDERS = iter(range(10**6))


def value_points_at(rate: str, start: datetime) -> None:
    uow = UnitOfWork("test")
    VALUATION.put(uow, PointsValuation(fen_per_point=rate), start, HQ)
    uow.commit()


def order_lines(reference: str) -> list[tuple[int, int]]:
    return [(line["points"], line["fen"]) for line in statement("2026-11", "C", "program")["lines"]
            if line["reference"] == reference]


def redeem_and_refund(amount: int, parts: list[int], at: datetime, together: bool = False) -> str:
    """Redeem ``amount`` points at C on a fresh order at ``at``; give them back in ``parts``
    (``together``: the parts delivered by three streams at once, each all of them)."""
    order = f"o-parts-{next(ORDERS)}"
    when = clock.iso(at)
    deliver([points("redeem", "C", amount, when, order_id=order)])
    refunds = [points("refund", "C", 0, when, restored=part, clawed_back=0, order_id=order) for part in parts]
    if together:
        threads = [threading.Thread(target=deliver, args=(refunds,)) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:
        for refund in refunds:
            deliver([refund])
    return f"points:C:{order}"


def test_a_redemption_refunded_in_parts_nets_to_zero_to_the_fen(valued):
    value_points_at("0.3", datetime(2026, 11, 1, tzinfo=UTC))
    at = datetime(2026, 11, 10, 4, tzinfo=UTC)
    thirds = order_lines(redeem_and_refund(333, [111, 111, 111], at))
    assert thirds == [(333, 100), (-111, -33), (-111, -34), (-111, -33)]   # 33.3, 66.6 -> 67, 99.9 -> 100
    tenths = order_lines(redeem_and_refund(30, [3] * 10, at))
    assert tenths[0] == (30, 9) and sum(p for p, _ in tenths) == sum(f for _, f in tenths) == 0
    assert (-3, 0) in tenths                   # a part worth nothing of its own keeps its points on its line
    half = order_lines(redeem_and_refund(5, [1, 1], at))                    # a partial refund: 2 of 5 points
    assert half == [(5, 2), (-1, 0), (-1, -1)]                               # 1.5 -> 2, 0.3 -> 0, 0.6 -> 1
    assert service.reconcile(UnitOfWork(), "2026-11")["balanced"]


def test_parts_delivered_by_several_streams_at_once_are_each_counted_once(valued):
    """Three streams deliver the same three parts at once: each part's line and its move of the
    running figure are written once (the applied marker in the same transaction)."""
    value_points_at("0.3", datetime(2026, 11, 1, tzinfo=UTC))
    lines = order_lines(redeem_and_refund(333, [111, 111, 111], datetime(2026, 11, 10, 4, tzinfo=UTC), together=True))
    assert len(lines) == 4 and sorted(f for _, f in lines[1:]) == [-34, -33, -33]
    assert sum(p for p, _ in lines) == sum(f for _, f in lines) == 0


def test_a_part_racing_another_of_the_same_order_is_valued_again(valued, monkeypatch):
    """The second part reads the running figure; the third is cleared meanwhile: the second's
    write of the figure is refused (it moved) and it is valued again from the third's."""
    value_points_at("0.3", datetime(2026, 11, 1, tzinfo=UTC))
    when = "2026-11-10T04:00:00.000Z"
    deliver([points("redeem", "C", 333, when, order_id="o-race")])
    second, third = (points("refund", "C", 0, when, restored=111, clawed_back=0, order_id="o-race") for _ in range(2))
    deliver([points("refund", "C", 0, when, restored=111, clawed_back=0, order_id="o-race")])
    read, raced = store.memo, []

    def third_meanwhile(uow, reference):
        found = read(uow, reference)
        if not raced and reference == "points:C:o-race":
            raced.append(reference)
            deliver([third])                 # (reads the figure again through this: raced is set)
        return found

    monkeypatch.setattr(store, "memo", third_meanwhile)
    deliver([second])
    lines = order_lines("points:C:o-race")
    assert raced and len(lines) == 4
    assert sum(p for p, _ in lines) == sum(f for _, f in lines) == 0        # 100 - 33 - 34 - 33


@st.composite
def split(draw: st.DrawFn) -> tuple[int, list[int]]:
    amount = draw(st.integers(1, 5_000))
    cuts = sorted(draw(st.sets(st.integers(1, amount - 1), max_size=min(amount - 1, 7)))) if amount > 1 else []
    bounds = [0, *cuts, amount]
    return amount, [b - a for a, b in zip(bounds, bounds[1:], strict=False)]


@settings(max_examples=machines.examples(25, False, mutation=5), deadline=None,
          suppress_health_check=list(HealthCheck))
@given(case=split(), rate=st.decimals(Decimal("0.001"), Decimal("20"), places=3))
def test_any_split_of_a_full_refund_nets_to_zero_at_any_valuation(valued, case, rate):
    amount, parts = case
    start = datetime(2026, 11, 10, 4, tzinfo=UTC) + timedelta(minutes=next(ORDERS))   # each example its rate
    value_points_at(str(rate), start)
    lines = order_lines(redeem_and_refund(amount, parts, start + timedelta(seconds=1)))
    if lines:                                                   # (worth 0 fen: no line, nothing to correct)
        assert lines[0][1] == int((amount * rate).quantize(Decimal(1), rounding="ROUND_HALF_UP"))
        assert len(lines) == 1 + len(parts)
        assert sum(p for p, _ in lines) == sum(f for _, f in lines) == 0


def test_a_close_refused_by_its_own_commit_is_audited(valued):
    """Two closes read the month open; the second's commit is refused (409): audited too."""
    clock.freeze(datetime(2026, 12, 2, 4, tzinfo=UTC))
    first, second = UnitOfWork("staff:fin-1"), UnitOfWork("staff:fin-2")
    service.close_period(first, FINANCE, "2026-11")
    service.close_period(second, FINANCE, "2026-11")
    first.commit()
    with pytest.raises(store.PeriodClosed) as refused:
        second.commit()
    assert refused.value.audited
    entries = [a for a in scan(AuditItem) if a.pk.startswith("AUDITLOG#")]
    assert sorted((a.action, a.detail) for a in entries if a.action.startswith("settlement.")) == [
        ("settlement.close_refused", "period 2026-11: settlement-period-closed"),
        ("settlement.period_closed", "period 2026-11")]


def test_an_order_that_redeemed_twice_at_two_rates_nets_to_zero_when_refunded_in_parts(valued):
    """Redemptions on one order, each its own line (1 point at 0.5 fen, +1, twice; then 10 at 0.3,
    +3, after the valuation changed): 12 points, 5 fen, where 12 at the first's rate is 6. The
    refunds, valued at the first's rate and never past what was cleared, give back the 5."""
    when = "2026-11-10T04:00:00.000Z"
    deliver([points("redeem", "C", 1, when, order_id="o-twice"), points("redeem", "C", 1, when, order_id="o-twice")])
    value_points_at("0.3", datetime(2026, 11, 10, 5, tzinfo=UTC))
    later = "2026-11-10T06:00:00.000Z"
    deliver([points("redeem", "C", 10, later, order_id="o-twice")])
    for part in (4, 8):
        deliver([points("refund", "C", 0, later, restored=part, clawed_back=0, order_id="o-twice")])
    lines = order_lines("points:C:o-twice")
    assert lines == [(1, 1), (1, 1), (10, 3), (-4, -2), (-8, -3)]
    assert sum(p for p, _ in lines) == sum(f for _, f in lines) == 0
