"""Merchant, store and API-key administration (super admins)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint
from pydantic import Field

from chalicelib.api.auth import staff
from chalicelib.api.endpoint import Call, endpoint
from chalicelib.shared import lazy
from chalicelib.shared.types import Strict

if TYPE_CHECKING:
    from chalicelib.merchants import service
else:
    service = lazy.module("chalicelib.merchants.service")

bp = Blueprint(__name__)
TAGS = ("merchants",)
Slug = Field(pattern=r"^[a-z0-9][a-z0-9\-]{1,39}$", description="lower-case letters, digits, '-'")


class CreateMerchant(Strict):
    merchant_id: str = Slug
    name: str = Field(min_length=1, max_length=100)


class CreateStore(Strict):
    store_id: str = Slug
    name: str = Field(min_length=1, max_length=100)


class RevokeApiKey(Strict):
    reason: str | None = Field(None, max_length=200)


class CreateApiKey(Strict):
    store_id: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9\-]{1,39}$")
    capabilities: list[str] = Field(["pos"], min_length=1, max_length=4,
                                    description="what the key may do: pos, member_login, reports, webhooks")


@endpoint(bp, "/v1/merchants", "POST", "createMerchant", status=201, tags=TAGS, errors=(409,),
          summary="Create a merchant", allow=(staff("super_admin"),), body=CreateMerchant,
          response="chalicelib.merchants.replies:MerchantCreatedOut")
def create_merchant(call: Call):
    return service.create_merchant(call.body.merchant_id, call.body.name, call.uow)


@endpoint(bp, "/v1/merchants/{merchant_id}/stores", "POST", "createStore", status=201, tags=TAGS,
          errors=(404, 409), summary="Create a store of a merchant", allow=(staff("super_admin"),),
          body=CreateStore,
          response="chalicelib.merchants.replies:StoreCreatedOut")
def create_store(call: Call):
    return service.create_store(call.params["merchant_id"], call.body.store_id, call.body.name, call.uow)


@endpoint(bp, "/v1/merchants/{merchant_id}/api-keys", "POST", "createApiKey", status=201, tags=TAGS,
          errors=(404,), summary="Create a signed-request API key (the secret is shown once)",
          allow=(staff("super_admin"),), body=CreateApiKey,
          response="chalicelib.merchants.replies:ApiKeyCreatedOut",
          # a retry with the same Idempotency-Key answers the same key; its record keeps no secret
          secret=(lambda reply: service.without_secret(reply), lambda uow, kept: service.with_secret(uow, kept)))
def create_api_key(call: Call):
    return service.create_api_key(call.params["merchant_id"], call.body.store_id, call.body.capabilities, call.uow)


@endpoint(bp, "/v1/merchants/{merchant_id}/api-keys/{key_id}/revoke", "POST", "revokeApiKey", tags=TAGS,
          errors=(404,), summary="Revoke an API key: refused everywhere within 5 seconds",
          allow=(staff("super_admin"),), body=RevokeApiKey,
          response="chalicelib.merchants.replies:ApiKeyRevokedOut")
def revoke_api_key(call: Call):
    return service.revoke_api_key(call.params["merchant_id"], call.params["key_id"], call.uow)
