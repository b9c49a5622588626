"""What the member overview answers (the OpenAPI response schema): the member's tier, paid plan,
benefits and tasks in one reply.

Its parts have the shapes of the tier, benefit and task reads; they are described here under
their own names (``Overview...``) because a capability reaches another only through its service
module. Imported only when the document is built (the route names the model by string).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.shared.types import Reply


class OverviewTierName(Reply):
    code: str = Field(description="the tier's code on the ladder, e.g. V3")
    name: str = Field(description="its name shown to members")


class OverviewManualFloor(Reply):
    tier: str = Field(description="the tier code the member holds at least, whatever their growth")
    until: str | None = Field(description="the floor's last day (program calendar; may be past: then it no "
                                          "longer holds)")
    reason: str | None = Field(description="why: HQ's reason, or `task <id>` for a task's reward")


class OverviewNextTier(Reply):
    code: str = Field(description="the next tier up")
    name: str = Field(description="its name shown to members")
    threshold: int = Field(description="growth value that reaches it")
    growth_needed: int = Field(description="growth value still to earn to reach it (after a downgrade, also "
                                           "what the period's growth must reach again)")


class OverviewRetain(Reply):
    needed: int = Field(description="growth value to earn within the validity period to keep the earned tier")
    growth_needed: int = Field(description="of that, what is still to earn (0: kept)")
    by: str = Field(description="the period's last day (program calendar)")


class OverviewPlan(Reply):
    plan: str = Field(description="the paid plan's code")
    status: Literal["active", "cancelled"] = Field(description="active, or cancelled: not renewed, running to until")
    until: str = Field(description="its last day (program calendar)")


class OverviewTier(Reply):
    member_id: str
    tier: OverviewTierName = Field(description="the tier held now")
    source: Literal["growth", "manual"] = Field(description="why it is held: growth value, or a manual floor "
                                                            "(HQ or a task's reward) above the earned tier")
    earned_tier: str = Field(description="the tier code earned by growth value (what remains when a floor ends)")
    valid_until: str | None = Field(description="the earned tier's validity end, when it is reviewed (program "
                                                "calendar; null: held for good, the base tier)")
    grace_until: str | None = Field(description="in grace after a validity end without enough growth: the last day "
                                                "to reach the retention before the downgrade (null: not in grace)")
    growth: int = Field(description="growth value held: earned net of refunds and resets (negative while owing)")
    period_growth: int = Field(description="net growth value earned within the current validity period "
                                           "(negative when refunds in it took back growth earned before it)")
    period_start: str | None = Field(description="the current validity period's first day (null: no tier record "
                                                 "yet)")
    ladder_version: int = Field(description="the ladder version in force (0: none saved, the defaults)")
    manual: OverviewManualFloor | None = Field(description="the manual floor last set (null: none)")
    next: OverviewNextTier | None = Field(description="the next tier up and what reaching it needs (null: the top "
                                                      "tier is held)")
    retain: OverviewRetain | None = Field(description="what keeping the earned tier needs this period (null: held "
                                                      "for good)")
    plus: OverviewPlan | None = Field(description="the paid membership running today (null: none)")


class OverviewBenefit(Reply):
    rule: str = Field(description="the benefit rule that gives it")
    rule_name: str = Field(description="the rule's name")
    because: list[str] = Field(description="the rule's conditions as they hold for the member, e.g. `tier V3`, "
                                           "`birthday month`; [`everyone`] for a rule without conditions")
    kind: Literal["points_multiplier", "discount_percent", "price_list", "coupon_pack", "free_shipping",
                  "dedicated_service", "custom"] = Field(description="what the benefit is")
    multiplier: str | None = Field(None, description="points_multiplier only: the factor on earned points, a "
                                                     "decimal as text, e.g. \"1.5\"")
    percent: int | None = Field(None, description="discount_percent only: percent off the price")
    ref: str | None = Field(None, description="price_list / coupon_pack id, or a custom benefit's name")
    grant: Literal["on_upgrade", "monthly", "on_birthday"] | None = Field(
        None, description="coupon_pack only: granted on reaching the tier, or claimable monthly / in the birthday "
                          "month")


class OverviewCouponPack(Reply):
    ref: str = Field(description="the coupon pack's id")
    grant: Literal["on_upgrade", "monthly", "on_birthday"] = Field(description="how it is granted")
    rule: str = Field(description="the rule that gives it")


class OverviewBestBenefits(Reply):
    points_multiplier: str | None = Field(description="the highest points multiplier, a decimal as text (null: "
                                                      "none)")
    points_multiplier_rule: str | None = Field(description="the rule that gives it")
    discount_percent: int | None = Field(description="the deepest discount, percent off (null: none)")
    discount_rule: str | None = Field(description="the rule that gives it")
    price_list: str | None = Field(description="the price list to charge (the first given; null: the usual prices)")
    free_shipping: bool = Field(description="whether any rule gives free shipping")
    dedicated_service: bool = Field(description="whether any rule gives dedicated service")
    coupon_packs: list[OverviewCouponPack] = Field(description="every coupon pack given")
    custom: list[str] = Field(description="the custom benefits' names, sorted")


class OverviewNextTierBenefits(Reply):
    tier: str = Field(description="the next tier up")
    would_gain: list[OverviewBenefit] = Field(description="benefits reaching it would add")


class OverviewBenefits(Reply):
    benefits: list[OverviewBenefit] = Field(description="every benefit the member gets now, in rule order")
    best: OverviewBestBenefits = Field(description="all rules together, the best of each kind (what a till applies)")
    next_tier: OverviewNextTierBenefits | None = Field(description="what the next tier would add (null: the top "
                                                                   "tier is held)")
    rules_version: int = Field(description="the benefit rules version in force (0: none saved)")


class OverviewTaskReward(Reply):
    tier: str | None = Field(None, description="a tier held (as a floor) for validity_months")
    validity_months: int | None = Field(None, description="with tier: for how many months")
    growth: int | None = Field(None, description="growth value given")
    points: int | None = Field(None, description="points given")


class OverviewTask(Reply):
    task: str = Field(description="the task's id")
    name: str = Field(description="its name shown to members")
    kind: Literal["profile", "orders", "spend", "referrals", "event"] = Field(
        description="what it counts: a complete profile, orders, fen spent, referrals, a custom event")
    period: str = Field(description="the period progress counts in: `once`, or the current month (2026-11), "
                                    "quarter (2026-Q4) or year (2026)")
    progress: int = Field(description="counted so far this period (orders, fen spent, referrals or events)")
    target: int = Field(description="what completes it")
    completed_at: str | None = Field(description="when it was completed this period (null: not yet)")
    reward: OverviewTaskReward = Field(description="what completing it gives: one of a tier, growth value, points")


class MemberOverview(Reply):
    """The member's screen in one read: tier, paid plan, growth, next tier, benefits and tasks."""

    member_id: str
    tier: OverviewTier = Field(description="the tier held, why, its validity and what the next tier needs")
    benefits: OverviewBenefits = Field(description="what the member gets now and what the next tier adds")
    tasks: list[OverviewTask] = Field(description="every task in force with the member's progress")
