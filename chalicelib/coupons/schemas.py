"""Request shapes of the coupon operations (the terms themselves: :mod:`chalicelib.coupons.terms`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictBool, StrictInt, model_validator

from chalicelib.coupons.terms import Terms
from chalicelib.shared.types import PlainText, Strict

Ref = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-.:]+$")
Code = Field(min_length=1, max_length=64, description="the coupon's code (18 digits, as in its QR code or barcode)")
MAX_STOCK = 10_000_000


class Limits(Strict):
    per_member_limit: StrictInt | None = Field(None, ge=1, le=1_000, description="coupons of this template a member "
                                               "may get in all (omitted: no limit)")
    per_member_daily_limit: StrictInt | None = Field(None, ge=1, le=1_000, description="a member may get on one "
                                                     "day (program's time zone)")
    budget_fen: StrictInt | None = Field(None, ge=1, le=10**12, description="the most its write-offs may take off "
                                         "in all, in fen: a write-off past it is refused")
    store_budget_fen: StrictInt | None = Field(None, ge=1, le=10**12, description="the most per store per period")
    store_budget_period: Literal["day", "week", "month"] = Field("day", description="the store budget's period")
    on_refund: Literal["restore", "void"] = Field("restore", description="an undone write-off gives the coupon back "
                                                  "(if still valid) or voids it")
    claimable: StrictBool = Field(True, description="members may claim it themselves (else only issued to them)")


class CreateTemplate(Limits):
    merchant_id: str | None = Field(None, max_length=64, description="the merchant it belongs to (a merchant's "
                                    "caller: its own; HQ: any, or omitted for the program's own)")
    terms: Terms
    stock: StrictInt = Field(ge=0, le=MAX_STOCK, description="coupons it can issue in all (0 only for a third_party "
                             "template, whose imported codes add to it)")
    state: Literal["draft", "active"] = Field("draft", description="active: claimable at once")

    @model_validator(mode="after")
    def _some_stock(self) -> CreateTemplate:
        if self.stock == 0 and self.terms.kind != "third_party":
            raise ValueError("stock must be at least 1 (0 only for a third_party template that imports its codes)")
        if self.stock and self.terms.kind == "third_party" and self.terms.codes != "live":
            raise ValueError("a third_party template's stock is its imported codes: create it with stock 0")
        return self


class UpdateTemplate(Strict):
    terms: Terms | None = Field(None, description="new terms: a new version, for coupons issued from now on")
    add_stock: StrictInt | None = Field(None, ge=1, le=MAX_STOCK)
    remove_stock: StrictInt | None = Field(None, ge=1, le=MAX_STOCK, description="only stock not yet issued")
    per_member_limit: StrictInt | None = Field(None, ge=1, le=1_000)
    per_member_daily_limit: StrictInt | None = Field(None, ge=1, le=1_000)
    budget_fen: StrictInt | None = Field(None, ge=1, le=10**12)
    store_budget_fen: StrictInt | None = Field(None, ge=1, le=10**12)
    claimable: StrictBool | None = None

    @model_validator(mode="after")
    def _something(self) -> UpdateTemplate:
        if not self.model_fields_set:
            raise ValueError("name at least one thing to change")
        if self.add_stock and self.remove_stock:
            raise ValueError("add_stock or remove_stock, not both")
        return self


class SetState(Strict):
    state: Literal["active", "paused", "ended"]


class ClaimCoupon(Strict):
    template_id: str = Field(min_length=1, max_length=64)


class CartLine(Strict):
    sku: str | None = Field(None, max_length=64)
    category: str | None = Field(None, max_length=64)
    quantity: StrictInt = Field(1, ge=1, le=9_999)
    unit_price_fen: StrictInt = Field(ge=0, le=10**9)


class UseCoupon(Strict):
    code: str = Code
    order_id: str = Ref
    merchant_id: str | None = Field(None, max_length=64, description="HQ callers name the merchant")
    store_id: str | None = Field(None, max_length=64)
    member_id: str | None = Field(None, max_length=64, description="the member identified at the till: a coupon of "
                                  "another member is refused")
    template_id: str | None = Field(None, max_length=64, description="a code of a platform verified live: the "
                                    "template it is for (imported codes and ours need none)")
    lines: list[CartLine] | None = Field(None, min_length=1, max_length=500, description="the cart (SKU and category "
                                         "rules need it)")
    order_amount_fen: StrictInt | None = Field(None, ge=0, le=10**11, description="or just the amount: one line")
    channel: str | None = Field(None, max_length=32, pattern=r"^[a-z_]+$")
    shipping_fen: StrictInt = Field(0, ge=0, le=10**7)
    parking_hours: StrictInt = Field(0, ge=0, le=72, description="hours parked (parking coupons take some off)")

    @model_validator(mode="after")
    def _cart(self) -> UseCoupon:
        if (self.lines is None) == (self.order_amount_fen is None):
            raise ValueError("send the cart's lines or its order_amount_fen (one of them)")
        return self


class UndoWriteOff(Strict):
    code: str = Code
    order_id: str = Ref
    reason: PlainText | None = Field(None, max_length=200)
