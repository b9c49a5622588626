"""Coupons over HTTP: templates (HQ, or a merchant for its own), a member's coupons, and the till's
validate, write-off and undo (a signed POS request, or staff on the member's behalf)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from chalice import Blueprint
from pydantic import Field, model_validator

from chalicelib.api.auth import ANY_STAFF, HQ, MEMBER, MERCHANT, TILL, staff
from chalicelib.api.configs import config_endpoints
from chalicelib.api.endpoint import Call, endpoint
from chalicelib.coupons.pack_rules import PACKS, CouponPacks
from chalicelib.shared import lazy
from chalicelib.shared.types import Strict

if TYPE_CHECKING:
    from chalicelib.coupons import holds, issues, owed, packs, reconcile, service, stats, templates, third_party, use
else:
    owed = lazy.module("chalicelib.coupons.owed")
    holds = lazy.module("chalicelib.coupons.holds")
    reconcile = lazy.module("chalicelib.coupons.reconcile")
    stats = lazy.module("chalicelib.coupons.stats")
    issues = lazy.module("chalicelib.coupons.issues")
    packs = lazy.module("chalicelib.coupons.packs")
    service = lazy.module("chalicelib.coupons.service")
    templates = lazy.module("chalicelib.coupons.templates")
    use = lazy.module("chalicelib.coupons.use")
    third_party = lazy.module("chalicelib.coupons.third_party")

bp = Blueprint(__name__)
TAGS = ("coupons",)
R = "chalicelib.coupons.replies:"
S = "chalicelib.coupons.schemas:"
OWNERS = (HQ, MERCHANT, staff("merchant_admin"))   # a merchant-level key or admin (a store's is refused: 403)
TPL = "/v1/coupon-templates/{template_id}"


class TemplatesQuery(Strict):
    after: str | None = Field(None, max_length=200, description="the page after this cursor (the reply's next)")
    limit: int = Field(50, ge=1, le=200)


class IssueCoupons(Strict):
    member_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        None, min_length=1, max_length=8_000, description="the members to give one coupon each, each once (at most "
        "8,000 an issue: a request body is at most 256 KB; more in several issues); or tier")
    tier: str | None = Field(None, pattern=r"^[A-Za-z0-9_\-]{1,32}$", description="a tier of the ladder in force "
                             "(not the base tier): one coupon to each member who holds it when the issue is created "
                             "and still holds it when the job reaches them; or member_ids")

    @model_validator(mode="after")
    def _one_audience(self) -> IssueCoupons:
        if (self.member_ids is None) == (self.tier is None):
            raise ValueError("give exactly one of member_ids and tier")
        return self


class GrantPack(Strict):
    pack_id: str = Field(min_length=1, max_length=64)


class MemberCouponsQuery(Strict):
    state: str | None = Field(None, pattern=r"^(unused|locked|used|expired|void)$")


class OwedPacksQuery(Strict):
    limit: int = Field(20, ge=1, le=100)
    before: str | None = Field(None, max_length=300, pattern=r"^[!-~]+$",
                               description="the `next_before` of the previous page")


@endpoint(bp, "/v1/coupon-templates", "POST", "createCouponTemplate", tags=TAGS, status=201, errors=(403, 404),
          summary="Create a coupon template with its terms and stock (HQ: the program's or any merchant's; a "
          "merchant: its own)", allow=OWNERS, body=S + "CreateTemplate", response=R + "TemplateOut")
def create_template(call: Call):
    return templates.create(call.body, call.caller, call.uow)


@endpoint(bp, "/v1/coupon-templates", "GET", "listCouponTemplates", tags=TAGS,
          summary="Coupon templates (a merchant's caller: its own; HQ: all)", allow=(HQ, MERCHANT, ANY_STAFF),
          query=TemplatesQuery, response=R + "TemplatesOut")
def list_templates(call: Call):
    return templates.listing(call.uow, call.caller, call.query.limit, call.query.after)


@endpoint(bp, TPL, "GET", "getCouponTemplate", tags=TAGS, errors=(404,), summary="A template, its terms in force "
          "and its stock", allow=(HQ, MERCHANT, ANY_STAFF, MEMBER), response=R + "TemplateOut")
def get_template(call: Call):
    return templates.view(call.uow, templates.find(call.uow, call.params["template_id"], call.caller))


@endpoint(bp, TPL, "PATCH", "updateCouponTemplate", tags=TAGS, errors=(404, 409), summary="Change a template: new "
          "terms (a new version; coupons issued keep theirs), stock, limits, budgets", allow=OWNERS,
          body=S + "UpdateTemplate", response=R + "TemplateOut")
def update_template(call: Call):
    return templates.update(call.params["template_id"], call.body, call.caller, call.uow)


@endpoint(bp, TPL + "/state", "POST", "setCouponTemplateState", tags=TAGS, errors=(404, 409),
          summary="Activate, pause or end a template", allow=OWNERS, body=S + "SetState", response=R + "TemplateOut")
def set_state(call: Call):
    return templates.set_state(call.params["template_id"], call.body, call.caller, call.uow)


@endpoint(bp, "/v1/members/{member_id}/coupons", "POST", "claimCoupon", tags=TAGS, status=201, errors=(404, 409),
          summary="Claim a coupon of an active template (a member: claimable templates; staff or a till: issue it "
          "to the member)", allow=(MEMBER, MERCHANT, HQ), body=S + "ClaimCoupon", response=R + "CouponOut")
def claim(call: Call):
    by = call.caller
    return service.claim(call.params["member_id"], call.body.template_id, by, call.uow,
                         "claim" if by.kind == "member" else "issue")


@endpoint(bp, "/v1/members/{member_id}/coupons", "GET", "listMemberCoupons", tags=TAGS, errors=(404,),
          summary="The member's coupons: usable first, then the rest with why not", allow=(MEMBER, MERCHANT, ANY_STAFF),
          query=MemberCouponsQuery, response=R + "MemberCouponsOut")
def list_member_coupons(call: Call):
    return service.member_coupons(call.uow, call.params["member_id"], call.caller, call.query.state)


@endpoint(bp, "/v1/members/{member_id}/coupons/{coupon_id}", "GET", "getCoupon", tags=TAGS, errors=(404,),
          summary="One of the member's coupons", allow=(MEMBER, MERCHANT, ANY_STAFF), response=R + "CouponOut")
def get_coupon(call: Call):
    return service.get(call.uow, call.params["member_id"], call.params["coupon_id"], call.caller)


@endpoint(bp, "/v1/coupons/validate", "POST", "validateCoupon", tags=TAGS, idempotent=False,
          errors=(403, 404, 422, 429), summary="Whether a coupon (by its code) applies to a cart now, and what it "
          "would take off; changes nothing", allow=TILL, body=S + "UseCoupon", response=R + "ValidationOut")
def validate(call: Call):
    return use.validate(call.body, call.caller, call.uow)


@endpoint(bp, "/v1/coupons/write-offs", "POST", "writeOffCoupon", tags=TAGS, status=201,
          errors=(403, 404, 409, 422, 429), summary="Write a coupon off on an order (once; within its budgets); "
          "staff writing off for the member are recorded", allow=TILL, body=S + "UseCoupon", response=R + "WriteOffOut")
def write_off(call: Call):
    return use.write_off(call.body, call.caller, call.uow)


@endpoint(bp, "/v1/coupons/write-offs/undo", "POST", "undoCouponWriteOff", tags=TAGS, errors=(403, 404, 409, 422, 429),
          summary="Undo a write-off (a refund): the coupon comes back if still valid and the template says so, else "
          "it is void", allow=TILL, body=S + "UndoWriteOff", response=R + "UndoOut")
def undo(call: Call):
    return use.undo(call.body, call.caller, call.uow)


config_endpoints(bp, "/v1/coupon-packs", PACKS, "packs", CouponPacks, put_id="putCouponPacks",
                 get_id="getCouponPacks", noun="the coupon packs (templates granted together)", tags=TAGS,
                 put_allow=(HQ,), get_allow=(MERCHANT, ANY_STAFF))


@endpoint(bp, "/v1/members/{member_id}/coupon-packs", "POST", "grantCouponPack", tags=TAGS, status=201,
          errors=(404, 409), summary="Grant a coupon pack to the member: every coupon of it, or none",
          allow=OWNERS, body=GrantPack, response=R + "PackGrantedOut")
def grant_pack(call: Call):
    return packs.grant(call.params["member_id"], call.body.pack_id, call.caller, call.uow)


@endpoint(bp, TPL + "/issues", "POST", "issueCoupons", tags=TAGS, status=202, errors=(404, 409),
          summary="Issue the template's coupon to each of a list of members, or to each member of a tier (the "
          "coupon-issues job does it, a chunk at a time; getCouponIssue shows the progress)", allow=OWNERS,
          body=IssueCoupons, response=R + "IssueOut")
def issue_coupons(call: Call):
    return issues.create(call.params["template_id"], call.body.member_ids, call.caller, call.uow, call.body.tier)


@endpoint(bp, "/v1/coupon-issues/{issue_id}", "GET", "getCouponIssue", tags=TAGS, errors=(404,),
          summary="A targeted issue's progress: done of total, issued, refused by reason", allow=OWNERS,
          response=R + "IssueOut")
def get_issue(call: Call):
    return issues.view(issues.find(call.uow, call.params["issue_id"], call.caller))


@endpoint(bp, TPL + "/stats", "GET", "getCouponStats", tags=TAGS, errors=(404,),
          summary="A template's figures (claimed, issued, used, undone, expired, discount given, order amounts), per "
          "store and cost bearer, squared with its stock and budget", allow=(HQ, MERCHANT, ANY_STAFF),
          response=R + "CouponStatsOut")
def get_stats(call: Call):
    return stats.shown(call.uow, call.params["template_id"], call.caller)


@endpoint(bp, "/v1/coupons/reconciliation", "GET", "getCouponReconciliation", tags=TAGS,
          summary="Prove every template's stock (shards there, none negative, left + taken = total) and its figures "
          "against its counts", allow=(HQ,), response=R + "CouponReconciliationOut")
def get_reconciliation(call: Call):
    return reconcile.everything(call.uow)


@endpoint(bp, "/v1/coupons/holds", "POST", "holdCoupon", tags=TAGS, status=201, errors=(403, 404, 409, 422, 429),
          summary="Lock a coupon for an open checkout (checked as for a write-off; its saving counted in the budgets "
          "until confirmed, cancelled or lapsed)", allow=TILL, body="chalicelib.coupons.holds:HoldCoupon",
          response=R + "CouponHoldOut")
def hold_coupon(call: Call):
    return holds.hold(call.body, call.caller, call.uow)


@endpoint(bp, "/v1/coupons/holds/{hold_id}", "GET", "getCouponHold", tags=TAGS, errors=(404,),
          summary="A coupon's lock, to the merchant (and store) that took it", allow=TILL, response=R + "CouponHoldOut")
def get_coupon_hold(call: Call):
    return holds.get(call.params["hold_id"], call.caller, call.uow)


@endpoint(bp, "/v1/coupons/holds/{hold_id}/confirm", "POST", "confirmCouponHold", tags=TAGS, errors=(404, 409),
          summary="Write the locked coupon off", allow=TILL, response=R + "CouponHoldOut")
def confirm_coupon_hold(call: Call):
    return holds.confirm(call.params["hold_id"], call.caller, call.uow)


@endpoint(bp, "/v1/coupons/holds/{hold_id}/cancel", "POST", "cancelCouponHold", tags=TAGS, errors=(404, 409),
          summary="Unlock the coupon (its saving leaves the budgets)", allow=TILL, response=R + "CouponHoldOut")
def cancel_coupon_hold(call: Call):
    return holds.release(call.params["hold_id"], call.caller, call.uow)


@endpoint(bp, TPL + "/codes", "POST", "importCouponCodes", tags=TAGS, status=201, errors=(403, 404, 409, 422),
          summary="Import a batch of a platform's codes (<= 1,000) for a third-party template: stored as keyed hashes, "
          "its stock grown by each new code; duplicates counted", allow=OWNERS,
          body="chalicelib.coupons.third_party:ImportCodes", response=R + "CodesImportedOut")
def import_codes(call: Call):
    return third_party.import_codes(call.params["template_id"], call.body, call.caller, call.uow)


@endpoint(bp, "/v1/members/{member_id}/owed-coupon-packs", "GET", "listMemberOwedPacks", tags=TAGS, errors=(404,),
          summary="The member's owed coupon packs (granted, not yet issued), newest first: owed, issued or expired, "
          "with tries, the next try and why not issued", allow=(MEMBER, MERCHANT, ANY_STAFF), query=OwedPacksQuery,
          response=R + "OwedPacksOut")
def list_owed_packs(call: Call):
    return owed.listing(call.uow, call.params["member_id"], call.caller, call.query.limit, call.query.before)


@endpoint(bp, "/v1/coupon-packs/stats", "GET", "getCouponPackStats", tags=TAGS,
          summary="The owed coupon packs' figures, in all and per pack: owed, issued late, expired unissued, still "
          "owing (projected from their events exactly once)", allow=(HQ,), response=R + "PackStatsOut")
def get_pack_stats(call: Call):
    return stats.packs_shown(call.uow)
