"""Benefits over HTTP."""

from __future__ import annotations

from chalice import Blueprint
from pydantic import Field

from chalicelib.api.auth import ANY_STAFF, HQ_ROLES, MEMBER, MERCHANT, staff
from chalicelib.api.endpoint import Call, endpoint
from chalicelib.benefits import service
from chalicelib.benefits.rules import BenefitRules, Ref
from chalicelib.shared.types import Instant, Strict

bp = Blueprint(__name__)
TAGS = ("benefits",)
HQ = staff(*HQ_ROLES)


class PutRules(Strict):
    rules: BenefitRules
    effective_from: Instant | None = Field(None, description="default: now")


class RulesQuery(Strict):
    at: Instant | None = None


class Claim(Strict):
    rule: str = Ref
    ref: str = Ref


class EntitlementsQuery(Strict):
    limit: int = Field(100, ge=1, le=500)


@endpoint(bp, "/v1/benefits/rules", "PUT", "putBenefitRules", tags=TAGS, status=201,
          summary="Save a new version of the benefit rules (conditions to benefits)", allow=(HQ,), body=PutRules)
def put_rules(call: Call):
    return service.put_rules(call.body.rules, call.body.effective_from, call.caller, call.uow)


@endpoint(bp, "/v1/benefits/rules", "GET", "getBenefitRules", tags=TAGS,
          summary="The benefit rules in force (now, or at ?at=) and the list of versions",
          allow=(MERCHANT, ANY_STAFF), query=RulesQuery)
def get_rules(call: Call):
    return service.get_rules(call.uow, call.query.at)


@endpoint(bp, "/v1/members/{member_id}/benefits", "GET", "getMemberBenefits", tags=TAGS, errors=(404,),
          summary="What the member gets right now (each with its rule and reason), the best of each kind "
                  "for checkout, and what the next tier would add", allow=(MEMBER, MERCHANT, ANY_STAFF))
def get_member_benefits(call: Call):
    return service.member_benefits(call.uow, call.params["member_id"], call.caller)


@endpoint(bp, "/v1/members/{member_id}/benefits/claim", "POST", "claimBenefit", tags=TAGS, status=201,
          errors=(404, 409), summary="Claim this period's coupon pack of a rule (monthly, or in the birthday month)",
          allow=(MEMBER, MERCHANT, HQ), body=Claim)
def claim(call: Call):
    return service.claim(call.params["member_id"], call.body.rule, call.body.ref, call.caller, call.uow,
                         call.headers.get("idempotency-key"))


@endpoint(bp, "/v1/members/{member_id}/entitlements", "GET", "listEntitlements", tags=TAGS, errors=(404,),
          summary="The coupon packs the member was granted (issued as coupons once coupons exist)",
          allow=(MEMBER, MERCHANT, ANY_STAFF), query=EntitlementsQuery)
def list_entitlements(call: Call):
    return service.entitlements(call.uow, call.params["member_id"], call.caller, call.query.limit)
