"""The earn rules' dry run (``previewEarn``): what an order would earn, evaluated by the code that
earns (:func:`.rules.order_points`, the caps of :func:`.earning.apply_caps`, the expiry and the
pending window), and nothing written: no posting, no counter, no idempotency record.

The rules are the version in force at the order's time, or an unsaved version the caller sends
(a configuration page shows "this order would earn…" before it saves). With a member, their tier
at that time, their benefits' best multiplier and what is left of their day and month caps apply,
as they would to a real order; without, the order is an untiered member's with no cap used.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import Field

from chalicelib.db.uow import UnitOfWork
from chalicelib.points import access, earning, program, tiering
from chalicelib.points import rules as R
from chalicelib.points.schemas import PreviewEarn
from chalicelib.shared import clock
from chalicelib.shared.principal import Principal
from chalicelib.shared.types import Reply


class EarnPreviewOut(Reply):
    """What an order would earn, and which rule gave each factor; nothing was booked."""

    rules_version: int | None = Field(description="the saved version evaluated (0: the defaults); null: the "
                                                  "unsaved rules of the request")
    points: int = Field(description="points the order would earn (after the per-order, day and month caps)")
    growth: int = Field(description="growth value it would earn (tiers read it; never spendable)")
    explanation: list[str] = Field(description="how the figure is reached, one line per rule that applied: the "
                                               "eligible amount, step, store, tier, benefit, campaign, caps")
    eligible_fen: int = Field(description="the amount that earns: paid less what points and stored value bonus paid")
    tier: str | None = Field(description="the member's tier code at the order's time (null: no member, or untiered)")
    pending: bool = Field(description="whether the points would wait the return window before they count")
    expires_on: str | None = Field(description="the last day the points could be spent (null: they never expire; "
                                               "under rolling expiry the member's window end, which every purchase moves)")


def preview(cmd: PreviewEarn, by: Principal, uow: UnitOfWork) -> dict[str, Any]:
    """What ``cmd``'s order would earn, without booking it."""
    _, store_id = access.preview_place(uow, by, cmd.merchant_id, cmd.store_id)
    at = cmd.occurred_at or clock.now()
    version: int | None
    if cmd.rules is not None:
        version, rules = None, cmd.rules
    else:
        version, rules = program.rules_at(uow, at)
    tier = tiering.TierAt(None, None)
    member_id = None
    if cmd.member_id is not None:
        access.prefetch(uow, cmd.member_id, by, [], tier=True)
        member = access.member_record(uow, cmd.member_id, by)
        member_id, tier = member.member_id, tiering.at(uow, member, at)
    points_paid, bonus_paid = earning.paid_without_points(rules, None, cmd)
    points, growth, why = R.order_points(rules, paid_fen=cmd.amount_fen, points_paid_fen=points_paid,
                                         bonus_paid_fen=bonus_paid, lines=cmd.lines, store_id=store_id,
                                         tier=tier.code, at=at, bonus=tier.multiplier)
    today = program.today(at)
    if member_id is not None:
        points = earning.apply_caps(uow, member_id, rules, today, points, why, stage=False)
    expires = R.expiry_date(rules.expiry, today, tier.valid_until) if points else None
    if points and rules.expiry.policy == "rolling":       # the window the purchase opens or extends
        expires = (earning.rolling_end(uow, member_id, rules, today) if member_id is not None
                   else today + timedelta(days=rules.expiry.days))
    return {"rules_version": version, "points": points, "growth": growth, "explanation": why,
            "eligible_fen": R.eligible_fen(rules, cmd.amount_fen, points_paid, bonus_paid),
            "tier": tier.code, "pending": bool(points) and rules.pending_days > 0,
            "expires_on": expires.isoformat() if expires else None}
