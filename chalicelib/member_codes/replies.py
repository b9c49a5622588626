"""What the member code operations answer (also their OpenAPI schemas)."""

from __future__ import annotations

from pydantic import Field

from chalicelib.shared.types import Reply


class MemberCodeOut(Reply):
    """The member's code of the minute."""

    member_id: str
    code: str = Field(description="18 digits for a QR code or a Code 128 barcode: 9, the member's handle, the "
                      "TOTP of the minute (RFC 6238), a check digit; never the member id")
    valid_until: str = Field(description="when the code stops resolving (ISO 8601, UTC): the end of the minute "
                             "after its own (one step of skew)")
    refresh_in_seconds: int = Field(description="ask again after this many seconds: a new code then exists")
    step_seconds: int = Field(description="how often the code changes (seconds)")
    skew_steps: int = Field(description="steps after its own in which a code still resolves")


class TierRef(Reply):
    code: str
    name: str


class ResolvedMemberOut(Reply):
    """The member a code names, as a till needs them (masked); the code is used up."""

    member_id: str
    phone: str | None = Field(description="the member's phone, masked (138****8000; null: none)")
    stage: str = Field(description="lifecycle stage: new, active, dormant or churned")
    tier: TierRef = Field(description="the tier the member holds now")
    paid_plan: str | None = Field(description="the paid membership plan running now (null: none)")
    paid_plan_active: bool = Field(description="whether a paid membership plan runs now")
