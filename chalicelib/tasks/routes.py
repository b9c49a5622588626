"""Tasks over HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib.api.auth import ANY_STAFF, HQ_ROLES, MEMBER, MERCHANT, staff
from chalicelib.api.configs import config_endpoints
from chalicelib.api.endpoint import Call, endpoint
from chalicelib.shared import lazy
from chalicelib.tasks.config import TASKS, TaskSet

if TYPE_CHECKING:
    from chalicelib.tasks import service
else:
    service = lazy.module("chalicelib.tasks.service")

bp = Blueprint(__name__)
TAGS = ("tasks",)
HQ = staff(*HQ_ROLES)


config_endpoints(bp, "/v1/tasks", TASKS, "tasks", TaskSet, put_id="putTasks", get_id="getTasks",
                 noun="the task set (goals and their rewards)", tags=TAGS, put_allow=(HQ,),
                 get_allow=(MEMBER, MERCHANT, ANY_STAFF), exclude_none=True)


@endpoint(bp, "/v1/members/{member_id}/tasks", "GET", "getMemberTasks", tags=TAGS, errors=(404,),
          summary="The member's tasks with their progress in the current period", allow=(MEMBER, MERCHANT, ANY_STAFF),
          response="chalicelib.tasks.replies:MemberTasksOut")
def get_member_tasks(call: Call):
    return service.member_tasks(call.uow, call.params["member_id"], call.caller)
