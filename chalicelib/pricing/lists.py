"""Price lists as HQ saves them (``putPriceLists``): a versioned configuration whose ids the
benefits engine's ``price_list`` benefits name (``Give(kind="price_list", ref=...)``): a rule naming
a list that is not saved is refused, and a version dropping a list a rule names is refused.

One version of every list is one item (:mod:`chalicelib.db.versioned`): DynamoDB's 400 KB an
item, and before that the API's 256 KB a request body, bound it. :data:`MAX_PRICES` SKUs over all
lists, each SKU at most 64 characters and each price at most 10 digits, is ~230 KB of JSON (a test
measures it), under both with room for the names. More SKUs than that need a list per item (a
later design), not a bigger limit.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictInt, field_validator

from chalicelib.db.versioned import VersionedConfig
from chalicelib.shared.types import PlainText, Strict, unique_by

MAX_PRICES = 3_000               # SKUs over all lists of a version: one item, one request body (above)
MAX_PRICE_FEN = 10**9            # ¥10 million a unit, the till's own bound on a unit price
Sku = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\s\x00-\x1f]+$")]
Fen = Annotated[StrictInt, Field(gt=0, le=MAX_PRICE_FEN)]


class PriceList(Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9_\-.:]{1,64}$", description="what a price_list benefit names (ref)")
    name: PlainText = Field(min_length=1, max_length=60)
    prices: dict[Sku, Fen] = Field(min_length=1, max_length=MAX_PRICES,
                                   description="SKU -> the member's unit price in fen (> 0)")


class PriceLists(Strict):
    lists: list[PriceList] = Field([], max_length=100)

    @field_validator("lists")
    @classmethod
    def _bounded(cls, lists: list[PriceList]) -> list[PriceList]:
        unique_by(lists, "id", "price list ids")
        if sum(len(p.prices) for p in lists) > MAX_PRICES:
            raise ValueError(f"at most {MAX_PRICES} prices over all lists (one version is one item of 400 KB)")
        return lists

    def find(self, list_id: str | None) -> PriceList | None:
        """The list of that id, if saved."""
        return next((p for p in self.lists if p.id == list_id), None) if list_id else None


PRICE_LISTS = VersionedConfig("price-lists", PriceLists, PriceLists, "pricing.price_lists_changed", "program:pricing",
                              provides={"price_list": lambda lists: {p.id for p in lists.lists}})
