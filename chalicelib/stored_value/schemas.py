"""Request shapes of the stored value operations."""

from __future__ import annotations

from datetime import date

from pydantic import Field, StrictInt

from chalicelib.shared.types import Strict

Ref = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-.:]+$")
Amount = Field(gt=0, le=10**9, description="fen")


class TopUp(Strict):
    amount_fen: StrictInt = Amount
    payment_ref: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-.:]+$",
                             description="the payment's reference at the provider: applied once")
    merchant_id: str | None = Field(None, max_length=64, description="the merchant that took the payment (staff "
                                    "name it; a till's is its own): its daily top-up limits count it. The program "
                                    "issues members' stored value")
    store_id: str | None = Field(None, max_length=64)


class Pay(Strict):
    amount_fen: StrictInt = Amount
    order_id: str = Ref
    merchant_id: str | None = Field(None, max_length=64)
    store_id: str | None = Field(None, max_length=64)


class RefundPayment(Strict):
    refund_id: str = Ref
    amount_fen: StrictInt = Amount
    merchant_id: str | None = Field(None, max_length=64)


class CashOut(Strict):
    reason: str = Field(min_length=3, max_length=200)
    refund_ref: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-.:]+$",
                                   description="the original payment route's reference for the refund")


class CashOutDecision(Strict):
    reason: str | None = Field(None, min_length=3, max_length=200, description="why (a rejection needs one)")


class LedgerQuery(Strict):
    limit: int = Field(50, ge=1, le=200)
    before: int | None = Field(None, ge=1)


class ReconcileQuery(Strict):
    member_id: str | None = Field(None, max_length=64)
    limit: int = Field(1000, ge=1, le=10_000)


class DayQuery(Strict):
    day: date | None = Field(None, description="the program date (default: today)")


class HoldRequest(Strict):
    amount_fen: StrictInt = Field(gt=0, le=10**9)
    order_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-.:]+$")
    merchant_id: str | None = Field(None, max_length=64)
    store_id: str | None = Field(None, max_length=64)
    ttl_seconds: StrictInt = Field(600, ge=30, le=86_400, description="the hold lapses after this")
