"""Request shapes of the points operations."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

from pydantic import Field, StrictInt, model_validator

from chalicelib.orders.service import RefundLine
from chalicelib.points.rules import OrderLine, ProgramRules, Strict
from chalicelib.shared.types import Instant

PointType = Field("points", pattern=r"^[a-z][a-z0-9_]{0,31}$")
Ref = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-.:]+$")


LAST_YEAR = 2199                  # dates past this cannot be added to or compared safely


class EarnForOrder(Strict):
    order_id: str = Ref
    merchant_id: str | None = Field(None, max_length=64, description="staff callers name the merchant")
    store_id: str | None = Field(None, max_length=64)
    amount_fen: StrictInt = Field(gt=0, le=10**11, description="order total in fen: the base for refunds")
    paid_with_points_fen: StrictInt = Field(0, ge=0, le=10**11)
    paid_with_stored_value_bonus_fen: StrictInt = Field(0, ge=0, le=10**11)
    lines: list[OrderLine] = Field([], max_length=200)
    occurred_at: Instant | None = Field(None, description="when the order was paid; rules in force then apply")

    @model_validator(mode="after")
    def _parts(self) -> EarnForOrder:
        if self.paid_with_points_fen + self.paid_with_stored_value_bonus_fen > self.amount_fen:
            raise ValueError("the parts paid with points and bonus exceed the order amount")
        if self.lines and sum(line.amount_fen for line in self.lines) != self.amount_fen:
            raise ValueError("order lines must add up to amount_fen")
        return self


class PreviewEarn(Strict):
    """An order to evaluate, not to book (``previewEarn``): what it would earn, under the rules in
    force at ``occurred_at`` or under the unsaved ``rules`` given."""

    merchant_id: str | None = Field(None, max_length=64, description="staff callers name the merchant")
    store_id: str | None = Field(None, max_length=64)
    amount_fen: StrictInt = Field(gt=0, le=10**11, description="order total in fen")
    paid_with_points_fen: StrictInt = Field(0, ge=0, le=10**11)
    paid_with_stored_value_bonus_fen: StrictInt = Field(0, ge=0, le=10**11)
    lines: list[OrderLine] = Field([], max_length=200)
    occurred_at: Instant | None = Field(None, description="when the order is paid (default: now); may be in the "
                                        "future, to try a scheduled version")
    member_id: str | None = Field(None, max_length=64, description="the member: their tier's multiplier, their "
                                  "benefits' and what is left of the day and month caps")
    rules: ProgramRules | None = Field(None, description="an unsaved version to evaluate instead of the saved one")

    @model_validator(mode="after")
    def _parts(self) -> PreviewEarn:
        if self.paid_with_points_fen + self.paid_with_stored_value_bonus_fen > self.amount_fen:
            raise ValueError("the parts paid with points and bonus exceed the order amount")
        if self.lines and sum(line.amount_fen for line in self.lines) != self.amount_fen:
            raise ValueError("order lines must add up to amount_fen")
        return self


class RecordBehavior(Strict):
    behavior: Literal["check_in", "referral", "review", "share", "profile_completion", "custom"]
    custom_event: str | None = Field(None, max_length=64)
    ref: str = Field(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-.:]+$",
                     description="the thing rewarded (review id, referee id, date...): rewarded once")
    referee_member_id: str | None = Field(None, max_length=64)


class Redeem(Strict):
    """Spend points on an order (a cash offset: `order_id` with `order_amount_fen`, the order's
    amount, which the first use fixes and the maximum share is held to) or on a reward (`reward`):
    one of the two is required."""

    points: StrictInt = Field(gt=0, le=10**9)
    point_type: str = PointType
    order_id: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-.:]+$")
    merchant_id: str | None = Field(None, max_length=64)
    order_amount_fen: StrictInt | None = Field(None, gt=0, le=10**11, description="cash offset: enforces the max share")
    reward: str | None = Field(None, max_length=64, description="reward exchange: what the points bought")
    coupon_template_id: str | None = Field(None, min_length=1, max_length=64, description=(
        "exchange for a coupon: the template whose terms' points_price the points must equal; the coupon "
        "is issued in the same transaction that takes the points (both or neither)"))
    reason: str | None = Field(None, max_length=200)

    @model_validator(mode="after")
    def _purpose(self) -> Redeem:
        if not self.order_id and not self.reward and not self.coupon_template_id:
            raise ValueError("name what the points pay for: an order (order_id), a reward or a coupon_template_id")
        if self.coupon_template_id and self.order_id:
            raise ValueError("a coupon exchange is not a payment on an order: coupon_template_id or order_id")
        if self.coupon_template_id and self.point_type != "points":
            raise ValueError("a coupon's points_price is in the program's 'points' type")
        if self.order_amount_fen is not None and not self.order_id:
            raise ValueError("order_amount_fen belongs with the order_id it is the amount of")
        return self


class Hold(Strict):
    """Reserve points for a checkout; on an order (`order_id`), `order_amount_fen` is required."""

    points: StrictInt = Field(gt=0, le=10**9)
    point_type: str = PointType
    order_id: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-.:]+$")
    order_amount_fen: StrictInt | None = Field(None, gt=0, le=10**11)
    merchant_id: str | None = Field(None, max_length=64, description="HQ staff: the merchant of the checkout")
    ttl_seconds: StrictInt = Field(900, ge=30, le=86400)


class Refund(Strict):
    refund_id: str = Ref
    amount_fen: StrictInt = Field(gt=0, le=10**11)
    merchant_id: str | None = Field(None, max_length=64)
    lines: list[RefundLine] = Field([], max_length=200, description="the lines refunded (an order earned with "
                                    "lines): each line's points come back in its share; without, the refund is "
                                    "spread over every line in proportion to what it has left")

    @model_validator(mode="after")
    def _lines(self) -> Refund:
        if self.lines and sum(line.amount_fen for line in self.lines) != self.amount_fen:
            raise ValueError("the refunded lines must add up to amount_fen")
        if len({line.line for line in self.lines}) != len(self.lines):
            raise ValueError("name each line once")
        return self


class Adjust(Strict):
    points: StrictInt = Field(description="positive adds a lot; negative takes soonest-expiring first")
    point_type: str = PointType
    reason: str = Field(min_length=3, max_length=200)

    @model_validator(mode="after")
    def _nonzero(self) -> Adjust:
        if self.points == 0 or abs(self.points) > 10**9:
            raise ValueError("points must be non-zero and at most 1e9")
        return self


class PutRules(Strict):
    rules: ProgramRules
    effective_from: Instant | None = Field(None, description="default: now")


class LedgerQuery(Strict):
    point_type: str = PointType
    limit: int = Field(50, ge=1, le=200)
    before: int | None = Field(None, ge=1, description="page: postings with a lower sequence")


class RulesQuery(Strict):
    at: Instant | None = None


class LiabilityQuery(Strict):
    point_type: str = PointType
    start: date | None = Field(None, description="with end: issued/redeemed/expired over this period")
    end: date | None = None

    @model_validator(mode="after")
    def _period(self) -> LiabilityQuery:
        if (self.start is None) != (self.end is None):
            raise ValueError("give both start and end, or neither")
        if self.start and self.end and (self.end.year > LAST_YEAR or self.start.year > LAST_YEAR):
            raise ValueError(f"dates run to {LAST_YEAR} at most")
        if self.start and self.end and not (self.start <= self.end <= self.start + timedelta(days=366)):
            raise ValueError("end must be on or after start, at most 366 days later")
        return self


class ReconcileQuery(Strict):
    member_id: str | None = Field(None, max_length=64)
    limit: int = Field(1000, ge=1, le=10000)
