"""Checkout over HTTP: a till's (or the member's app's) quote, and reading it back."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib.api.auth import MEMBER, TILL
from chalicelib.api.endpoint import Call, endpoint
from chalicelib.shared import lazy

if TYPE_CHECKING:
    from chalicelib.checkout import service
else:
    service = lazy.module("chalicelib.checkout.service")

bp = Blueprint(__name__)
TAGS = ("checkout",)
R = "chalicelib.checkout.replies:"


@endpoint(bp, "/v1/checkouts/quotes", "POST", "quoteCheckout", tags=TAGS, status=201, personal=True,
          errors=(403, 404, 409, 422, 429), summary="Quote a cart: member prices, the best combination of the member's "
          "coupons (and why not the others), the most points the rules allow, stored value, every line's parts to "
          "the fen; an offer for 5 minutes (a walk-in customer: list prices)", allow=(*TILL, MEMBER),
          body="chalicelib.checkout.schemas:QuoteCheckout", response=R + "QuoteOut")
def quote_checkout(call: Call):
    return service.quote(call.body, call.caller, call.uow)


@endpoint(bp, "/v1/checkouts/quotes/{quote_id}", "GET", "getCheckoutQuote", tags=TAGS, errors=(404,),
          summary="A quote as it was answered, open or expired (another merchant's, store's or member's: 404)",
          allow=(*TILL, MEMBER), response=R + "QuoteOut")
def get_checkout_quote(call: Call):
    return service.get_quote(call.uow, call.params["quote_id"], call.caller)
