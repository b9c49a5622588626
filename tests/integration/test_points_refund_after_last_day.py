"""Refunds after a lot's last day (attack F, findings 2, 3 and 9), through the app on every backend,
figures by hand:

* rolling: points spent from a window that has ended come back expired when their order is refunded,
  even after a purchase opened a new window (the order keeps when its spend took them);
* rolling: an order refunded after its window ended finds its unspent points expired
  (``already_expired``), as under 'days', not clawed back, nor owed once the expiry job took them;
* a refund that finds an ended lot's points held records debt for them; when the hold gives them
  back (cancelled) they repay that debt instead of expiring, so the member owes nothing for points
  never spent; spent (confirmed), they stay owed until the spend's own refund brings them back.
"""

from __future__ import annotations

from datetime import timedelta

from chalicelib.shared import clock
from tests.integration.test_edges_points import rolling
from tests.integration.test_edges_points_refunds import order_view, redeem, refund, refunded_events
from tests.integration.test_points_features import T0, balanced, earn, rules
from tests.integration.test_points_rolling_hold_return import APRIL_1, HOLDS, points

AFTER = APRIL_1 + timedelta(minutes=5)          # 1 April, program time: the 31 March window / lot ended


def hold(api, mid, n, order="H1"):
    clock.freeze(APRIL_1 - timedelta(minutes=30))                     # 23:30 on the last day
    made = api.ok("POST", HOLDS.format(mid), {"points": n, "ttl_seconds": 3_600, "order_id": order,
                                               "merchant_id": "m1", "order_amount_fen": 10_000})
    clock.freeze(AFTER)
    return made


def test_rolling_points_spent_from_an_ended_window_expire_when_refunded_after_a_new_window(api):
    clock.freeze(T0)
    mid = api.member("13800298001")
    rolling(api)
    earn(api, mid, "o1", 10_000)                                       # 100 points, window ends 31 March
    redeem(api, mid, 40, order="X1", amount=10_000)
    clock.freeze(AFTER)
    assert earn(api, mid, "o2", 10_000)["expires_on"] == "2026-05-01"  # the 60 left expired; a new window
    reply = refund(api, "X1", "r1", 10_000)
    assert (reply["restored"], reply["restored_expired"]) == (40, 40)
    view = points(api, mid)
    assert (view["balance"], view["next_lots"]) == (100, [{"expires_on": "2026-05-01", "points": 100}])
    redeem(api, mid, 30, order="Y1", amount=10_000)                    # spent from the new window:
    assert refund(api, "Y1", "r1", 10_000)["restored_expired"] == 0     # back into it
    api.run_job("points-expiry")
    account = balanced(mid)
    assert (account["available"], account["expired"], account["restored"]) == (100, 100, 70)


def test_rolling_order_refunded_after_its_window_ended_finds_its_points_already_expired(api):
    clock.freeze(T0)
    mid = api.member("13800298002")
    rolling(api)
    earn(api, mid, "A1", 10_000)                                       # 100, window ends 31 March
    clock.freeze(AFTER)                                                # before the expiry job
    reply = refund(api, "A1", "r1", 10_000)
    assert (reply["clawed_back"]["points"], reply["already_expired"], reply["debt_added"]) == (0, 100, 0)
    event = [e for e in refunded_events(mid) if e["point_type"] == "points"][-1]
    assert (event["clawed_back"], event["expired"]) == (0, 100)
    api.run_job("points-expiry")                                       # nothing left for it
    account = balanced(mid)
    assert (account["available"], account["expired"], account["clawed_back"], account["debt"]) == (0, 100, 0, 0)


def test_rolling_order_refunded_after_the_expiry_job_took_its_points_owes_nothing(api):
    """The job notes on the order what expired unspent, as the dated policies' job does."""
    clock.freeze(T0)
    mid = api.member("13800298006")
    rolling(api)
    earn(api, mid, "A1", 10_000)
    earn(api, mid, "A2", 5_000)                                        # 150 in the window
    clock.freeze(AFTER)
    assert api.run_job("points-expiry")["points_expired"] == 150
    reply = refund(api, "A1", "r1", 5_000)                             # half: 50 of its 100
    assert (reply["clawed_back"]["points"], reply["already_expired"], reply["debt_added"]) == (0, 50, 0)
    account = balanced(mid)
    assert (account["available"], account["debt"], account["expired"], account["clawed_back"]) == (0, 0, 150, 0)
    assert order_view(api, "A1")["already_expired"] == {"points": 50}


def test_held_points_of_an_ended_lot_its_order_refunded_repay_the_debt_when_the_hold_is_cancelled(api):
    clock.freeze(T0)
    mid = api.member("13800298003")
    rules(api, expiry={"policy": "days", "days": 30})
    earn(api, mid, "A1", 10_000)                                       # 100, last day 31 March
    h = hold(api, mid, 30)
    reply = refund(api, "A1", "r1", 10_000)
    assert (reply["already_expired"], reply["clawed_back"]["points"], reply["debt_added"]) == (70, 30, 30)
    assert points(api, mid)["balance"] == -30                          # held: spent, if the hold confirms
    cancel = api.ok("POST", f"{HOLDS.format(mid)}/{h['hold_id']}/cancel", {})
    assert (cancel["balance"], cancel["expired_on_return"]) == (0, 0)  # back, and taken by the refund's debt
    api.run_job("points-expiry")
    api.run_job("points-holds")
    account = balanced(mid)
    assert (account["available"], account["debt"], account["expired"], account["clawed_back"]) == (0, 0, 70, 30)


def test_held_points_of_an_ended_window_its_order_refunded_repay_the_debt_when_the_hold_is_cancelled(api):
    clock.freeze(T0)
    mid = api.member("13800298004")
    rolling(api)
    earn(api, mid, "A1", 10_000)
    h = hold(api, mid, 30)
    reply = refund(api, "A1", "r1", 10_000)
    assert (reply["already_expired"], reply["clawed_back"]["points"], reply["debt_added"]) == (70, 30, 30)
    assert api.ok("POST", f"{HOLDS.format(mid)}/{h['hold_id']}/cancel", {})["balance"] == 0
    api.run_job("points-expiry")
    api.run_job("points-holds")
    account = balanced(mid)
    assert (account["available"], account["debt"], account["expired"]) == (0, 0, 70)


def test_held_points_confirmed_stay_owed_until_their_own_order_is_refunded(api):
    clock.freeze(T0)
    mid = api.member("13800298005")
    rules(api, expiry={"policy": "days", "days": 30})
    earn(api, mid, "A1", 10_000)
    h = hold(api, mid, 30)
    refund(api, "A1", "r1", 10_000)
    assert api.ok("POST", f"{HOLDS.format(mid)}/{h['hold_id']}/confirm", {})["balance"] == -30   # spent
    api.run_job("points-expiry")
    assert balanced(mid)["debt"] == 30
    reply = refund(api, "H1", "r1", 10_000)                            # the spend given back: it repays
    assert (reply["restored"], reply["restored_expired"]) == (30, 0)
    account = balanced(mid)
    assert (account["available"], account["debt"], account["restored"]) == (0, 0, 30)
    assert points(api, mid)["balance"] == 0
