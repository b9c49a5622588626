"""Merchant and store administration (super admins); their API keys: :mod:`.key_routes`."""

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
