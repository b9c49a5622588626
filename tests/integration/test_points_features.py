"""Points features, through the app on moto."""

from datetime import UTC, datetime, timedelta

from chalicelib.db.uow import UnitOfWork
from chalicelib.points import projection, reconcile
from chalicelib.points import repository as points_repository
from chalicelib.shared import clock
from tests.outbox import outbox_events

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)


def earn(api, mid, order, amount, **extra):
    return api.ok("POST", f"/v1/members/{mid}/points/earn", {"order_id": order, "amount_fen": amount,
                                                             "merchant_id": "m1", **extra})


def rules(api, **program):
    return api.ok("PUT", "/v1/points/rules", {"rules": program})


def balanced(mid, point_type="points"):
    result = reconcile.account(UnitOfWork(), mid, point_type)
    assert result["balanced"], result
    return result["account"]


def test_soonest_expiring_points_are_spent_first(api):
    clock.freeze(T0)
    mid = api.member("13800138001")
    api.ok("PUT", "/v1/points/rules", {"rules": {"expiry": {"policy": "days", "days": 100}},
                                       "effective_from": "2025-01-01T00:00:00Z"})
    earn(api, mid, "late", 10_000)                           # expires T0+100
    clock.freeze(T0 - timedelta(days=50))
    api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 30, "reason": "goodwill"})  # expires T0+50
    clock.freeze(T0)
    spent = api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 40, "reward": "gift"})
    assert [lot["points"] for lot in spent["lots"]] == [30, 10]
    assert spent["lots"][0]["expires_on"] < spent["lots"][1]["expires_on"]
    balanced(mid)


def test_pending_points_unlock_after_the_return_window(api):
    clock.freeze(T0)
    mid = api.member("13800138002")
    rules(api, pending_days=7)
    reply = earn(api, mid, "o1", 20_000)
    assert reply["pending"] is True
    account = api.ok("GET", f"/v1/members/{mid}/points")["accounts"]["points"]
    assert (account["available"], account["pending"]) == (0, 200)
    status, problem = api.call("POST", f"/v1/members/{mid}/points/redeem", {"points": 1, "reward": "gift"})
    assert status == 409
    clock.freeze(T0 + timedelta(days=6))
    assert api.run_job("points-expiry")["points_unlocked"] == 0
    clock.freeze(T0 + timedelta(days=7))
    assert api.run_job("points-expiry")["points_unlocked"] == 200
    account = balanced(mid)
    assert (account["available"], account["pending"]) == (200, 0)


def test_refund_inside_the_return_window_takes_pending_points(api):
    clock.freeze(T0)
    mid = api.member("13800138003")
    rules(api, pending_days=7)
    earn(api, mid, "o1", 20_000)
    refund = api.ok("POST", "/v1/orders/o1/refunds", {"refund_id": "r1", "amount_fen": 5_000, "merchant_id": "m1"})
    assert refund["clawed_back"]["points"] == 50 and refund["debt_added"] == refund["forgiven"] == 0
    assert balanced(mid)["pending"] == 150


def test_cap_policy_forgives_what_was_spent_instead_of_recording_debt(api):
    clock.freeze(T0)
    mid = api.member("13800138004")
    rules(api, negative_balance="cap")
    earn(api, mid, "o1", 10_000)
    api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 80, "reward": "gift"})
    refund = api.ok("POST", "/v1/orders/o1/refunds", {"refund_id": "r1", "amount_fen": 10_000, "merchant_id": "m1"})
    assert (refund["clawed_back"]["points"], refund["forgiven"], refund["debt_added"]) == (20, 80, 0)
    account = balanced(mid)
    assert (account["available"], account["debt"]) == (0, 0)
    assert (account["earned"], account["clawed_back"]) == (100, 20)


def test_debt_is_repaid_by_the_next_earning(api):
    clock.freeze(T0)
    mid = api.member("13800138005")
    earn(api, mid, "o1", 10_000)
    api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 80, "reward": "gift"})
    api.ok("POST", "/v1/orders/o1/refunds", {"refund_id": "r1", "amount_fen": 10_000, "merchant_id": "m1"})
    assert balanced(mid)["debt"] == 80
    earn(api, mid, "o2", 10_000)
    account = balanced(mid)
    assert (account["available"], account["debt"]) == (20, 0)


def test_refunds_are_proportional_cumulative_and_bounded(api):
    clock.freeze(T0)
    mid = api.member("13800138006")
    earn(api, mid, "o1", 10_001)                                   # 100 points
    parts = [api.ok("POST", "/v1/orders/o1/refunds", {"refund_id": f"r{i}", "amount_fen": 3_333, "merchant_id": "m1"})
             for i in range(3)]
    assert sum(p["clawed_back"]["points"] for p in parts) == 100 * 9_999 // 10_001
    status, problem = api.call("POST", "/v1/orders/o1/refunds", {"refund_id": "r9", "amount_fen": 3, "merchant_id": "m1"})
    assert status == 409 and problem["type"].endswith("/refund-exceeds-order")
    status, _ = api.call("POST", "/v1/orders/o1/refunds", {"refund_id": "r0", "amount_fen": 1, "merchant_id": "m1"})
    assert status == 409                                           # a refund id applies once
    last = api.ok("POST", "/v1/orders/o1/refunds", {"refund_id": "r3", "amount_fen": 2, "merchant_id": "m1"})
    assert last["clawed_back"]["points"] == 1                      # the full order now: all 100 back
    balanced(mid)


def test_an_order_earns_once(api):
    clock.freeze(T0)
    mid = api.member("13800138007")
    earn(api, mid, "o1", 10_000)
    status, problem = api.call("POST", f"/v1/members/{mid}/points/earn", {"order_id": "o1", "amount_fen": 10_000,
                                                                           "merchant_id": "m1"})
    assert status == 409 and problem["type"].endswith("/order-already-earned")


def test_daily_cap_limits_order_points(api):
    clock.freeze(T0)
    mid = api.member("13800138008")
    rules(api, caps={"per_day": 150})
    assert earn(api, mid, "o1", 10_000)["points"] == 100
    assert earn(api, mid, "o2", 10_000)["points"] == 50
    assert earn(api, mid, "o3", 10_000)["points"] == 0
    clock.freeze(T0 + timedelta(days=1))
    assert earn(api, mid, "o4", 10_000)["points"] == 100


def test_rules_apply_as_of_the_order_time(api):
    clock.freeze(T0)
    mid = api.member("13800138009")
    api.ok("PUT", "/v1/points/rules", {"rules": {"points_per_yuan": "1"}, "effective_from": "2026-01-01T00:00:00Z"})
    api.ok("PUT", "/v1/points/rules", {"rules": {"points_per_yuan": "3"}, "effective_from": "2026-02-15T00:00:00Z"})
    late = earn(api, mid, "o-late", 10_000, occurred_at="2026-02-10T10:00:00Z")
    now = earn(api, mid, "o-now", 10_000)
    assert (late["points"], late["rules_version"]) == (100, 1)
    assert (now["points"], now["rules_version"]) == (300, 2)
    assert api.ok("GET", "/v1/points/rules")["version"] == 2


def test_check_in_streaks_and_behaviour_limits(api):
    clock.freeze(T0)
    mid = api.member("13800138010")
    friend = api.member("13800138011")
    rules(api, behaviors={"check_in": {"points": 5, "streak_bonus": {"3": 20}},
                          "review": {"points": 10, "per_day": 2},
                          "referral": {"points": 100, "referee_points": 50},
                          "profile_completion": {"points": 30}},
          custom_events={"watched_live": {"points": 2, "per_month": 1}})
    got = []
    for day in range(3):
        clock.freeze(T0 + timedelta(days=day))
        got.append(api.ok("POST", f"/v1/members/{mid}/points/behaviors", {"behavior": "check_in", "ref": f"d{day}"}))
    assert [g["points"] for g in got] == [5, 5, 25] and got[2]["streak"] == 3
    status, _ = api.call("POST", f"/v1/members/{mid}/points/behaviors", {"behavior": "check_in", "ref": "again"})
    assert status == 409
    for n in range(2):
        api.ok("POST", f"/v1/members/{mid}/points/behaviors", {"behavior": "review", "ref": f"rv{n}"})
    status, problem = api.call("POST", f"/v1/members/{mid}/points/behaviors", {"behavior": "review", "ref": "rv9"})
    assert status == 409 and problem["type"].endswith("/limit-reached")
    status, _ = api.call("POST", f"/v1/members/{mid}/points/behaviors", {"behavior": "review", "ref": "rv0"})
    assert status == 409                                                   # the same review twice
    ref = api.ok("POST", f"/v1/members/{mid}/points/behaviors",
                 {"behavior": "referral", "ref": friend, "referee_member_id": friend})
    assert (ref["points"], ref["referee_points"]) == (100, 50)
    status, _ = api.call("POST", f"/v1/members/{mid}/points/behaviors",
                         {"behavior": "referral", "ref": friend + "x", "referee_member_id": friend})
    assert status == 409                                                   # a friend is referred once
    api.ok("POST", f"/v1/members/{mid}/points/behaviors", {"behavior": "profile_completion", "ref": "p"})
    status, _ = api.call("POST", f"/v1/members/{mid}/points/behaviors", {"behavior": "profile_completion", "ref": "p2"})
    assert status == 409
    api.ok("POST", f"/v1/members/{mid}/points/behaviors", {"behavior": "custom", "custom_event": "watched_live", "ref": "l1"})
    assert balanced(mid)["available"] == 35 + 20 + 100 + 30 + 2
    assert balanced(friend)["available"] == 50


def test_expiry_job_reads_only_what_is_due_and_reminders_step_down(api):
    clock.freeze(datetime(2026, 12, 1, 4, tzinfo=UTC))
    expiring = [api.member(f"1380013{8100 + i:04d}") for i in range(3)]
    for i, mid in enumerate(expiring):
        earn(api, mid, f"e{i}", 10_000)                         # year end: 2026-12-31
    rules(api, expiry={"policy": "never"})
    keeper = api.member("13800138199")
    earn(api, keeper, "k", 10_000)
    rules(api, expiry={"policy": "year_end"}, reminder_days=[30, 15, 3])
    clock.freeze(datetime(2026, 12, 16, 4, tzinfo=UTC))
    first = api.run_job("points-reminders")
    assert first["reminders_sent"] == 3                          # the 30-day ones were due on 12-01
    clock.freeze(datetime(2026, 12, 28, 4, tzinfo=UTC))
    assert api.run_job("points-reminders")["reminders_sent"] == 3
    assert api.run_job("points-reminders")["reminders_sent"] == 0
    clock.freeze(datetime(2027, 1, 1, 4, tzinfo=UTC))
    result = api.run_job("points-expiry")
    assert result == {"items_read": 3, "points_expired": 300, "points_unlocked": 0}
    assert api.run_job("points-expiry")["items_read"] == 0
    assert balanced(keeper)["available"] == 100
    for mid in expiring:
        assert balanced(mid)["expired"] == 100
    events = outbox_events()
    assert sum(1 for e in events if e.type == "points.expiring") == 6


def test_rolling_expiry_follows_the_last_purchase(api):
    clock.freeze(T0)
    mid = api.member("13800138012")
    rules(api, expiry={"policy": "rolling", "days": 30})
    earn(api, mid, "o1", 10_000)
    clock.freeze(T0 + timedelta(days=20))
    earn(api, mid, "o2", 10_000)                                # pushes the date to T0+50
    clock.freeze(T0 + timedelta(days=40))
    assert api.run_job("points-expiry")["points_expired"] == 0
    clock.freeze(T0 + timedelta(days=52))
    assert api.run_job("points-expiry")["points_expired"] == 200
    assert balanced(mid)["available"] == 0


def test_lapsed_holds_are_released_by_the_job(api):
    clock.freeze(T0)
    mid = api.member("13800138013")
    earn(api, mid, "o1", 10_000)
    hold = api.ok("POST", f"/v1/members/{mid}/points/holds", {"points": 60, "ttl_seconds": 60})
    assert balanced(mid)["held"] == 60
    assert api.run_job("points-holds")["holds_released"] == 0
    clock.freeze(T0 + timedelta(minutes=2))
    status, problem = api.call("POST", f"/v1/members/{mid}/points/holds/{hold['hold_id']}/confirm", {})
    assert status == 409 and problem["type"].endswith("/hold-not-open")
    assert api.run_job("points-holds")["holds_released"] == 1
    account = balanced(mid)
    assert (account["available"], account["held"]) == (100, 0)


def test_max_share_and_unspendable_growth(api):
    clock.freeze(T0)
    mid = api.member("13800138014")
    earn(api, mid, "o1", 1_000_000)
    status, problem = api.call("POST", f"/v1/members/{mid}/points/redeem", {"points": 5_001, "order_id": "o2", "order_amount_fen": 10_000})
    assert status == 422 and "50%" in problem["detail"]
    api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 5_000, "order_id": "o2", "order_amount_fen": 10_000})
    status, _ = api.call("POST", f"/v1/members/{mid}/points/redeem", {"points": 1, "point_type": "growth", "reward": "gift"})
    assert status == 422
    assert balanced(mid, "growth")["available"] == 10_000


def test_ledger_pages_newest_first(api):
    clock.freeze(T0)
    mid = api.member("13800138015")
    for i in range(5):
        earn(api, mid, f"o{i}", 100 * (i + 1))
    page = api.ok("GET", f"/v1/members/{mid}/points/ledger?limit=2")
    assert [p["sequence"] for p in page["postings"]] == [5, 4] and page["next_before"] == 4
    rest = api.ok("GET", f"/v1/members/{mid}/points/ledger?limit=10&before=4")
    assert [p["sequence"] for p in rest["postings"]] == [3, 2, 1] and rest["next_before"] is None
    assert all(lot["lot_id"] for p in rest["postings"] for lot in p["lots"])
    assert len(list(points_repository.of(UnitOfWork()).live_lots(mid, "points", page_size=None))) == 5


def test_points_owed_are_not_spendable(api):
    # The integrator's case: DA and DB earn 100 each, 100 are spent, DA is refunded in full:
    # available 100, debt 100, so nothing is spendable until new points repay the debt.
    clock.freeze(T0)
    mid = api.member("13800138040")
    earn(api, mid, "DA", 10_000)
    earn(api, mid, "DB", 10_000)
    api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 100, "reward": "mug"})
    api.ok("POST", "/v1/orders/DA/refunds", {"refund_id": "r1", "amount_fen": 10_000, "merchant_id": "m1"})
    account = balanced(mid)
    assert (account["available"], account["debt"]) == (100, 100)
    status, problem = api.call("POST", f"/v1/members/{mid}/points/redeem", {"points": 100, "reward": "mug"})
    assert status == 409 and problem["type"].endswith("/insufficient-points") and problem["available"] == 0
    assert api.call("POST", f"/v1/members/{mid}/points/holds", {"points": 1, "merchant_id": "m1"})[0] == 409
    earn(api, mid, "DC", 5_000)                                  # 50 new points repay half the debt
    assert api.call("POST", f"/v1/members/{mid}/points/redeem", {"points": 51, "reward": "mug"})[0] == 409
    assert balanced(mid)["debt"] == 50


def test_the_maximum_share_holds_across_an_order_and_its_amount_is_fixed(api):
    clock.freeze(T0)
    mid = api.member("13800138041")
    api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 20_000, "reason": "stock"})
    order = {"order_id": "SO1", "merchant_id": "m1", "order_amount_fen": 10_000}      # at most 5,000 points
    api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 5_000, **order})
    status, problem = api.call("POST", f"/v1/members/{mid}/points/redeem", {"points": 1, **order})
    assert status == 422 and problem["spent_points"] == 5_000
    other_amount = api.call("POST", f"/v1/members/{mid}/points/redeem",
                            {"points": 1, **order, "order_amount_fen": 1_000_000})
    assert other_amount[0] == 422 and other_amount[1]["order_amount_fen"] == 10_000
    unstated = api.call("POST", f"/v1/members/{mid}/points/redeem", {"points": 1, "order_id": "SO2", "merchant_id": "m1"})
    assert unstated[0] == 422
    hold = api.call("POST", f"/v1/members/{mid}/points/holds", {"points": 1, **order})
    assert hold[0] == 422                                     # holds count the share spent already
    assert balanced(mid)["available"] == 15_000


def test_refunding_an_order_that_only_spent_points_gives_them_back(api):
    clock.freeze(T0)
    mid = api.member("13800138042")
    api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 1_000, "reason": "stock"})
    lot = api.ok("POST", f"/v1/members/{mid}/points/redeem",
                 {"points": 500, "order_id": "SP1", "merchant_id": "m1", "order_amount_fen": 10_000})["lots"][0]
    refund = api.ok("POST", "/v1/orders/SP1/refunds", {"refund_id": "r1", "amount_fen": 5_000, "merchant_id": "m1"})
    assert refund["restored"] == 250 and refund["clawed_back"] == {"points": 0}
    refund = api.ok("POST", "/v1/orders/SP1/refunds", {"refund_id": "r2", "amount_fen": 5_000, "merchant_id": "m1"})
    assert refund["restored"] == 250
    account = balanced(mid)
    assert account["available"] == 1_000
    lots = api.ok("GET", f"/v1/members/{mid}/points")["accounts"]["points"]["next_lots"]
    assert lots == [{"expires_on": lot["expires_on"], "points": 1_000}]          # back in the original lot


def test_orders_earn_only_inside_the_back_dating_window_and_never_born_expired(api):
    clock.freeze(datetime(2026, 1, 10, 4, tzinfo=UTC))
    mid = api.member("13800138043")
    future = api.call("POST", f"/v1/members/{mid}/points/earn", {"order_id": "F1", "amount_fen": 10_000,
                                                                  "merchant_id": "m1",
                                                                  "occurred_at": "2030-01-01T00:00:00Z"})
    assert future[0] == 422
    old = api.call("POST", f"/v1/members/{mid}/points/earn", {"order_id": "F2", "amount_fen": 10_000,
                                                               "merchant_id": "m1", "occurred_at": "2020-01-01T00:00:00Z"})
    assert old[0] == 422 and "back-dating" in old[1]["detail"]
    # Paid on 2025-12-20 under year-end expiry: those points expired on 2025-12-31, before recording.
    late = api.ok("POST", f"/v1/members/{mid}/points/earn", {"order_id": "F3", "amount_fen": 10_000,
                                                              "merchant_id": "m1", "occurred_at": "2025-12-20T04:00:00Z"})
    assert late["points"] == 0 and "expired" in late["explanation"][-1]
    assert balanced(mid)["available"] == 0
    again = api.call("POST", f"/v1/members/{mid}/points/earn", {"order_id": "F3", "amount_fen": 10_000,
                                                                 "merchant_id": "m1"})
    assert again[0] == 409                                    # the order has had its earning


def test_a_refund_does_not_claw_back_points_that_already_expired(api):
    clock.freeze(T0)
    mid = api.member("13800138044")
    rules(api, expiry={"policy": "days", "days": 30})
    earn(api, mid, "X1", 5_000)                                   # 50 points, expire T0+30
    earn(api, mid, "X2", 10_000)                                  # 100 points, expire T0+30
    api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 40, "reward": "cap"})   # from X1's lot first
    clock.freeze(T0 + timedelta(days=40))
    assert api.run_job("points-expiry")["points_expired"] == 110  # X1's last 10, X2's 100
    only_expired = api.ok("POST", "/v1/orders/X2/refunds", {"refund_id": "r", "amount_fen": 10_000, "merchant_id": "m1"})
    assert (only_expired["clawed_back"]["points"], only_expired["already_expired"], only_expired["debt_added"]) \
        == (0, 100, 0)
    mixed = api.ok("POST", "/v1/orders/X1/refunds", {"refund_id": "r", "amount_fen": 5_000, "merchant_id": "m1"})
    assert (mixed["clawed_back"]["points"], mixed["already_expired"], mixed["debt_added"]) == (40, 10, 40)
    account = balanced(mid)
    assert (account["available"], account["debt"]) == (0, 40)    # owed: only what was spent


def test_a_refund_after_a_lots_last_day_finds_it_expired_whether_or_not_the_job_has_run(api):
    """Attack C, finding 10: a lapsed lot is expired before the job runs, so a refund of its order
    reports it as already expired (not clawed back), as after the job; the day's figures say so."""
    clock.freeze(T0)
    mid = api.member("13800138046")
    rules(api, expiry={"policy": "days", "days": 30})
    earn(api, mid, "Y1", 5_000)                                   # 50 points, last day T0+30
    api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 40, "reward": "cap"})
    clock.freeze(T0 + timedelta(days=40))                         # no expiry job run
    assert api.ok("GET", f"/v1/members/{mid}/points")["accounts"]["points"]["lapsed"] == 10
    reply = api.ok("POST", "/v1/orders/Y1/refunds", {"refund_id": "r", "amount_fen": 5_000, "merchant_id": "m1"})
    assert (reply["clawed_back"]["points"], reply["already_expired"], reply["debt_added"]) == (40, 10, 40)
    account = balanced(mid)
    assert (account["available"], account["debt"], account["expired"], account["clawed_back"]) == (0, 40, 10, 40)
    assert api.run_job("points-expiry")["points_expired"] == 0    # nothing left for the job
    refunded = [e for e in outbox_events(kind="points.refunded") if e.data["point_type"] == "points"]
    assert [projection.figures(e) for e in refunded] == [{"clawed_back": 40, "restored": 0, "expired": 10}]


def test_rolling_expiry_of_a_big_account_runs_in_chunks_and_stops_no_one(api):
    """Issue #10 item 9: 81 earns on one member and one lot each on 16 others, day 40 of a 30-day
    rolling window: everything expires, in transactions of at most 80 lots each."""
    clock.freeze(T0)
    rules(api, expiry={"policy": "rolling", "days": 30})
    heavy = api.member("13800139000")
    for i in range(201):
        api.ok("POST", f"/v1/members/{heavy}/points/adjustments", {"points": 1, "reason": f"lot {i}"})
    earn(api, heavy, "push", 100)                                    # a purchase sets the rolling date
    light = [api.member(f"1380013{9100 + i:04d}") for i in range(16)]
    for i, mid in enumerate(light):
        earn(api, mid, f"l{i}", 10_000)
    clock.freeze(T0 + timedelta(days=40))
    result = api.run_job("points-expiry")
    assert result["points_expired"] == 202 + 16 * 100
    assert "gave_up" not in result and "accounts_gave_up" not in result, result
    assert balanced(heavy)["available"] == 0 and all(balanced(m)["available"] == 0 for m in light)
    postings = api.ok("GET", f"/v1/members/{heavy}/points/ledger?limit=5")["postings"]
    assert [p["kind"] for p in postings[:3]] == ["expire"] * 3                        # 80 + 80 + 42 lots
    assert sorted(abs(p["amount"]) for p in postings[:3]) == [42, 80, 80]
    assert api.run_job("points-expiry")["points_expired"] == 0                         # nothing left, no repeat


def test_earning_costs_one_read_and_one_write(memory):
    """Issue #10 item 13: member, accounts and order come in one BatchGetItem; the change is one
    transaction; the balance is two reads. A redemption for a reward is one Query (the account
    and its lots) and the transaction (which checks the member), on an order too (the transaction
    updates the order on conditions instead of reading it). (Counted on the fake, which counts each
    backend call as DynamoDB would.)"""
    from tests.integration.conftest import AppClient
    api = AppClient()
    clock.freeze(T0)
    mid = api.member("13800137555")
    earn(api, mid, "warm", 10_000)                    # rules and merchant checks are cached after this
    before = memory.requests
    earn(api, mid, "counted", 10_000)
    assert memory.requests - before == 2
    before = memory.requests
    api.ok("GET", f"/v1/members/{mid}/points")                 # member and accounts, then the lots
    assert memory.requests - before == 2
    before = memory.requests
    api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 5, "reward": "pin"})
    assert memory.requests - before == 2
    before = memory.requests
    api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 5, "order_id": "counted",
                                                        "order_amount_fen": 10_000, "merchant_id": "m1"})
    assert memory.requests - before == 2           # the order is not read: its conditions are the update's
    before = memory.requests
    hold = api.ok("POST", f"/v1/members/{mid}/points/holds", {"points": 3, "order_id": "counted",
                                                              "order_amount_fen": 10_000, "merchant_id": "m1"})
    assert memory.requests - before == 2           # the order is a condition check of the transaction
    api.ok("POST", f"/v1/members/{mid}/points/holds/{hold['hold_id']}/confirm", {})
    order = api.ok("GET", "/v1/orders/counted?merchant_id=m1")
    assert (order["spent_points"], [lot["points"] for lot in order["spent"]]) == (8, [5, 3])
    before = memory.requests
    api.ok("POST", "/v1/orders/counted/refunds", {"refund_id": "r1", "amount_fen": 10_000, "merchant_id": "m1"})
    assert memory.requests - before == 3           # the order, then its accounts and lots in one batch
    clock.freeze(None)


def test_points_that_cannot_be_spent_show_nothing_spendable_and_no_value(api):
    """Finding 9: a type that is not redeemable, and growth, hold a balance but nothing a
    redemption may take, so `spendable` and `value_fen` are 0 there; points keep theirs."""
    clock.freeze(T0)
    mid = api.member("13800138091")
    rules(api, growth_per_yuan="1", point_types={"vip": {"redeemable": False}})
    earn(api, mid, "o1", 10_000)                                # 100 points, 100 growth
    api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 100, "reason": "vip", "point_type": "vip"})
    shown = api.ok("GET", f"/v1/members/{mid}/points")["accounts"]
    assert (shown["vip"]["balance"], shown["vip"]["spendable"], shown["vip"]["value_fen"]) == (100, 0, 0)
    assert (shown["growth"]["balance"], shown["growth"]["spendable"]) == (100, 0)
    assert (shown["points"]["balance"], shown["points"]["spendable"], shown["points"]["value_fen"]) == (100, 100, 100)
    status, _ = api.call("POST", f"/v1/members/{mid}/points/redeem", {"points": 1, "reward": "x", "point_type": "vip"})
    assert status == 422
