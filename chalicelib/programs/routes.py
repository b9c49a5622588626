"""Programs over HTTP: platform admins create and list them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint
from pydantic import Field, StrictInt

from chalicelib.api.auth import ANY_STAFF, PLATFORM, staff
from chalicelib.api.endpoint import Call, endpoint
from chalicelib.shared import lazy
from chalicelib.shared.errors import ValidationProblem
from chalicelib.shared.types import PlainText, Strict

if TYPE_CHECKING:
    from chalicelib.programs import service
else:
    service = lazy.module("chalicelib.programs.service")

bp = Blueprint(__name__)
TAGS = ("programs",)


class CreateProgram(Strict):
    program_id: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]{1,39}$", description="lower-case letters, digits, '-'")
    name: str = Field(min_length=1, max_length=100)
    timezone: str = Field("Asia/Shanghai", max_length=64)


@endpoint(bp, "/v1/programs", "POST", "createProgram", status=201, tags=TAGS, errors=(409,),
          summary="Create a program (a tenant): a brand, a mall, or one merchant of a SaaS", allow=(PLATFORM,),
          body=CreateProgram,
          response="chalicelib.programs.replies:ProgramOut")
def create_program(call: Call):
    return service.create(call.body.program_id, call.body.name, call.body.timezone, call.caller, call.uow)


@endpoint(bp, "/v1/programs", "GET", "listPrograms", tags=TAGS, summary="Every program", allow=(PLATFORM,),
          response="chalicelib.programs.replies:ProgramListOut")
def list_programs(call: Call):
    return service.listing(call.uow)


class UpdateProgram(Strict):
    version: StrictInt = Field(ge=0, description="the version you read (getProgram): refused (409 version-changed) if "
                                           "the program changed since")
    name: PlainText | None = Field(None, min_length=1, max_length=100)
    timezone: str | None = Field(None, min_length=1, max_length=64,
                                 description="an IANA time zone; applies from now on (nothing retroactive)")


@endpoint(bp, "/v1/program", "GET", "getProgram", tags=TAGS, summary="The caller's own program: name, time zone, "
          "status, settings", allow=(ANY_STAFF,), response="chalicelib.programs.replies:OwnProgramOut")
def get_program(call: Call):
    return service.own(call.uow)


@endpoint(bp, "/v1/program", "PATCH", "updateProgram", tags=TAGS, errors=(404, 409),
          summary="Change the caller's program's name or time zone (a new zone applies from now on)",
          allow=(staff("super_admin"),), body=UpdateProgram, response="chalicelib.programs.replies:OwnProgramOut")
def update_program(call: Call):
    values = {f: getattr(call.body, f) for f in call.body.model_fields_set - {"version"}}
    if not values or any(v is None for v in values.values()):
        raise ValidationProblem("give at least one of name and timezone (not null)")
    return service.update(call.uow, call.body.version, values)
