"""What listAuditLog answers (the OpenAPI response schema).

Imported only when the document is built (routes name these models by string).
"""

from __future__ import annotations

from datetime import date

from pydantic import Field

from chalicelib.shared.types import Reply


class AuditEntry(Reply):
    entry_id: str = Field(description="the entry's id (a ULID)")
    at: str = Field(description="when it happened (ISO 8601, UTC)")
    action: str = Field(description="what kind of thing happened, dotted: staff.login, staff.login_failed, "
                                    "api_key.created, pii.revealed, token.issued, gift_card.secrets_exported...")
    actor: str = Field(description="who did it: `staff:<id>`, a merchant key `merchant:<merchant>:<store>:<key>`, "
                                   "`refresh-token` (a member's app), `anonymous:<what>` (a failed login)")
    detail: str = Field(description="what, briefly (before -> after for a change); never a secret")
    member_id: str | None = Field(description="the member it concerns, if any")
    staff_id: str | None = Field(description="the staff member it concerns, if any")
    merchant_id: str | None = Field(description="the merchant it concerns, if any")


class AuditLogPage(Reply):
    """A page of the program's audit log, newest first."""

    start: date = Field(description="the period's first day (the program's calendar)")
    end: date = Field(description="the period's last day, included")
    entries: list[AuditEntry] = Field(description="newest first; a page may hold fewer than limit (or none) "
                                                  "with more to come: follow `next`")
    next: str | None = Field(description="pass as `cursor` (with the same filters) for the next page; null on the last")
