"""Pricing over HTTP: HQ's price lists (versioned configuration) and a cart's member prices for a
till or a member's app (a read: nothing changes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib.api.auth import ANY_STAFF, HQ, MEMBER, MERCHANT, TILL
from chalicelib.api.configs import config_endpoints
from chalicelib.api.endpoint import Call, endpoint
from chalicelib.pricing.lists import PRICE_LISTS, PriceLists
from chalicelib.shared import lazy

if TYPE_CHECKING:
    from chalicelib.pricing import service
else:
    service = lazy.module("chalicelib.pricing.service")

bp = Blueprint(__name__)
TAGS = ("pricing",)

config_endpoints(bp, "/v1/price-lists", PRICE_LISTS, "lists", PriceLists, put_id="putPriceLists",
                 get_id="getPriceLists", noun="the price lists (SKU to member price, named by price_list benefits)",
                 tags=TAGS, put_allow=(HQ,), get_allow=(MERCHANT, ANY_STAFF))


@endpoint(bp, "/v1/pricing/carts", "POST", "priceCart", tags=TAGS, idempotent=False, errors=(403, 404),
          summary="A cart at the member's prices (price list or tier discount, the lower, per line) and its "
          "totals; a walk-in customer's at list prices; changes nothing", allow=(*TILL, MEMBER),
          body="chalicelib.pricing.schemas:PriceCart", response="chalicelib.pricing.replies:PricedCartOut")
def price_cart(call: Call):
    return service.price_cart(call.body, call.caller, call.uow)
