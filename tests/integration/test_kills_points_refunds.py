"""Refunds at their edges, through the app on the in-memory fake: orders that are not the
caller's or were never recorded with an amount, what a refund that only gives back records,
growth that a tier period's end reset or an adjustment took before the refund (the reply sums
every account's part), an order that earned the very lot it then spent, and what a refund costs
in requests (the prefetch, in the return window and at exactly its spent-lots limit)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from chalicelib.db.uow import UnitOfWork
from chalicelib.points import refunds
from chalicelib.points import repository as points_repository
from chalicelib.points.schemas import Refund
from chalicelib.points.tables import PointsOrderItem as OrderItem
from chalicelib.shared import clock
from chalicelib.shared.errors import NotFound
from chalicelib.shared.principal import Principal
from tests.integration.conftest import AppClient
from tests.integration.test_points_features import T0, balanced, earn, rules
from tests.integration.test_tiers import LADDER, deliver


@pytest.fixture
def api(memory):
    yield AppClient()
    clock.freeze(None)


def refund(api, order, refund_id, amount):
    return api.call("POST", f"/v1/orders/{order}/refunds", {"refund_id": refund_id, "amount_fen": amount,
                                                             "merchant_id": "m1"})


def refunded(api, order, refund_id, amount):
    status, reply = refund(api, order, refund_id, amount)
    assert status < 300, (status, reply)
    return reply


def adjust(api, mid, points, point_type="points"):
    api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": points, "point_type": point_type,
                                                             "reason": "stock"})


def postings(api, mid, point_type="points"):
    return api.ok("GET", f"/v1/members/{mid}/points/ledger?limit=50&point_type={point_type}")["postings"]


# --- whose order, and one with no amount --------------------------------------------------------

def test_a_refund_of_an_order_never_recorded_is_not_found(api):
    clock.freeze(T0)
    status, problem = refund(api, "NOPE", "r1", 100)
    assert status == 404 and problem["type"].endswith("/not-found"), problem


def test_a_store_till_cannot_refund_another_stores_order(api):
    """Order K1 earned at store s1: store s2's till key is told there is no such order and nothing
    changes; s1's till refunds it."""
    clock.freeze(T0)
    mid = api.member("13800161001")
    earn(api, mid, "K1", 10_000, store_id="s1")

    def till_refund(store, refund_id):
        by = Principal("merchant", f"key-{store}", None, "m1", store, capabilities=("pos",))
        uow = UnitOfWork(by.ref, "corr-key")
        reply = refunds.refund("K1", Refund(refund_id=refund_id, amount_fen=5_000), by, uow, None)
        uow.commit()
        return reply

    with pytest.raises(NotFound):
        till_refund("s2", "r1")
    assert api.ok("GET", "/v1/orders/K1?merchant_id=m1")["refunded_fen"] == 0
    assert balanced(mid)["available"] == 100
    assert till_refund("s1", "r2")["clawed_back"] == {"points": 50, "growth": 50}


def test_an_order_recorded_without_an_amount_cannot_be_refunded_in_proportion(api):
    """An order a spend recorded before spends kept the order's amount (a hold confirmed then):
    no base for a proportion, so a refund is refused and nothing changes."""
    clock.freeze(T0)
    mid = api.member("13800161002")
    adjust(api, mid, 50)
    UnitOfWork("test").put(OrderItem(*OrderItem.key("m1", "OLD1"), merchant_id="m1", order_id="OLD1", member_id=mid,
                                     version=1, spends=['[{"lot_id":"0000000001-01","expires_on":null,"points":5}]'],
                                     spent_points=5, created_at="2026-02-01T00:00:00+00:00"))
    status, problem = refund(api, "OLD1", "r1", 100)
    assert status == 409 and problem["type"].endswith("/conflict") and "no recorded amount" in problem["detail"]
    assert api.ok("GET", "/v1/orders/OLD1?merchant_id=m1")["refunded_fen"] == 0
    assert balanced(mid)["available"] == 50


# --- what a refund records ----------------------------------------------------------------------

def test_a_refund_that_only_gives_back_touches_no_earned_lot_and_restores_no_growth(api):
    """Order B1 earned 100 and spent 300: 50 fen refunded claws back nothing (100 x 50 / 10,000
    rounds to 0) and gives back 1 point: the posting moves that one lot only, and growth, which
    was never spent, has nothing restored."""
    clock.freeze(T0)
    mid = api.member("13800161003")
    adjust(api, mid, 500)
    earn(api, mid, "B1", 10_000)
    spent = api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 300, "order_id": "B1", "merchant_id": "m1",
                                                                "order_amount_fen": 10_000})
    (lot,) = spent["lots"]
    reply = refunded(api, "B1", "r1", 50)
    assert (reply["clawed_back"], reply["restored"]) == ({"points": 0}, 1)
    posting = postings(api, mid)[0]
    assert (posting["kind"], posting["amount"], posting["available_delta"]) == ("refund", 0, 1)
    assert posting["lots"] == [{"lot_id": lot["lot_id"], "expires_on": lot["expires_on"], "delta": 1,
                                "bucket": "available"}]
    whole = refunded(api, "B1", "r2", 9_950)
    assert (whole["clawed_back"], whole["restored"]) == ({"points": 100, "growth": 100}, 299)
    growth = balanced(mid, "growth")
    assert (growth["available"], growth["restored"], growth["clawed_back"]) == (0, 0, 100)
    assert balanced(mid)["restored"] == 300


def test_an_order_that_spent_the_lot_it_earned_is_refunded_from_and_to_that_lot(api):
    """Order E1 earned a lot of 100, then paid 30 of it towards itself: the whole refund claws back
    the 70 left and owes 30, and gives the 30 spent back to the same lot, where they repay the 30
    owed for it (points coming back to a lot its order's refund found gone repay that debt)."""
    clock.freeze(T0)
    mid = api.member("13800161004")
    earned = earn(api, mid, "E1", 10_000)
    spent = api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 30, "order_id": "E1", "merchant_id": "m1",
                                                                "order_amount_fen": 10_000})
    (lot,) = spent["lots"]
    assert lot["expires_on"] == earned["expires_on"]
    reply = refunded(api, "E1", "r1", 10_000)
    assert (reply["clawed_back"]["points"], reply["restored"], reply["debt_added"]) == (100, 30, 30)
    account = balanced(mid)
    assert (account["available"], account["debt"], account["restored"]) == (0, 0, 30)
    store = points_repository.of(UnitOfWork())
    assert list(store.live_lots(mid, "points")) == []
    assert json.loads(store.order("m1", "E1").restored_lots) == {lot["lot_id"]: 30}


# --- growth's part of a refund ------------------------------------------------------------------

def test_growth_reset_at_a_tier_periods_end_counts_as_already_expired_in_the_refund(api):
    clock.freeze(T0)
    api.ok("PUT", "/v1/tiers/ladder", {"ladder": {**LADDER, "downgrade": "by_growth", "grace_days": 30,
                                                  "growth_at_period_end": "reset"},
                                       "effective_from": "2026-01-01T00:00:00Z"})
    mid = api.member("13800161005")
    earn(api, mid, "G1", 2_000_000)                                  # 20,000 growth: Platinum
    deliver()
    clock.freeze(datetime(2027, 3, 1, 4, tzinfo=UTC))
    first = api.run_job("tier-review")                               # the grace begins, and the reset
    assert (first["grace"], first["growth_reset"]) == (1, 20_000)
    clock.freeze(datetime(2027, 3, 31, 4, tzinfo=UTC))
    assert api.run_job("tier-review")["growth_reset"] == 0           # done when the grace began
    reply = refunded(api, "G1", "r1", 2_000_000)
    # the order's 20,000 points ended with 2026 (no expiry job run here): expired too, not clawed back
    assert (reply["already_expired"], reply["debt_added"], reply["clawed_back"]) == (40_000, 0, {"points": 0,
                                                                                                  "growth": 0})
    growth = balanced(mid, "growth")
    assert (growth["available"], growth["debt"], growth["expired"]) == (0, 0, 20_000)


@pytest.mark.parametrize("policy", ["debt", "cap"])
def test_growth_taken_away_before_a_refund_is_owed_or_forgiven_in_the_reply_and_on_the_order(api, policy):
    """Order A1 earned 100 points and 100 growth; an adjustment took the growth away. The whole
    refund claws back all 100 points; growth's 100 are owed (debt) or forgiven (cap), and the reply
    and the order's shortfall say so though the points' own part of the refund was short of nothing."""
    clock.freeze(T0)
    rules(api, negative_balance=policy)
    mid = api.member("13800161006" if policy == "debt" else "13800161007")
    earn(api, mid, "A1", 10_000)
    adjust(api, mid, -100, "growth")
    reply = refunded(api, "A1", "r1", 10_000)
    owed = 100 if policy == "debt" else 0
    assert (reply["debt_added"], reply["forgiven"]) == (owed, 100 - owed)
    assert api.ok("GET", "/v1/orders/A1?merchant_id=m1")["shortfall_points"] == 100
    assert (balanced(mid)["available"], balanced(mid)["debt"]) == (0, 0)
    assert balanced(mid, "growth")["debt"] == owed


# --- what a refund costs ------------------------------------------------------------------------

def test_a_refund_in_the_return_window_reads_its_pending_lot_with_the_accounts(api, memory):
    """The order, then its accounts and lots (the pending lot included) in one batch, then the
    transaction: three requests."""
    clock.freeze(T0)
    rules(api, pending_days=7)
    mid = api.member("13800161008")
    earn(api, mid, "W0", 10_000)
    refunded(api, "W0", "r0", 100)                    # rules and merchant checks are cached after this
    earn(api, mid, "W1", 10_000)
    before = memory.requests
    reply = refunded(api, "W1", "r1", 5_000)
    assert memory.requests - before == 3
    assert reply["clawed_back"] == {"points": 50, "growth": 50}
    assert balanced(mid)["pending"] == 99 + 50


def test_a_refund_giving_back_to_exactly_sixty_lots_reads_them_in_the_one_batch(api, memory):
    clock.freeze(T0)
    mid = api.member("13800161009")
    for _ in range(60):
        adjust(api, mid, 1)
    spent = api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 60, "order_id": "L60", "merchant_id": "m1",
                                                                "order_amount_fen": 10_000})
    assert len(spent["lots"]) == 60
    before = memory.requests
    reply = refunded(api, "L60", "r1", 10_000)
    assert memory.requests - before == 3
    assert reply["restored"] == 60
    assert len(list(points_repository.of(UnitOfWork()).live_lots(mid, "points"))) == 60
