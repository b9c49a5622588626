"""What the balance sheet needs to answer a past day, projected from events exactly once (a
folding consumer, :mod:`chalicelib.events.folding`).

The stored value and gift card lines have their history already: the prepaid figures keep every
journal account's debits and credits per day (``getStoredValueMovements``), so a day's closing is
exact. The points liability and the coupons' figures keep only the running totals; this keeps
what each day changed of them (``BSDAY#<line> / <day>#<key>``: the points by expiry month, the
coupons outstanding by template), each delta taken from the owning projection's own fold of the
event (never recomputed here), so a past day's figure is today's less what the days after it
changed. The paid-membership fees (``BSPLUS / <paid day>#<start>#<end>``: fees received for a
period) are the whole record of the deferral: the read earns them day by day.

This history starts when the consumer is deployed: a day before then is answered from the
running totals less every change recorded since, so it shows the deployment day's opening
figures, not its own (exact from the deployment's day on). Fees paid before the deployment are
not in the deferral.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.coupons import service as coupons
from chalicelib.db.backend import SortKey
from chalicelib.db.items import MainModel
from chalicelib.db.uow import UnitOfWork
from chalicelib.events.folding import FOLD_SHARDS, Deltas, folds, read_shards
from chalicelib.points import service as points
from chalicelib.shared import clock
from chalicelib.shared.events import DomainEvent
from chalicelib.tiers import service as tiers

CONSUMER = "balance-sheet-history"
POINTS_EVENTS = ("points.earned", "points.redeemed", "points.held", "points.hold_confirmed", "points.hold_released",
                 "points.refunded", "points.adjusted", "points.expired", "points.unlocked")
COUPON_EVENTS = ("coupon.claimed", "coupon.issued", "coupon.used", "coupon.write_off_undone", "coupon.expired")
MEMBERSHIP_EVENTS = ("membership.purchased", "membership.renewed", "membership.cancelled")
OUTSTANDING = {"claimed": 1, "issued": 1, "used": -1, "undone": 1, "expired": -1}   # a template's coupons still held


class BalanceDayItem(MainModel):
    """``BSDAY#<line> / <day>#<key>``: what ``day`` changed of a line's figure for ``key``
    (``points#<type>``: an expiry month; ``coupons``: a template)."""

    shards = FOLD_SHARDS          # hot: every points posting and coupon event of the program adds to it

    day = UnicodeAttribute(null=True)
    item = UnicodeAttribute(null=True)
    delta = NumberAttribute(default=0)

    @staticmethod
    def key(line: str, day: str, item: str) -> tuple[str, str]:
        """The row of ``line`` for ``item`` on ``day``."""
        return f"BSDAY#{line}", f"{day}#{item}"


class MembershipFeeItem(MainModel):
    """``BSPLUS / <paid day>#<start>#<end>``: paid-membership fees received on a day for a period
    (fees of the same day and period add up: one row per day and period, not per member)."""

    shards = FOLD_SHARDS

    paid_day = UnicodeAttribute(null=True)
    start = UnicodeAttribute(null=True)
    end = UnicodeAttribute(null=True)
    fee_fen = NumberAttribute(default=0)
    periods = NumberAttribute(default=0)

    @staticmethod
    def key(paid_day: str, start: str, end: str) -> tuple[str, str]:
        """The fees paid on ``paid_day`` for the period ``start``..``end``."""
        return "BSPLUS", f"{paid_day}#{start}#{end}"


@folds(CONSUMER, *POINTS_EVENTS, *COUPON_EVENTS, *MEMBERSHIP_EVENTS)
def project(event: DomainEvent) -> Deltas:
    """What one event changed on its day: taken from the owning projection's fold of it."""
    day = clock.program_date(clock.parse_iso(event.occurred_at)).isoformat()
    deltas = Deltas()
    if event.type in POINTS_EVENTS:
        theirs = points.points_figures_fold.fold(event)
        for (model, _, sk), (adds, _) in theirs.rows.items():
            if model.__name__ == "LiabilityItem" and adds.get("points"):
                month = sk.split("#", 1)[1]
                deltas.add(BalanceDayItem, BalanceDayItem.key(f"points#{event.data['point_type']}", day, month),
                           {"delta": adds["points"]}, day=day, item=month)
    elif event.type in COUPON_EVENTS:
        theirs = coupons.figures_fold().fold(event)
        for (_, pk, sk), (adds, _) in theirs.rows.items():
            change = sum(sign * int(adds.get(name, 0)) for name, sign in OUTSTANDING.items())
            if sk == "ALL" and change:
                template = pk.split("#", 1)[1]
                deltas.add(BalanceDayItem, BalanceDayItem.key("coupons", day, template), {"delta": change},
                           day=day, item=template)
    elif event.type == "membership.cancelled":
        # a cut period's fee leaves the deferral from the cancellation's day: a negative row of the
        # same period takes the original out (received and earned) from then on, and what the
        # cancellation kept of it is received again for its start..that day, earned in full that day
        for cut in event.data.get("cut_periods") or ():
            deltas.add(MembershipFeeItem, MembershipFeeItem.key(day, cut["start"], cut["end"]),
                       {"fee_fen": -int(cut["price_fen"]), "periods": -1}, paid_day=day, start=cut["start"],
                       end=cut["end"])
            kept = _kept_fen(cut, event.data, day)
            if kept > 0:
                start = min(cut["start"], day)
                deltas.add(MembershipFeeItem, MembershipFeeItem.key(day, start, day), {"fee_fen": kept, "periods": 1},
                           paid_day=day, start=start, end=day)
    elif int(event.data.get("amount_fen") or 0) > 0 and event.data.get("period"):
        start, end = event.data["period"]
        deltas.add(MembershipFeeItem, MembershipFeeItem.key(day, start, end),
                   {"fee_fen": int(event.data["amount_fen"]), "periods": 1}, paid_day=day, start=start, end=end)
    return deltas


def _kept_fen(cut: dict[str, Any], cancelled: dict[str, Any], day: str) -> int:
    """What the cancellation on ``day`` kept of a cut period's fee (not refunded): the event's
    ``kept_fen``; an event from before it carried one is read by its refund policy."""
    if "kept_fen" in cut:
        return int(cut["kept_fen"])
    price = int(cut["price_fen"])
    if cancelled.get("refund_policy") != "prorated":
        return price
    return price - tiers.prorated_refund_fen([{**cut, "payment_ref": "paid"}], date.fromisoformat(day))


def changed_after(uow: UnitOfWork, line: str, day: str) -> dict[str, int]:
    """Per key, what the days after ``day`` changed of ``line`` (``$`` sorts after every ``<day>#``)."""
    found: dict[str, int] = {}
    for row in read_shards(uow, BalanceDayItem, f"BSDAY#{line}", SortKey.above(f"{day}$")):
        key = str(row.item or row.sk.split("#", 1)[1])
        found[key] = found.get(key, 0) + int(row.delta or 0)
    return found


def membership_fees(uow: UnitOfWork, through: str) -> list[MembershipFeeItem]:
    """Every row of fees received on or before the day ``through``."""
    return list(read_shards(uow, MembershipFeeItem, "BSPLUS", SortKey.below(f"{through}$")))
