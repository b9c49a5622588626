"""Program-wide points figures, projected from events exactly once (never a hot counter in a
member's transaction): outstanding points by expiry month (the liability) and daily issued,
redeemed, expired, clawed back and restored."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.events.dispatch import apply_once, subscribe
from chalicelib.events.model import DomainEvent
from chalicelib.shared import clock
from chalicelib.shared.config import settings
from chalicelib.store.models import MainModel
from chalicelib.store.uow import UnitOfWork

CONSUMER = "points-figures"
STAT_FIELDS = ("issued", "redeemed", "expired", "clawed_back", "restored", "adjusted")


class LiabilityItem(MainModel):
    month = UnicodeAttribute()
    points = NumberAttribute(default=0)


class PointsDayItem(MainModel):
    day = UnicodeAttribute()
    issued = NumberAttribute(default=0)
    redeemed = NumberAttribute(default=0)
    expired = NumberAttribute(default=0)
    clawed_back = NumberAttribute(default=0)
    restored = NumberAttribute(default=0)
    adjusted = NumberAttribute(default=0)


def _stats(event: DomainEvent) -> dict[str, int]:
    d, kind, amount = event.data, event.data["kind"], int(event.data["amount"])
    return {"earn": {"issued": amount}, "unlock": {}, "redeem": {"redeemed": amount},
            "hold_confirmed": {"redeemed": amount}, "expire": {"expired": amount},
            "refund": {"clawed_back": int(d.get("clawed_back", 0)), "restored": int(d.get("restored", 0))},
            "adjust": {"adjusted": int(d.get("points", 0))}}.get(kind, {})


def _liability(event: DomainEvent) -> dict[str, int]:
    """Change in outstanding points per expiry month. Held points stay owed until confirmed."""
    kind = event.data["kind"]
    months: dict[str, int] = {}
    if kind in ("hold", "hold_released"):
        return months
    lots = event.data.get("consumed") if kind == "hold_confirmed" else event.data["lots"]
    sign = -1 if kind == "hold_confirmed" else 1
    for lot in lots or []:
        delta = sign * int(lot.get("points", 0)) if kind == "hold_confirmed" else int(lot["delta"])
        if kind == "unlock":
            continue                     # pending -> available: still owed, same expiry
        month = (lot.get("expires_on") or "never")[:7]
        months[month] = months.get(month, 0) + delta
    return {m: v for m, v in months.items() if v}


@subscribe(CONSUMER, "points.earned", "points.redeemed", "points.held", "points.hold_confirmed",
           "points.hold_released", "points.refunded", "points.adjusted", "points.expired", "points.unlocked")
def project(event: DomainEvent) -> None:
    point_type = event.data["point_type"]
    day = clock.local_date(clock.parse_iso(event.occurred_at), settings().timezone).isoformat()
    uow = UnitOfWork()
    for month, delta in _liability(event).items():
        row = LiabilityItem(f"PTSLIAB#{point_type}", f"EXP#{month}")
        uow.update(row, [LiabilityItem.points.add(delta), LiabilityItem.month.set(month)])
    stats = {k: v for k, v in _stats(event).items() if v}
    if stats:
        row = PointsDayItem(f"PTSSTAT#{point_type}", f"DAY#{day}")
        uow.update(row, [getattr(PointsDayItem, k).add(v) for k, v in stats.items()] + [PointsDayItem.day.set(day)])
    if uow.pending:
        apply_once(CONSUMER, event, uow)


def daily_totals(point_type: str, start: date, end: date) -> dict[str, int]:
    totals = dict.fromkeys(STAT_FIELDS, 0)
    for row in PointsDayItem.query(f"PTSSTAT#{point_type}",
                                   PointsDayItem.sk.between(f"DAY#{start.isoformat()}", f"DAY#{end.isoformat()}")):
        for k in STAT_FIELDS:
            totals[k] += int(getattr(row, k) or 0)
    return totals


def liability(point_type: str, points_per_yuan: int, threshold_percent: int,
              start: date | None = None, end: date | None = None) -> dict[str, Any]:
    """Outstanding points now, plus issued / redeemed / expired over a period (default: 30 days)."""
    rows = [(r.month, int(r.points or 0)) for r in LiabilityItem.query(f"PTSLIAB#{point_type}")]
    months = [{"expires": m, "points": p, "value_fen": p * 100 // points_per_yuan} for m, p in rows if p]
    total = sum(p for _, p in rows)
    today = clock.local_date(clock.now(), settings().timezone)
    window = daily_totals(point_type, today - timedelta(days=29), today)
    issued, redeemed = window["issued"], window["redeemed"]
    reply = {"point_type": point_type, "outstanding_points": total,
             "outstanding_value_fen": total * 100 // points_per_yuan,
             "by_expiry_month": months, "last_30_days": window,
             "inflation_warning": issued > 0 and (redeemed == 0 or issued * 100 > threshold_percent * redeemed)}
    if start and end:
        reply["period"] = {"start": start.isoformat(), "end": end.isoformat(),
                           **daily_totals(point_type, start, end)}
    return reply
