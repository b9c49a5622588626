"""Reply shapes of an order's lines and parts, for the operations that show an order."""

from __future__ import annotations

from pydantic import Field

from chalicelib.shared.types import Reply


class OrderLineOut(Reply):
    sku: str | None = None
    category: str | None = None
    amount_fen: int
    refunded_fen: int = Field(description="refunded of this line so far (an amount refund is spread over "
                                          "what each line has left), rounded down to the fen")


class OrderPartOut(Reply):
    """One money store's part of an order."""

    store: str = Field(description="stored_value | gift_card (points show in earned and spent)")
    ref: str | None = Field(description="within the store: the gift card number; null for stored value")
    amount_fen: int = Field(description="what it paid")
    by_line: list[int] | None = Field(description="its spread over the order's lines, in fen; null unless the "
                                                  "part stated one (stored value and card payments do not): "
                                                  "its refunds are then in proportion to the lines' amounts")
    refunded_fen: int = Field(description="given back so far")
