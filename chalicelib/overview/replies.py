"""What the member overview answers (the OpenAPI response schema): the member's tier, paid plan,
benefits and tasks in one reply, in the shapes the tier, benefit and task reads answer (their
published reply models). Imported only when the document is built (the route names the model by
string).
"""

from __future__ import annotations

from pydantic import Field

from chalicelib.benefits.replies import BenefitGiven, BestBenefits, NextTierGain
from chalicelib.shared.types import Reply
from chalicelib.tasks.replies import MemberTaskOut
from chalicelib.tiers.replies import MemberTierOut


class OverviewBenefits(Reply):
    benefits: list[BenefitGiven] = Field(description="every benefit the member gets now, in rule order")
    best: BestBenefits = Field(description="all rules together, the best of each kind (what a till applies)")
    next_tier: NextTierGain | None = Field(description="what the next tier would add (null: the top tier is held)")
    rules_version: int = Field(description="the benefit rules version in force (0: none saved)")


class MemberOverview(Reply):
    """The member's screen in one read: tier, paid plan, growth, next tier, benefits and tasks."""

    member_id: str
    tier: MemberTierOut = Field(description="the tier held, why, its validity and what the next tier needs "
                                            "(as getMemberTier answers it)")
    benefits: OverviewBenefits = Field(description="what the member gets now and what the next tier adds (as "
                                                   "getMemberBenefits answers it, without the member, tier and plan "
                                                   "given above)")
    tasks: list[MemberTaskOut] = Field(description="every task in force with the member's progress (as "
                                                   "getMemberTasks answers them)")
