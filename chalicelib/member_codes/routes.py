"""Member codes over HTTP: the member app's code of the minute, and a till resolving one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint
from pydantic import Field

from chalicelib.api.auth import HQ, MEMBER, TILL, key_with
from chalicelib.api.endpoint import Call, endpoint
from chalicelib.shared import lazy
from chalicelib.shared.types import Strict

if TYPE_CHECKING:
    from chalicelib.member_codes import service
else:
    service = lazy.module("chalicelib.member_codes.service")

bp = Blueprint(__name__)
TAGS = ("members",)
R = "chalicelib.member_codes.replies:"
LOGIN = key_with("member_login")          # the brand's login server, for the member's app


class ResolveMemberCode(Strict):
    code: str = Field(min_length=1, max_length=32, description="the code the till scanned or the clerk typed")


@endpoint(bp, "/v1/members/{member_id}/member-code", "GET", "getMemberCode", tags=TAGS, errors=(404, 429),
          summary="The member's code of the minute (会员码) for a till to scan ('me' for the calling member); "
          "a new one every minute", allow=(MEMBER, LOGIN, HQ), response=R + "MemberCodeOut", reads=False)
def get_member_code(call: Call):
    return service.code(call.uow, call.params["member_id"], call.caller)


@endpoint(bp, "/v1/member-codes/resolve", "POST", "resolveMemberCode", tags=TAGS, personal=True,
          errors=(403, 409, 422, 429), summary="The member a code names (masked), their tier and paid plan; a code "
          "resolves once, within its minute and the next", allow=TILL, body=ResolveMemberCode,
          response=R + "ResolvedMemberOut")
def resolve_member_code(call: Call):
    return service.resolve_member(call.uow, call.body.code, call.caller)
