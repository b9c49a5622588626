"""Programs over HTTP: platform admins create and list them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint
from pydantic import Field

from chalicelib.api.auth import PLATFORM
from chalicelib.api.endpoint import Call, endpoint
from chalicelib.shared import lazy
from chalicelib.shared.types import Strict

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
