"""Request shapes of the gift card operations. A secret is never echoed in a refusal: validation
problems name the field and the rule, not the value."""

from __future__ import annotations

from datetime import date

from pydantic import Field, StrictBool, StrictInt, model_validator

from chalicelib.shared.types import Strict

Ref = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-.:]+$")
Number = Field(pattern=r"^9\d{15}$", description="the 16-digit card number printed on the card")
Secret = Field(pattern=r"^\d{16}$", description="the 16-digit card secret (卡密)")
ANONYMOUS_CAP_FEN = 100_000          # ¥1,000: an anonymous single-purpose prepaid card holds at most this
MAX_BATCH = 100_000


class CreateBatch(Strict):
    name: str = Field(min_length=1, max_length=64)
    face_value_fen: StrictInt = Field(gt=0, le=ANONYMOUS_CAP_FEN,
                                      description="at most ¥1,000 (anonymous prepaid cards, the prepaid-card measures)")
    count: StrictInt = Field(gt=0, le=MAX_BATCH)
    valid_until: date = Field(description="the last day (program date) a card can be used")
    channel: str = Field("corporate", min_length=1, max_length=32, pattern=r"^[a-z_]+$",
                         description="how the batch is sold: corporate, store, online...")
    merchant_ids: list[str] | None = Field(None, min_length=1, max_length=50,
                                           description="merchants that accept the cards (omitted: all)")
    issuer_merchant_id: str | None = Field(None, max_length=64,
                                           description="the merchant whose prepaid liability the cards are")


class SellCards(Strict):
    invoice_ref: str = Ref
    purchaser: str = Field(min_length=1, max_length=128, description="the buying company or person")
    first_number: str | None = Field(None, pattern=r"^9\d{15}$", description="the range's first card (omitted: "
                                     "every unsold card of the batch)")
    last_number: str | None = Field(None, pattern=r"^9\d{15}$")
    price_fen: StrictInt | None = Field(None, ge=0, le=10**11,
                                        description="what the purchaser paid (default: face value); less is a discount")
    activate: StrictBool = Field(True, description="usable at once (false: each card is activated later)")

    @model_validator(mode="after")
    def _range(self) -> SellCards:
        if (self.first_number is None) != (self.last_number is None):
            raise ValueError("name both first_number and last_number, or neither (the whole batch)")
        return self


class CardSecret(Strict):
    card_number: str = Number
    secret: str = Secret


class PayWithCard(CardSecret):
    amount_fen: StrictInt = Field(gt=0, le=10**9)
    order_id: str = Ref
    merchant_id: str | None = Field(None, max_length=64)
    store_id: str | None = Field(None, max_length=64)


class HoldWithCard(PayWithCard):
    ttl_seconds: StrictInt = Field(600, ge=30, le=86_400, description="the hold lapses after this")


class RefundCardPayment(Strict):
    card_number: str = Number
    refund_id: str = Ref
    amount_fen: StrictInt = Field(gt=0, le=10**9, description="fen given back onto the card by this refund")
    merchant_id: str | None = Field(None, max_length=64)
    store_id: str | None = Field(None, max_length=64)


class VoidCard(Strict):
    reason: str = Field(min_length=3, max_length=200)


class PayOutVoided(Strict):
    refund_ref: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-.:]+$",
                            description="the reference of the payment back to the buyer")
    reason: str = Field(min_length=3, max_length=200)


class ExtendCard(Strict):
    valid_until: date = Field(description="the card's new last day of use (after its current one and today)")
    reason: str = Field(min_length=3, max_length=200)


class RecogniseBreakage(Strict):
    reason: str = Field(min_length=3, max_length=200, description="the decision (who offered the holder an "
                        "extension or replacement, and when)")


class BatchQuery(Strict):
    counts: bool = Field(False, description="count the batch's cards by state and their outstanding value "
                                            "(reads every card of the batch)")


class ReconcileQuery(Strict):
    batch_id: str | None = Field(None, max_length=16, description="one batch (omitted: every batch and issuer)")
