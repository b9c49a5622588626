"""What the merchant, store and API key operations answer: the OpenAPI response schemas.

Each model forbids undocumented fields, and a test validates real replies against the served
document, so a field cannot appear without its description here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.shared.types import Reply


class MerchantCreatedOut(Reply):
    """The new merchant."""

    merchant_id: str
    name: str
    created_at: str


class StoreCreatedOut(Reply):
    """The new store of the merchant."""

    merchant_id: str
    store_id: str
    name: str
    created_at: str


class ApiKeyCreatedOut(Reply):
    """The new API key, with its secret: shown this once, never stored or shown again."""

    key_id: str = Field(description="sent as X-Api-Key")
    secret: str = Field(description="the key's signing secret (hex): keep it; it is not shown again")
    program_id: str = Field(description="the program the key acts in")
    merchant_id: str
    store_id: str | None = Field(description="the store the key is scoped to (null: the whole merchant)")
    capabilities: list[Literal["pos", "member_login", "reports", "webhooks"]] = Field(
        description="what the key may do, sorted")
    status: Literal["active"]
    created_at: str


class ApiKeyRevokedOut(Reply):
    """The revoked API key."""

    key_id: str
    merchant_id: str
    status: Literal["revoked"]
    revoked_at: str = Field(description="when this request revoked it (a key revoked before keeps its first "
                                        "revocation; this is the time of the call)")
    effective_within_seconds: float = Field(description="seconds within which every server refuses the key (5.0)")
