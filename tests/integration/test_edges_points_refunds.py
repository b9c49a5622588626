"""Edges of refunds, through the app on every backend: partial refunds of 1 fen, 11 fen, 999 fen,
refunds summing exactly to the order and one fen over, clawbacks that find the points spent (debt
or forgiven) and accumulate on the order, give-backs of odd shares, points that expired meanwhile,
and a give-back wider than one transaction."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.db.uow import UnitOfWork
from chalicelib.points import repository as points_repository
from chalicelib.shared import clock
from tests.integration.test_edges_points import postings, three_lots  # noqa: F401
from tests.integration.test_points_features import T0, balanced, earn, rules
from tests.outbox import outbox_events

NOTHING = {"clawed_back": {}, "restored": 0, "restored_expired": 0, "debt_added": 0, "forgiven": 0,
           "already_expired": 0, "restoring": 0}


def refund(api, order, refund_id, amount):
    return api.ok("POST", f"/v1/orders/{order}/refunds", {"refund_id": refund_id, "amount_fen": amount,
                                                           "merchant_id": "m1"})


def order_view(api, order):
    return api.ok("GET", f"/v1/orders/{order}?merchant_id=m1")


def redeem(api, mid, points, order=None, amount=None):
    body = {"points": points, "reward": "gift"}
    if order:
        body.update(order_id=order, merchant_id="m1", order_amount_fen=amount)
    return api.ok("POST", f"/v1/members/{mid}/points/redeem", body)


def refunded_events(mid):
    found = [e.data for e in outbox_events(kind="points.refunded")]
    return sorted((d for d in found if d["member_id"] == mid), key=lambda d: d["sequence"])


def test_clawbacks_short_of_points_become_debt_that_accumulates_on_the_order(api):
    """100 points earned, 80 spent elsewhere: refunds of 5,000, 4,999 and 1 fen of the 10,000 fen
    order claw back 50, 49 and 1; all but the 20 left become debt, and the order's shortfall sums it."""
    clock.freeze(T0)
    mid = api.member("13800140001")
    earn(api, mid, "D1", 10_000)
    redeem(api, mid, 80)
    first = refund(api, "D1", "r1", 5_000)
    assert first == {**NOTHING, "order_id": "D1", "refund_id": "r1", "refunded_fen": 5_000,
                     "clawed_back": {"points": 50, "growth": 50}, "debt_added": 30}
    assert order_view(api, "D1")["shortfall_points"] == 30
    second = refund(api, "D1", "r2", 4_999)
    assert second == {**NOTHING, "order_id": "D1", "refund_id": "r2", "refunded_fen": 9_999,
                      "clawed_back": {"points": 49, "growth": 49}, "debt_added": 49}
    last = refund(api, "D1", "r3", 1)
    assert (last["refunded_fen"], last["clawed_back"], last["debt_added"]) == (10_000, {"points": 1, "growth": 1}, 1)
    view = order_view(api, "D1")
    assert (view["refunded_fen"], view["shortfall_points"], view["clawed_back"]) == (10_000, 80, {"points": 100,
                                                                                                  "growth": 100})
    account = balanced(mid)
    assert (account["available"], account["debt"], account["clawed_back"]) == (0, 80, 100)
    events = refunded_events(mid)
    points_events = [(e["clawed_back"], e["debt_added"], e["forgiven"]) for e in events if e["point_type"] == "points"]
    assert points_events == [(50, 30, 0), (49, 49, 0), (1, 1, 0)]


def test_a_refund_one_fen_over_the_order_is_refused_and_changes_nothing(api):
    clock.freeze(T0)
    mid = api.member("13800140002")
    earn(api, mid, "O1", 10_000)
    refund(api, "O1", "r1", 9_999)
    status, problem = api.call("POST", "/v1/orders/O1/refunds", {"refund_id": "r2", "amount_fen": 2,
                                                                 "merchant_id": "m1"})
    assert status == 409 and problem["type"].endswith("/refund-exceeds-order") and problem["refunded_fen"] == 9_999
    assert order_view(api, "O1")["refunded_fen"] == 9_999
    assert balanced(mid)["available"] == 1
    assert refund(api, "O1", "r2", 1)["clawed_back"] == {"points": 1, "growth": 1}


def test_the_cap_policy_forgives_each_shortfall_and_the_order_counts_it(api):
    clock.freeze(T0)
    mid = api.member("13800140003")
    rules(api, negative_balance="cap")
    earn(api, mid, "C1", 10_000)
    redeem(api, mid, 80)
    first = refund(api, "C1", "r1", 5_000)
    assert (first["clawed_back"]["points"], first["forgiven"], first["debt_added"]) == (20, 30, 0)
    second = refund(api, "C1", "r2", 5_000)
    assert (second["clawed_back"]["points"], second["forgiven"], second["debt_added"]) == (0, 50, 0)
    assert order_view(api, "C1")["shortfall_points"] == 80
    account = balanced(mid)
    assert (account["available"], account["debt"], account["clawed_back"]) == (0, 0, 20)
    events = [(e["clawed_back"], e["debt_added"], e["forgiven"]) for e in refunded_events(mid)
              if e["point_type"] == "points"]
    assert events == [(50, 0, 30), (50, 0, 50)]


def test_points_spent_on_an_order_come_back_in_its_refunded_share_rounded_down(api):
    """999 points paid towards a 9,999 fen order: 1 fen refunded gives back nothing, 11 fen one
    point, 988 fen more 99 in all, the rest all 999."""
    clock.freeze(T0)
    mid = api.member("13800140004")
    api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 1_000, "reason": "stock"})
    redeem(api, mid, 999, order="S1", amount=9_999)
    before = len(postings(api, mid))
    assert refund(api, "S1", "r1", 1) == {**NOTHING, "order_id": "S1", "refund_id": "r1", "refunded_fen": 1}
    assert len(postings(api, mid)) == before                        # nothing to post
    one = refund(api, "S1", "r2", 10)
    assert (one["restored"], one["clawed_back"]) == (1, {"points": 0})
    assert balanced(mid)["available"] == 2
    some = refund(api, "S1", "r3", 988)
    assert (some["refunded_fen"], some["restored"]) == (999, 98)
    rest = refund(api, "S1", "r4", 9_000)
    assert rest["restored"] == 900
    assert order_view(api, "S1")["restored_points"] == 999
    account = balanced(mid)
    assert (account["available"], account["restored"], account["debt"]) == (1_000, 999, 0)


def test_a_refund_gives_spent_points_back_to_points_only_never_to_growth(api):
    clock.freeze(T0)
    mid = api.member("13800140005")
    api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 500, "reason": "stock"})
    earn(api, mid, "G1", 10_000)                                    # 100 points, 100 growth
    redeem(api, mid, 300, order="G1", amount=10_000)
    reply = refund(api, "G1", "r1", 10_000)
    assert (reply["restored"], reply["clawed_back"], reply["debt_added"]) == (300, {"points": 100, "growth": 100}, 0)
    assert balanced(mid)["available"] == 500
    assert balanced(mid, "growth")["available"] == 0


def test_points_that_expired_unspent_are_excused_once_across_partial_refunds(api):
    """100 earned, 60 spent elsewhere, the other 40 expire: of two half refunds, the first owes
    10 (40 excused), the second all 50. What the member owes in the end is what was spent."""
    clock.freeze(T0)
    mid = api.member("13800140006")
    rules(api, expiry={"policy": "days", "days": 30})
    earn(api, mid, "E1", 10_000)
    redeem(api, mid, 60)
    clock.freeze(T0 + timedelta(days=40))
    assert api.run_job("points-expiry")["points_expired"] == 40
    first = refund(api, "E1", "r1", 5_000)
    assert (first["clawed_back"]["points"], first["already_expired"], first["debt_added"]) == (10, 40, 10)
    second = refund(api, "E1", "r2", 5_000)
    assert (second["clawed_back"]["points"], second["already_expired"], second["debt_added"]) == (50, 0, 50)
    account = balanced(mid)
    assert (account["available"], account["debt"]) == (0, 60)


def test_points_given_back_to_a_lot_whose_last_day_passed_expire_at_once(api):
    clock.freeze(T0)
    mid = api.member("13800140007")
    rules(api, expiry={"policy": "days", "days": 30})
    api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 100, "reason": "stock"})
    redeem(api, mid, 51, order="X1", amount=10_001)
    clock.freeze(T0 + timedelta(days=40))
    api.run_job("points-expiry")
    reply = refund(api, "X1", "r1", 5_001)
    assert (reply["restored"], reply["restored_expired"], reply["clawed_back"]) == (25, 25, {"points": 0})
    account = balanced(mid)
    assert (account["available"], account["restored"], account["expired"]) == (0, 25, 49 + 25)


def test_a_refund_whose_give_back_is_wider_than_a_transaction_finishes_after_it(api, three_lots):  # noqa: F811
    """With room for 3 lots, a refund clawing back one earned lot gives back to 2 spent lots at once
    and to the other 2 right after, through a releasing hold on the order."""
    clock.freeze(T0)
    mid = api.member("13800140008")
    for i in range(4):
        api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 10, "reason": f"lot {i}"})
    redeem(api, mid, 40, order="W1", amount=10_000)
    earn(api, mid, "W1", 10_000)          # the 40 points it records spent (40 fen) earn nothing: 9,960 fen earn 99
    reply = refund(api, "W1", "r1", 10_000)
    assert (reply["restored"], reply["restoring"], reply["clawed_back"]["points"]) == (40, 20, 99)
    account = balanced(mid)
    assert (account["available"], account["held"]) == (40, 0)
    (hold,) = [h for h in points_repository.of(UnitOfWork()).holds(mid, "points") if h.hold_id.startswith("R")]
    assert (hold.order, hold.merchant_id, hold.status, int(hold.points)) == ("m1:W1", "m1", "released", 20)


def test_a_refund_too_small_to_move_a_point_posts_nothing_and_one_that_only_gives_back_claws_nothing(api):
    """An order earned 100 points and spent 999: 1 fen refunded moves nothing; 11 fen gives back
    1 point and claws back none; the rest claws back exactly the 100 and gives back the other 998."""
    clock.freeze(T0)
    mid = api.member("13800140009")
    api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 1_000, "reason": "stock"})
    earn(api, mid, "B1", 10_000)
    redeem(api, mid, 999, order="B1", amount=10_000)
    before = len(postings(api, mid))
    assert refund(api, "B1", "r1", 1) == {**NOTHING, "order_id": "B1", "refund_id": "r1", "refunded_fen": 1}
    assert len(postings(api, mid)) == before
    small = refund(api, "B1", "r2", 10)
    assert (small["clawed_back"], small["restored"]) == ({"points": 0}, 1)
    rest = refund(api, "B1", "r3", 9_989)
    assert (rest["clawed_back"], rest["restored"]) == ({"points": 100, "growth": 100}, 998)
    assert order_view(api, "B1")["clawed_back"] == {"points": 100, "growth": 100}
    account = balanced(mid)
    assert (account["available"], account["debt"], account["clawed_back"]) == (1_000, 0, 100)


def test_a_single_point_that_expired_unspent_is_not_owed_again(api):
    clock.freeze(T0)
    mid = api.member("13800140010")
    rules(api, expiry={"policy": "days", "days": 30})
    earn(api, mid, "E1", 10_000)
    redeem(api, mid, 99)
    clock.freeze(T0 + timedelta(days=40))
    assert api.run_job("points-expiry")["points_expired"] == 1
    reply = refund(api, "E1", "r1", 10_000)
    assert (reply["clawed_back"]["points"], reply["already_expired"], reply["debt_added"]) == (99, 1, 99)
    assert balanced(mid)["debt"] == 99


def lots_on_days(api, phone, days):
    """A member with a lot of 10 points earned on each of ``days`` days (points last 365 days): one
    expiry day each. The member and the lots by expiry."""
    clock.freeze(T0)
    rules(api, expiry={"policy": "days", "days": 365})
    mid = api.member(phone)
    for day in range(days):
        clock.freeze(T0 + timedelta(days=day))
        earn(api, mid, f"L{day}", 1_000)
    return mid, lots_by_expiry(mid)


def lots_by_expiry(mid):
    return {lot.expires_on: int(lot.remaining) for lot in points_repository.of(UnitOfWork()).live_lots(mid, "points")}


def test_partial_refunds_give_each_spent_lot_back_at_most_what_was_taken_from_it(api):
    """Three lots of 10 (expiring on three days), all 30 spent on one order, two half refunds: the
    first gives back 15 to the latest lots (10 + 5), the second the other 15 (5 + 10), so every lot
    is whole again with its own expiry. (Each used to give back to the latest lots afresh: the last
    lot got 20, the first none.)"""
    mid, before = lots_on_days(api, "13800140011", 3)
    first, middle, last = sorted(before)
    assert set(before.values()) == {10} and len(before) == 3
    redeem(api, mid, 30, order="S1", amount=10_000)
    assert sum(lots_by_expiry(mid).values()) == 0
    assert refund(api, "S1", "r1", 5_000)["restored"] == 15
    assert {k: v for k, v in lots_by_expiry(mid).items() if v} == {middle: 5, last: 10}
    assert order_view(api, "S1")["restored_points"] == 15
    assert refund(api, "S1", "r2", 5_000)["restored"] == 15
    assert lots_by_expiry(mid) == before
    given = {}                       # what the refunds' postings gave back, by the lot's expiry
    for posting in postings(api, mid):
        for lot in posting["lots"] if posting["kind"] == "refund" else []:
            given[lot["expires_on"]] = given.get(lot["expires_on"], 0) + lot["delta"]
    assert given == {first: 10, middle: 10, last: 10}
    assert balanced(mid)["available"] == 30


def test_a_refund_after_a_second_spend_gives_back_only_what_each_lot_still_lacks(api, three_lots):  # noqa: F811
    """Two spends on one order and three refunds, the last one wider than a transaction: across
    them every lot gets back exactly what the order took from it, never more."""
    mid, before = lots_on_days(api, "13800140012", 5)
    assert len(before) == 5
    redeem(api, mid, 25, order="S2", amount=20_000)
    assert refund(api, "S2", "r1", 6_000)["restored"] == 7        # 30 % of 25: to the lots of days 2 and 1
    redeem(api, mid, 20, order="S2", amount=20_000)                # takes from days 1, 2 and 3 again
    assert refund(api, "S2", "r2", 4_000)["restored"] > 0
    assert refund(api, "S2", "r3", 10_000)["restored"] > 0
    assert order_view(api, "S2")["restored_points"] == 45
    assert lots_by_expiry(mid) == before
    account = balanced(mid)
    assert (account["available"], account["held"], account["restored"]) == (50, 0, 45)
