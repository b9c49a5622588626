"""What the program operations answer: the OpenAPI response schemas.

Each model forbids undocumented fields, and a test validates real replies against the served
document, so a field cannot appear without its description here.
"""

from __future__ import annotations

from pydantic import Field

from chalicelib.shared.types import Reply


class ProgramOut(Reply):
    """A program (a tenant)."""

    program_id: str
    name: str
    timezone: str = Field(description="the IANA time zone of the program's dates (days, expiries, reports)")
    status: str = Field(description="active (the API creates programs active; scheduled jobs serve active "
                                    "programs only)")
    created_at: str


class ProgramListOut(Reply):
    """Every program."""

    programs: list[ProgramOut]
