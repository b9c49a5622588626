"""Program-wide points figures, projected from events exactly once (never a hot counter in a
member's transaction): outstanding points by expiry month (the liability) and daily issued,
redeemed, expired, clawed back and restored. Not of growth value, which is no liability."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from chalicelib.db.uow import UnitOfWork
from chalicelib.events.folding import Deltas, folds
from chalicelib.points import filing, repository
from chalicelib.points.rules import inflated
from chalicelib.points.tables import LiabilityItem, PointsDayItem
from chalicelib.shared import clock
from chalicelib.shared.errors import ValidationProblem
from chalicelib.shared.events import DomainEvent

CONSUMER = "points-figures"
STAT_FIELDS = ("issued", "redeemed", "expired", "clawed_back", "restored", "adjusted")
WINDOW_DAYS = 30
GROWTH = "growth"


def figures(event: DomainEvent) -> dict[str, int]:
    """What one ``points.*`` event adds to the day's points figures (issued, redeemed, expired...)."""
    d, kind, amount = event.data, event.data["kind"], int(event.data["amount"])
    return {"earn": {"issued": amount}, "unlock": {}, "redeem": {"redeemed": amount},
            "hold_confirmed": {"redeemed": amount}, "expire": {"expired": amount},
            "hold_released": {"expired": int(d.get("expired_on_return", 0))},
            "refund": {"clawed_back": int(d.get("clawed_back", 0)), "restored": int(d.get("restored", 0)),
                       "expired": int(d.get("expired", 0))},      # lapsed lots and give-backs past their day
            "adjust": {"adjusted": int(d.get("points", 0))}}.get(kind, {})


@folds(CONSUMER, "points.earned", "points.redeemed", "points.held", "points.hold_confirmed",
       "points.hold_released", "points.refunded", "points.adjusted", "points.expired", "points.unlocked")
def project(event: DomainEvent) -> Deltas:
    """What one posting event adds to the liability and the day's figures."""
    point_type = event.data["point_type"]
    deltas = Deltas()
    if point_type == GROWTH:          # not a liability (never redeemable): tiers read it from the accounts
        return deltas
    day = clock.program_date(clock.parse_iso(event.occurred_at)).isoformat()
    for month, delta in filing.by_month(event.data).items():
        deltas.add(LiabilityItem, LiabilityItem.key(point_type, month), {"points": delta}, month=month)
    stats = {k: v for k, v in figures(event).items() if v}
    if stats:
        deltas.add(PointsDayItem, PointsDayItem.key(point_type, day), stats, day=day)
    return deltas


def daily_totals(uow: UnitOfWork, point_type: str, start: date, end: date) -> dict[str, int]:
    """Each figure summed over ``start`` to ``end``."""
    totals = dict.fromkeys(STAT_FIELDS, 0)
    for row in repository.of(uow).days(point_type, start, end):
        for k in STAT_FIELDS:
            totals[k] += int(getattr(row, k) or 0)
    return totals


def window(uow: UnitOfWork, point_type: str, today: date) -> dict[str, int]:
    """The figures of the last ``WINDOW_DAYS`` days up to ``today``."""
    return daily_totals(uow, point_type, today - timedelta(days=WINDOW_DAYS - 1), today)


def liability(uow: UnitOfWork, point_type: str, points_per_yuan: int, threshold_percent: int,
              start: date | None = None, end: date | None = None) -> dict[str, Any]:
    """Outstanding points now, plus issued / redeemed / expired over a period (default: 30 days).
    Growth value has none (422)."""
    if point_type == GROWTH:
        raise ValidationProblem("growth value is not a liability: it is never redeemable (a member's growth is "
                                "on getPointsAccount and getMemberTier)")
    rows = [(r.month, int(r.points or 0)) for r in repository.of(uow).liability(point_type)]
    months = [{"expires": m, "points": p, "value_fen": p * 100 // points_per_yuan} for m, p in rows if p]
    total = sum(p for _, p in rows)
    last = window(uow, point_type, clock.program_date())
    reply = {"point_type": point_type, "outstanding_points": total,
             "outstanding_value_fen": total * 100 // points_per_yuan,
             "by_expiry_month": months, "last_30_days": last,
             "inflation_warning": inflated(last["issued"], last["redeemed"], threshold_percent)}
    if start and end:
        reply["period"] = {"start": start.isoformat(), "end": end.isoformat(),
                           **daily_totals(uow, point_type, start, end)}
    return reply
