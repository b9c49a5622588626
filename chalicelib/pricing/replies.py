"""What the pricing operations answer (``priceCart``; the price lists' replies are built by
:func:`chalicelib.api.configs.config_endpoints`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.shared.types import Reply


class PricedLineOut(Reply):
    """One line at the member's price."""

    line: int = Field(description="the line's index in the cart (0-based)")
    sku: str
    category: str | None
    quantity: int
    unit_price_fen: int = Field(description="the till's list price of one unit")
    member_unit_price_fen: int | None = Field(description="the member's price of one unit; null when a percentage "
                                              "rounded on the line total leaves a fen no unit price expresses")
    list_total_fen: int = Field(description="unit_price_fen × quantity")
    member_total_fen: int = Field(description="what the member pays for the line: never above list_total_fen, never "
                                  "below 0")
    discount_fen: int = Field(description="list_total_fen - member_total_fen")
    rule: Literal["price_list", "discount_percent", "list_price"] = Field(
        description="what set the member's price: the price list, the tier discount (the lower for the customer, "
        "never both), or neither (the list price)")
    benefit_rule: str | None = Field(description="the benefit rule that gave the price list or discount")
    price_list: str | None = Field(description="the price list whose price was taken")


class PricedCartOut(Reply):
    """A cart at the member's prices: each line, the rule that set it, and the totals."""

    member_id: str | None = Field(description="the member priced for; null: a walk-in customer (list prices)")
    tier: str | None = Field(description="the member's tier at the time")
    at: str = Field(description="the instant priced at (ISO 8601, UTC)")
    price_list: str | None = Field(description="the member's price list in force (null if none)")
    price_list_version: int = Field(description="the version of the price lists in force (0: none saved)")
    discount_percent: int | None = Field(description="the member's deepest tier discount in force (null if none)")
    lines: list[PricedLineOut]
    list_total_fen: int = Field(description="the sum of the lines' list totals")
    member_total_fen: int = Field(description="the sum of the lines' member totals")
    discount_fen: int = Field(description="the sum of the lines' discounts")
