"""Tasks through the app on every backend: progress counted from the event stream (orders, spend,
referrals, custom events, the profile), completion rewarded once per period (growth, points or a
tier for some months), refunds taking spend back, and redelivery changing nothing."""

import json
from datetime import UTC, datetime

import pytest

from chalicelib.db.uow import UnitOfWork
from chalicelib.shared import clock
from chalicelib.tasks.tables import COUNTED_KEPT_DAYS, CountedItem
from tests.integration.test_tiers import LADDER, deliver, earn

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
TASKS = {"tasks": [
    {"id": "first-3", "name": "First three orders", "kind": "orders", "target": 3, "reward": {"growth": 500}},
    {"id": "spend-1000", "name": "Spend ¥1,000 a month", "kind": "spend", "target": 100_000, "period": "month",
     "reward": {"points": 200}},
    {"id": "refer-2", "name": "Bring two friends", "kind": "referrals", "target": 2,
     "reward": {"tier": "V3", "validity_months": 3}},
    {"id": "profile", "name": "Complete the profile", "kind": "profile", "reward": {"points": 50}},
    {"id": "posters", "name": "Share two posters", "kind": "event", "event": "share_poster", "target": 2,
     "period": "month", "reward": {"points": 10}},
]}


@pytest.fixture
def program(api):
    clock.freeze(T0)
    api.ok("PUT", "/v1/tiers/ladder", {"ladder": LADDER, "effective_from": "2026-01-01T00:00:00Z"})
    api.ok("PUT", "/v1/points/rules", {"rules": {"behaviors": {"referral": {"points": 0}},
                                                 "custom_events": {"share_poster": {"points": 0}}},
                                       "effective_from": "2026-01-01T00:00:00Z"})
    api.ok("PUT", "/v1/tasks", {"tasks": TASKS, "effective_from": "2026-01-01T00:00:00Z"})


def tasks(api, mid):
    return {t["task"]: t for t in api.ok("GET", f"/v1/members/{mid}/tasks")["tasks"]}


def account(api, mid):
    return api.ok("GET", f"/v1/members/{mid}/points")["accounts"]


def test_orders_and_spend_complete_their_tasks_once_and_a_refund_takes_spend_back(api, program):
    mid = api.member("13800139301")
    earn(api, mid, "o1", 600)
    earn(api, mid, "o2", 300)
    shown = tasks(api, mid)
    assert (shown["first-3"]["progress"], shown["spend-1000"]["progress"]) == (2, 90_000)
    api.ok("POST", "/v1/orders/o2/refunds", {"refund_id": "r1", "amount_fen": 10_000, "merchant_id": "m1"})
    deliver()
    assert tasks(api, mid)["spend-1000"]["progress"] == 80_000
    earn(api, mid, "o3", 200)                                    # third order; ¥1,000 spent after the refund
    shown = tasks(api, mid)
    assert shown["first-3"]["completed_at"] and shown["spend-1000"]["completed_at"]
    deliver()                                                    # the whole stream again: rewarded once
    accounts = account(api, mid)
    assert accounts["growth"]["balance"] == 600 + 300 - 100 + 200 + 500
    assert accounts["points"]["balance"] == 600 + 300 - 100 + 200 + 200
    clock.freeze(datetime(2026, 4, 2, 4, tzinfo=UTC))
    assert tasks(api, mid)["spend-1000"]["progress"] == 0      # a new month, a new period
    assert tasks(api, mid)["first-3"]["completed_at"]           # once: stays done


def test_referrals_give_a_tier_for_three_months_and_custom_events_count(api, program):
    mid = api.member("13800139302")
    friends = [api.member(f"1380013931{i}") for i in range(2)]
    for i, friend in enumerate(friends):
        api.ok("POST", f"/v1/members/{mid}/points/behaviors", {"behavior": "referral", "ref": f"ref-{i}",
                                                                 "referee_member_id": friend})
    for i in range(2):
        api.ok("POST", f"/v1/members/{mid}/points/behaviors", {"behavior": "custom", "custom_event": "share_poster",
                                                                 "ref": f"poster-{i}"})
    deliver()
    shown = tasks(api, mid)
    assert shown["refer-2"]["completed_at"] and shown["posters"]["completed_at"]
    tier = api.ok("GET", f"/v1/members/{mid}/tier")
    assert (tier["tier"]["code"], tier["source"], tier["manual"]["until"]) == ("V3", "manual", "2026-05-31")
    history = api.ok("GET", f"/v1/members/{mid}/tier/history")["changes"]
    assert (history[0]["cause"], history[0]["to"]) == ("task", "V3")
    assert account(api, mid)["points"]["balance"] == 10


def test_a_complete_profile_is_rewarded_once(api, program):
    mid = api.ok("POST", "/v1/members", {"phone": "13800139320", "name": "李四"})["member_id"]
    deliver()
    assert tasks(api, mid)["profile"]["completed_at"] is None
    api.ok("PATCH", f"/v1/members/{mid}", {"birthday": "1992-02-02", "gender": "female"})
    api.ok("PATCH", f"/v1/members/{mid}", {"name": "李四四"})
    deliver()
    assert tasks(api, mid)["profile"]["completed_at"]
    assert account(api, mid)["points"]["balance"] == 50


def test_a_bad_task_set_is_refused(api, program):
    before = api.ok("GET", "/v1/tasks")
    for bad in ({"tasks": [{"id": "x", "name": "x", "kind": "event", "target": 1, "reward": {"points": 1}}]},
                {"tasks": [{"id": "x", "name": "x", "kind": "orders", "reward": {"points": 1, "growth": 1}}]},
                {"tasks": [{"id": "x", "name": "x", "kind": "orders", "reward": {"tier": "V2"}}]}):
        status, problem = api.call("PUT", "/v1/tasks", {"tasks": bad})
        assert status == 422, bad
    assert api.ok("GET", "/v1/tasks") == before


def test_the_member_overview_is_one_read(memory):
    from tests.integration.conftest import AppClient
    from tests.integration.test_benefits import RULES
    api = AppClient()
    clock.freeze(T0)
    api.ok("PUT", "/v1/tiers/ladder", {"ladder": LADDER, "effective_from": "2026-01-01T00:00:00Z"})
    api.ok("PUT", "/v1/points/rules", {"rules": {"behaviors": {"referral": {"points": 0}},     # what tasks count
                                                 "custom_events": {"share_poster": {"points": 0}}},
                                       "effective_from": "2026-01-01T00:00:00Z"})
    api.ok("PUT", "/v1/tasks", {"tasks": TASKS, "effective_from": "2026-01-01T00:00:00Z"})
    api.ok("PUT", "/v1/benefits/rules", {"rules": RULES, "effective_from": "2026-01-01T00:00:00Z"})
    mid = api.member("13800139330")
    earn(api, mid, "o1", 6_000)
    api.ok("GET", f"/v1/members/{mid}/overview")                # configuration is cached after this
    before = memory.requests
    seen = api.ok("GET", f"/v1/members/{mid}/overview")
    assert memory.requests - before == 1
    assert seen["tier"]["tier"]["code"] == "V3" and seen["tier"]["growth"] == 6_000
    assert seen["benefits"]["best"]["points_multiplier"] == "1.5"
    assert {t["task"]: t["progress"] for t in seen["tasks"]}["spend-1000"] == 600_000
    clock.freeze(None)


def test_refunding_an_order_that_only_spent_points_takes_nothing_from_orders_or_spend(api, program):
    """Found from outside: refunding an order that only spent points (it never earned, so no task
    counted it) lowered the spend task by its amount. By hand: ¥600 earned (60,000 fen, one
    order); 100 points spent on a ¥50 order, refunded in full: still 60,000 and one order."""
    mid = api.member("13800139309")
    earn(api, mid, "o1", 600)
    api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 100, "order_id": "s1", "order_amount_fen": 5_000,
                                                        "merchant_id": "m1"})
    deliver()
    api.ok("POST", "/v1/orders/s1/refunds", {"refund_id": "r-s1", "amount_fen": 5_000, "merchant_id": "m1"})
    deliver()
    shown = tasks(api, mid)
    assert (shown["first-3"]["progress"], shown["spend-1000"]["progress"]) == (1, 60_000)
    assert account(api, mid)["points"]["balance"] == 600                  # the 100 points came back


TWO_AT_ONCE = {"tasks": [
    {"id": "first", "name": "First order of the month", "kind": "orders", "target": 1, "period": "month",
     "reward": {"points": 7}},
    {"id": "spend50", "name": "Spend ¥50 a month", "kind": "spend", "target": 5_000, "period": "month",
     "reward": {"points": 200}},
    {"id": "grow", "name": "Spend ¥60 a month", "kind": "spend", "target": 6_000, "period": "month",
     "reward": {"growth": 30}},
    {"id": "grow2", "name": "Spend ¥60 a month, more growth", "kind": "spend", "target": 6_000, "period": "month",
     "reward": {"growth": 60}},
    {"id": "v2", "name": "Spend ¥60: V2 for a month", "kind": "spend", "target": 6_000, "period": "month",
     "reward": {"tier": "V2", "validity_months": 1}},
    {"id": "v3", "name": "Spend ¥60: V3 for three months", "kind": "spend", "target": 6_000, "period": "month",
     "reward": {"tier": "V3", "validity_months": 3}},
]}


def test_an_order_completing_several_tasks_at_once_rewards_each(api, program):
    """Found from outside: an order completing two tasks whose rewards write one account (points and
    points, growth and growth, tier and tier) completed neither: the transaction wrote the account
    twice, DynamoDB refused it on every redelivery. By hand (1 point and 1 growth a yuan): A's ¥50
    completes first and spend50: 50 + 7 + 200 = 257 points; C's ¥60 completes all six: 60 + 7 + 200
    = 267 points, 60 + 30 + 60 = 150 growth, and V3 (the higher floor) until 2026-05-31."""
    api.ok("PUT", "/v1/tasks", {"tasks": TWO_AT_ONCE, "effective_from": "2026-02-01T00:00:00Z"})
    a, c = api.member("13800139340"), api.member("13800139341")
    earn(api, a, "A1", 50)
    earn(api, c, "C1", 60)
    deliver()                                                    # again: rewarded once
    shown = tasks(api, a)
    assert (shown["first"]["progress"], shown["spend50"]["progress"]) == (1, 5_000)
    assert shown["first"]["completed_at"] and shown["spend50"]["completed_at"]
    assert account(api, a)["points"]["balance"] == 257
    shown = tasks(api, c)
    assert all(t["completed_at"] for t in shown.values()), shown
    accounts = account(api, c)
    assert (accounts["points"]["balance"], accounts["growth"]["balance"]) == (267, 150)
    tier = api.ok("GET", f"/v1/members/{c}/tier")
    assert (tier["tier"]["code"], tier["manual"]["until"]) == ("V3", "2026-05-31")


def test_a_refund_takes_back_only_what_its_order_counted(api):
    """Found from outside: refunding an order earned before the task set was in force took its
    amount from the orders that did count. By hand (1 point a yuan): OLD ¥100 earned with no task;
    then a spend task (¥100 a month, 200 points); NEW1 ¥80 counts 8,000; OLD refunded in full:
    still 8,000; NEW2 ¥20: 10,000, completed: 100 + 80 - 100 + 20 + 200 = 300 points. A counted
    order refunded in part takes its part back: NEW1 refunded ¥30: 7,000."""
    clock.freeze(T0)
    api.ok("PUT", "/v1/tiers/ladder", {"ladder": LADDER, "effective_from": "2026-01-01T00:00:00Z"})
    mid = api.member("13800139360")
    earn(api, mid, "OLD", 100)
    clock.freeze(datetime(2026, 3, 1, 5, 0, tzinfo=UTC))
    api.ok("PUT", "/v1/tasks", {"tasks": {"tasks": [
        {"id": "spend", "name": "Spend ¥100 a month", "kind": "spend", "target": 10_000, "period": "month",
         "reward": {"points": 200}},
        {"id": "orders", "name": "Two orders a month", "kind": "orders", "target": 2, "period": "month",
         "reward": {"growth": 5}}]}})
    clock.freeze(datetime(2026, 3, 1, 6, 0, tzinfo=UTC))
    earn(api, mid, "NEW1", 80)
    assert tasks(api, mid)["spend"]["progress"] == 8_000
    counted = UnitOfWork().get(CountedItem, CountedItem.key(mid, "NEW1"), consistent=True)
    assert json.loads(counted.counted) == {"spend": "2026-03", "orders": "2026-03"}
    kept = datetime.fromtimestamp(int(counted.expires_at), UTC) - datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
    assert kept.days == COUNTED_KEPT_DAYS == 400                  # the TTL: refunds a year and more later
    api.ok("POST", "/v1/orders/OLD/refunds", {"refund_id": "r-old", "amount_fen": 10_000, "merchant_id": "m1"})
    deliver()
    shown = tasks(api, mid)
    assert (shown["spend"]["progress"], shown["orders"]["progress"]) == (8_000, 1)
    earn(api, mid, "NEW2", 20)
    deliver()
    shown = tasks(api, mid)
    assert shown["spend"]["completed_at"] and shown["orders"]["completed_at"]
    assert account(api, mid)["points"]["balance"] == 300
    api.ok("POST", "/v1/orders/NEW1/refunds", {"refund_id": "r-new1", "amount_fen": 3_000, "merchant_id": "m1"})
    deliver()
    assert tasks(api, mid)["spend"]["progress"] == 7_000
