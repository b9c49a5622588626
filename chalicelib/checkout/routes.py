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


if TYPE_CHECKING:
    from chalicelib.checkout import commits, completion, records
else:
    commits = lazy.module("chalicelib.checkout.commits")
    completion = lazy.module("chalicelib.checkout.completion")
    records = lazy.module("chalicelib.checkout.records")
S = "chalicelib.checkout.schemas:"


@endpoint(bp, "/v1/checkouts", "POST", "commitCheckout", tags=TAGS, status=201, personal=True,
          errors=(403, 404, 409, 422, 423, 429), summary="Commit a quote: its coupons locked, points, stored value and gift "
          "cards held, all or nothing (409: what differs); the Idempotency-Key (required) names every step, so a "
          "retry resumes", allow=TILL, body=S + "CommitCheckout", response=R + "CheckoutOut")
def commit_checkout(call: Call):
    return commits.commit(call.body, call.caller, call.uow, call.idempotency_key)


@endpoint(bp, "/v1/checkouts/{checkout_id}/complete", "POST", "completeCheckout", tags=TAGS, personal=True,
          errors=(404, 409, 422), summary="The payment is confirmed: every hold spent (coupons written off, points, "
          "stored value and gift cards paid) and points earned on the order", allow=TILL,
          body=S + "CompleteCheckout", response=R + "CheckoutOut")
def complete_checkout(call: Call):
    return completion.complete(call.params["checkout_id"], call.body, call.caller, call.uow)


@endpoint(bp, "/v1/checkouts/{checkout_id}/cancel", "POST", "cancelCheckout", tags=TAGS, personal=True,
          errors=(404, 409, 422), summary="Cancel a checkout not completed: every hold released", allow=TILL,
          body=S + "CancelCheckout", response=R + "CheckoutOut")
def cancel_checkout(call: Call):
    return completion.cancel(call.params["checkout_id"], call.body, call.caller, call.uow)


@endpoint(bp, "/v1/checkouts/{checkout_id}", "GET", "getCheckout", tags=TAGS, errors=(404,),
          summary="A checkout: its status, every line's parts, its holds, what it earned", allow=(*TILL, MEMBER),
          response=R + "CheckoutOut")
def get_checkout(call: Call):
    return records.get(call.uow, call.params["checkout_id"], call.caller)


@endpoint(bp, "/v1/members/{member_id}/checkouts", "GET", "listMemberCheckouts", tags=TAGS, errors=(404,),
          summary="The member's checkouts, newest first (a merchant's callers: their own merchant's)",
          allow=(*TILL, MEMBER), query=S + "CheckoutsQuery", response=R + "CheckoutsOut")
def list_member_checkouts(call: Call):
    return records.list_of_member(call.uow, call.params["member_id"], call.caller, call.query.limit,
                                  call.query.before)


if TYPE_CHECKING:
    from chalicelib.checkout import refunds
else:
    refunds = lazy.module("chalicelib.checkout.refunds")


@endpoint(bp, "/v1/checkouts/{checkout_id}/refunds", "POST", "refundCheckout", tags=TAGS, status=201, personal=True,
          errors=(404, 409, 422), summary="Refund a completed checkout by lines (units) or by amount: every part of "
          "each line given back in its share (points, stored value, gift cards by their own refunds; coupons restored "
          "by their template's policy once their lines are refunded in full), and the cash the till gives back; "
          "once per refund_id, never more than was paid (409)", allow=TILL, body=S + "RefundCheckout",
          response=R + "CheckoutRefundOut")
def refund_checkout(call: Call):
    return refunds.refund(call.params["checkout_id"], call.body, call.caller, call.uow)
