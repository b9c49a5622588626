"""A coupon template's terms: what it takes off, on what, when, and how it stacks. Pydantic models
with no I/O; a refusal is a ValueError naming the field (the house turns it into a 422).

Money is integer fen. ``[]`` in an include list would admit nothing and is refused; ``None``
admits anything. Times of day are the program's local wall time, ``from_time`` included and
``to_time`` excluded (``"24:00"`` is the end of the day).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, StrictInt, ValidationInfo, field_validator, model_validator

from chalicelib.shared.types import Instant, PlainText, Strict

MAX_FEN = 10**11                  # an order line's ceiling (orders.domain.OrderLine)
MAX_OFF_FEN = 10**9               # ¥10,000,000: more than any coupon takes off
Name = Annotated[str, Field(min_length=1, max_length=64)]
HHMM = re.compile(r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]$")
Kind = Literal["amount_off", "threshold", "percent_off", "no_threshold", "gift_item", "free_shipping", "parking",
               "third_party"]
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class CouponStep(Strict):
    """One step of a threshold coupon: spend ``threshold_fen``, save ``off_fen``."""

    threshold_fen: StrictInt = Field(ge=1, le=MAX_FEN)
    off_fen: StrictInt = Field(ge=1, le=MAX_OFF_FEN)

    @model_validator(mode="after")
    def _off_below_threshold(self) -> CouponStep:
        if self.off_fen >= self.threshold_fen:
            raise ValueError(f"a step's off_fen ({self.off_fen}) must be below its threshold_fen ({self.threshold_fen})")
        return self


APPLICABILITY = ("merchants", "stores", "skus", "categories", "channels")


class CouponApplicability(Strict):
    """Where and on what the coupon is usable: an include list (``None``: any) and an exclude list
    for each of merchant, store, SKU, category and channel."""

    merchants: list[Name] | None = Field(None, max_length=200)
    stores: list[Name] | None = Field(None, max_length=200)
    skus: list[Name] | None = Field(None, max_length=200)
    categories: list[Name] | None = Field(None, max_length=200)
    channels: list[Name] | None = Field(None, max_length=20)
    exclude_merchants: list[Name] = Field([], max_length=200)
    exclude_stores: list[Name] = Field([], max_length=200)
    exclude_skus: list[Name] = Field([], max_length=200)
    exclude_categories: list[Name] = Field([], max_length=200)
    exclude_channels: list[Name] = Field([], max_length=20)

    @model_validator(mode="after")
    def _lists(self) -> CouponApplicability:
        for name in APPLICABILITY:
            include: list[str] | None = getattr(self, name)
            if include == []:
                raise ValueError(f"applicability.{name} is [], which admits nothing: leave it out (null) to admit any")
            both = sorted(set(include or ()) & set(getattr(self, f"exclude_{name}")))
            if both:
                raise ValueError(f"applicability: {both[:5]} both in {name} and in exclude_{name}")
        return self

    def admits(self, name: str, value: str | None) -> bool:
        """Whether ``value`` (a merchant, store, SKU, category or channel; ``None``: not known)
        passes the include and exclude lists of ``name``. An unknown value passes no include list."""
        include: list[str] | None = getattr(self, name)
        if include is not None and value not in include:
            return False
        return value is None or value not in getattr(self, f"exclude_{name}")

    def names_lines(self) -> bool:
        """Whether the lists single out lines (SKUs or categories, included or excluded)."""
        return bool(self.skus is not None or self.categories is not None or self.exclude_skus or self.exclude_categories)


def minutes(hhmm: str) -> int:
    """Minutes since local midnight of ``"HH:MM"`` (``"24:00"`` is 1440)."""
    hours, mins = hhmm.split(":")
    return int(hours) * 60 + int(mins)


class CouponWindow(Strict):
    """When in the week and the day the coupon can be used, in the program's local time."""

    weekdays: list[StrictInt] | None = Field(None, max_length=7, description="1 = Monday .. 7 = Sunday; null: every day")
    from_time: str | None = Field(None, description="HH:MM local, included")
    to_time: str | None = Field(None, description="HH:MM local, excluded (24:00: the end of the day)")

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, v: list[int] | None) -> list[int] | None:
        if v is None:
            return v
        if not v:
            raise ValueError("window.weekdays is [], which is never: leave it out (null) for every day")
        if any(not 1 <= d <= 7 for d in v):
            raise ValueError(f"window.weekdays are 1 (Monday) to 7 (Sunday), not {[d for d in v if not 1 <= d <= 7][:3]}")
        return sorted(set(v))

    @field_validator("from_time", "to_time")
    @classmethod
    def _hhmm(cls, v: str | None, info: ValidationInfo) -> str | None:
        name = info.field_name
        if v is not None and not (HHMM.match(v) or (name == "to_time" and v == "24:00")):
            raise ValueError(f"window.{name} is a local time 'HH:MM' (00:00 to 23:59{', or 24:00' if name == 'to_time' else ''}), not '{v[:16]}'")
        return v

    @model_validator(mode="after")
    def _order(self) -> CouponWindow:
        if (self.from_time is None) != (self.to_time is None):
            raise ValueError("window.from_time and window.to_time go together (or neither)")
        if self.from_time is not None and self.to_time is not None and minutes(self.to_time) <= minutes(self.from_time):
            raise ValueError(f"window.to_time ({self.to_time}) must be after window.from_time ({self.from_time}); "
                             "a window does not cross midnight")
        return self


class CouponValidity(Strict):
    """When an issued coupon can be used: from ``starts_at`` (or its claim, whichever is later)
    to a fixed ``ends_at`` or to the end of the ``days_after_claim``-th local day, the day it
    becomes usable being the first (``domain.valid_until``)."""

    starts_at: Instant | None = None
    ends_at: Instant | None = None
    days_after_claim: StrictInt | None = Field(None, ge=1, le=3650)

    @model_validator(mode="after")
    def _one_end(self) -> CouponValidity:
        if (self.ends_at is None) == (self.days_after_claim is None):
            raise ValueError("validity needs exactly one of ends_at (a fixed end) and days_after_claim")
        if self.starts_at is not None and self.ends_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("validity.ends_at must be after validity.starts_at")
        return self


class CouponStacking(Strict):
    """How the coupon combines with others at a checkout: an exclusive one is used alone; joint
    ones combine, at most ``group_max`` of one ``group``, any number of groups. ``on``: whether it
    applies to the original amounts or to what earlier coupons left."""

    category: Literal["exclusive", "joint"]
    group: str | None = Field(None, min_length=1, max_length=32)
    group_max: StrictInt = Field(1, ge=1, le=10)
    on: Literal["original", "discounted"] = "discounted"

    @model_validator(mode="after")
    def _group(self) -> CouponStacking:
        if self.category == "joint" and self.group is None:
            raise ValueError("stacking.group is needed for a joint coupon")
        if self.category == "exclusive" and (self.group is not None or self.group_max != 1):
            raise ValueError("stacking.group and stacking.group_max are for joint coupons only")
        return self


Bearer = Literal["brand", "mall", "merchant"]


def _brand_pays_all() -> dict[Bearer, int]:
    return {"brand": 100}


class CouponCostBearer(Strict):
    """Who pays for the discount, in percent (recorded on every use)."""

    shares: dict[Bearer, StrictInt] = Field(default_factory=_brand_pays_all, min_length=1, max_length=3)

    @field_validator("shares")
    @classmethod
    def _hundred(cls, v: dict[str, int]) -> dict[str, int]:
        if any(not 1 <= share <= 100 for share in v.values()):
            raise ValueError("cost_bearer.shares are percentages from 1 to 100 (leave a bearer out for 0)")
        if sum(v.values()) != 100:
            raise ValueError(f"cost_bearer.shares must sum to 100, not {sum(v.values())}")
        return v


# Which of the kind-specific fields each kind needs and which it may carry.
NEEDS: dict[str, tuple[str, ...]] = {
    "amount_off": ("amount_off_fen",), "threshold": ("steps",), "percent_off": ("percent",),
    "no_threshold": ("amount_off_fen",), "gift_item": ("gift_sku",), "free_shipping": (),
    "parking": ("parking_hours",), "third_party": ("amount_off_fen", "platform"),
}
MAY: dict[str, tuple[str, ...]] = {"amount_off": ("min_spend_fen",), "percent_off": ("min_spend_fen", "cap_fen"),
                                   "third_party": ("undo_window_minutes", "codes")}
KIND_FIELDS = ("amount_off_fen", "min_spend_fen", "steps", "percent", "cap_fen", "gift_sku", "parking_hours",
               "platform", "undo_window_minutes", "codes")


class Terms(Strict):
    """One version of a coupon template's terms."""

    kind: Kind
    title: PlainText = Field(min_length=1, max_length=60)
    description: PlainText | None = Field(None, max_length=500)
    amount_off_fen: StrictInt | None = Field(None, ge=1, le=MAX_OFF_FEN,
                                             description="amount_off, no_threshold; third_party: its face value")
    min_spend_fen: StrictInt | None = Field(None, ge=0, le=MAX_FEN, description="amount_off, percent_off: optional")
    steps: list[CouponStep] | None = Field(None, min_length=1, max_length=20, description="threshold: ascending")
    percent: StrictInt | None = Field(None, description="percent_off: the share paid, 1..99 (80 = 8折, 20% off)")
    cap_fen: StrictInt | None = Field(None, ge=1, le=MAX_OFF_FEN, description="percent_off: the most it takes off")
    gift_sku: Name | None = Field(None, description="gift_item: one unit of this SKU free")
    parking_hours: StrictInt | None = Field(None, ge=1, le=24, description="parking: free hours")
    platform: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]{0,31}$", description="third_party: e.g. douyin")
    undo_window_minutes: StrictInt = Field(60, ge=0, le=1440, description="third_party: how long a write-off can be undone")
    codes: Literal["imported", "live"] | None = Field(None, description="third_party: its codes are imported "
                                                      "(importCouponCodes; the default) or verified live with the platform")
    points_price: StrictInt | None = Field(None, ge=1, le=10**9,
                                           description="what one coupon costs in points (the program's 'points' "
                                                       "type) when exchanged through redeemPoints; null: not for points")
    applicability: CouponApplicability = Field(default_factory=CouponApplicability)
    window: CouponWindow | None = None
    validity: CouponValidity
    stacking: CouponStacking = Field(default_factory=lambda: CouponStacking(category="exclusive"))
    cost_bearer: CouponCostBearer = Field(default_factory=CouponCostBearer)

    @field_validator("percent")
    @classmethod
    def _percent(cls, v: int | None) -> int | None:
        if v is not None and not 1 <= v <= 99:
            raise ValueError(f"percent is the share paid, 1 to 99 (80 = 8折, 20% off), not {v}")
        return v

    @model_validator(mode="after")
    def _fields_of_kind(self) -> Terms:
        needs, may = NEEDS[self.kind], MAY.get(self.kind, ())
        for name in KIND_FIELDS:
            # undo_window_minutes has a default, and a stored template dumps it for every kind
            given = self.undo_window_minutes != 60 if name == "undo_window_minutes" else getattr(self, name) is not None
            if given and name not in needs and name not in may:
                raise ValueError(f"{name} does not belong to a {self.kind} coupon"
                                 f" (it takes {', '.join(needs + may) or 'none of the kind fields'})")
        missing = [name for name in needs if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.kind} coupon needs {' and '.join(missing)}")
        return self

    @model_validator(mode="after")
    def _amounts(self) -> Terms:
        if self.kind == "amount_off" and self.min_spend_fen is not None and self.amount_off_fen is not None \
                and self.min_spend_fen <= self.amount_off_fen:
            raise ValueError(f"min_spend_fen ({self.min_spend_fen}) must be above amount_off_fen ({self.amount_off_fen})")
        for lower, upper in zip(self.steps or (), (self.steps or [])[1:], strict=False):
            if upper.threshold_fen <= lower.threshold_fen or upper.off_fen <= lower.off_fen:
                raise ValueError("steps must ascend strictly in both threshold_fen and off_fen "
                                 f"({lower.threshold_fen}/{lower.off_fen} then {upper.threshold_fen}/{upper.off_fen})")
        if self.kind == "third_party" and self.points_price is not None:
            raise ValueError("a third_party coupon is a platform's code, sold there: it has no points_price")
        if self.gift_sku is not None and not self.applicability.admits("skus", self.gift_sku):
            raise ValueError(f"gift_sku '{self.gift_sku}' is not admitted by applicability's SKU lists")
        return self
