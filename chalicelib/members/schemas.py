"""Request and response shapes of the member operations (also their OpenAPI schemas)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import Field, field_validator

from chalicelib.shared.types import Day, PlainText, Reply, Strict

IdentityType = Literal["phone", "wechat_openid", "wechat_unionid", "alipay_user_id", "card_no", "email"]
Gender = Literal["male", "female", "unknown"]
Channel = Literal["app", "mini_program", "web", "pos", "import", "console"]
CustomValue = str | int | bool | None


class IdentityIn(Strict):
    type: IdentityType
    value: str = Field(min_length=1, max_length=254)


class ChangePhone(Strict):
    phone: str = Field(min_length=1, max_length=32, description="the new number, verified by the caller (SMS)")
    verified_by: Literal["sms_otp"] = Field(description="how the caller verified the member owns the new number")


class RegisterMember(Strict):
    phone: str | None = Field(None, max_length=32, description="Any common format; stored as E.164")
    email: str | None = Field(None, max_length=254)
    identities: list[IdentityIn] = Field([], max_length=10)
    name: PlainText | None = Field(None, min_length=1, max_length=64)
    gender: Gender = "unknown"
    birthday: Day | None = None
    custom_fields: dict[str, CustomValue] = Field({}, max_length=50)
    merchant_id: str | None = Field(None, max_length=64, description="HQ staff: the merchant registering the member")
    store_id: str | None = Field(None, max_length=64)
    channel: Channel | None = Field(None, description="default: pos for POS keys, else app")

    @field_validator("birthday")
    @classmethod
    def _plausible_birthday(cls, v: date | None) -> date | None:
        if v is not None and not (date(1900, 1, 1) <= v <= date.today()):
            raise ValueError("birthday must be between 1900-01-01 and today")
        return v

    @field_validator("custom_fields")
    @classmethod
    def _custom_keys(cls, v: dict[str, Any]) -> dict[str, Any]:
        for key, value in v.items():
            if not (1 <= len(key) <= 64) or not key.replace("_", "").isalnum():
                raise ValueError(f"custom field name '{key[:64]}' must be 1-64 letters, digits or '_'")
            if isinstance(value, str) and len(value) > 1024:
                raise ValueError(f"custom field '{key}' is longer than 1024 characters")
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**15:
                raise ValueError(f"custom field '{key}' is out of range")
        return v


class UpdateMember(Strict):
    name: PlainText | None = Field(None, min_length=1, max_length=64)
    gender: Gender | None = None
    birthday: Day | None = Field(None, description="set once by the member or a till; a set birthday is "
                                  "changed only by HQ staff, with a reason (audited)")
    custom_fields: dict[str, CustomValue] | None = Field(None, max_length=50)
    reason: PlainText | None = Field(None, min_length=1, max_length=200,
                                     description="HQ staff changing a set birthday: why (kept in the audit trail)")

    _plausible_birthday = field_validator("birthday")(RegisterMember._plausible_birthday.__func__)  # type: ignore[attr-defined]
    _custom_keys = field_validator("custom_fields")(
        lambda cls, v: RegisterMember._custom_keys.__func__(cls, v) if v is not None else v)  # type: ignore[attr-defined]


PERSONAL = ("phone", "email")


class LookupQuery(Strict):
    type: Literal["wechat_openid", "wechat_unionid", "alipay_user_id", "card_no"] = Field(
        description="phones and emails are personal data: find them with POST /v1/members/lookup, the identity "
                    "in the body")
    value: str = Field(min_length=1, max_length=254)

    @field_validator("type", mode="before")
    @classmethod
    def _not_personal(cls, value: object) -> object:
        if value in PERSONAL:
            raise ValueError(f"a {value} is personal data: never put it in a URL (logs and proxies keep "
                             "URLs); look it up with POST /v1/members/lookup and the identity in the body")
        return value


class GetMemberQuery(Strict):
    reveal: Literal["true", "false"] = "false"
    reason: PlainText | None = Field(None, min_length=3, max_length=200, description="reveal: why (kept with the "
                                     "reveal in the member's audit trail)")


class MemberTokenRequest(Strict):
    member_id: str | None = Field(None, max_length=64)
    identity: IdentityIn | None = None
    verified_by: Literal["sms_otp", "wechat_code", "alipay_code", "password", "app_session"] = Field(
        description="how the caller verified that the member is logging in (recorded in the member's audit trail)")


class RefreshTokenRequest(Strict):
    refresh_token: str = Field(min_length=10, max_length=200)


class IdentityOut(Reply):
    type: IdentityType = Field(description="the kind of identity")
    value: str = Field(description="phones (E.164) and emails masked (139****8821, a***@example.com) unless "
                                   "the reply shows personal data (pii_masked false); other identities as bound")


class MemberOut(Reply):
    """The member."""

    member_id: str
    status: Literal["active", "merged"] = Field(description="active, or merged into another member (an id merged "
                                                            "away answers with its survivor)")
    name: str | None = Field(description="the member's name (null: not given)")
    gender: Gender = Field(description="male, female or unknown (not given)")
    birthday: date | None = Field(description="YYYY-MM-DD (null: not given)")
    phone: str | None = Field(description="the phone identity, masked unless pii_masked is false (null: none)")
    email: str | None = Field(description="the email identity, masked unless pii_masked is false (null: none)")
    identities: list[IdentityOut] = Field(description="every identity bound to the member")
    custom_fields: dict[str, CustomValue] = Field(description="the program's own fields: text, integer, true/false")
    merchant_id: str | None = Field(description="the merchant that registered the member (null: HQ staff named none)")
    store_id: str | None = Field(description="the store that registered the member (null: none named)")
    channel: Channel = Field(description="where the member registered")
    stage: Literal["new", "active", "dormant", "churned"] = Field(
        description="lifecycle stage: new after registering, then active, dormant or churned by days since the "
                    "last activity")
    registered_at: str = Field(description="when the member registered (ISO 8601, UTC)")
    updated_at: str = Field(description="when the member record last changed (ISO 8601, UTC)")
    version: int = Field(description="the record's version: one more per change")
    pii_masked: bool = Field(description="true: phone and email are masked; false: shown in full (the member "
                                         "themself, or an HQ role with reveal=true, audited)")


class MemberTokenOut(Reply):
    """The member's access token and refresh token."""

    token: str = Field(description="the access token: send as `Authorization: Bearer <token>`")
    member_id: str
    expires_at: str = Field(description="when the access token stops working (ISO 8601, UTC)")
    refresh_token: str = Field(description="trade it for new tokens with refreshMemberToken; usable once")
    refresh_expires_at: str = Field(description="when the refresh token stops working (ISO 8601, UTC)")
