"""What the staff operations take: request bodies and queries."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, StrictInt

from chalicelib.shared.principal import PROGRAM_ROLES
from chalicelib.shared.types import Strict

Role = Literal[PROGRAM_ROLES]  # type: ignore[valid-type]
Slug = Field(None, pattern=r"^[a-z0-9][a-z0-9\-]{1,39}$")
Password = Field(min_length=1, max_length=256, description="10 to 128 characters; not a common or breached one")


class Secrets(Strict):
    """Bodies holding a password: kept exactly as typed (no trimming)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False, defer_build=True)


class CreateStaff(Secrets):
    login: str = Field(min_length=1, max_length=64, description="unique in the program; 3-64 of a-z 0-9 . _ @ -")
    display_name: str = Field(min_length=1, max_length=100)
    role: Role
    merchant_id: str | None = Slug
    store_id: str | None = Slug
    password: str | None = Field(None, min_length=1, max_length=256,
                                 description="omit it to get a one-time reset code to hand to the person instead")


class UpdateStaff(Strict):
    version: StrictInt = Field(ge=1, description="the version read: a change made meanwhile is 409 version-changed")
    display_name: str | None = Field(None, min_length=1, max_length=100)
    role: Role | None = None
    merchant_id: str | None = Slug
    store_id: str | None = Slug


class StaffQuery(Strict):
    merchant_id: str | None = Slug
    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = Field(None, max_length=90)


class Login(Secrets):
    program_id: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]{1,39}$")
    login: str = Field(min_length=1, max_length=200)
    password: str = Password
    totp_code: str | None = Field(None, max_length=12, description="the authenticator's 6 digits, when required")


class RefreshStaff(Strict):
    refresh_token: str = Field(min_length=10, max_length=300)


class ChangePassword(Secrets):
    current_password: str = Password
    new_password: str = Password


class SetPassword(Secrets):
    program_id: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]{1,39}$")
    login: str = Field(min_length=1, max_length=200)
    reset_code: str = Field(min_length=1, max_length=64)
    new_password: str = Password


class EnrolTotp(Secrets):
    password: str | None = Field(None, max_length=256, description="to start an enrolment: the account's password")
    code: str | None = Field(None, max_length=12, description="to confirm it: the authenticator's 6 digits")
