"""Benefit rules ops configure (versioned like the ladder) and their evaluation, with no I/O.

A rule gives benefits when all of its conditions hold for a member at a moment: the tier held
(one of some codes, or at least one), a paid plan, the birthday (day or month), the member day
of the month, the lifecycle stage, a date window. No condition: everyone. Where several rules
give the same kind, the member gets the best: the highest points multiplier, the deepest
discount; flags and packs add up. Each benefit carries the rule and the conditions that gave it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, StrictBool, StrictInt, field_validator, model_validator

from chalicelib.db.versioned import VersionedConfig
from chalicelib.shared.types import DecimalText, Instant, Strict, unique_by

Ref = Field(pattern=r"^[A-Za-z0-9_\-.:]{1,64}$")
STAGES = Literal["new", "active", "dormant", "churned"]


class Window(Strict):
    starts_at: Instant
    ends_at: Instant

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.ends_at <= self.starts_at:
            raise ValueError("a window's ends_at must be after its starts_at")
        return self


class When(Strict):
    tiers: list[str] | None = Field(None, max_length=20, description="holds one of these tiers")
    min_tier: str | None = Field(None, max_length=32, description="holds this tier or a higher one")
    plans: list[str] | None = Field(None, max_length=20, description="has one of these paid plans running")
    paid: StrictBool | None = Field(None, description="true: any paid plan running; false: none")
    birthday: Literal["day", "month"] | None = Field(None, description="today is the birthday, or in its month")
    member_day: StrictInt | None = Field(None, ge=1, le=31, description="the member day of each month")
    stages: list[STAGES] | None = Field(None, max_length=4, description="lifecycle stage")
    window: Window | None = None


class Give(Strict):
    kind: Literal["points_multiplier", "discount_percent", "price_list", "coupon_pack", "free_shipping",
                  "dedicated_service", "custom"]
    multiplier: DecimalText | None = Field(None, description="points_multiplier: e.g. \"1.5\" (1 < x <= 10)")
    percent: StrictInt | None = Field(None, ge=1, le=99, description="discount_percent: off the price")
    ref: str | None = Field(None, pattern=r"^[A-Za-z0-9_\-.:]{1,64}$",
                            description="price_list / coupon_pack id, or a custom benefit's name")
    grant: Literal["on_upgrade", "monthly", "on_birthday"] | None = Field(
        None, description="coupon_pack: granted on reaching the tier, or claimable once a month / on the birthday")

    @model_validator(mode="after")
    def _fits_kind(self) -> Give:
        need = {"points_multiplier": "multiplier", "discount_percent": "percent", "price_list": "ref",
                "coupon_pack": "ref", "custom": "ref"}.get(self.kind)
        if need and getattr(self, need) is None:
            raise ValueError(f"a {self.kind} benefit needs {need}")
        # the multiplier is finite (DecimalText), so comparing it cannot raise
        if self.kind == "points_multiplier" and not Decimal(1) < Decimal(str(self.multiplier)) <= Decimal(10):
            raise ValueError("multiplier must be above 1 and at most 10")
        if (self.kind == "coupon_pack") != (self.grant is not None):
            raise ValueError("coupon packs (and only they) say how they are granted")
        return self


class Rule(Strict):
    id: str = Ref
    name: str = Field(min_length=1, max_length=64)
    when: When = Field(default_factory=When)
    give: list[Give] = Field(min_length=1, max_length=10)


class BenefitRules(Strict):
    rules: list[Rule] = Field([], max_length=100)

    @field_validator("rules")
    @classmethod
    def _unique(cls, rules: list[Rule]) -> list[Rule]:
        unique_by(rules, "id", "rule ids")
        return rules


def _tiers(rules: BenefitRules) -> list[tuple[str, str]]:
    """The tiers the rules' conditions name (an unknown one would silently never match)."""
    found = []
    for i, rule in enumerate(rules.rules):
        found += [(f"rules[{i}].when.tiers", code) for code in rule.when.tiers or []]
        if rule.when.min_tier is not None:
            found.append((f"rules[{i}].when.min_tier", rule.when.min_tier))
    return found


def _plans(rules: BenefitRules) -> list[tuple[str, str]]:
    """The paid plans the rules' conditions name."""
    return [(f"rules[{i}].when.plans", code) for i, rule in enumerate(rules.rules) for code in rule.when.plans or []]


def _price_lists(rules: BenefitRules) -> list[tuple[str, str]]:
    """The price lists the rules give (one not saved would price nothing: refused, like a tier)."""
    return [(f"rules[{i}].give[{j}].ref", give.ref) for i, rule in enumerate(rules.rules)
            for j, give in enumerate(rule.give) if give.kind == "price_list" and give.ref is not None]


RULES = VersionedConfig("benefit-rules", BenefitRules, BenefitRules, "benefit.rules_changed", "program:benefits",
                        refers={"tier": _tiers, "plan": _plans, "price_list": _price_lists})


@dataclass(frozen=True)
class Facts:
    """What the conditions look at: the member at one moment."""

    codes: tuple[str, ...]          # the ladder's tier codes, lowest first
    tier: int                       # the tier held (index)
    plan: str | None                # the paid plan running
    birthday: date | None
    stage: str
    now: datetime
    today: date

    def at_tier(self, tier: int) -> Facts:
        """The same member holding another tier."""
        return Facts(self.codes, tier, self.plan, self.birthday, self.stage, self.now, self.today)


def _birthday(birthday: date, today: date) -> tuple[bool, bool]:
    """(is the birthday, is the birthday month); 29 February counts on the 28th in other years."""
    day = birthday.day
    if birthday.month == 2 and day == 29 and not (today.year % 4 == 0 and (today.year % 100 or today.year % 400 == 0)):
        day = 28
    return (today.month, today.day) == (birthday.month, day), today.month == birthday.month


def because(when: When, f: Facts) -> list[str] | None:
    """The conditions of ``when`` as they hold for ``f``; None if one does not."""
    held = f.codes[f.tier]
    why: list[str] = []
    checks: list[tuple[bool, bool, str]] = [
        (when.tiers is not None, held in (when.tiers or []), f"tier {held}"),
        (when.min_tier is not None, when.min_tier in f.codes and f.tier >= f.codes.index(when.min_tier or ""),
         f"tier {held} >= {when.min_tier}"),
        (when.plans is not None, f.plan in (when.plans or []), f"plan {f.plan}"),
        (when.paid is not None, (f.plan is not None) == when.paid, "paid member" if when.paid else "not a paid member"),
        (when.stages is not None, f.stage in (when.stages or []), f"stage {f.stage}"),
        (when.member_day is not None, f.today.day == when.member_day, f"member day {when.member_day}"),
        (when.window is not None, when.window is not None and when.window.starts_at <= f.now < when.window.ends_at,
         "in its date window"),
    ]
    if when.birthday is not None:
        is_day, is_month = _birthday(f.birthday, f.today) if f.birthday else (False, False)
        checks.append((True, is_day if when.birthday == "day" else is_month, f"birthday {when.birthday}"))
    for applies, holds, text in checks:
        if applies:
            if not holds:
                return None
            why.append(text)
    return why or ["everyone"]


def benefits(rules: BenefitRules, f: Facts) -> list[dict[str, Any]]:
    """Every benefit the rules give ``f``, each with its rule and reasons, in rule order."""
    out = []
    for rule in rules.rules:
        why = because(rule.when, f)
        if why is None:
            continue
        for give in rule.give:
            out.append({"rule": rule.id, "rule_name": rule.name, "because": why,
                        **give.model_dump(exclude_none=True)})
    return out


def summary(given: list[dict[str, Any]]) -> dict[str, Any]:
    """What the member gets, all rules together: the best of each kind."""
    multipliers = [(Decimal(g["multiplier"]), g["rule"]) for g in given if g["kind"] == "points_multiplier"]
    discounts = [(g["percent"], g["rule"]) for g in given if g["kind"] == "discount_percent"]
    best_m = max(multipliers, default=None)
    best_d = max(discounts, default=None)
    lists = [g["ref"] for g in given if g["kind"] == "price_list"]
    return {"points_multiplier": str(best_m[0]) if best_m else None, "points_multiplier_rule": best_m[1] if best_m else None,
            "discount_percent": best_d[0] if best_d else None, "discount_rule": best_d[1] if best_d else None,
            "price_list": lists[0] if lists else None,
            "free_shipping": any(g["kind"] == "free_shipping" for g in given),
            "dedicated_service": any(g["kind"] == "dedicated_service" for g in given),
            "coupon_packs": [{"ref": g["ref"], "grant": g["grant"], "rule": g["rule"]}
                             for g in given if g["kind"] == "coupon_pack"],
            "custom": sorted({g["ref"] for g in given if g["kind"] == "custom"})}


def gained(now: list[dict[str, Any]], then: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Benefits in ``then`` that ``now`` lacks (what the next tier would add)."""
    def key(g: dict[str, Any]) -> tuple:
        return (g["rule"], g["kind"], g.get("multiplier"), g.get("percent"), g.get("ref"))
    have = {key(g) for g in now}
    return [g for g in then if key(g) not in have]
