"""The member overview over HTTP."""

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
