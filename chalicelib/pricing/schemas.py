"""What ``priceCart`` takes."""

from __future__ import annotations

from pydantic import Field, StrictInt

from chalicelib.pricing.lists import MAX_PRICE_FEN, Sku
from chalicelib.shared.types import Instant, Strict

MAX_LINES = 500                  # the coupons' cart bound: a till's basket, not a warehouse
MAX_QUANTITY = 9_999


class PriceCartLine(Strict):
    sku: Sku
    category: str | None = Field(None, max_length=64)
    quantity: StrictInt = Field(1, ge=1, le=MAX_QUANTITY)
    unit_price_fen: StrictInt = Field(ge=0, le=MAX_PRICE_FEN, description="the till's list price of one unit")


class PriceCart(Strict):
    member_id: str | None = Field(None, min_length=1, max_length=64, description="the member identified ('me' "
                                  "for a member's own app; a member's token defaults to it); none: a walk-in "
                                  "customer, list prices")
    lines: list[PriceCartLine] = Field(min_length=1, max_length=MAX_LINES)
    at: Instant | None = Field(None, description="price as at this instant (default: now), e.g. an order's time: "
                               "the lists, rules and tier in force then")
