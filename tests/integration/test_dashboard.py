"""Issue #29 item 1: the dashboard's projection, folded from events exactly once (a redelivered
batch counts nothing twice), each metric from the events that make it, read in a fixed number of
queries."""

from __future__ import annotations

import json
from datetime import date

from chalicelib.db.uow import UnitOfWork
from chalicelib.events import dispatch
from chalicelib.reports import dashboard_read as read
from chalicelib.shared import clock
from chalicelib.shared.events import DomainEvent
from devstack import emulator

DAY = "2026-05-06T04:00:00+00:00"           # a Wednesday, 12:00 in Shanghai
EARLIER = "2026-03-20T04:00:00+00:00"       # 47 days before
LONG_AGO = "2026-01-10T04:00:00+00:00"      # 116 days before
N = 0


def ev(kind: str, member: str | None, data: dict, at: str = DAY, merchant: str | None = "m1") -> DomainEvent:
    global N
    N += 1
    subject = f"member:{member}" if member else f"checkout:c{N}"
    return DomainEvent(kind, subject, {**({"member_id": member} if member else {}), **data}, id=f"e{N:04d}",
                       occurred_at=at, program_id="default", merchant_id=merchant)


def checkout(member: str | None, fen: int, store: str = "s1", at: str = DAY) -> DomainEvent:
    return ev("checkout.completed", member, {"member_id": member, "store_id": store,
                                             "totals": {"order_amount_fen": fen}}, at)


def records(events: list[DomainEvent]) -> list[dict]:
    return [{"eventName": "INSERT", "dynamodb": {"SequenceNumber": f"{n:021d}", "NewImage": {
        "payload": {"S": json.dumps(e.as_dict())}}}} for n, e in enumerate(events)]


def workload() -> tuple[list[DomainEvent], list[DomainEvent]]:
    history = [checkout("a", 1_000, at=EARLIER), checkout("b", 1_000, at=LONG_AGO),
               ev("member.registered", "a", {"store_id": "s1"}, EARLIER),
               ev("member.registered", "b", {"store_id": "s2"}, LONG_AGO)]
    today = [
        ev("member.registered", "c", {"store_id": "s1"}), ev("member.registered", "d", {"store_id": "s2"}),
        ev("member.registered", "e", {"store_id": "s9"}, merchant="m2"),
        ev("points.earned", "a", {"kind": "earn", "amount": 300, "point_type": "points", "lots": []}),
        ev("points.redeemed", "a", {"kind": "redeem", "amount": 120, "point_type": "points", "lots": []}),
        ev("points.expired", "b", {"kind": "expire", "amount": 30, "point_type": "points", "lots": []}),
        ev("stored_value.topped_up", "c", {"amount_fen": 11_000, "principal_delta": 10_000, "bonus_delta": 1_000,
                                           "entries": [{"account": "member:principal", "fen": -10_000},
                                                       {"account": "member:bonus", "fen": -1_000},
                                                       {"account": "cash_clearing", "fen": 10_000},
                                                       {"account": "bonus_expense", "fen": 1_000}]}),
        ev("stored_value.paid", "c", {"amount_fen": 2_500, "entries": [
            {"account": "member:principal", "fen": 2_500}, {"account": "settlement:m1", "fen": -2_500}]}),
        ev("coupon.claimed", "a", {"template_id": "t1"}), ev("coupon.claimed", "c", {"template_id": "t1"}),
        ev("coupon.used", "a", {"template_id": "t1", "store_id": "s1", "saving_fen": 500}),
        ev("membership.purchased", "a", {"amount_fen": 9_900}, merchant=None),
        ev("membership.purchased", "b", {"amount_fen": 9_900}, merchant=None),
        ev("membership.cancelled", "b", {"amount_fen": 0}, merchant=None),
        checkout("a", 5_000), checkout("a", 3_000), checkout("b", 2_000, store="s2"), checkout(None, 700),
        checkout(None, 300, store="s2"),
        ev("checkout.refunded", "a", {"store_id": "s1", "amount_fen": 1_000}),
    ]
    return history, today


def dash(scope: str = "ALL", kind: str = "day", start: date = date(2026, 5, 6)) -> dict:
    return {k: v["value"] for k, v in read.dashboard(UnitOfWork(), scope, kind, start, None)["metrics"].items()}


def test_each_metric_from_its_events_and_a_redelivered_batch_counts_nothing_twice(aws):
    clock.freeze(clock.parse_iso("2026-05-06T10:00:00+00:00"))
    try:
        history, today = workload()
        assert dispatch.handle_records(records(history)) == {"batchItemFailures": []}
        batch = records(today)
        assert dispatch.handle_records(batch) == {"batchItemFailures": []}
        first = dash(), dash("M:m1"), dash("S:m1/s1"), dash(kind="week"), dash(kind="month")
        assert dispatch.handle_records(batch) == {"batchItemFailures": []}        # delivered again
        assert dispatch.handle_records(batch[5:12]) == {"batchItemFailures": []}  # and part of it once more
        assert (dash(), dash("M:m1"), dash("S:m1/s1"), dash(kind="week"), dash(kind="month")) == first
        d, m1, s1, week, _month = first
        assert (d["new_members"], d["members_total"]) == (3, 5)
        assert (m1["new_members"], m1["members_total"]) == (2, 4)
        assert (d["points_issued"], d["points_redeemed"], d["points_expired"]) == (300, 120, 30)
        assert d["points_redemption_rate"] == 0.4
        assert (d["sv_topped_up_fen"], d["sv_bonus_fen"], d["sv_spent_fen"], d["sv_balance_fen"]) == \
            (10_000, 1_000, 2_500, 8_500)
        assert (d["coupons_issued"], d["coupons_used"], d["coupon_usage_rate"]) == (2, 1, 0.5)
        assert d["paid_members"] == 1 and m1["paid_members"] is None
        assert (d["checkouts"], d["gmv_fen"], d["aov_fen"]) == (5, 11_000, 2_200)
        assert (d["member_orders"], d["member_amount_fen"], d["member_aov_fen"]) == (3, 10_000, 3_333)
        assert (d["walk_in_orders"], d["walk_in_amount_fen"], d["walk_in_aov_fen"]) == (2, 1_000, 500)
        assert (d["refunds"], d["refunded_fen"]) == (1, 1_000)
        assert (s1["checkouts"], s1["gmv_fen"], s1["walk_in_orders"]) == (3, 8_700, 1)
        # active today: a, b, c (bought, earned, topped up...), d and e (registered); buyers a and b,
        # of whom a bought 47 days before (a repurchase) and b 116 days before (not one)
        assert (d["active_members"], d["buyers"], d["repeat_buyers"], d["repurchase_rate_90d"]) == (5, 2, 1, 0.5)
        assert (m1["active_members"], s1["active_members"], s1["buyers"]) == (4, 2, 1)
        assert d["active_share"] == 1.0
        assert (week["active_members"], week["checkouts"]) == (5, 5)
    finally:
        clock.freeze(None)


def test_the_previous_period_and_the_change(aws):
    clock.freeze(clock.parse_iso("2026-05-06T10:00:00+00:00"))
    try:
        yesterday = "2026-05-05T04:00:00+00:00"
        events = [checkout("a", 2_000, at=yesterday), checkout("a", 3_000), checkout("b", 1_000)]
        dispatch.handle_records(records(events))
        got = read.dashboard(UnitOfWork(), "ALL", "day", date(2026, 5, 6), None)
        assert got["previous_period"] == {"kind": "day", "start": "2026-05-05", "end": "2026-05-05", "days": 1}
        assert got["metrics"]["gmv_fen"] == {"value": 4_000, "previous": 2_000, "change": 2_000,
                                             "change_percent": 100.0}
        assert got["metrics"]["new_members"]["change_percent"] is None          # previous 0
        # yesterday a bought; today a (again, within 90 days: a repurchase) and b
        assert got["metrics"]["repurchase_rate_90d"]["value"] == 0.5
        series = read.series(UnitOfWork(), "ALL", date(2026, 5, 4), date(2026, 5, 6), ["gmv_fen", "buyers"])
        assert series["days"] == [{"day": "2026-05-04", "gmv_fen": 0, "buyers": 0},
                                  {"day": "2026-05-05", "gmv_fen": 2_000, "buyers": 1},
                                  {"day": "2026-05-06", "gmv_fen": 4_000, "buyers": 2}]
    finally:
        clock.freeze(None)


def test_a_past_period_sees_the_gauges_as_they_closed(aws):
    """Members, PLUS members and the stored value balance at the end of a past period: now less
    what changed after it."""
    clock.freeze(clock.parse_iso("2026-05-06T10:00:00+00:00"))
    try:
        history, today = workload()
        dispatch.handle_records(records(history + today))
        march = dash(kind="month", start=date(2026, 3, 1))
        assert (march["members_total"], march["paid_members"], march["sv_balance_fen"]) == (2, 0, 0)
        assert (march["checkouts"], march["buyers"], march["repeat_buyers"]) == (1, 1, 0)
    finally:
        clock.freeze(None)


def test_reading_a_month_costs_the_same_queries_whatever_the_number_of_members(aws):
    clock.freeze(clock.parse_iso("2026-05-06T10:00:00+00:00"))
    try:
        def cost() -> int:
            before = emulator.usage()
            read.dashboard(UnitOfWork(), "ALL", "month", date(2026, 5, 1), None)
            return emulator.usage().minus(before).requests
        dispatch.handle_records(records([checkout(f"x{i}", 100) for i in range(5)]))
        small = cost()
        dispatch.handle_records(records([checkout(f"y{i}", 100) for i in range(200)]))
        assert cost() == small <= 16, small
    finally:
        clock.freeze(None)
