"""What listAuditLog is asked (its query)."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from chalicelib.shared.types import Strict

ID = r"^[A-Za-z0-9_.:@-]{1,128}$"


class AuditLogQuery(Strict):
    staff_id: str | None = Field(None, max_length=128, pattern=ID,
                                 description="entries about this staff member or done by them")
    member_id: str | None = Field(None, max_length=128, pattern=ID, description="entries about this member")
    action: str | None = Field(None, max_length=64, pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*\.?$",
                               description="one kind (`staff.login`), or every kind of a family with a "
                                           "trailing dot (`staff.`)")
    start: date | None = Field(None, description="from this day (the program's calendar day, in its time "
                                                 "zone); default: 6 days before `end`")
    end: date | None = Field(None, description="to this day, included (the program's); default: today")
    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = Field(None, max_length=400, description="the `next` of the previous page (same filters)")
