"""The points program's configuration and its evaluation, with no I/O.

Money is integer fen; multipliers are decimal strings ("1.5"), never floats. A configuration is
stored as a new version each time it changes and applies from its ``effective_from``: an order
is evaluated under the version in force when it happened, not when it arrived.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Literal

from pydantic import Field, StrictInt, field_validator, model_validator

from chalicelib.db.versioned import VersionedConfig
from chalicelib.orders.service import OrderLine
from chalicelib.shared.types import DecimalText, Instant, Strict

Multiplier = DecimalText
POINT_TYPE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")     # what a request can address
ROUNDING = {"floor": ROUND_FLOOR, "half_up": ROUND_HALF_UP, "ceil": ROUND_CEILING}
BEHAVIORS = ("check_in", "referral", "review", "share", "profile_completion")


def _multiplier(v: str) -> str:
    try:
        d = Decimal(v)
    except Exception:
        raise ValueError(f"'{v}' is not a decimal number") from None
    if not d.is_finite() or d < 0 or d > 100:
        raise ValueError("a multiplier is between 0 and 100")
    return v


class EarnStep(Strict):
    min_amount_fen: int = Field(ge=0, le=10**11)
    multiplier: Multiplier

    _m = field_validator("multiplier")(classmethod(lambda cls, v: _multiplier(v)))


class Campaign(Strict):
    name: str = Field(min_length=1, max_length=64)
    starts_at: Instant
    ends_at: Instant
    multiplier: Multiplier
    store_ids: list[str] = Field([], description="empty: every store")

    _m = field_validator("multiplier")(classmethod(lambda cls, v: _multiplier(v)))

    @model_validator(mode="after")
    def _window(self) -> Campaign:
        if self.ends_at <= self.starts_at:
            raise ValueError("a campaign's ends_at must be after its starts_at")
        return self


class Caps(Strict):
    per_order: int | None = Field(None, ge=0, le=10**9)
    per_day: int | None = Field(None, ge=0, le=10**9)
    per_month: int | None = Field(None, ge=0, le=10**10)


class Expiry(Strict):
    policy: Literal["never", "days", "year_end", "tier_validity", "rolling"] = "never"
    days: int = Field(365, ge=1, le=3650)
    grace_months: int = Field(0, ge=0, le=12)


class Behavior(Strict):
    points: int = Field(ge=0, le=1_000_000)
    referee_points: int = Field(0, ge=0, le=1_000_000, description="referral: points for the new member")
    per_day: int | None = Field(None, ge=1, le=1000)
    per_month: int | None = Field(None, ge=1, le=10_000)
    once: bool = False
    streak_bonus: dict[int, int] = Field({}, max_length=50,
                                         description="check_in: streak length (days) -> bonus points")

    @field_validator("streak_bonus")
    @classmethod
    def _streaks(cls, v: dict[int, int]) -> dict[int, int]:
        # a negative bonus would take points away for checking in
        if any(not 1 <= days <= 366 or not 0 <= bonus <= 1_000_000 for days, bonus in v.items()):
            raise ValueError("streak lengths are 1 to 366 days and bonuses 0 to 1,000,000 points")
        return v


class RedeemRules(Strict):
    points_per_yuan: int = Field(100, ge=1, le=1_000_000, description="100 means 100 points = ¥1")
    max_share_percent: int = Field(50, ge=0, le=100, description="at most this share of an order")


class PointType(Strict):
    redeemable: bool = True
    expiry: Expiry = Field(default_factory=Expiry)


class ProgramRules(Strict):
    """One version of the points program."""

    points_per_yuan: Multiplier = "1"
    rounding: Literal["floor", "half_up", "ceil"] = "floor"
    steps: list[EarnStep] = Field([])
    category_multipliers: dict[str, Multiplier] = Field({})
    sku_multipliers: dict[str, Multiplier] = Field({})
    store_multipliers: dict[str, Multiplier] = Field({})
    tier_multipliers: dict[str, Multiplier] = Field({})
    campaigns: list[Campaign] = Field([])
    caps: Caps = Field(default_factory=Caps)
    exclude_paid_with_points: bool = True
    exclude_paid_with_stored_value_bonus: bool = True
    pending_days: int = Field(0, ge=0, le=90, description="return window before order points unlock")
    backdate_days: int = Field(30, ge=0, le=366, description="how long after payment an order may still earn")
    growth_per_yuan: Multiplier = Field("1", description="growth value (tiers) per ¥1; never spendable")
    expiry: Expiry = Field(default_factory=lambda: Expiry(policy="year_end"),
                           json_schema_extra={"default": {"policy": "year_end", "days": 365, "grace_months": 0}},
                           description="omitted: points expire at the end of the year they are earned in "
                                       "(year_end); an expiry object without a policy never expires")
    reminder_days: list[StrictInt] = Field(default_factory=lambda: [30, 15, 3])
    redeem: RedeemRules = Field(default_factory=RedeemRules)
    behaviors: dict[str, Behavior] = Field({})
    custom_events: dict[str, Behavior] = Field({})
    point_types: dict[str, PointType] = Field({}, description="types beyond 'points' and 'growth'")
    negative_balance: Literal["debt", "cap"] = "debt"
    inflation_threshold_percent: int = Field(200, ge=100, le=100_000, description="warn when issued > this % of redeemed (30 days)")

    _m = field_validator("points_per_yuan", "growth_per_yuan")(classmethod(lambda cls, v: _multiplier(v)))

    @field_validator("category_multipliers", "sku_multipliers", "store_multipliers", "tier_multipliers")
    @classmethod
    def _multipliers(cls, v: dict[str, str]) -> dict[str, str]:
        for value in v.values():
            _multiplier(value)
        return v

    @field_validator("behaviors")
    @classmethod
    def _known_behaviors(cls, v: dict[str, Behavior]) -> dict[str, Behavior]:
        unknown = set(v) - set(BEHAVIORS)
        if unknown:
            raise ValueError(f"unknown behaviors {sorted(unknown)}; known: {', '.join(BEHAVIORS)} (use custom_events)")
        return v

    @field_validator("point_types")
    @classmethod
    def _type_names(cls, v: dict[str, PointType]) -> dict[str, PointType]:
        bad = [name for name in v if not POINT_TYPE_NAME.match(name) or name in ("points", "growth")]
        if bad:
            raise ValueError(f"point type names are a-z, 0-9 and '_' (not points or growth): {bad[:5]}")
        return v

    @field_validator("reminder_days")
    @classmethod
    def _reminders(cls, v: list[int]) -> list[int]:
        if any(d < 1 or d > 365 for d in v):
            raise ValueError("reminder days are between 1 and 365")
        return sorted(set(v), reverse=True)

    def type_config(self, point_type: str) -> PointType:
        """The configuration of a point type (``points``, ``growth`` or a configured one)."""
        if point_type == "points":
            return PointType(redeemable=True, expiry=self.expiry)
        if point_type == "growth":
            return PointType(redeemable=False, expiry=Expiry(policy="never"))
        if point_type in self.point_types:
            return self.point_types[point_type]
        raise KeyError(point_type)


# Declared here, with the model, rather than in ``program``: the API imports this module, so the
# rules' references to tiers are known to every save of the ladder in any process.
# Behaviours and custom events are provided: a member.behavior event exists only for those the
# rules reward, so a task counting another would never move.
RULES = VersionedConfig("points-rules", ProgramRules, ProgramRules, "points.rules_changed", "program:points",
                        refers={"tier": lambda rules: [(f"tier_multipliers.{code}", code)
                                                       for code in rules.tier_multipliers]},
                        provides={"behavior": lambda rules: set(rules.behaviors),
                                  "custom event": lambda rules: set(rules.custom_events)})


# --- evaluation --------------------------------------------------------------------------------

def _d(value: str) -> Decimal:
    return Decimal(value)


def line_weights(rules: ProgramRules, lines: list[OrderLine]) -> list[Decimal]:
    """Each line's amount with its category and SKU factor applied: what it earns by, and so
    its share of the points an order earned (a refund of the line claws back that share)."""
    return [Decimal(line.amount_fen) * _line_factor(rules, line)[0] for line in lines]


def _line_factor(rules: ProgramRules, line: OrderLine) -> tuple[Decimal, list[str]]:
    """A line's category and SKU factor, and the rules that gave it ("category tea x2")."""
    factor, named = Decimal(1), []
    if line.category and line.category in rules.category_multipliers:
        factor *= _d(rules.category_multipliers[line.category])
        named.append(f"category {line.category} x{rules.category_multipliers[line.category]}")
    if line.sku and line.sku in rules.sku_multipliers:
        factor *= _d(rules.sku_multipliers[line.sku])
        named.append(f"sku {line.sku} x{rules.sku_multipliers[line.sku]}")
    return factor, named


def _line_weighted(rules: ProgramRules, lines: list[OrderLine], eligible: int) -> Decimal:
    """The eligible amount with each line's category and SKU factor applied: lines share the
    eligible amount in proportion to their amounts (all of it at factor 1 without lines)."""
    total_lines = sum(line.amount_fen for line in lines)
    if total_lines <= 0:
        return Decimal(eligible)
    return Decimal(eligible) * sum(line_weights(rules, lines), Decimal(0)) / Decimal(total_lines)


def eligible_fen(rules: ProgramRules, paid_fen: int, points_paid_fen: int, bonus_paid_fen: int) -> int:
    """The part of an order that earns: what was paid, less what points and the stored value bonus
    paid where the rules exclude them."""
    eligible = paid_fen
    if rules.exclude_paid_with_points:
        eligible -= points_paid_fen
    if rules.exclude_paid_with_stored_value_bonus:
        eligible -= bonus_paid_fen
    return max(0, eligible)


def order_points(rules: ProgramRules, *, paid_fen: int, points_paid_fen: int, bonus_paid_fen: int,
                 lines: list[OrderLine], store_id: str | None, tier: str | None,
                 at: datetime, bonus: tuple[str, str] | None = None) -> tuple[int, int, list[str]]:
    """(points, growth, explanation) an order earns before caps. Pure arithmetic in Decimal.
    ``bonus`` is a member benefit's ``(name, multiplier)`` (the benefits engine's best one)."""
    eligible = eligible_fen(rules, paid_fen, points_paid_fen, bonus_paid_fen)
    why = [f"eligible {eligible} fen"]
    order_factor = Decimal(1)
    step = max((s for s in rules.steps if paid_fen >= s.min_amount_fen), key=lambda s: s.min_amount_fen, default=None)
    if step:
        order_factor *= _d(step.multiplier)
        why.append(f"step >= {step.min_amount_fen} fen x{step.multiplier}")
    if store_id and store_id in rules.store_multipliers:
        order_factor *= _d(rules.store_multipliers[store_id])
        why.append(f"store {store_id} x{rules.store_multipliers[store_id]}")
    if tier and tier in rules.tier_multipliers:
        order_factor *= _d(rules.tier_multipliers[tier])
        why.append(f"tier {tier} x{rules.tier_multipliers[tier]}")
    if bonus is not None:
        order_factor *= _d(bonus[1])
        why.append(f"benefit {bonus[0]} x{bonus[1]}")
    for c in rules.campaigns:
        if c.starts_at <= at < c.ends_at and (not c.store_ids or store_id in c.store_ids):
            order_factor *= _d(c.multiplier)
            why.append(f"campaign {c.name} x{c.multiplier}")
    for i, line in enumerate(lines):
        named = _line_factor(rules, line)[1]
        if named:
            why.append(f"line {i + 1} ({line.amount_fen} fen): {', '.join(named)}")
    weighted = _line_weighted(rules, lines, eligible)
    raw = weighted * order_factor * _d(rules.points_per_yuan) / 100
    points = int(raw.to_integral_value(rounding=ROUNDING[rules.rounding]))
    growth = int((Decimal(paid_fen) * _d(rules.growth_per_yuan) / 100).to_integral_value(rounding=ROUND_FLOOR))
    if rules.caps.per_order is not None and points > rules.caps.per_order:
        points = rules.caps.per_order
        why.append(f"capped per order at {points}")
    return points, growth, why


def expiry_date(expiry: Expiry, earned_on: date, tier_valid_until: date | None = None) -> date | None:
    """The last day a lot earned on ``earned_on`` can be spent (it expires the day after)."""
    if expiry.policy == "never":
        return None
    if expiry.policy == "days":
        return earned_on + timedelta(days=expiry.days)
    if expiry.policy == "tier_validity":
        return tier_valid_until            # None until the member has a tier with an end date
    if expiry.policy == "rolling":
        return None                        # the account's rolling date governs, not the lot
    year, month = earned_on.year, 12 + expiry.grace_months
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    return date(year, month, calendar.monthrange(year, month)[1])


def redeem_limit_points(rules: ProgramRules, order_amount_fen: int) -> int:
    """The most points an order of this amount may be paid with."""
    max_fen = order_amount_fen * rules.redeem.max_share_percent // 100
    return max_fen * rules.redeem.points_per_yuan // 100


def points_value_fen(rules: ProgramRules, points: int) -> int:
    """What ``points`` are worth in fen at the redemption rate."""
    return points * 100 // rules.redeem.points_per_yuan


def inflated(issued: int, redeemed: int, threshold_percent: int) -> bool:
    """Whether issuance outruns redemption: issued above ``threshold_percent`` of redeemed
    (any issuance with no redemption at all counts)."""
    return issued > 0 and (redeemed == 0 or issued * 100 > threshold_percent * redeemed)
