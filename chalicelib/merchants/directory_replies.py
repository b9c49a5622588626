"""What the directory operations answer (merchants and stores as the console reads them): the
OpenAPI response schemas, each forbidding undocumented fields."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.shared.types import Reply

VERSION = "send it back with the update: a change made meanwhile refuses yours (409 version-changed)"


class MerchantOut(Reply):
    """A merchant of the program."""

    merchant_id: str
    name: str
    status: Literal["active", "suspended"]
    contact_name: str | None = Field(description="the merchant's contact: masked (first character) unless "
                                                 "pii_masked is false")
    contact_phone: str | None = Field(description="masked (138****8821) unless pii_masked is false")
    pii_masked: bool = Field(description="true: the contact is masked (only HQ operators see it in full)")
    version: int = Field(description=VERSION)
    created_at: str
    updated_at: str | None


class MerchantPageOut(Reply):
    """A page of merchants in id order (merchant staff: their own merchant only)."""

    merchants: list[MerchantOut]
    next: str | None = Field(description="the cursor of the next page (send it as after); null: the last page")


class StoreOut(Reply):
    """A store of a merchant."""

    merchant_id: str
    store_id: str
    name: str
    status: Literal["active", "suspended"]
    address: str | None
    latitude: float | None = Field(description="degrees north (-90..90), for location-based audiences")
    longitude: float | None = Field(description="degrees east (-180..180)")
    version: int = Field(description=VERSION)
    created_at: str
    updated_at: str | None


class StorePageOut(Reply):
    """A page of the merchant's stores in id order."""

    stores: list[StoreOut]
    next: str | None = Field(description="the cursor of the next page (send it as after); null: the last page")
