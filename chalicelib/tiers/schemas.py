"""Request shapes of the tier operations."""

from __future__ import annotations

from datetime import date

from pydantic import Field, StrictBool, StrictInt, model_validator

from chalicelib.shared.types import Strict
from chalicelib.tiers.ladder import Code


class SetTier(Strict):
    tier: str = Code
    until: date = Field(description="the floor holds through this day (program time zone)")
    reason: str = Field(min_length=1, max_length=200)


class HistoryQuery(Strict):
    limit: int = Field(50, ge=1, le=200)
    before: int | None = Field(None, ge=1, description="page: changes numbered below this")


PaymentRef = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-.:]+$",
                   description="the payment's reference at the payment provider: applied once")


class Purchase(Strict):
    plan: str = Code
    payment_ref: str | None = PaymentRef
    amount_fen: StrictInt | None = Field(None, ge=1, le=10**8, description="what was paid: the plan's price")
    trial: StrictBool = Field(False, description="start the plan's free trial (once per member and plan)")

    @model_validator(mode="after")
    def _paid_or_trial(self) -> Purchase:
        # Either both payment fields or (a trial) neither: a purchase with half of them would be a
        # full period that nobody paid for, or a trial the once-per-plan record never sees.
        paid = (self.payment_ref is not None, self.amount_fen is not None)
        if paid != ((False, False) if self.trial else (True, True)):
            raise ValueError("a purchase names payment_ref and amount_fen; a trial names neither")
        return self


class Renewal(Strict):
    payment_ref: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-.:]+$",
                             description="the payment's reference at the payment provider: applied once")
    amount_fen: StrictInt = Field(ge=1, le=10**8)


class Cancellation(Strict):
    reason: str = Field(min_length=1, max_length=200)
