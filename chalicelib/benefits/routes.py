"""Benefits over HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint
from pydantic import Field

from chalicelib.api.auth import ANY_STAFF, HQ_ROLES, MEMBER, MERCHANT, staff
from chalicelib.api.configs import config_endpoints
from chalicelib.api.endpoint import Call, endpoint
from chalicelib.benefits.rules import RULES, BenefitRules, Ref
from chalicelib.shared import lazy
from chalicelib.shared.types import Strict

if TYPE_CHECKING:
    from chalicelib.benefits import service
else:
    service = lazy.module("chalicelib.benefits.service")

bp = Blueprint(__name__)
TAGS = ("benefits",)
HQ = staff(*HQ_ROLES)


class Claim(Strict):
    rule: str = Ref
    ref: str = Ref


class EntitlementsQuery(Strict):
    limit: int = Field(100, ge=1, le=500)


config_endpoints(bp, "/v1/benefits/rules", RULES, "rules", BenefitRules, put_id="putBenefitRules",
                 get_id="getBenefitRules", noun="the benefit rules (conditions to benefits)", tags=TAGS,
                 put_allow=(HQ,), get_allow=(MERCHANT, ANY_STAFF), exclude_none=True)


@endpoint(bp, "/v1/members/{member_id}/benefits", "GET", "getMemberBenefits", tags=TAGS, errors=(404,),
          summary="What the member gets right now (each with its rule and reason), the best of each kind "
                  "for checkout, and what the next tier would add", allow=(MEMBER, MERCHANT, ANY_STAFF),
          response="chalicelib.benefits.replies:MemberBenefitsOut")
def get_member_benefits(call: Call):
    return service.member_benefits(call.uow, call.params["member_id"], call.caller)


@endpoint(bp, "/v1/members/{member_id}/benefits/claim", "POST", "claimBenefit", tags=TAGS, status=201,
          errors=(404, 409), summary="Claim this period's coupon pack of a rule (monthly, or in the birthday month)",
          allow=(MEMBER, MERCHANT, HQ), body=Claim,
          response="chalicelib.benefits.replies:BenefitClaimedOut")
def claim(call: Call):
    return service.claim(call.params["member_id"], call.body.rule, call.body.ref, call.caller, call.uow,
                         call.headers.get("idempotency-key"))


@endpoint(bp, "/v1/members/{member_id}/entitlements", "GET", "listEntitlements", tags=TAGS, errors=(404,),
          summary="The coupon packs the member was granted (issued as coupons once coupons exist)",
          allow=(MEMBER, MERCHANT, ANY_STAFF), query=EntitlementsQuery,
          response="chalicelib.benefits.replies:EntitlementsOut")
def list_entitlements(call: Call):
    return service.entitlements(call.uow, call.params["member_id"], call.caller, call.query.limit)
