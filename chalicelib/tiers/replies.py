"""What the tier and paid membership operations answer, figure by figure: the OpenAPI response schemas.

A POS developer or an HQ operator reads these, not our code. Growth value is the tiers' own
point type: earned with orders like points, never spendable, read only by the tier ladder.
Amounts are integer fen (1 yuan = 100 fen). Dates are ISO days in the program's time zone;
instants are ISO 8601 UTC.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.shared.types import Reply

CAUSE = Literal["crossing", "retention", "downgrade", "manual", "manual_end", "refund", "task"]


class HeldTier(Reply):
    code: str = Field(description="the tier's code on the ladder, e.g. V3")
    name: str = Field(description="the tier's name shown to members")


class ManualFloor(Reply):
    tier: str = Field(description="the tier code the member holds at least, whatever their growth")
    until: str = Field(description="the floor's last day (inclusive); it may have passed if the tier-review "
                                   "job has not yet ended it")
    reason: str = Field(description="why it was set: the HQ operator's reason, or 'task <id>' for a task reward")


class NextTier(Reply):
    code: str = Field(description="the next tier's code (the one above the tier held)")
    name: str = Field(description="its name shown to members")
    threshold: int = Field(description="the growth value that reaches it")
    growth_needed: int = Field(description="growth value still to earn to reach it (0 or more); for a tier the member "
                                           "was downgraded from, also what the current period still needs for its "
                                           "retention")


class TierRetention(Reply):
    needed: int = Field(description="growth value to earn within the current validity period to keep the earned "
                                    "tier for another period (its retention, by default its threshold)")
    growth_needed: int = Field(description="of that, what is still to earn: needed − period_growth, at least 0")
    by: str = Field(description="the period's last day: the tier is reviewed the day after")


class PlusShown(Reply):
    plan: str = Field(description="the paid membership plan's code")
    status: Literal["active", "cancelled"] = Field(description="active, or cancelled (today, its last day)")
    until: str = Field(description="its last day (inclusive)")


class MemberTierOut(Reply):
    """The member's tier: where it comes from, its validity, growth, and what the next tier and keeping this one need."""

    member_id: str
    tier: HeldTier = Field(description="the tier the member holds today (the earned one, or a higher manual floor)")
    source: Literal["growth", "manual"] = Field(description="growth: the earned tier; manual: a floor above it "
                                                            "(set by HQ staff or a task reward)")
    earned_tier: str = Field(description="the code of the tier earned by growth value (under any floor)")
    valid_until: str | None = Field(description="the earned tier's last day before its review; null for the base "
                                                "tier (never reviewed)")
    grace_until: str | None = Field(description="set when the validity ended without the retention and the ladder "
                                                "gives grace days: the last day to reach it before the downgrade; "
                                                "null otherwise")
    growth: int = Field(description="the member's growth value balance (lifetime, net of refunds); negative only "
                                    "while refunds owe growth value already counted")
    period_growth: int = Field(description="net growth value earned in the current validity period (what retention "
                                           "counts); can be negative after refunds of earlier orders")
    period_start: str | None = Field(description="the current validity period's first day; null before any tier change "
                                     "(then period_growth is all the growth counted)")
    ladder_version: int = Field(description="the tier ladder version in force (0: none saved, the defaults)")
    manual: ManualFloor | None = Field(description="the manual floor set on the member; null if none")
    next: NextTier | None = Field(description="the tier above the one held; null at the top of the ladder")
    retain: TierRetention | None = Field(description="what keeping the earned tier needs; null for a tier with no "
                                                     "validity (the base tier)")
    plus: PlusShown | None = Field(description="the paid membership (PLUS) running today, which stacks with the tier; "
                                               "null if none")


class TierSetOut(Reply):
    """The member's tier after the manual floor was set."""

    member_id: str
    tier: str = Field(description="the code of the tier held now: the floor if it is above the earned tier")
    source: Literal["growth", "manual"] = Field(description="manual: the floor lifts the member above the earned "
                                                            "tier; growth: the earned tier is at or above it")
    earned_tier: str = Field(description="the code of the tier earned by growth value (under the floor)")
    valid_until: str | None = Field(description="the earned tier's last day before its review; null for the base tier")
    manual: ManualFloor = Field(description="the floor just set")


class TierChangeDetail(Reply):
    growth: int | None = Field(None, description="crossing, refund: the growth value balance after the posting "
                                                 "that moved the tier")
    period_growth: int | None = Field(None, description="retention, downgrade: net growth value earned in the "
                                                        "period that ended")
    needed: int | None = Field(None, description="retention, downgrade: the growth value the period needed to keep "
                                                 "the tier")
    period: list[str] | None = Field(None, description="retention, downgrade: the period's first and last day")
    until: str | None = Field(None, description="manual, task: the floor's last day")
    reason: str | None = Field(None, description="manual, manual_end: the floor's reason")
    task: str | None = Field(None, description="task: the id of the task whose reward set the floor")
    ended: str | None = Field(None, description="manual_end: the last day of the floor that ended")
    ladder_version: int | None = Field(None, description="the tier ladder version applied (all causes but "
                                                         "manual_end)")


class TierChange(Reply):
    number: int = Field(description="the change's number for this member, from 1 (pages use it as `before`)")
    at: str = Field(description="when the change took effect (ISO 8601, UTC)")
    from_: str | None = Field(alias="from", description="the tier code held before")
    to: str = Field(description="the tier code held after (the same as from for a retention)")
    cause: CAUSE = Field(description="crossing: growth reached a threshold; retention: kept at a period's end; "
                                     "downgrade: not kept at a period's end; manual: a floor set by HQ staff; "
                                     "manual_end: a floor ended; refund: a refund took growth below the threshold "
                                     "(when the ladder says so); task: a floor given by a task reward")
    detail: TierChangeDetail = Field(description="the figures behind the change (which ones depends on cause)")
    actor: str | None = Field(description="who or what made it: a staff member, stream:tiers, job:tier-review, ...")


class TierHistoryOut(Reply):
    """The member's tier changes, newest first."""

    member_id: str
    changes: list[TierChange] = Field(description="up to `limit` changes, newest first")
    next_before: int | None = Field(description="pass as `before` for the next page; null on the last")


class MembershipPeriod(Reply):
    start: str = Field(description="the period's first day")
    end: str = Field(description="its last day (inclusive); a cancellation ends the running one today")
    price_fen: int = Field(description="what was paid for it, in fen (0: a free trial)")
    plan: str = Field(description="the plan's code")
    payment_ref: str | None = Field(None, description="the payment's reference at the payment provider; absent on "
                                                      "a trial")
    trial: bool | None = Field(None, description="true on a free trial period; absent on a paid one")


MEMBERSHIP_STATUS = "active; cancelled (ended early); expired (its last day passed)"


class MembershipOut(Reply):
    """The member's paid membership after the purchase or renewal."""

    member_id: str
    plan: str = Field(description="the plan's code")
    status: Literal["active", "cancelled", "expired"] = Field(description=MEMBERSHIP_STATUS)
    started: str = Field(description="the first day of the current run of periods")
    until: str = Field(description="the last day (inclusive) of the last period bought")
    active: bool = Field(description="true while it runs today, its benefits with it: from started to "
                                       "until, a membership cancelled today included (to midnight)")
    periods: list[MembershipPeriod] = Field(description="the periods of the current run, paid or trial, oldest first")
    already_applied: bool | None = Field(None, description="true when this payment_ref was applied already: nothing "
                                                           "changed and the membership is shown as it stands "
                                                           "(absent otherwise)")


class MembershipCancelledOut(Reply):
    """The membership ended today, and what to refund to the payment route."""

    member_id: str
    plan: str = Field(description="the plan's code")
    status: Literal["cancelled"] = Field(description="cancelled")
    started: str = Field(description="the first day of the run of periods that was cancelled")
    until: str = Field(description="today: the membership's last day")
    active: bool = Field(description="true: today is its last day, paid for (the refund leaves it out), "
                                       "its benefits apply to midnight")
    periods: list[MembershipPeriod] = Field(description="the periods begun by today, the running one ending today; "
                                                        "periods not yet begun are dropped")
    refund_fen: int = Field(description="what to refund to the payment route, in fen: under 'prorated' the periods "
                                        "paid and not begun, and the unused days of the running one; 0 under 'none' "
                                        "(trials never refund)")
    refund_policy: Literal["none", "prorated"] = Field(description="the plans' refund policy in force")


class MembershipChange(Reply):
    number: int = Field(description="the change's number for this member, from 1")
    at: str = Field(description="when it happened (ISO 8601, UTC)")
    action: Literal["purchased", "renewed", "cancelled", "expired"] = Field(
        description="purchased: a first period or trial (or one after the last ended); renewed: a period stacked "
                    "after a running one (one cancelled today included: it starts tomorrow); cancelled: ended early; expired: its last day passed")
    plan: str = Field(description="the plan's code")
    until: str | None = Field(description="the membership's last day after the change")
    amount_fen: int = Field(description="purchased, renewed: the price paid in fen (0 for a trial); cancelled: the "
                                        "refund due in fen; expired: 0")
    payment_ref: str | None = Field(description="the payment's reference (purchase, renewal); null otherwise")
    actor: str | None = Field(description="who made it: a merchant key, a member, a staff member, or the "
                                          "membership-expiry job")


class MembershipStatusOut(Reply):
    """The member's paid membership, or status none, and its history."""

    member_id: str
    status: Literal["none", "active", "cancelled", "expired"] = Field(
        description="none: never had one (plan, started, until and periods are then absent); " + MEMBERSHIP_STATUS)
    active: bool = Field(description="true while it runs today, its benefits with it: from started to "
                                       "until, a membership cancelled today included (to midnight)")
    plan: str | None = Field(None, description="the plan's code")
    started: str | None = Field(None, description="the first day of the current run of periods")
    until: str | None = Field(None, description="the last day (inclusive)")
    periods: list[MembershipPeriod] | None = Field(None, description="the periods of the current run, oldest first")
    history: list[MembershipChange] = Field(description="its purchases, renewals, cancellations and expiries, "
                                                        "newest first (the last 100)")
