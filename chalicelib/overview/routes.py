"""The member overview and the members list over HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib.api.auth import ANY_STAFF, MEMBER, MERCHANT
from chalicelib.api.endpoint import Call, endpoint
from chalicelib.shared import lazy

if TYPE_CHECKING:
    from chalicelib.overview import service
else:
    service = lazy.module("chalicelib.overview.service")

bp = Blueprint(__name__)


@endpoint(bp, "/v1/members/{member_id}/overview", "GET", "getMemberOverview", tags=("members",), errors=(404,),
          summary="The member's screen in one read: tier, paid plan, growth, next tier, tasks, benefits",
          allow=(MEMBER, MERCHANT, ANY_STAFF), response="chalicelib.overview.replies:MemberOverview")
def get_overview(call: Call):
    return service.overview(call.uow, call.params["member_id"], call.caller)


@endpoint(bp, "/v1/members", "GET", "listMembers", tags=("members",), errors=(403, 404),
          summary="Members a merchant registered in a period (masked), oldest first; filter by store and stage; "
                  "include=balances adds each row's tier, points, stored value and spend",
          allow=(MERCHANT, ANY_STAFF), query="chalicelib.overview.schemas:ListMembersQuery",
          response="chalicelib.overview.replies:MembersPage")
def list_members(call: Call):
    return service.members_page(call.uow, call.caller, call.query)
