"""What the benefit operations answer, figure by figure: the OpenAPI response schemas.

A benefit is given by a rule (configured in getBenefitRules) whose conditions hold for the member
now; each one says which rule gave it and why. A till applies ``best``: the best of each kind.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.shared.types import Reply

KIND = Literal["points_multiplier", "discount_percent", "price_list", "coupon_pack", "free_shipping",
               "dedicated_service", "custom"]
GRANT = Literal["on_upgrade", "monthly", "on_birthday"]


class BenefitGiven(Reply):
    rule: str = Field(description="the id of the rule that gives it")
    rule_name: str = Field(description="the rule's name")
    because: list[str] = Field(description="the rule's conditions as they hold for the member, e.g. 'tier V3', "
                                           "'member day 8'; ['everyone'] for a rule with none")
    kind: KIND = Field(description="what the benefit is")
    multiplier: str | None = Field(None, description="points_multiplier: the factor on points earned, a decimal as "
                                                     "text (e.g. \"1.5\"); absent on other kinds unless "
                                                     "their rule sets one")
    percent: int | None = Field(None, description="discount_percent: percent off the price (1-99); absent on other "
                                                  "kinds unless their rule sets one")
    ref: str | None = Field(None, description="price_list / coupon_pack: its id; custom: the benefit's name; may be "
                                              "absent on other kinds")
    grant: GRANT | None = Field(None, description="coupon_pack: granted on reaching the tier (on_upgrade), or "
                                                  "claimable once a month (monthly) or in the birthday month "
                                                  "(on_birthday); absent on other kinds")


class CouponPackOffer(Reply):
    ref: str = Field(description="the coupon pack's id")
    grant: GRANT = Field(description="on_upgrade: granted on reaching the tier; monthly / on_birthday: claim it "
                                     "with claimBenefit")
    rule: str = Field(description="the id of the rule that gives it")


class BestBenefits(Reply):
    points_multiplier: str | None = Field(description="the highest points multiplier of all rules, a decimal as "
                                                      "text (e.g. \"1.5\"); null if none")
    points_multiplier_rule: str | None = Field(description="the rule that gives it; null if none")
    discount_percent: int | None = Field(description="the deepest discount, percent off the price; null if none")
    discount_rule: str | None = Field(description="the rule that gives it; null if none")
    price_list: str | None = Field(description="the price list to apply (the first rule's); null if none")
    free_shipping: bool = Field(description="whether some rule gives free shipping")
    dedicated_service: bool = Field(description="whether some rule gives dedicated service")
    coupon_packs: list[CouponPackOffer] = Field(description="every coupon pack given (they add up)")
    custom: list[str] = Field(description="the names of the custom benefits given, sorted")


class NextTierGain(Reply):
    tier: str = Field(description="the code of the tier above the one held")
    would_gain: list[BenefitGiven] = Field(description="benefits the member would get there and does not get now")


class MemberBenefitsOut(Reply):
    """What the member gets now, each benefit with its rule and reason; the best of each kind; what the next tier adds."""

    member_id: str
    tier: str = Field(description="the code of the tier the member holds now (a manual floor included)")
    plan: str | None = Field(description="the paid membership plan running today; null if none")
    rules_version: int = Field(description="the benefit rules version in force (0: none saved)")
    benefits: list[BenefitGiven] = Field(description="every benefit the rules give the member now, in rule order")
    best: BestBenefits = Field(description="all rules together: the best of each kind, for checkout")
    next_tier: NextTierGain | None = Field(description="what reaching the next tier would add; null at the top of "
                                                       "the ladder")


class BenefitClaimedOut(Reply):
    """The coupon pack granted for this period."""

    member_id: str
    rule: str = Field(description="the id of the rule that gives the pack")
    ref: str = Field(description="the coupon pack's id")
    period: str = Field(description="the period it was granted for: the month (2026-11) or the birthday's year "
                                    "(birthday:2026); one grant per rule, pack and period")
    status: Literal["granted", "issued"] = Field(description="issued: its coupon pack's coupons were issued with it "
                                                 "(coupons); granted: recorded, its coupons owed (no coupon pack of "
                                                 "that id is in force yet: the coupon-owed job issues it when it can)")
    granted_at: str = Field(description="when it was granted (ISO 8601, UTC)")
    coupons: list[str] = Field(description="the coupon ids issued with it (listMemberCoupons shows them)")
    reason: str | None = Field(None, description="why its coupons are owed")


class Entitlement(Reply):
    rule: str = Field(description="the id of the rule that gave the pack")
    kind: Literal["coupon_pack"] = Field(description="coupon_pack")
    ref: str = Field(description="the coupon pack's id")
    period: str = Field(description="the period it was granted for: a month (2026-11), a birthday's year "
                                    "(birthday:2026), or reaching a tier (upgrade:V3:2026-11-24)")
    status: Literal["granted", "issued", "expired"] = Field(
        description="issued: its coupons were issued; granted: recorded, its coupons owed (the coupon-owed job "
                    "issues them when it can); expired: they could not be issued in the days allowed")
    granted_at: str = Field(description="when it was granted (ISO 8601, UTC)")
    reason: str | None = Field(None, description="why its coupons are owed or expired")


class EntitlementsOut(Reply):
    """The coupon packs the member was granted."""

    member_id: str
    entitlements: list[Entitlement] = Field(description="up to `limit` of them, ordered by rule, pack and period")
