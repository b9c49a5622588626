"""Edges of the points rules and of the shared ledger mechanism, with no I/O (or on the in-memory
fake): exact instants, odd amounts, thresholds exactly reached, a posting missing from a ledger."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pynamodb.attributes import NumberAttribute

from chalicelib.db import backend
from chalicelib.db.items import MainModel
from chalicelib.db.memory import MemoryBackend
from chalicelib.ledger.account import reconcile
from chalicelib.ledger.reconciliation import every_program
from chalicelib.points import limits
from chalicelib.points.rules import (
    Expiry,
    OrderLine,
    ProgramRules,
    expiry_date,
    inflated,
    order_points,
    redeem_limit_points,
)
from chalicelib.points.tables import CounterItem
from chalicelib.shared import retry
from chalicelib.shared.errors import ConcurrentUpdate
from chalicelib.shared.events import DomainEvent
from tests.outbox import outbox_events

START, END = datetime(2026, 6, 18, 0, 0, tzinfo=UTC), datetime(2026, 6, 19, 0, 0, tzinfo=UTC)


def _points(rules: ProgramRules, at: datetime, paid: int = 10_000) -> int:
    return order_points(rules, paid_fen=paid, points_paid_fen=0, bonus_paid_fen=0, lines=[OrderLine(amount_fen=paid)],
                        store_id=None, tier=None, at=at)[0]


def test_a_campaign_counts_from_its_first_instant_to_the_millisecond_before_its_end():
    rules = ProgramRules(campaigns=[{"name": "double", "starts_at": START.isoformat(), "ends_at": END.isoformat(),
                                     "multiplier": "2"}])
    assert _points(rules, START - timedelta(milliseconds=1)) == 100
    assert _points(rules, START) == 200
    assert _points(rules, END - timedelta(milliseconds=1)) == 200
    assert _points(rules, END) == 100                       # ends_at is exclusive


def test_the_maximum_share_rounds_down_on_odd_amounts():
    """999 fen at 50% allows 499 fen of points, not 500 (and never a fraction of a point)."""
    assert redeem_limit_points(ProgramRules(), 999) == 499
    assert redeem_limit_points(ProgramRules(), 1) == 0
    assert redeem_limit_points(ProgramRules(redeem={"points_per_yuan": 150, "max_share_percent": 33}), 1_001) == 495


def test_year_end_points_earned_on_31_december_last_that_day():
    assert expiry_date(Expiry(policy="year_end"), date(2026, 12, 31)) == date(2026, 12, 31)
    assert expiry_date(Expiry(policy="year_end"), date(2027, 1, 1)) == date(2027, 12, 31)
    assert expiry_date(Expiry(policy="year_end", grace_months=2), date(2027, 6, 1)) == date(2028, 2, 29)   # leap


@pytest.mark.parametrize("issued,redeemed,threshold,warn", [
    (0, 0, 200, False),          # nothing issued: nothing to warn about
    (0, 5, 200, False),
    (1, 0, 200, True),           # any issuance with no redemption at all
    (100, 100, 200, False),
    (1, 1, 200, False),
    (200, 100, 200, False),      # exactly the threshold is not above it
    (201, 100, 200, True),
    (150, 100, 200, False),
])
def test_inflation_is_issuance_strictly_above_the_threshold_share_of_redemption(issued, redeemed, threshold, warn):
    assert inflated(issued, redeemed, threshold) is warn


def _counter(last_day: str | None, streak: int | None) -> CounterItem:
    return CounterItem(*CounterItem.key("M1", "PTS#CHECKIN"), total=0, streak=streak, last_day=last_day)


def test_a_check_in_streak_continues_only_from_yesterday():
    today = date(2026, 3, 1)                                 # the day after 28 February
    assert limits.next_streak(_counter("2026-02-28", 4), today) == 5
    assert limits.next_streak(_counter("2026-02-27", 4), today) == 1          # a day missed: starts again
    assert limits.next_streak(_counter("2026-03-01", 4), today) is None       # already checked in today
    assert limits.next_streak(_counter(None, 0), today) == 1


class _Wallet(MainModel):
    cash_delta = NumberAttribute()


def test_a_ledger_with_a_gap_in_its_sequence_does_not_reconcile():
    """Three versions but two postings: a posting is missing, even though the sums agree."""
    postings = [_Wallet("W", "P1", cash_delta=10), _Wallet("W", "P3", cash_delta=5)]
    gap = reconcile({"cash": 15, "version": 3}, postings, ["cash"])
    assert gap["checks"]["postings are gap-free"] is False
    extra = reconcile({"cash": 15, "version": 1}, postings, ["cash"])
    assert extra["checks"]["postings are gap-free"] is False
    whole = reconcile({"cash": 15, "version": 2}, postings, ["cash"])
    assert all(whole["checks"].values())


@pytest.fixture
def fake():
    previous = backend.use(MemoryBackend())
    yield backend.current()
    backend.use(previous)


def test_the_reconciliation_job_sums_every_program_and_names_each_failure(fake):
    results = {"p1": {"accounts_checked": 3, "figures_agree": False, "balanced": True},
               "p2": {"accounts_checked": 4, "figures_agree": True, "balanced": False},
               "p3": {"accounts_checked": 0, "figures_agree": True, "balanced": True}}

    def prove(uow):
        return results[uow.program]

    def failure(result):
        return DomainEvent("ledger.unbalanced", "program:ledger", {"checked": result["accounts_checked"]})

    summary = every_program("job:test", ["p1", "p2", "p3"], prove, "accounts_checked", failure)
    assert summary == {"accounts_checked": 7, "balanced": False, "failed_programs": ["p2"],
                       "figures_disagree": ["p1"]}
    events = [e.as_dict() for e in outbox_events(None, kind="ledger.unbalanced", backend=fake)]
    assert [e["data"] for e in events] == [{"checked": 4}]
    clean = every_program("job:test", ["p3"], prove, "accounts_checked", failure)
    assert clean == {"accounts_checked": 0, "balanced": True, "failed_programs": [], "figures_disagree": []}


def test_a_give_back_step_that_keeps_conflicting_is_retried_with_capped_backoff_then_given_up(fake, monkeypatch):
    """STEP_TRIES tries in all; between them a random wait of up to 2 ms doubling per try, at most 128 ms."""
    from chalicelib.points import chunked, spending
    tries, waits = [], []

    class Endless(Exception):
        """The stub's way out of a loop that would retry for ever."""

    def contended(*args, **kwargs):
        tries.append(1)
        if len(tries) > 2 * chunked.STEP_TRIES:
            raise Endless()
        raise ConcurrentUpdate("contended")
    monkeypatch.setattr(spending, "release_hold", contended)
    monkeypatch.setattr(retry.random, "uniform", lambda low, high: waits.append((low, high)) or 0.0)
    monkeypatch.setattr(retry.time, "sleep", lambda seconds: None)
    try:
        spending.finish_release("default", "M1", "H1", "points", "job:points-holds", "expired")
        outcome = "returned"
    except ConcurrentUpdate:
        outcome = "gave up"
    except Endless:
        outcome = "retried without end"
    assert (outcome, len(tries)) == ("gave up", chunked.STEP_TRIES) and chunked.STEP_TRIES == 20
    assert waits == [(0, 0.002 * 2 ** min(n, 6)) for n in range(1, 20)]
    assert max(high for _, high in waits) == 0.128
