"""Tiers over HTTP."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.auth import ANY_STAFF, HQ_ROLES, MEMBER, MERCHANT, staff
from chalicelib.api.endpoint import Call, endpoint
from chalicelib.tiers import service
from chalicelib.tiers.schemas import HistoryQuery, LadderQuery, PutLadder, SetTier

bp = Blueprint(__name__)
TAGS = ("tiers",)
HQ = staff(*HQ_ROLES)


@endpoint(bp, "/v1/tiers/ladder", "PUT", "putTierLadder", tags=TAGS, status=201,
          summary="Save a new version of the tier ladder (thresholds, validity, retention, downgrade policy)",
          allow=(HQ,), body=PutLadder)
def put_ladder(call: Call):
    return service.put_ladder(call.body.ladder, call.body.effective_from, call.caller, call.uow)


@endpoint(bp, "/v1/tiers/ladder", "GET", "getTierLadder", tags=TAGS,
          summary="The tier ladder in force (now, or at ?at=) and the list of versions",
          allow=(MERCHANT, ANY_STAFF), query=LadderQuery)
def get_ladder(call: Call):
    return service.get_ladder(call.uow, call.query.at)


@endpoint(bp, "/v1/members/{member_id}/tier", "GET", "getMemberTier", tags=TAGS, errors=(404,),
          summary="The member's tier: source, validity, growth, what the next tier and keeping this one need",
          allow=(MEMBER, MERCHANT, ANY_STAFF))
def get_member_tier(call: Call):
    return service.member_tier(call.uow, call.params["member_id"], call.caller)


@endpoint(bp, "/v1/members/{member_id}/tier", "PUT", "setMemberTier", tags=TAGS, errors=(404,),
          summary="Set a manual tier floor (HQ staff, with a reason and an end date)",
          allow=(HQ,), body=SetTier)
def set_member_tier(call: Call):
    return service.set_member_tier(call.params["member_id"], call.body, call.caller, call.uow,
                                   call.headers.get("idempotency-key"))


@endpoint(bp, "/v1/members/{member_id}/tier/history", "GET", "listTierHistory", tags=TAGS, errors=(404,),
          summary="The member's tier changes with their causes, newest first",
          allow=(MEMBER, MERCHANT, ANY_STAFF), query=HistoryQuery)
def list_history(call: Call):
    q = call.query
    return service.history(call.uow, call.params["member_id"], call.caller, q.before, q.limit)
