"""``getDashboard`` and ``getDashboardSeries``: the dashboard's figures read from its rows.

A read costs a fixed number of queries whatever the number of members, orders or events: the
scope's day rows from the previous period's first day to the later of the period's end and today
(one query per shard), its ``TOTAL`` row, its week or month rows (distinct members), and for the
program the stored value balance (the prepaid figures' member accounts, and their days after the
period when it ended before today).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from chalicelib.db.backend import SortKey
from chalicelib.db.uow import UnitOfWork
from chalicelib.events.folding import read_shards
from chalicelib.reports.dashboard import ALL, week_of
from chalicelib.reports.dashboard_tables import DISTINCT, FOLDED, DashRowItem
from chalicelib.shared import clock
from chalicelib.stored_value import service as prepaid

MAX_DAYS = 366
MEMBER_ACCOUNTS = prepaid.MEMBER_ACCOUNTS


@dataclass(frozen=True)
class Period:
    kind: str
    start: date
    end: date

    @property
    def days(self) -> int:
        """How many days the period has."""
        return (self.end - self.start).days + 1


def periods(kind: str, start: date | None, end: date | None, today: date) -> tuple[Period, Period]:
    """The period asked for and the one before it: a day, the calendar week (Monday to Sunday) or
    month holding ``start``, or ``start`` to ``end``; the previous is the day, week or calendar
    month before, or the same number of days just before a range."""
    start = start or today
    if kind == "day":
        return Period(kind, start, start), Period(kind, start - timedelta(days=1), start - timedelta(days=1))
    if kind == "week":
        monday = week_of(start)
        return (Period(kind, monday, monday + timedelta(days=6)),
                Period(kind, monday - timedelta(days=7), monday - timedelta(days=1)))
    if kind == "month":
        first = start.replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        before = (first - timedelta(days=1)).replace(day=1)
        return Period(kind, first, last), Period(kind, before, first - timedelta(days=1))
    assert end is not None
    n = (end - start).days + 1
    return Period(kind, start, end), Period(kind, start - timedelta(days=n), start - timedelta(days=1))


def _num(row: Any, name: str) -> int:
    return int(getattr(row, name) or 0) if row is not None else 0


def _ratio(a: int | None, b: int | None) -> float | None:
    return round(a / b, 4) if a is not None and b else None


def _rows(uow: UnitOfWork, scope: str, low: str, high: str) -> dict[str, Any]:
    pk = DashRowItem.key(scope, "")[0]
    return {r.sk: r for r in read_shards(uow, DashRowItem, pk, SortKey.between(low, high))}


def _distinct_key(p: Period) -> str | None:
    if p.kind == "week":
        return f"WEEK#{p.start.isoformat()}"
    if p.kind == "month":
        return f"MONTH#{p.start.isoformat()[:7]}"
    if p.days == 1:
        return f"DAY#{p.start.isoformat()}"
    return None                                   # a range: distinct members are not summed over days


def figures_of(uow: UnitOfWork, scope: str, ps: list[Period], today: date) -> list[dict[str, Any]]:
    """Each period's metrics in ``scope``."""
    low = min(p.start for p in ps)
    high = max(max(p.end for p in ps), today)
    # One query per shard: the days from the earliest period's first day on (up to today: few
    # hundred rows at most), the month rows (one a month) and the TOTAL row; another for weeks.
    rows = _rows(uow, scope, f"DAY#{low.isoformat()}", "TOTAL")
    days = {sk: r for sk, r in rows.items() if sk.startswith("DAY#") and sk[4:] <= high.isoformat()}
    total = rows.get("TOTAL")
    weeks = [k for p in ps if (k := _distinct_key(p)) and k.startswith("WEEK#")]
    distinct = {**rows, **(_rows(uow, scope, min(weeks), max(weeks)) if weeks else {})}
    owed_now = None
    if scope == ALL:                              # the prepaid figures' member accounts (8 queries)
        accounts = prepaid.figure_balances(uow)
        owed_now = -sum(accounts.get(a, 0) for a in MEMBER_ACCOUNTS)
    out = []
    for p in ps:
        inside = [r for sk, r in days.items() if p.start.isoformat() <= sk[4:] <= p.end.isoformat()]
        after = [r for sk, r in rows.items() if sk.startswith("DAY#") and sk[4:] > p.end.isoformat()]
        balance = None if owed_now is None else owed_now - sum(_num(r, "sv_balance_net") for r in after)
        sums = {k: sum(_num(r, k) for r in inside) for k in FOLDED}
        key = _distinct_key(p)
        row = distinct.get(key or "")
        counts = {k: _num(row, k) if key else None for k in DISTINCT}
        members = _num(total, "members_total") - sum(_num(r, "new_members") for r in after)
        paid = _num(total, "paid_members_total") - sum(_num(r, "paid_members_net") for r in after)
        out.append({
            "new_members": sums["new_members"], "members_total": members,
            "active_members": counts["active_members"],
            "active_share": _ratio(counts["active_members"], members) if scope == ALL else None,
            "paid_members": paid if scope == ALL else None,
            "points_issued": sums["points_issued"], "points_redeemed": sums["points_redeemed"],
            "points_expired": sums["points_expired"],
            "points_redemption_rate": _ratio(sums["points_redeemed"], sums["points_issued"]),
            "sv_topped_up_fen": sums["sv_topped_up_fen"], "sv_bonus_fen": sums["sv_bonus_fen"],
            "sv_spent_fen": sums["sv_spent_fen"], "sv_refunded_fen": sums["sv_refunded_fen"],
            "sv_balance_fen": balance,
            "coupons_issued": sums["coupons_issued"], "coupons_used": sums["coupons_used"],
            "coupon_usage_rate": _ratio(sums["coupons_used"], sums["coupons_issued"]),
            "checkouts": sums["checkouts"], "gmv_fen": sums["gmv_fen"],
            "refunds": sums["refunds"], "refunded_fen": sums["refunded_fen"],
            "member_orders": sums["member_orders"], "member_amount_fen": sums["member_amount_fen"],
            "member_aov_fen": _avg(sums["member_amount_fen"], sums["member_orders"]),
            "walk_in_orders": sums["walk_in_orders"], "walk_in_amount_fen": sums["walk_in_amount_fen"],
            "walk_in_aov_fen": _avg(sums["walk_in_amount_fen"], sums["walk_in_orders"]),
            "aov_fen": _avg(sums["gmv_fen"], sums["checkouts"]),
            "buyers": counts["buyers"], "repeat_buyers": counts["repeat_buyers"],
            "repurchase_rate_90d": _ratio(counts["repeat_buyers"], counts["buyers"]),
        })
    return out


def _avg(amount: int, n: int) -> int | None:
    return amount // n if n else None


def change(now: float | None, before: float | None) -> dict[str, Any]:
    """A metric beside its previous value: the difference and the percentage (null when the
    previous is 0 or either is unknown)."""
    diff = None if now is None or before is None else round(now - before, 4)
    pct = round(100 * (now - before) / before, 2) if now is not None and before else None
    return {"value": now, "previous": before, "change": diff, "change_percent": pct}


# What a store's rows never hold: their events name no store (docs/operators/reports.md). Null at a
# store's scope, where 0 would read as "nothing happened there" (found from outside).
NOT_PER_STORE = frozenset({"points_issued", "points_redeemed", "points_expired", "points_redemption_rate",
                           "sv_spent_fen", "sv_refunded_fen"})


def _kept(scope: str, metric: str) -> bool:
    return not (scope.startswith("S:") and metric in NOT_PER_STORE)


def dashboard(uow: UnitOfWork, scope: str, kind: str, start: date | None, end: date | None) -> dict[str, Any]:
    """The period's metrics in ``scope``, the previous period's and the change of each."""
    today = clock.program_date()
    period, previous = periods(kind, start, end, today)
    now, before = figures_of(uow, scope, [period, previous], today)
    for figures in (now, before):
        figures.update({k: None for k in figures if not _kept(scope, k)})
    return {"period": _shown(period), "previous_period": _shown(previous), "as_of": clock.iso(clock.now()),
            "metrics": {k: change(now[k], before[k]) for k in now}}


def series(uow: UnitOfWork, scope: str, start: date, end: date, metrics: list[str]) -> dict[str, Any]:
    """The daily values of ``metrics`` from ``start`` to ``end`` (every day, 0 when nothing happened)."""
    rows = _rows(uow, scope, f"DAY#{start.isoformat()}", f"DAY#{end.isoformat()}")
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    return {"start": start.isoformat(), "end": end.isoformat(), "metrics": metrics,
            "days": [{"day": d.isoformat(), **{m: _num(rows.get(f"DAY#{d.isoformat()}"), m) if _kept(scope, m) else None
                                               for m in metrics}}
                     for d in days]}


def _shown(p: Period) -> dict[str, Any]:
    return {"kind": p.kind, "start": p.start.isoformat(), "end": p.end.isoformat(), "days": p.days}
