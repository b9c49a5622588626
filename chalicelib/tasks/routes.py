"""Tasks over HTTP."""

from __future__ import annotations

from chalice import Blueprint
from pydantic import Field

from chalicelib.api.auth import ANY_STAFF, HQ_ROLES, MEMBER, MERCHANT, staff
from chalicelib.api.endpoint import Call, endpoint
from chalicelib.shared.types import Instant, Strict
from chalicelib.tasks import service
from chalicelib.tasks.config import TaskSet

bp = Blueprint(__name__)
TAGS = ("tasks",)
HQ = staff(*HQ_ROLES)


class PutTasks(Strict):
    tasks: TaskSet
    effective_from: Instant | None = Field(None, description="default: now")


class TasksQuery(Strict):
    at: Instant | None = None


@endpoint(bp, "/v1/tasks", "PUT", "putTasks", tags=TAGS, status=201,
          summary="Save a new version of the task set (goals and their rewards)", allow=(HQ,), body=PutTasks)
def put_tasks(call: Call):
    return service.put_tasks(call.body.tasks, call.body.effective_from, call.caller, call.uow)


@endpoint(bp, "/v1/tasks", "GET", "getTasks", tags=TAGS,
          summary="The task set in force (now, or at ?at=) and the list of versions",
          allow=(MEMBER, MERCHANT, ANY_STAFF), query=TasksQuery)
def get_tasks(call: Call):
    return service.get_tasks(call.uow, call.query.at)


@endpoint(bp, "/v1/members/{member_id}/tasks", "GET", "getMemberTasks", tags=TAGS, errors=(404,),
          summary="The member's tasks with their progress in the current period", allow=(MEMBER, MERCHANT, ANY_STAFF))
def get_member_tasks(call: Call):
    return service.member_tasks(call.uow, call.params["member_id"], call.caller)
