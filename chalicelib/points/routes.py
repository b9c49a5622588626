"""Points over HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint
from pydantic import Field

from chalicelib.api.auth import ANY_STAFF, HQ, HQ_ROLES, MEMBER, MERCHANT, MERCHANT_ROLES, TILL, staff
from chalicelib.api.endpoint import Call, endpoint
from chalicelib.shared import lazy
from chalicelib.shared.errors import ValidationProblem
from chalicelib.shared.types import Strict

if TYPE_CHECKING:
    from chalicelib.points import service
else:
    service = lazy.module("chalicelib.points.service")

bp = Blueprint(__name__)
TAGS = ("points",)


class HoldAction(Strict):
    point_type: str = Field("points", pattern=r"^[a-z][a-z0-9_]{0,31}$")


class OrderQuery(Strict):
    merchant_id: str | None = Field(None, max_length=64, description="HQ staff: the merchant of the order")


@endpoint(bp, "/v1/members/{member_id}/points/earn", "POST", "earnPoints", tags=TAGS, status=201, errors=(404, 409),
          summary="Earn points (and growth value) for a paid order, under the rules in force when it was paid",
          allow=(MERCHANT, HQ), body="chalicelib.points.schemas:EarnForOrder", response="chalicelib.points.replies:EarnOut")
def earn_points(call: Call):
    return service.earn(call.params["member_id"], call.body, call.caller, call.uow, call.idempotency_key)


@endpoint(bp, "/v1/members/{member_id}/points/behaviors", "POST", "recordBehavior", tags=TAGS, status=201,
          errors=(404, 409), summary="Reward a behaviour: check-in (with streaks), referral, review, share, profile completion, custom",
          allow=(MEMBER, MERCHANT, HQ), body="chalicelib.points.schemas:RecordBehavior", response="chalicelib.points.replies:PointsBehaviorOut")
def record_behavior(call: Call):
    return service.record_behavior(call.params["member_id"], call.body, call.caller, call.uow, call.idempotency_key)


@endpoint(bp, "/v1/members/{member_id}/points/redeem", "POST", "redeemPoints", tags=TAGS, errors=(404, 409),
          summary="Spend points, soonest-expiring first: as a cash offset on an order or for a reward",
          allow=(MEMBER, *TILL), body="chalicelib.points.schemas:Redeem", response="chalicelib.points.replies:RedeemOut")
def redeem_points(call: Call):
    return service.redeem(call.params["member_id"], call.body, call.caller, call.uow, call.idempotency_key)


@endpoint(bp, "/v1/members/{member_id}/points/holds", "POST", "holdPoints", tags=TAGS, status=201, errors=(404, 409),
          summary="Reserve points for a checkout; confirm or cancel it, or it lapses after ttl_seconds",
          allow=TILL, body="chalicelib.points.schemas:Hold", response="chalicelib.points.replies:HoldOut")
def hold_points(call: Call):
    return service.hold(call.params["member_id"], call.body, call.caller, call.uow, call.idempotency_key)


@endpoint(bp, "/v1/members/{member_id}/points/holds/{hold_id}", "GET", "getPointsHold", tags=TAGS, errors=(404,),
          summary="Read a checkout hold (its merchant's own)", allow=TILL, query=HoldAction,
          response="chalicelib.points.replies:PointsHoldShown")
def get_hold(call: Call):
    return service.get_hold(call.uow, call.params["member_id"], call.params["hold_id"], call.query.point_type,
                            call.caller)


@endpoint(bp, "/v1/orders/{order_id}", "GET", "getOrder", tags=TAGS, errors=(404,),
          summary="What an order earned, spent and had refunded (the merchant's own; HQ names merchant_id)",
          allow=(MERCHANT, staff(*HQ_ROLES, *MERCHANT_ROLES)), query=OrderQuery,
          response="chalicelib.points.replies:OrderOut")
def get_order(call: Call):
    merchant = service.order_merchant(call.uow, call.caller, call.query.merchant_id)
    return service.get_order(call.uow, call.params["order_id"], merchant, call.caller)


@endpoint(bp, "/v1/members/{member_id}/points/holds/{hold_id}/confirm", "POST", "confirmPointsHold", tags=TAGS,
          errors=(404, 409), summary="Spend the held points", allow=TILL, body=HoldAction,
          response="chalicelib.points.replies:HoldSettledOut")
def confirm_hold(call: Call):
    return service.confirm_hold(call.params["member_id"], call.params["hold_id"], call.body.point_type,
                                call.caller, call.uow, call.idempotency_key)


@endpoint(bp, "/v1/members/{member_id}/points/holds/{hold_id}/cancel", "POST", "cancelPointsHold", tags=TAGS,
          errors=(404, 409), summary="Give the held points back to their lots", allow=TILL, body=HoldAction,
          response="chalicelib.points.replies:HoldSettledOut")
def cancel_hold(call: Call):
    return service.release_hold(call.params["member_id"], call.params["hold_id"], call.body.point_type,
                                call.caller, call.uow, call.idempotency_key)


class OrdersQuery(Strict):
    limit: int = Field(50, ge=1, le=200)
    before: str | None = Field(None, max_length=200, pattern=r"^[!-~]+$",
                               description="the `next_before` of the previous page")


@endpoint(bp, "/v1/members/{member_id}/orders", "GET", "listOrders", tags=TAGS, errors=(404,),
          summary="A member's orders, newest first, with what each earned, spent and had refunded "
                  "(a merchant sees its own)",
          allow=(MEMBER, MERCHANT, ANY_STAFF), query=OrdersQuery, response="chalicelib.points.replies:OrdersOut")
def list_orders(call: Call):
    q = call.query
    return service.list_orders(call.uow, call.params["member_id"], call.caller, q.limit, q.before)


@endpoint(bp, "/v1/orders/{order_id}/refunds", "POST", "refundOrder", tags=TAGS, status=201, errors=(404, 409),
          summary="Refund part or all of an order: claw back its points, give back the points it spent",
          allow=(MERCHANT, HQ), body="chalicelib.points.schemas:Refund", response="chalicelib.points.replies:RefundOut")
def refund_order(call: Call):
    if len(call.params["order_id"]) > 64:
        raise ValidationProblem("order_id is at most 64 characters")
    return service.refund(call.params["order_id"], call.body, call.caller, call.uow, call.idempotency_key)


@endpoint(bp, "/v1/members/{member_id}/points/adjustments", "POST", "adjustPoints", tags=TAGS, status=201,
          errors=(404, 409), summary="Add or remove points by hand, with a reason (audited in the ledger)",
          allow=(HQ,), body="chalicelib.points.schemas:Adjust", response="chalicelib.points.replies:PointsAdjustOut")
def adjust_points(call: Call):
    return service.adjust(call.params["member_id"], call.body, call.caller, call.uow, call.idempotency_key)


@endpoint(bp, "/v1/members/{member_id}/points", "GET", "getPointsAccount", tags=TAGS, errors=(404,),
          summary="Balances by point type: available, pending, held, debt, expiring soon, next lots",
          allow=(MEMBER, MERCHANT, ANY_STAFF), response="chalicelib.points.replies:AccountOut")
def get_account(call: Call):
    return service.account(call.uow, call.params["member_id"], call.caller)


@endpoint(bp, "/v1/members/{member_id}/points/ledger", "GET", "listPointsLedger", tags=TAGS, errors=(404,),
          summary="The member's postings, newest first; page with next_before",
          allow=(MEMBER, MERCHANT, ANY_STAFF), query="chalicelib.points.schemas:LedgerQuery", response="chalicelib.points.replies:PointsLedgerOut")
def list_ledger(call: Call):
    q = call.query
    return service.ledger_page(call.uow, call.params["member_id"], q.point_type, q.limit, q.before, call.caller)


@endpoint(bp, "/v1/points/rules", "PUT", "putEarnRules", tags=TAGS, status=201,
          summary="Save a new version of the points program (earn, caps, expiry, redemption, behaviours)",
          allow=(HQ,), body="chalicelib.points.schemas:PutRules", response="chalicelib.points.replies:EarnRulesSaved")
def put_rules(call: Call):
    return service.put_rules(call.body.rules, call.body.effective_from, call.caller, call.uow)


@endpoint(bp, "/v1/points/rules", "GET", "getEarnRules", tags=TAGS,
          summary="The program version in force (now, or at ?at=) and the list of versions",
          allow=(ANY_STAFF,), query="chalicelib.points.schemas:RulesQuery", response="chalicelib.points.replies:EarnRulesInForce")
def get_rules(call: Call):
    return service.get_rules(call.uow, call.query.at)


@endpoint(bp, "/v1/points/rules/preview", "POST", "previewEarn", tags=TAGS, errors=(403, 404), idempotent=False,
          reads=True, summary="What an order would earn (points, growth, the rule behind each factor) under the "
                              "rules in force or an unsaved version: a dry run, nothing is booked",
          allow=(MERCHANT, ANY_STAFF), body="chalicelib.points.schemas:PreviewEarn",
          response="chalicelib.points.preview:EarnPreviewOut")
def preview_earn(call: Call):
    return service.preview_earn(call.body, call.caller, call.uow)


@endpoint(bp, "/v1/points/liability", "GET", "getPointsLiability", tags=TAGS,
          summary="Outstanding points by expiry month with their money value; issued/redeemed/expired per period",
          allow=(HQ,), query="chalicelib.points.schemas:LiabilityQuery", response="chalicelib.points.replies:PointsLiabilityOut")
def get_liability(call: Call):
    q = call.query
    return service.liability(call.uow, q.point_type, q.start, q.end)


@endpoint(bp, "/v1/points/reconciliation", "GET", "reconcilePoints", tags=TAGS, errors=(404,),
          summary="Prove balances = postings = lots, for one member (member_id) or every account",
          allow=(HQ,), query="chalicelib.points.schemas:ReconcileQuery", response="chalicelib.points.replies:PointsReconciliationOut")
def reconcile_points(call: Call):
    q = call.query
    return service.reconciliation(call.uow, q.member_id, q.limit, call.caller)
