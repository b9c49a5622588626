"""What the staff operations answer: the OpenAPI response schemas."""

from __future__ import annotations

from pydantic import Field

from chalicelib.shared.types import Reply


class StaffOut(Reply):
    """A staff account (never its password, reset code or TOTP secret)."""

    staff_id: str
    login: str
    display_name: str
    role: str
    merchant_id: str | None = Field(description="the merchant it acts for (null: the whole program)")
    store_id: str | None = Field(description="the store it acts for (null: the whole merchant or program)")
    status: str = Field(description="active | disabled")
    totp_enrolled: bool
    version: int = Field(description="send it back with a change: a change made meanwhile is 409")
    created_at: str
    created_by: str
    updated_at: str
    last_login_at: str | None


class StaffDetailOut(StaffOut):
    """A staff account with its login lock (one more read than a listing's row)."""

    locked_until: str | None = Field(description="while wrong passwords lock its login: until when (null: not "
                                                 "locked); an administrator may release it (unlockStaff)")
    failed_passwords: int = Field(description="wrong passwords in a row at its login name since the last right "
                                              "one or release (5 lock it; while locked: the 5 that locked it)")


class StaffCreatedOut(StaffOut):
    """The new account; without a password, a one-time code to set one (shown this once)."""

    reset_code: str | None = Field(None, description="hand it to the person: it sets a password once, within 24 h")
    reset_expires_at: str | None = None


class StaffResetOut(StaffOut):
    """The account with its password cleared and every login ended; the code sets a new one."""

    reset_code: str | None = Field(description="shown this once; sets a password once, within 24 hours "
                                   "(null on a retry with the same Idempotency-Key: it is never stored)")
    reset_expires_at: str | None


class StaffPage(Reply):
    """One page of staff accounts."""

    staff: list[StaffOut]
    next_cursor: str | None = Field(description="send it as cursor for the next page (null: the last page)")


class StaffTokensOut(Reply):
    """A login's tokens: the access token for requests and the single-use refresh token."""

    token: str = Field(description="Authorization: Bearer <token>; lives 15 minutes")
    expires_at: str
    refresh_token: str = Field(description="single use: trade it at refreshStaffToken for the next pair")
    refresh_expires_at: str
    staff: StaffOut


class LoggedOutOut(Reply):
    """The login ended: its refresh tokens at once, its access tokens within seconds."""

    logged_out: bool
    staff_id: str
    effective_within_seconds: float


class TotpEnrolmentOut(Reply):
    """An enrolment started (the secret to scan) or confirmed."""

    enrolled: bool
    secret: str | None = Field(None, description="base32; shown this once")
    otpauth_uri: str | None = Field(None, description="for a QR code")
    staff: StaffOut | None = None
