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
    created_by: str = Field(description="who created it: staff:<subject>")


class ApiKeyRotatedOut(ApiKeyCreatedOut):
    """The new key that replaces a rotated one, with its secret: shown this once. The old key
    works until ``retires_at``, then is refused (401)."""

    rotated_from: str = Field(description="the key it replaces")
    retires_at: str = Field(description="when the old key stops working (UTC)")


class ApiKeyOut(Reply):
    """One of a merchant's API keys: never its secret."""

    key_id: str
    merchant_id: str
    store_id: str | None = Field(description="the store the key is scoped to (null: the whole merchant)")
    capabilities: list[Literal["pos", "member_login", "reports", "webhooks"]]
    status: Literal["active", "retiring", "retired", "revoked"] = Field(
        description="retiring: rotated, still accepted until retires_at; retired: rotated, refused since retires_at")
    created_at: str
    created_by: str | None = Field(description="who created it (null: a key from before this was recorded)")
    last_used_at: str | None = Field(description="when a request it signed last authenticated (UTC, to within a "
                                                 "minute; null: not since this was recorded)")
    retires_at: str | None = Field(description="a rotated key: when it stops (or stopped) working")
    rotated_from: str | None = Field(description="the key this one replaced")
    replaced_by: str | None = Field(description="the key that replaced this one")


class ApiKeysOut(Reply):
    """A page of a merchant's API keys, oldest first."""

    merchant_id: str
    keys: list[ApiKeyOut]
    next: str | None = Field(description="the cursor of the next page (null: the last page)")


class ApiKeyRevokedOut(Reply):
    """The revoked API key."""

    key_id: str
    merchant_id: str
    status: Literal["revoked"]
    revoked_at: str = Field(description="when the key was revoked: a revoke of a revoked key answers the first "
                                        "revocation's time (a key revoked before this was kept: the time of the call)")
    effective_within_seconds: float = Field(description="seconds within which every server refuses the key (5.0)")
