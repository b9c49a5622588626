"""What ``quoteCheckout`` takes: a till's (or the member's app's) cart, bounded so that nothing a
till may send overflows: at most :data:`MAX_LINES` lines, each 1..10^4 units at 1..10^9 fen, a
line at most 10^11 fen. Strict integers: a fractional or quoted number is 422."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictInt, model_validator

from chalicelib.shared.types import Strict

MAX_LINES = 200
MAX_QUANTITY = 10_000
MAX_UNIT_FEN = 10**9
MAX_LINE_FEN = 10**11
MAX_CODES = 50
Sku = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\s\x00-\x1f]+$")]


class QuoteLine(Strict):
    sku: Sku
    category: str | None = Field(None, min_length=1, max_length=64)
    quantity: StrictInt = Field(ge=1, le=MAX_QUANTITY)
    unit_price_fen: StrictInt = Field(ge=1, le=MAX_UNIT_FEN, description="the till's list price of one unit")

    @model_validator(mode="after")
    def _bounded(self) -> QuoteLine:
        if self.quantity * self.unit_price_fen > MAX_LINE_FEN:
            raise ValueError(f"a line's total (quantity × unit_price_fen) is at most {MAX_LINE_FEN} fen")
        return self


class Payer(Strict):
    """Who pays, as the payment names them: the payment aggregator's payer id, or a phone the
    customer gives (normalised and checked as registration does)."""

    type: Literal["wechat_openid", "alipay_user_id", "phone"]
    value: str = Field(min_length=1, max_length=64, description="the payer id (WeChat OpenID, Alipay user id) or "
                       "the phone number, in any common format")


class QuoteCheckout(Strict):
    merchant_id: str | None = Field(None, min_length=1, max_length=64, description="the merchant (a till's key or "
                                    "staff: its own; HQ and a member's app name it)")
    store_id: str | None = Field(None, min_length=1, max_length=64, description="the store (a store's key or staff: "
                                 "its own)")
    member_id: str | None = Field(None, min_length=1, max_length=64, description="the member ('me' for a member's "
                                  "own app; a member's token defaults to it)")
    member_code: str | None = Field(None, min_length=1, max_length=32, description="the member's code of the minute "
                                    "(会员码) a till scanned: resolved once, its use committed with the quote")
    payer: Payer | None = Field(None, description="支付即会员: the payer, instead of member_id / member_code: the "
                                "member it belongs to; else, if the program enables pay-as-member, a new member "
                                "registered with the quote (member_created); else a walk-in quote")
    channel: str | None = Field(None, max_length=32, pattern=r"^[a-z_]+$", description="e.g. pos, mini_program")
    lines: list[QuoteLine] = Field(min_length=1, max_length=MAX_LINES)
    use_points: StrictBool = Field(True, description="offset points (false: the member declines; the most is shown)")
    coupon_codes: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        None, max_length=MAX_CODES, description="consider only these coupons of the member (default: every coupon of "
        "theirs usable here now)")

    @model_validator(mode="after")
    def _one_member(self) -> QuoteCheckout:
        if sum(x is not None for x in (self.member_id, self.member_code, self.payer)) > 1:
            raise ValueError("name the member by one of member_id, member_code or payer")
        return self


MAX_CARDS = 5


class CardTender(Strict):
    card_number: str = Field(pattern=r"^9\d{15}$", description="the 16-digit gift card number")
    secret: str = Field(pattern=r"^\d{16}$", description="the card's 16-digit secret (卡密): checked and guarded as "
                        "for a payment, never stored")
    amount_fen: StrictInt = Field(gt=0, le=10**9)


class CommitCheckout(Strict):
    """Apply a quote: every part held at once or none (a 409 says what differs). The commit's
    Idempotency-Key names its steps: a retry resumes them."""

    quote_id: str = Field(min_length=1, max_length=64)
    lines: list[QuoteLine] | None = Field(None, min_length=1, max_length=MAX_LINES, description="the cart again: "
                                          "refused (409) if it differs from the quote's")
    use_points: StrictBool = Field(True, description="false: the member declines the points offset the quote made")
    stored_value_fen: StrictInt = Field(0, ge=0, le=10**11, description="what the member's stored value pays (of "
                                        "what is left after coupons and points)")
    gift_cards: list[CardTender] = Field([], max_length=MAX_CARDS)
    order_id: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-.:]+$",
                                 description="the till's order number (default: the checkout's id)")
    guide_id: str | None = Field(None, min_length=1, max_length=64, description="the staff member who served the "
                                 "member (导购), recorded for the reports")
    ttl_seconds: StrictInt = Field(900, ge=60, le=3600, description="how long the holds last unless completed")

    @model_validator(mode="after")
    def _cards_once(self) -> CommitCheckout:
        numbers = [c.card_number for c in self.gift_cards]
        if len(set(numbers)) != len(numbers):
            raise ValueError("a gift card is named once")
        return self


class CompleteCheckout(Strict):
    payment_ref: str | None = Field(None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_\-.:/]+$", description="the payment's reference at the "
                                    "payment provider (required when cash is to be paid)")


class CancelCheckout(Strict):
    reason: str | None = Field(None, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")


class CheckoutsQuery(Strict):
    limit: int = Field(20, ge=1, le=100)
    before: str | None = Field(None, min_length=1, max_length=128, pattern=r"^[0-9T:.+Z#A-Za-z-]+$",
                               description="the last page's next: older checkouts")


class RefundLineUnits(Strict):
    line: StrictInt = Field(ge=0, lt=MAX_LINES, description="the line's index in the checkout (0-based)")
    quantity: StrictInt = Field(ge=1, le=MAX_QUANTITY, description="units of the line given back")


class RefundCheckout(Strict):
    """Refund (part of) a completed checkout: units of some lines, or an amount spread over the
    lines in proportion to what each has left. Each part of a line comes back in its share."""

    refund_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-.:]+$",
                           description="the till's refund number: a refund is made once per id")
    lines: list[RefundLineUnits] | None = Field(None, min_length=1, max_length=MAX_LINES)
    amount_fen: StrictInt | None = Field(None, gt=0, le=10**11, description="of what was paid (points, stored value, "
                                         "gift cards, cash): spread over the lines in proportion to what each has left")
    reason: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")

    @model_validator(mode="after")
    def _lines_or_amount(self) -> RefundCheckout:
        if (self.lines is None) == (self.amount_fen is None):
            raise ValueError("name the lines refunded or an amount_fen, one of them")
        if self.lines is not None and len({x.line for x in self.lines}) != len(self.lines):
            raise ValueError("name each line once")
        return self
