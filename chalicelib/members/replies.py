"""What the member operations answer (the OpenAPI response schemas) besides a member
(:class:`chalicelib.members.schemas.MemberOut`) and its tokens (``MemberTokenOut``).

Imported only when the document is built (routes name these models by string).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.members.schemas import MemberOut
from chalicelib.shared.types import Reply

__all__ = ["MemberAudit", "MemberAuditEntry", "MemberOut", "MemberTokenRevoked"]     # MemberOut: the list's rows extend it


class MemberAuditEntry(Reply):
    at: str = Field(description="when it happened (ISO 8601, UTC)")
    actor: str = Field(description="who: a staff member, a merchant key, or `refresh-token` (the member's app)")
    action: Literal["pii.revealed", "phone_changed", "identity_unbound", "birthday_changed", "token.issued",
                    "token.refreshed", "token.revoked"] = Field(
        description="pii.revealed (unmasked personal data read), phone_changed, identity_unbound, birthday_changed, "
                    "token.issued (a login), token.refreshed, token.revoked (a logout)")
    detail: str = Field(description="what: the fields revealed, the masked old and new numbers, the identity "
                                    "released, the birthday change and its reason, how a login was verified, "
                                    "the refresh token's id")


class MemberAudit(Reply):
    """The member's audit trail, oldest first."""

    member_id: str
    entries: list[MemberAuditEntry] = Field(description="oldest first")


class MemberTokenRevoked(Reply):
    """The login is ended: its refresh token no longer works."""

    revoked: Literal[True] = Field(description="always true: the refresh token is revoked")
    member_id: str
