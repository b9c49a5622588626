"""What the member overview answers (the OpenAPI response schema): the member's tier, paid plan,
benefits and tasks in one reply, in the shapes the tier, benefit and task reads answer (their
published reply models); and the members list, each row with its balances when asked. Imported
only when the document is built (the routes name the models by string).
"""

from __future__ import annotations

from pydantic import Field

from chalicelib.benefits.replies import BenefitGiven, BestBenefits, NextTierGain
from chalicelib.members.replies import MemberOut
from chalicelib.shared.types import Reply
from chalicelib.tasks.replies import MemberTaskOut
from chalicelib.tiers.replies import HeldTier, MemberTierOut


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


class MemberBalances(Reply):
    """A member's balances as the members list shows them, read by key with the page's others."""

    tier: HeldTier = Field(description="the tier held today (the earned one, or a higher manual floor)")
    points: int = Field(description="points available less any debt (as the account holds them: lots past their "
                                    "last day count until the daily expiry job takes them)")
    stored_value_fen: int = Field(description="stored value the member can spend now: principal + bonus (bonus past "
                                              "its last day left out), fen")
    spend_fen: int = Field(description="what the member spent at the listing's merchant: the amounts of orders that "
                                       "earned there, less their refunds, fen (projected from the orders' events: "
                                       "seconds behind them)")


class MemberRow(MemberOut):
    """A member of the list, with its balances when asked for."""

    balances: MemberBalances | None = Field(description="with include=balances: tier, points, stored value and spend; "
                                                        "null without it, and for a member merged away")


class MembersPage(Reply):
    """A page of the members a merchant registered in the period, masked, oldest first."""

    merchant_id: str
    members: list[MemberRow] = Field(description="the page's members, personal data masked, oldest registration "
                                                 "first; the store and stage filters apply within the page, so a "
                                                 "page may hold fewer than limit (or none) with more to come")
    next: str | None = Field(description="pass as `after` for the next page; null on the last")
