"""The operations dashboard's projection, from events, exactly once under redelivery.

Two consumers write the rows of :mod:`chalicelib.reports.dashboard_tables`:

* ``dashboard`` folds (:mod:`chalicelib.events.folding`): each event adds to its day's row in its
  scopes (the program, its merchant, its store when the event names one): new members, PLUS
  members bought / ended, points issued / redeemed / expired, stored value topped up / spent,
  coupons issued / used, checkouts, GMV, member and walk-in orders, refunds; members and PLUS
  members in force also on the scope's ``TOTAL`` row. A batch is one update per row.
* ``dashboard-members`` runs per event (members' events in order, :func:`apply_once`): it reads the
  member's last active and purchase days in each scope (one item per scope, at most three) and,
  on the member's first activity / purchase of a day, a calendar week and a calendar month, adds
  one to ``active_members`` / ``buyers`` (and ``repeat_buyers`` when the member's previous purchase
  is within the 90 days before that period's first day). Bounded work per event: one read of at
  most three items and one transaction of at most 3 + 9 rows. Its counter rows are sharded by the
  member (a member's adds always hit one shard), summed at read like the folded ones.

Days are the program's calendar days (the folding consumer and the dispatcher set its zone).
"""

from __future__ import annotations

import zlib
from datetime import date, timedelta
from typing import Any

from chalicelib.db.uow import UnitOfWork
from chalicelib.events.dispatch import apply_once, subscribe
from chalicelib.events.folding import FOLD_SHARDS, Deltas, folds, shard_pk
from chalicelib.points.service import points_figures
from chalicelib.reports.dashboard_tables import DashMemberItem, DashRowItem
from chalicelib.shared import clock
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import DEFAULT_PROGRAM
from chalicelib.stored_value import service as prepaid

MEMBER_ACCOUNTS = prepaid.MEMBER_ACCOUNTS
PREPAID_TYPES = prepaid.prepaid_event_types()

CONSUMER = "dashboard"
MEMBERS_CONSUMER = "dashboard-members"
REPURCHASE_DAYS = 90
ALL = "ALL"
FOLDED_TYPES = ("member.registered", "membership.purchased", "membership.cancelled", "membership.expired",
                "points.earned", "points.redeemed", "points.hold_confirmed", "points.hold_released", "points.expired",
                "points.refunded", "stored_value.topped_up", "stored_value.paid", "stored_value.refunded",
                "coupon.claimed", "coupon.issued", "coupon.used", "coupon.write_off_undone",
                "checkout.completed", "checkout.refunded", *PREPAID_TYPES)
# What makes a member active on a day, and what is a purchase (for the repurchase rate).
ACTIVITY = ("member.registered", "member.behavior", "points.earned", "points.redeemed", "points.hold_confirmed",
            "stored_value.topped_up", "stored_value.paid", "coupon.claimed", "coupon.used", "checkout.completed",
            "order.earned", "membership.purchased", "membership.renewed")
PURCHASES = ("checkout.completed", "order.earned")


def merchant_scope(merchant_id: str) -> str:
    """The rows' scope of one merchant."""
    return f"M:{merchant_id}"


def store_scope(merchant_id: str, store_id: str) -> str:
    """The rows' scope of one store of a merchant."""
    return f"S:{merchant_id}/{store_id}"


def scopes_of(event: DomainEvent) -> list[str]:
    """The program, the event's merchant and its store (when the event names them)."""
    merchant = event.merchant_id or event.data.get("merchant_id")
    store = event.data.get("store_id")
    out = [ALL]
    if merchant:
        out.append(merchant_scope(merchant))
        if store:
            out.append(store_scope(merchant, store))
    return out


def day_of(event: DomainEvent) -> date:
    """The event's day in its program's calendar."""
    return clock.program_date(clock.parse_iso(event.occurred_at))


def week_of(day: date) -> date:
    """The Monday of ``day``'s calendar week."""
    return day - timedelta(days=day.weekday())


def _figures(event: DomainEvent) -> tuple[dict[str, int], dict[str, int]]:
    """The event's additions to its day rows, and to its scopes' ``TOTAL`` rows."""
    t, d = event.type, event.data
    if t == "member.registered":
        return {"new_members": 1}, {"members_total": 1}
    if t.startswith("membership."):
        change = 1 if t == "membership.purchased" else -1
        return {"paid_members_net": change}, {"paid_members_total": change}
    if t.startswith("points."):
        f = points_figures(event)
        return {f"points_{k}": v for k, v in f.items() if k in ("issued", "redeemed", "expired") and v}, {}
    if t == "stored_value.topped_up":
        return {"sv_topped_up_fen": int(d.get("principal_delta") or 0), "sv_bonus_fen": int(d.get("bonus_delta") or 0)}, {}
    if t == "stored_value.paid":
        return {"sv_spent_fen": int(d.get("amount_fen") or 0)}, {}
    if t == "stored_value.refunded":
        return {"sv_refunded_fen": int(d.get("amount_fen") or 0)}, {}
    if t in ("coupon.claimed", "coupon.issued"):
        return {"coupons_issued": 1}, {}
    if t in ("coupon.used", "coupon.write_off_undone"):
        return {"coupons_used": 1 if t == "coupon.used" else -1}, {}
    if t == "checkout.completed":
        amount = int((d.get("totals") or {}).get("order_amount_fen") or 0)
        who = "member" if d.get("member_id") else "walk_in"
        return {"checkouts": 1, "gmv_fen": amount, f"{who}_orders": 1, f"{who}_amount_fen": amount}, {}
    if t == "checkout.refunded":
        return {"refunds": 1, "refunded_fen": int(d.get("amount_fen") or 0)}, {}
    return {}, {}


def members_owed(event: DomainEvent) -> int:
    """What a prepaid movement adds to the stored value members hold (principal and bonus, held
    parts included): its journal lines on the members' accounts, as the prepaid figures fold them
    (:mod:`chalicelib.stored_value.figures`), so a past day's balance is the figures' balance now
    less the days after it."""
    return -sum(int(line["fen"]) for line in event.data.get("entries") or [] if line["account"] in MEMBER_ACCOUNTS)


FIGURED = frozenset(FOLDED_TYPES) - (frozenset(PREPAID_TYPES) - {"stored_value.topped_up", "stored_value.paid",
                                                                 "stored_value.refunded"})


@folds(CONSUMER, *dict.fromkeys(FOLDED_TYPES))
def fold(event: DomainEvent) -> Deltas:
    """What one event adds to its day rows (and totals) in each of its scopes."""
    deltas = Deltas()
    adds, totals = _figures(event) if event.type in FIGURED else ({}, {})
    adds = {k: v for k, v in adds.items() if v}
    day = day_of(event).isoformat()
    if event.type in PREPAID_TYPES and (owed := members_owed(event)):
        deltas.add(DashRowItem, DashRowItem.key(ALL, f"DAY#{day}"), {"sv_balance_net": owed}, scope=ALL,
                   period=f"DAY#{day}")
    if not adds:
        return deltas
    scopes = [ALL] if event.type.startswith("membership.") else scopes_of(event)
    for scope in scopes:
        deltas.add(DashRowItem, DashRowItem.key(scope, f"DAY#{day}"), adds, scope=scope, period=f"DAY#{day}")
        if totals:
            deltas.add(DashRowItem, DashRowItem.key(scope, "TOTAL"), totals, scope=scope, period="TOTAL")
    return deltas


def member_of(event: DomainEvent) -> str | None:
    """The member the event is about (None: a walk-in's checkout)."""
    if event.subject.startswith("member:"):
        return event.subject.split(":", 1)[1]
    member = event.data.get("member_id")
    return str(member) if member else None


def periods_of(day: date) -> list[tuple[str, date]]:
    """The day's row, its calendar week's and its calendar month's, each with its first day."""
    month = day.replace(day=1)
    return [(f"DAY#{day.isoformat()}", day), (f"WEEK#{week_of(day).isoformat()}", week_of(day)),
            (f"MONTH#{month.isoformat()[:7]}", month)]


def member_counts(last_active: str | None, last_purchase: str | None, day: date,
                  purchase: bool) -> dict[str, dict[str, int]]:
    """Pure: per period row of ``day``, what this activity adds (first active, first purchase,
    a repurchase within :data:`REPURCHASE_DAYS` before the period)."""
    out: dict[str, dict[str, int]] = {}
    for period, first in periods_of(day):
        adds: dict[str, int] = {}
        if last_active is None or last_active < first.isoformat():
            adds["active_members"] = 1
        if purchase and (last_purchase is None or last_purchase < first.isoformat()):
            adds["buyers"] = 1
            if last_purchase is not None and last_purchase >= (first - timedelta(days=REPURCHASE_DAYS)).isoformat():
                adds["repeat_buyers"] = 1
        if adds:
            out[period] = adds
    return out


@subscribe(MEMBERS_CONSUMER, *ACTIVITY)
def on_activity(event: DomainEvent) -> None:
    """Count the member once per day, week and month as active (and as a buyer), in each scope."""
    member = member_of(event)
    if member is None:
        return                                     # a walk-in's checkout: no member to count
    purchase = event.type in PURCHASES
    day = day_of(event)
    scopes = [ALL] if event.type.startswith("membership.") else scopes_of(event)
    uow = UnitOfWork("stream:dashboard", event.correlation_id, program=event.program_id or DEFAULT_PROGRAM)
    seen = uow.get_many(DashMemberItem, [DashMemberItem.key(member, s) for s in scopes])
    shard = zlib.crc32(member.encode()) % FOLD_SHARDS
    for scope, item in zip(scopes, seen, strict=True):
        last_active = item.last_active if item else None
        last_purchase = item.last_purchase if item else None
        if last_active is not None and last_active > day.isoformat():
            continue                               # an older event delivered late: its periods were counted
        for period, adds in member_counts(last_active, last_purchase, day, purchase).items():
            pk, sk = DashRowItem.key(scope, period)
            attrs: Any = DashRowItem
            uow.update(DashRowItem(shard_pk(pk, shard), sk), [
                *[getattr(attrs, k).add(v) for k, v in sorted(adds.items())],
                DashRowItem.scope.set(scope), DashRowItem.period.set(period)])
        fresh = DashMemberItem(*DashMemberItem.key(member, scope), last_active=day.isoformat(),
                               last_purchase=day.isoformat() if purchase else last_purchase)
        if item is None or (fresh.last_active, fresh.last_purchase) != (item.last_active, item.last_purchase):
            uow.save(fresh)
    if uow.pending:
        apply_once(MEMBERS_CONSUMER, event, uow)
