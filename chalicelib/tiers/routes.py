"""Tiers over HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib.api.auth import ANY_STAFF, HQ_ROLES, MEMBER, MERCHANT, staff
from chalicelib.api.configs import config_endpoints
from chalicelib.api.endpoint import Call, endpoint
from chalicelib.shared import lazy
from chalicelib.tiers.ladder import LADDER, Ladder
from chalicelib.tiers.plans import PLANS, Plans

if TYPE_CHECKING:
    from chalicelib.tiers import membership, service
else:
    membership = lazy.module("chalicelib.tiers.membership")
    service = lazy.module("chalicelib.tiers.service")

bp = Blueprint(__name__)
TAGS = ("tiers",)
HQ = staff(*HQ_ROLES)


config_endpoints(bp, "/v1/tiers/ladder", LADDER, "ladder", Ladder, put_id="putTierLadder", get_id="getTierLadder",
                 noun="the tier ladder (thresholds, validity, retention, downgrade policy)", tags=TAGS,
                 put_allow=(HQ,), get_allow=(MERCHANT, ANY_STAFF))
config_endpoints(bp, "/v1/memberships/plans", PLANS, "plans", Plans, put_id="putMembershipPlans",
                 get_id="getMembershipPlans", noun="the paid membership (PLUS) plans and the refund policy", tags=TAGS,
                 put_allow=(HQ,), get_allow=(MEMBER, MERCHANT, ANY_STAFF))


@endpoint(bp, "/v1/members/{member_id}/tier", "GET", "getMemberTier", tags=TAGS, errors=(404,),
          summary="The member's tier: source, validity, growth, what the next tier and keeping this one need",
          allow=(MEMBER, MERCHANT, ANY_STAFF),
          response="chalicelib.tiers.replies:MemberTierOut")
def get_member_tier(call: Call):
    return service.member_tier(call.uow, call.params["member_id"], call.caller)


@endpoint(bp, "/v1/members/{member_id}/tier", "PUT", "setMemberTier", tags=TAGS, errors=(404,),
          summary="Set a manual tier floor (HQ staff, with a reason and an end date)",
          allow=(HQ,), body="chalicelib.tiers.schemas:SetTier",
          response="chalicelib.tiers.replies:TierSetOut")
def set_member_tier(call: Call):
    return service.set_member_tier(call.params["member_id"], call.body, call.caller, call.uow,
                                   call.headers.get("idempotency-key"))


@endpoint(bp, "/v1/members/{member_id}/tier/history", "GET", "listTierHistory", tags=TAGS, errors=(404,),
          summary="The member's tier changes with their causes, newest first",
          allow=(MEMBER, MERCHANT, ANY_STAFF), query="chalicelib.tiers.schemas:HistoryQuery",
          response="chalicelib.tiers.replies:TierHistoryOut")
def list_history(call: Call):
    q = call.query
    return service.history(call.uow, call.params["member_id"], call.caller, q.before, q.limit)


@endpoint(bp, "/v1/members/{member_id}/membership", "GET", "getMembership", tags=TAGS, errors=(404,),
          summary="The member's paid membership: plan, end date, paid periods and history",
          allow=(MEMBER, MERCHANT, ANY_STAFF),
          response="chalicelib.tiers.replies:MembershipStatusOut")
def get_membership(call: Call):
    return service.get_membership(call.uow, call.params["member_id"], call.caller)


@endpoint(bp, "/v1/members/{member_id}/membership/purchase", "POST", "purchaseMembership", tags=TAGS, status=201,
          errors=(404, 409), summary="Buy a period of a plan (applied once per payment_ref), or start its trial",
          allow=(MERCHANT, HQ), body="chalicelib.tiers.schemas:Purchase",
          response="chalicelib.tiers.replies:MembershipOut")
def purchase_membership(call: Call):
    return membership.purchase(call.params["member_id"], call.body, call.caller, call.uow,
                               call.headers.get("idempotency-key"))


@endpoint(bp, "/v1/members/{member_id}/membership/renew", "POST", "renewMembership", tags=TAGS, status=201,
          errors=(404, 409), summary="Another period of the member's plan, stacked after the current end",
          allow=(MERCHANT, HQ), body="chalicelib.tiers.schemas:Renewal",
          response="chalicelib.tiers.replies:MembershipOut")
def renew_membership(call: Call):
    return membership.renew(call.params["member_id"], call.body, call.caller, call.uow,
                            call.headers.get("idempotency-key"))


@endpoint(bp, "/v1/members/{member_id}/membership/cancel", "POST", "cancelMembership", tags=TAGS,
          errors=(404, 409), summary="End the membership today; the reply says what to refund (refund policy)",
          allow=(MEMBER, HQ), body="chalicelib.tiers.schemas:Cancellation",
          response="chalicelib.tiers.replies:MembershipCancelledOut")
def cancel_membership(call: Call):
    return membership.cancel(call.params["member_id"], call.body, call.caller, call.uow,
                             call.headers.get("idempotency-key"))
