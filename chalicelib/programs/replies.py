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


class ProgramSettingsOut(Reply):
    """The program's settings in force that the console shows with it."""

    pay_as_member: bool = Field(description="支付即会员: whether a quote naming an unknown payer registers a member "
                                            "(putMemberSettings changes it)")


class OwnProgramOut(Reply):
    """The caller's own program."""

    program_id: str
    name: str
    timezone: str = Field(description="the IANA time zone of the program's dates (days, expiries, reports); a "
                                      "change applies from then on, never to days already stored")
    status: str = Field(description="active (scheduled jobs serve active programs only)")
    created_at: str | None = Field(description="null: a program from before programs had records (default)")
    version: int = Field(description="send it back with updateProgram: a change made meanwhile refuses yours (409)")
    updated_at: str | None
    settings: ProgramSettingsOut
