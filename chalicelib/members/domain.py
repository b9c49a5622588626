"""Members and identities, with no I/O.

An identity is a (type, value) pair that names one person: a phone number, a WeChat OpenID or
UnionID, an Alipay user id (the payer id Alipay gives a merchant: ``2088`` and 12 digits, or an
app's OpenID-like id), a membership card number, an email address. Values are normalised before they are
stored or looked up, so ``138 0013 8000``, ``+86 13800138000`` and ``13800138000`` are one phone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from chalicelib.shared.errors import ValidationProblem

IDENTITY_TYPES = ("phone", "wechat_openid", "wechat_unionid", "alipay_user_id", "card_no", "email")
SINGLE_VALUED = ("phone", "email")          # a member has at most one of these
GENDERS = ("male", "female", "unknown")
CHANNELS = ("app", "mini_program", "web", "pos", "import", "console")
STAGES = ("new", "active", "dormant", "churned")

_OPENID = re.compile(r"^[A-Za-z0-9_\-]{6,64}$")
_CARD = re.compile(r"^[A-Za-z0-9\-]{4,32}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


@dataclass(frozen=True)
class Identity:
    type: str
    value: str

    @property
    def ref(self) -> str:
        """``type:value``, as the member item lists its identities."""
        return f"{self.type}:{self.value}"

    @classmethod
    def from_ref(cls, ref: str) -> Identity:
        """The identity a ``type:value`` reference names."""
        kind, _, value = ref.partition(":")
        return cls(kind, value)

    def masked(self) -> Identity:
        """The identity with its value masked for display."""
        return Identity(self.type, mask(self.type, self.value))


def normalise(kind: str, value: str, region: str = "CN") -> Identity:
    """The canonical identity, or a ValidationProblem that says what is wrong."""
    value = (value or "").strip()
    if kind not in IDENTITY_TYPES:
        raise ValidationProblem(f"unknown identity type '{kind}'; one of {', '.join(IDENTITY_TYPES)}")
    if kind == "phone":
        return Identity(kind, normalise_phone(value, region))
    if kind == "email":
        if len(value) > 254 or not _EMAIL.match(value):
            raise ValidationProblem("email is not a valid address", errors=[{"field": "email", "message": "not an address"}])
        return Identity(kind, value.lower())
    if kind == "card_no":
        if not _CARD.match(value):
            raise ValidationProblem("card_no must be 4-32 letters, digits or '-'")
        return Identity(kind, value.upper())
    if not _OPENID.match(value):
        raise ValidationProblem(f"{kind} must be 6-64 letters, digits, '_' or '-'")
    return Identity(kind, value)


def normalise_phone(value: str, region: str = "CN") -> str:
    """E.164 (``+8613800138000``); numbers without a country code are read in ``region``."""
    import phonenumbers  # about 20 ms: a cold start that handles no phone does not pay it
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise ValidationProblem("phone is not a phone number",
                                errors=[{"field": "phone", "message": "not a phone number"}]) from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationProblem("phone is not a valid number for its region",
                                errors=[{"field": "phone", "message": "not a valid number for its region"}])
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask(kind: str, value: str) -> str:
    """What a caller without the right to see personal data is shown."""
    if kind == "phone":
        import phonenumbers
        number = phonenumbers.parse(value, None)
        national = str(number.national_number)
        shown = national[:3] + "****" + national[-4:] if len(national) >= 7 else "****" + national[-2:]
        # Mainland numbers read as people write them (138****8821); others keep their country code.
        return shown if number.country_code == 86 else f"+{number.country_code} {shown}"
    if kind == "email":
        local, _, domain = value.partition("@")
        return local[:1] + "***@" + domain
    return value


@dataclass(frozen=True)
class Member:
    member_id: str
    registered_at: str
    updated_at: str
    identities: tuple[Identity, ...]
    name: str | None = None
    gender: str = "unknown"
    birthday: date | None = None
    custom_fields: dict[str, Any] = field(default_factory=dict)
    merchant_id: str | None = None
    store_id: str | None = None
    channel: str = "app"
    stage: str = "new"
    status: str = "active"                  # active | merged
    merged_into: str | None = None
    version: int = 1
    last_active_at: str | None = None
    review_on: date | None = None           # when the lifecycle job next looks at this member

    def identity(self, kind: str) -> Identity | None:
        """The member's identity of ``kind``, if any."""
        return next((i for i in self.identities if i.type == kind), None)

    def with_identity(self, identity: Identity, at: str) -> Member:
        """The member with one more identity."""
        return replace(self, identities=self.identities + (identity,), updated_at=at,
                       version=self.version + 1)

    def without_identity(self, identity: Identity, at: str) -> Member:
        """The member with one identity fewer."""
        return replace(self, identities=tuple(i for i in self.identities if i != identity), updated_at=at,
                       version=self.version + 1)

    def with_profile(self, changes: dict[str, Any], at: str) -> Member:
        """Apply a profile patch. ``custom_fields`` merge key by key; a null removes a key."""
        custom = dict(self.custom_fields)
        for k, v in (changes.pop("custom_fields", None) or {}).items():
            if v is None:
                custom.pop(k, None)
            else:
                custom[k] = v
        return replace(self, **changes, custom_fields=custom, updated_at=at, version=self.version + 1)

    def touched(self, at: str, today: date, rules: LifecycleRules) -> Member:
        """The member after an activity of theirs: active again if they had drifted away."""
        if self.stage in ("dormant", "churned"):
            return replace(self, last_active_at=at, stage="active", review_on=today + rules.dormant_after)
        return replace(self, last_active_at=at)

    def view(self, reveal: bool) -> dict[str, Any]:
        """The member as the API shows it; personal data masked unless ``reveal``."""
        shown = [i if reveal else i.masked() for i in self.identities]
        phone = next((i.value for i in shown if i.type == "phone"), None)
        email = next((i.value for i in shown if i.type == "email"), None)
        return {
            "member_id": self.member_id, "status": self.status, "name": self.name,
            "gender": self.gender, "birthday": self.birthday.isoformat() if self.birthday else None,
            "phone": phone, "email": email,
            "identities": [{"type": i.type, "value": i.value} for i in shown],
            "custom_fields": self.custom_fields, "merchant_id": self.merchant_id,
            "store_id": self.store_id, "channel": self.channel, "stage": self.stage,
            "registered_at": self.registered_at, "updated_at": self.updated_at,
            "version": self.version, "pii_masked": not reveal,
        }


@dataclass(frozen=True)
class LifecycleRules:
    """new for ``new_for`` after registering; then by days since the last activity."""

    new_for: timedelta = timedelta(days=30)
    dormant_after: timedelta = timedelta(days=90)
    churned_after: timedelta = timedelta(days=180)

    def stage(self, registered: date, last_active: date, today: date) -> tuple[str, date | None]:
        """The stage on ``today`` and the next day it can change (None: only activity changes it)."""
        if today < registered + self.new_for:
            return "new", registered + self.new_for
        idle = today - last_active
        if idle < self.dormant_after:
            return "active", last_active + self.dormant_after
        if idle < self.churned_after:
            return "dormant", last_active + self.churned_after
        return "churned", None
