"""A merchant's API keys: create, list, rotate, revoke (super admins for any merchant of the
program; a merchant admin for its own merchant's; reads also the program-wide readers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint
from pydantic import Field, StrictInt, field_validator

from chalicelib.api.auth import staff
from chalicelib.api.endpoint import Call, endpoint
from chalicelib.shared import lazy
from chalicelib.shared.types import Strict

if TYPE_CHECKING:
    from chalicelib.merchants import keys
else:
    keys = lazy.module("chalicelib.merchants.keys")

bp = Blueprint(__name__)
TAGS = ("merchants",)
R = "chalicelib.merchants.replies:"
KEYS = "/v1/merchants/{merchant_id}/api-keys"
KEY_ADMINS = (staff("super_admin", "merchant_admin"),)     # a merchant admin: its own merchant's keys
# a retry with the same Idempotency-Key answers the same key; its record keeps no secret
SECRET = (lambda reply: keys.without_secret(reply), lambda uow, kept: keys.with_secret(uow, kept))


class CreateApiKey(Strict):
    store_id: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9\-]{1,39}$")
    capabilities: list[str] = Field(["pos"], min_length=1, max_length=4,
                                    description="what the key may do: pos, member_login (HQ only), reports, webhooks; "
                                    "each once")

    @field_validator("capabilities")
    @classmethod
    def _once(cls, capabilities: list[str]) -> list[str]:
        if len(set(capabilities)) != len(capabilities):
            raise ValueError("capabilities must be unique")
        return capabilities


class ApiKeysQuery(Strict):
    after: str | None = Field(None, max_length=200, pattern=r"^[!-~]+$",
                              description="the page after this cursor (the reply's next)")
    limit: int = Field(50, ge=1, le=100)


class RotateApiKey(Strict):
    overlap_hours: StrictInt = Field(24, ge=1, le=168, description="how long the old key keeps working (1 to 168 hours)")


class RevokeApiKey(Strict):
    reason: str | None = Field(None, max_length=200)


@endpoint(bp, KEYS, "POST", "createApiKey", status=201, tags=TAGS, errors=(403, 404),
          summary="Create a signed-request API key (the secret is shown once)", allow=KEY_ADMINS,
          body=CreateApiKey, response=R + "ApiKeyCreatedOut", secret=SECRET)
def create_api_key(call: Call):
    """A new key of the merchant."""
    return keys.create_api_key(call.caller, call.params["merchant_id"], call.body.store_id, call.body.capabilities,
                               call.uow)


@endpoint(bp, KEYS, "GET", "listApiKeys", tags=TAGS, errors=(403, 404),
          summary="A merchant's API keys, oldest first (never a secret)", allow=KEY_ADMINS,
          query=ApiKeysQuery, response=R + "ApiKeysOut")
def list_api_keys(call: Call):
    """The merchant's keys."""
    return keys.listing(call.uow, call.caller, call.params["merchant_id"], call.query.limit, call.query.after)


@endpoint(bp, KEYS + "/{key_id}/rotate", "POST", "rotateApiKey", status=201, tags=TAGS, errors=(403, 404, 409),
          summary="Replace a key: a new key (its secret shown once); the old one works for the overlap, then is "
          "refused", allow=KEY_ADMINS, body=RotateApiKey, response=R + "ApiKeyRotatedOut", secret=SECRET)
def rotate_api_key(call: Call):
    """A new key in place of an active one."""
    return keys.rotate_api_key(call.caller, call.params["merchant_id"], call.params["key_id"],
                               call.body.overlap_hours, call.uow)


@endpoint(bp, KEYS + "/{key_id}/revoke", "POST", "revokeApiKey", tags=TAGS, errors=(403, 404),
          summary="Revoke an API key: refused everywhere within 5 seconds", allow=KEY_ADMINS, body=RevokeApiKey,
          response=R + "ApiKeyRevokedOut")
def revoke_api_key(call: Call):
    """The key, revoked."""
    return keys.revoke_api_key(call.caller, call.params["merchant_id"], call.params["key_id"], call.uow)
