"""What ``quoteCheckout`` and ``getCheckoutQuote`` answer: a quote, every figure in integer fen."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.shared.types import Reply


class LinePartOut(Reply):
    line: int
    fen: int


class QuoteLineOut(Reply):
    """One line and its parts: list_total_fen = member_discount_fen + coupons_fen + points_fen + to_pay_fen."""

    line: int = Field(description="the line's index in the cart (0-based)")
    sku: str
    category: str | None
    quantity: int
    unit_price_fen: int
    list_total_fen: int
    member_total_fen: int
    member_discount_fen: int
    rule: Literal["price_list", "discount_percent", "list_price"] = Field(description="what set the member price")
    benefit_rule: str | None
    price_list: str | None
    coupons: dict[str, int] = Field(description="coupon id -> fen off this line")
    coupons_fen: int
    points_fen: int
    to_pay_fen: int


class ChosenCouponOut(Reply):
    coupon_id: str
    template_id: str
    kind: str
    terms_version: int
    version: int = Field(description="the coupon's version read (the commit refuses a coupon changed since)")
    saving_fen: int
    lines: list[LinePartOut] = Field(description="the saving per line (nonzero parts), summing to saving_fen")
    gift_sku: str | None
    stacking: str


class NotChosenOut(Reply):
    coupon_id: str | None
    template_id: str | None
    code: str | None = None
    why: str = Field(description="a stable code, a colon, and words (e.g. exclusive, group_max, below_threshold)")


class CouponsOut(Reply):
    considered: int = Field(description="the member's unused or locked coupons read (one query, at most 200)")
    chosen: list[ChosenCouponOut]
    not_chosen: list[NotChosenOut]
    saving_fen: int


class PointsOut(Reply):
    rules_version: int
    points_per_yuan: int
    max_share_percent: int
    available_points: int
    limit_points: int = Field(description="the share cap in points on the amount after coupons")
    max_points: int = Field(description="the most the member may offset: min(available, limit), whole points, "
                            "the fewest worth max_fen")
    max_fen: int = Field(description="what max_points pay (points -> fen rounded down)")
    used: bool
    points: int = Field(description="what this quote takes (0 when declined)")
    fen: int
    lines: list[LinePartOut]
    rounding: str


class StoredValueOut(Reply):
    principal_fen: int
    bonus_fen: int
    balance_fen: int
    could_pay_fen: int = Field(description="min(balance, to_pay): informational, the commit decides")


class TotalsOut(Reply):
    list_total_fen: int
    member_total_fen: int
    member_discount_fen: int
    coupons_fen: int
    points_fen: int
    to_pay_fen: int


class QuoteOut(Reply):
    """A quote: an offer a commit names by id until it expires."""

    quote_id: str
    status: Literal["open", "expired"] = Field(description="open until expires_at, then expired")
    created_at: str
    expires_at: str
    merchant_id: str
    store_id: str | None
    channel: str | None
    member_id: str | None = Field(description="null: a walk-in customer (list prices, no coupons, points or stored value)")
    identified_by: Literal["member_id", "member_code", "token", "payer", "walk_in"]
    member_created: bool = Field(False, description="支付即会员: the payer was registered as a member by this quote")
    tier: str | None
    price_list: str | None
    price_list_version: int
    discount_percent: int | None
    cart_hash: str
    lines: list[QuoteLineOut]
    coupons: CouponsOut | None
    points: PointsOut | None
    stored_value: StoredValueOut | None
    totals: TotalsOut


class CheckoutLineOut(Reply):
    """One line and what paid it: list_total_fen = member_discount_fen + Σ coupons + points_fen +
    stored_value_fen + Σ gift_cards + cash_fen."""

    line: int
    sku: str
    category: str | None
    quantity: int
    list_total_fen: int
    member_total_fen: int
    member_discount_fen: int
    coupons: dict[str, int] = Field(description="coupon id -> fen off this line")
    points_fen: int
    stored_value_fen: int
    gift_cards: dict[str, int] = Field(description="card number -> fen paid on this line")
    cash_fen: int


class CheckoutTotalsOut(Reply):
    list_total_fen: int
    member_total_fen: int
    member_discount_fen: int
    coupons_fen: int
    points: int = Field(description="points spent")
    points_fen: int
    stored_value_fen: int
    gift_cards_fen: int
    cash_fen: int = Field(description="what is paid outside (cash, WeChat Pay, Alipay...)")
    order_amount_fen: int = Field(description="the order's amount after member prices and coupons: what points, "
                                  "stored value, gift cards and cash pay; points are earned on it")


class CheckoutCouponOut(Reply):
    coupon_id: str
    template_id: str
    fen: int
    hold_id: str


class CheckoutPointsOut(Reply):
    points: int
    fen: int
    hold_id: str


class CheckoutStoredValueOut(Reply):
    fen: int
    hold_id: str


class CheckoutCardOut(Reply):
    card_number: str
    fen: int
    hold_id: str


class CheckoutHoldsOut(Reply):
    coupons: list[CheckoutCouponOut]
    points: CheckoutPointsOut | None
    stored_value: CheckoutStoredValueOut | None
    gift_cards: list[CheckoutCardOut]


class CheckoutEarnedOut(Reply):
    points: int
    growth: int


class CheckoutProblemOut(Reply):
    part: str
    type: str
    detail: str


class RefundPartsOut(Reply):
    """What a line gives back (a refund) or has given back (all its refunds), part by part: each
    floor(part × the line's refunded share), cumulatively."""

    member_discount_fen: int
    coupons: dict[str, int] = Field(description="coupon id -> fen")
    points_fen: int
    stored_value_fen: int
    gift_cards: dict[str, int] = Field(description="card number -> fen")
    cash_fen: int
    fen: int = Field(description="of what was paid: points_fen + stored_value_fen + Σ gift_cards + cash_fen")


class RefundedLineOut(RefundPartsOut):
    line: int
    share: str = Field(description="the line's refunded share after it, an exact fraction ('1/3'; '1': all of it)")


class CheckoutRefundedOut(Reply):
    """What the checkout's refunds have given back so far, per line."""

    refunds: int = Field(description="refunds made")
    fen: int = Field(description="of what was paid (points, stored value, gift cards, cash)")
    cash_fen: int = Field(description="of it, what the tills gave back outside (cash, WeChat Pay, ...)")
    lines: list[RefundedLineOut]


class CheckoutOut(Reply):
    """A checkout: open (holds being taken) → committed (everything held) → completed (paid,
    points earned) | cancelled (everything released); failed: a commit refused, nothing held."""

    checkout_id: str
    quote_id: str
    order_id: str
    status: Literal["open", "committed", "completing", "completed", "cancelled", "failed", "partially_refunded",
                    "refunded"]
    merchant_id: str
    store_id: str | None
    member_id: str | None
    channel: str | None
    guide_id: str | None
    totals: CheckoutTotalsOut
    lines: list[CheckoutLineOut]
    holds: CheckoutHoldsOut
    holds_expire_at: str
    created_at: str
    committed_at: str | None
    completed_at: str | None
    cancelled_at: str | None
    payment_ref: str | None
    earned: CheckoutEarnedOut | None
    why: str | None
    problem: CheckoutProblemOut | None
    refunded: CheckoutRefundedOut | None = Field(None, description="what refunds gave back, per line (null: none)")


class CheckoutsOut(Reply):
    """A page of a member's checkouts, newest first."""

    items: list[CheckoutOut]
    next: str | None = Field(description="pass as ?before= for the next (older) page; null: no more")


class RefundStepOut(Reply):
    """One store's part of a refund, made under an id derived from the checkout and refund_id."""

    part: str = Field(description="points | stored_value | gift_card:<number> | coupon:<coupon id>")
    ref: str = Field(description="the refund id the store's own refund was made under")
    fen: int = Field(description="what it gives back (a coupon: its saving)")
    done: bool
    points_restored: int | None = Field(None, description="points: spent points given back")
    points_clawed_back: int | None = Field(None, description="points: earned points taken back")
    growth_clawed_back: int | None = Field(None, description="points: earned growth taken back")
    principal_fen: int | None = Field(None, description="stored value: principal given back")
    bonus_fen: int | None = Field(None, description="stored value: bonus given back")
    coupon_restored: bool | None = Field(None, description="coupon: back to unused (else void: its template's "
                                         "policy, or past its validity)")


class CheckoutRefundOut(Reply):
    """A refund of a checkout: what each line gives back, what each store gave back, and the cash
    the till gives back (the system does not move cash)."""

    checkout_id: str
    refund_id: str
    order_id: str
    status: Literal["refunding", "refunded"] = Field(description="refunding: a store's refund is still to be made "
                                                     "(retry with the same refund_id)")
    checkout_status: Literal["partially_refunded", "refunded"]
    reason: str
    amount_fen: int = Field(description="what this refund gives back of what was paid")
    points_fen: int
    stored_value_fen: int
    gift_cards_fen: int
    cash_fen: int = Field(description="what the till gives back itself (cash, WeChat Pay, Alipay...)")
    lines: list[RefundedLineOut] = Field(description="what each line gives back by this refund (share: after it)")
    steps: list[RefundStepOut]
    created_at: str
    refunded_at: str | None
