"""Merchant and store administration (super admins), and the directory of merchants and stores as the
console reads and changes them; their API keys: :mod:`.key_routes`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from chalice import Blueprint
from pydantic import Field, StrictInt

from chalicelib.api.auth import ANY_STAFF, staff
from chalicelib.api.endpoint import Call, endpoint
from chalicelib.shared import lazy
from chalicelib.shared.errors import ValidationProblem
from chalicelib.shared.types import PlainText, Strict

if TYPE_CHECKING:
    from chalicelib.merchants import directory, service
else:
    service = lazy.module("chalicelib.merchants.service")
    directory = lazy.module("chalicelib.merchants.directory")

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


# --- the directory: merchants and stores as the console reads and changes them (#28 item 5) ---

Status = Literal["active", "suspended"]
D = "chalicelib.merchants.directory_replies:"
VERSION_READ = Field(ge=0, description="the version you read: refused (409 version-changed) if it changed since")


class DirectoryQuery(Strict):
    after: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9\-]{1,39}$", description="the next of the page before")
    limit: int = Field(50, ge=1, le=100)


class UpdateMerchant(Strict):
    version: StrictInt = VERSION_READ
    name: PlainText | None = Field(None, min_length=1, max_length=100)
    contact_name: PlainText | None = Field(None, min_length=1, max_length=64, description="null clears it")
    contact_phone: str | None = Field(None, pattern=r"^\+?[0-9][0-9 \-]{4,30}$", description="null clears it")
    status: Status | None = Field(None, description="super admins only")


class UpdateStore(Strict):
    version: StrictInt = VERSION_READ
    name: PlainText | None = Field(None, min_length=1, max_length=100)
    address: PlainText | None = Field(None, min_length=1, max_length=200, description="null clears it")
    latitude: float | None = Field(None, ge=-90, le=90, allow_inf_nan=False,
                                   description="with longitude; null (both) clears the location")
    longitude: float | None = Field(None, ge=-180, le=180, allow_inf_nan=False)
    status: Status | None = Field(None, description="super admins and merchant admins only")


def _given(body: Strict, required: tuple[str, ...]) -> dict:
    """The fields a PATCH sets (null clears), at least one; ``required`` ones never null."""
    values = {f: getattr(body, f) for f in body.model_fields_set - {"version"}}
    if not values:
        raise ValidationProblem("give at least one field to change")
    if nulls := sorted(f for f in required if f in values and values[f] is None):
        raise ValidationProblem(f"{', '.join(nulls)} cannot be null")
    return values


@endpoint(bp, "/v1/merchants", "GET", "listMerchants", tags=TAGS, summary="The program's merchants, a page at a "
          "time (merchant staff: their own)", allow=(ANY_STAFF,), query=DirectoryQuery, response=D + "MerchantPageOut")
def list_merchants(call: Call):
    return directory.list_merchants(call.uow, call.caller, call.query.limit, call.query.after)


@endpoint(bp, "/v1/merchants/{merchant_id}", "GET", "getMerchant", tags=TAGS, errors=(403, 404),
          summary="A merchant (merchant staff: their own; the contact masked but for HQ operators)",
          allow=(ANY_STAFF,), response=D + "MerchantOut")
def get_merchant(call: Call):
    return directory.get_merchant(call.uow, call.caller, call.params["merchant_id"])


@endpoint(bp, "/v1/merchants/{merchant_id}", "PATCH", "updateMerchant", tags=TAGS, errors=(403, 404, 409),
          summary="Change a merchant's name, contact or status (a merchant admin: its own, not its status)",
          allow=(staff("super_admin", "merchant_admin"),), body=UpdateMerchant, response=D + "MerchantOut")
def update_merchant(call: Call):
    values = _given(call.body, ("name", "status"))
    return directory.update_merchant(call.uow, call.caller, call.params["merchant_id"], call.body.version, values)


@endpoint(bp, "/v1/merchants/{merchant_id}/stores", "GET", "listStores", tags=TAGS, errors=(403, 404),
          summary="A merchant's stores, a page at a time (merchant staff: their own merchant's)",
          allow=(ANY_STAFF,), query=DirectoryQuery, response=D + "StorePageOut")
def list_stores(call: Call):
    return directory.list_stores(call.uow, call.caller, call.params["merchant_id"], call.query.limit, call.query.after)


@endpoint(bp, "/v1/merchants/{merchant_id}/stores/{store_id}", "GET", "getStore", tags=TAGS, errors=(403, 404),
          summary="A store (store staff: their own)", allow=(ANY_STAFF,), response=D + "StoreOut")
def get_store(call: Call):
    return directory.get_store(call.uow, call.caller, call.params["merchant_id"], call.params["store_id"])


@endpoint(bp, "/v1/merchants/{merchant_id}/stores/{store_id}", "PATCH", "updateStore", tags=TAGS,
          errors=(403, 404, 409), summary="Change a store's name, address, location or status (a merchant admin: "
          "its merchant's; a store manager: its own store's name and address)",
          allow=(staff("super_admin", "merchant_admin", "store_manager"),), body=UpdateStore, response=D + "StoreOut")
def update_store(call: Call):
    values = _given(call.body, ("name", "status"))
    return directory.update_store(call.uow, call.caller, call.params["merchant_id"], call.params["store_id"],
                                  call.body.version, values)
