"""What the points operations answer, figure by figure: the OpenAPI response schemas.

A POS developer reads these, not our code. Every figure says what it counts, gross or net, and
whether it can be negative. Each model forbids undocumented fields, and a test validates real
replies against the served document, so a figure cannot appear without its description here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, RootModel

from chalicelib.api.configs import ConfigVersion
from chalicelib.coupons.replies import CouponOut
from chalicelib.ledger.replies import ReconciliationProgress
from chalicelib.orders.replies import OrderLineOut, OrderPartOut
from chalicelib.points.rules import ProgramRules
from chalicelib.shared.types import Reply

BALANCE = ("available − debt after the change: what the member owns, negative while they owe points "
           "(refunds of orders whose points were already spent)")


class LotShown(Reply):
    expires_on: str | None = Field(description="the lot's last valid day (null: never expires; under rolling "
                                               "expiry the member's window end, which every purchase moves)")
    points: int = Field(description="points left in the lot")


class BalanceOut(Reply):
    available: int = Field(description="points in live lots, not held; spendable once debt is repaid")
    pending: int = Field(description="earned points not yet spendable (pending_days after the order)")
    held: int = Field(description="points reserved by open checkout holds")
    debt: int = Field(description="points owed: clawbacks that found the points already spent; repaid first "
                                  "by the next earnings")
    balance: int = Field(description="available − debt − lapsed (negative while owing)")
    spendable: int = Field(description="what a redemption or hold may take now: max(0, balance)")
    lapsed: int | None = Field(None, description="points in lots past their last day that the expiry job has "
                                                 "not taken yet: no longer the member's (not spendable, not in "
                                                 "balance); the job only makes it permanent (not growth)")
    earned: int = Field(description="gross lifetime points added (orders, behaviours, adjustments), "
                                    "before clawbacks")
    clawed_back: int = Field(description="lifetime points taken back by refunds (from lots, or as debt)")
    net_earned: int = Field(description="earned − clawed_back")
    redeemed: int = Field(description="gross lifetime points spent (redemptions and confirmed holds)")
    restored: int = Field(description="lifetime spent points given back by refunds")
    net_redeemed: int = Field(description="redeemed − restored")
    expired: int = Field(description="lifetime points that expired unspent")
    version: int = Field(description="the account's version: one more per posting")
    expiring_soon: list[LotShown] | None = Field(None, description="points ending within 30 days, one entry a "
                                                                   "last day, soonest first (not growth)")
    next_lots: list[LotShown] | None = Field(None, description="the next lots a redemption takes, soonest "
                                                               "expiry first (not growth)")
    value_fen: int | None = Field(None, description="what the available points are worth in fen as a cash "
                                                    "offset under the program's rules (not growth)")


class AccountOut(Reply):
    """A member's points accounts: balances by point type, what expires soon, what a redemption takes next."""

    member_id: str
    accounts: dict[str, BalanceOut] = Field(description="by point type: points, growth, and any custom type")


class LotTaken(Reply):
    lot_id: str
    expires_on: str | None
    points: int = Field(description="points taken from this lot")


class EarnOut(Reply):
    """What an order earned: points and growth, how the figure was reached, the balance after."""

    member_id: str
    order_id: str
    rules_version: int = Field(description="the program version in force when the order was paid")
    points: int = Field(description="points this order earned (after caps)")
    growth: int = Field(description="growth value this order earned (tiers read it; never spendable)")
    explanation: list[str] = Field(description="how the figure was reached: base, multipliers, caps")
    pending: bool | None = Field(None, description="whether the points wait pending_days before they count")
    expires_on: str | None = Field(None, description="the earned points' last valid day (null: never; under "
                                                     "rolling expiry the member's window end, which every "
                                                     "purchase moves)")
    posting_id: str | None = None
    balance: int | None = Field(None, description=BALANCE)


class RedeemOut(Reply):
    """Points spent on an order or a reward: their cash value and the lots they came from."""

    member_id: str
    points: int = Field(description="points spent")
    value_fen: int = Field(description="their cash value in fen under the program's rules")
    lots: list[LotTaken] = Field(description="the lots they came from, soonest expiry first")
    posting_id: str
    balance: int = Field(description=BALANCE + ", less lots past their last day (never spent)")
    coupon: CouponOut | None = Field(None, description="exchange for a coupon: the coupon the points bought")


class HoldOut(Reply):
    """A checkout hold: points reserved until it is confirmed, cancelled or lapses."""

    hold_id: str
    member_id: str
    points: int = Field(description="points reserved (taken from their lots until confirmed or released)")
    status: str = Field(description="open")
    expires_at: str = Field(description="when the hold lapses and its points return, unless confirmed")
    balance: int = Field(description=BALANCE + ", less lots past their last day (never spent); held points "
                                               "are not in available")


class HoldSettledOut(Reply):
    """A hold confirmed (the points are spent) or cancelled (they are back)."""

    hold_id: str
    status: str = Field(description="confirmed (spent) or released (given back)")
    points: int
    balance: int = Field(description=BALANCE)
    expired_on_return: int | None = Field(None, description="released points whose lot had ended meanwhile: "
                                                            "they expired on return")
    returning: int | None = Field(None, description="released points of a hold over more lots than one "
                                                    "transaction holds, still on their way back (held)")


class RefundOut(Reply):
    """What a refund took back and gave back, by point type."""

    order_id: str
    refund_id: str
    refunded_fen: int = Field(description="the order's refunds so far, this one included (cumulative)")
    clawed_back: dict[str, int] = Field(description="points (by type) taken back by this refund, in "
                                                    "proportion to the refunded share of the order: from "
                                                    "the order's lots, or as debt (not what was forgiven)")
    already_expired: int = Field(description="points this refund did not take back because they had "
                                             "expired unspent: lost once already, not owed again")
    debt_added: int = Field(description="clawback that found the points spent, recorded as debt "
                                        "(negative_balance policy 'debt')")
    forgiven: int = Field(description="clawback that found the points spent and was written off "
                                      "(negative_balance policy 'cap')")
    restored: int = Field(description="points the order spent, given back in proportion to the refund")
    restored_expired: int = Field(description="of the restored points, those whose lot had ended: they "
                                              "expired on return")
    restoring: int = Field(0, description="of the restored points, those spent from more lots than one "
                                          "transaction holds: held until they are back in their lots, in steps after the "
                                          "refund while its request's time lasts, the rest by the points-holds job "
                                          "(within its 5 minutes)")


class OrderLot(Reply):
    lot_id: str
    expires_on: str | None = Field(description="the lot's last valid day (null: never expires)")
    points: int = Field(description="points the order put in the lot")
    pending: bool | None = Field(None, description="whether the points were pending (not yet spendable) "
                                                   "when earned")
    recorded_at: str | None = Field(None, description="growth: when it was recorded (growth has no lots: "
                                                      "`lot_id` names the change); a refund of an order recorded "
                                                      "before a tier period's reset takes none of it back")


class OrderOut(Reply):
    """An order as the points ledger knows it: what it earned, spent and had refunded."""

    order_id: str
    merchant_id: str
    store_id: str | None
    member_id: str | None = Field(description="null while only a gift card has paid for it")
    amount_fen: int | None = Field(description="the order's amount, fixed by its first use")
    lines: list[OrderLineOut] = Field(description="the order's lines, fixed by the first use that states them")
    created_at: str | None = Field(description="when the order was first used (earned or spent on)")
    earned_at: str | None
    earned: dict[str, list[OrderLot]] = Field(description="by point type (points, growth, ...), the lots the "
                                                          "order earned")
    spent: list[LotTaken] = Field(description="the lots points were spent from on this order")
    spent_points: int = Field(description="points spent on the order (redemptions and confirmed holds)")
    refunded_fen: int = Field(description="refundOrder's refunds so far (the points part's); stored value and "
                                          "gift card refunds are each part's refunded_fen")
    clawed_back: dict[str, int] = Field(description="points taken back by its refunds (from lots, or as debt), "
                                                    "by type: what their replies' clawed_back add up to")
    already_expired: dict[str, int] = Field({}, description="points its refunds did not take back because they "
                                                           "had expired unspent (lost once already), by type")
    restored_points: int = Field(description="spent points given back by its refunds")
    shortfall_points: int = Field(description="clawback its refunds could not take from lots (owed or forgiven)")
    parts: list[OrderPartOut] | None = Field(None, description="what each money store paid (getOrder only)")


class OrdersOut(Reply):
    """A member's orders, newest first, a page at a time."""

    member_id: str
    orders: list[OrderOut]
    next_before: str | None = Field(description="pass as `before` for the next page; null on the last")


class PointsBehaviorOut(Reply):
    """The behaviour rewarded: the points it earned and the member's balance after."""

    member_id: str
    behavior: str = Field(description="the behaviour rewarded: check_in, referral, review, share, "
                                      "profile_completion, or the custom event's name")
    ref: str = Field(description="the thing rewarded (review id, date...), as sent: each is rewarded once")
    points: int = Field(description="points the member earned, the check-in streak bonus included (0: the rule "
                                    "gives none)")
    rules_version: int = Field(description="the program version in force (0: the defaults)")
    streak: int | None = Field(None, description="check-ins only: consecutive days checked in, today included")
    streak_bonus: int | None = Field(None, description="check-ins only: the extra points this streak day gives "
                                                       "(included in points; 0 on most days)")
    balance: int | None = Field(None, description=BALANCE + "; absent when the behaviour earned no points")
    referee_points: int | None = Field(None, description="referrals only: points the referred member earned "
                                                         "(0: the rule gives the referee none)")


class PointsHoldLot(Reply):
    lot_id: str
    expires_on: str | None = Field(description="the lot's last valid day (null: never expires)")
    points: int = Field(description="points the hold took from this lot")


class PointsHoldShown(Reply):
    """A checkout hold: its points, its lots and where it stands."""

    hold_id: str
    member_id: str
    point_type: str = Field(description="the point type held (points, or a custom type)")
    points: int = Field(description="points the hold took from the member's lots")
    status: Literal["open", "expired", "confirmed", "released", "filling", "releasing"] = Field(
        description="open: reserved, to be confirmed or cancelled; expired: past expires_at, lapsed (its points "
                    "are the member's again at once, as the account shows; the holds job or a spend that needs "
                    "them gives them back to their lots, and it then reads released); confirmed: spent; "
                    "released: given back (cancelled or lapsed); filling: a spend over more lots than one "
                    "transaction holds, still being taken; releasing: being given back in steps")
    expires_at: str = Field(description="when an open hold lapses and its points return (ISO 8601, UTC)")
    merchant_id: str | None = Field(description="the merchant whose checkout it is")
    order: str | None = Field(description="the order it is for, as `<merchant_id>:<order_id>` (null: none named)")
    lots: list[PointsHoldLot] = Field(description="the lots the points came from, soonest expiry first")
    created_at: str = Field(description="when the hold was made (ISO 8601, UTC)")


class PointsAdjustOut(Reply):
    """The adjustment posted and the member's balance after."""

    member_id: str
    points: int = Field(description="points added (positive) or removed (negative), as asked")
    posting_id: str
    balance: int = Field(description=BALANCE)


class PointsPostingLot(Reply):
    lot_id: str
    expires_on: str | None = Field(description="the lot's last valid day (null: never expires)")
    delta: int = Field(description="points this posting moved in the lot: positive added, negative taken")
    bucket: Literal["available", "pending"] = Field(description="the balance the lot's points count in")
    debt_repaid: int | None = Field(None, description="points of a new lot that went to repay debt instead "
                                                      "(absent: none)")
    expired: bool | None = Field(None, description="true: these points expired (at their lot's end, or on return "
                                                   "to a lot that had ended)")


class PointsPostingOut(Reply):
    posting_id: str
    merchant_id: str | None = Field(description="the merchant whose business the posting records (null: the "
                                                "program's, e.g. an HQ adjustment or an expiry)")
    sequence: int = Field(description="the posting's number in the account: 1 for the first, one more per posting; "
                                      "pass as `before` to page")
    kind: Literal["earn", "redeem", "hold", "hold_confirmed", "hold_released", "refund", "adjust", "expire",
                  "unlock"] = Field(
        description="earn (an order or a behaviour), redeem, hold (reserved at a checkout), hold_confirmed "
                    "(spent), hold_released (given back), refund (clawback and restore), adjust (by hand), "
                    "expire, unlock (pending points became spendable)")
    amount: int = Field(description="the points the posting is about, never negative: earned, spent, held, "
                                    "clawed back, adjusted (either way) or expired")
    available_delta: int = Field(description="change of available points (negative: taken)")
    pending_delta: int = Field(description="change of pending points")
    held_delta: int = Field(description="change of held points")
    debt_delta: int = Field(description="change of debt (positive: more owed)")
    balance_after: int = Field(description="available − debt after this posting (negative while owing)")
    lots: list[PointsPostingLot] = Field(description="the lots the posting touched")
    reason: str | None = Field(description="why: order, a behaviour's name, the adjustment's reason, checkout... "
                                           "(null when hidden)")
    actor: str | None = Field(description="who made it: a merchant key, a staff member, the member, or a job "
                                          "(null when hidden)")
    source: str | None = Field(description="what it belongs to: order:<merchant>:<order>, hold:<id>, "
                                           "behavior:<name>:<ref>, adjustment, expiry... (null when hidden)")
    idempotency_key: str | None = Field(description="the Idempotency-Key of the request that made it (null: a job, "
                                                    "or hidden)")
    created_at: str = Field(description="when it was posted (ISO 8601, UTC)")
    references_hidden: bool | None = Field(None, description="present (true) on another merchant's posting: its "
                                                             "reason, actor, source and key are withheld")


class PointsLedgerOut(Reply):
    """A page of the account's postings, newest first."""

    member_id: str
    point_type: str = Field(description="the account's point type")
    postings: list[PointsPostingOut] = Field(description="newest first")
    next_before: int | None = Field(description="pass as `before` for the next page; null on the last")


class PointsLiabilityMonth(Reply):
    expires: str = Field(description="the month the points expire in (YYYY-MM), or `never`")
    points: int = Field(description="points outstanding (available, pending or held) that expire that month")
    value_fen: int = Field(description="their cash value in fen at today's redemption rate (rounded down)")


class PointsFlows(Reply):
    issued: int = Field(description="points earned (orders and behaviours), gross")
    redeemed: int = Field(description="points spent (redemptions and confirmed holds), gross")
    expired: int = Field(description="points that expired unspent")
    clawed_back: int = Field(description="points taken back by refunds (from lots or as debt)")
    restored: int = Field(description="spent points given back by refunds")
    adjusted: int = Field(description="net points adjusted by hand (negative: more removed than added)")


class PointsLiabilityPeriod(PointsFlows):
    start: str = Field(description="the period's first day (program calendar)")
    end: str = Field(description="its last day, included")


class PointsLiabilityOut(Reply):
    """The points the program owes, by expiry month, with their money value and recent flows."""

    point_type: str = Field(description="the point type reported")
    outstanding_points: int = Field(description="points the program owes: in members' lots, available, pending or "
                                                "held (debt not netted)")
    outstanding_value_fen: int = Field(description="their cash value in fen at today's redemption rate "
                                                   "(rounded down)")
    by_expiry_month: list[PointsLiabilityMonth] = Field(description="the outstanding points by the month they expire "
                                                              "(months with none left out)")
    last_30_days: PointsFlows = Field(description="flows over the last 30 days, today included")
    inflation_warning: bool = Field(description="true when points issued in the last 30 days exceed "
                                                "inflation_threshold_percent of those redeemed (or any were issued "
                                                "and none redeemed)")
    period: PointsLiabilityPeriod | None = Field(None, description="flows over start..end; present only when asked")


class PointsReconciledState(Reply):
    available: int = Field(description="the account's available points as stored")
    pending: int = Field(description="pending points as stored")
    held: int = Field(description="held points as stored")
    debt: int = Field(description="debt as stored")
    earned: int = Field(description="lifetime points earned, gross")
    redeemed: int = Field(description="lifetime points spent, gross")
    expired: int = Field(description="lifetime points expired")
    clawed_back: int = Field(description="lifetime points clawed back by refunds")
    restored: int = Field(description="lifetime spent points restored by refunds")
    version: int = Field(description="the account's version: the number of postings it should have")


class PointsReconciledSums(Reply):
    available: int = Field(description="sum of the postings' available_delta")
    pending: int = Field(description="sum of the postings' pending_delta")
    held: int = Field(description="sum of the postings' held_delta")
    debt: int = Field(description="sum of the postings' debt_delta")
    live_lots: int = Field(description="points in the account's live lots")
    pending_lots: int = Field(description="points in its pending lots")
    open_holds: int = Field(description="points its open (or filling, releasing) holds keep")


class PointsReconciledAccount(Reply):
    member_id: str
    point_type: str = Field(description="the account's point type")
    account: PointsReconciledState = Field(description="the account as stored")
    postings: int = Field(description="postings counted")
    sums: PointsReconciledSums = Field(description="what the postings, lots and holds add up to")
    balanced: bool = Field(description="true when every check passes")
    checks: dict[str, bool] = Field(description="each check by name, true when it passes: available = postings, "
                                                "available = live lots, pending = postings, pending = pending lots, "
                                                "held = postings, held = open holds, debt = postings, postings are "
                                                "gap-free, nothing negative, every stored lot holds points, the "
                                                "account names its open holds")


class PointsMemberReconciliation(Reply):
    """One member's points and growth accounts, each checked against its postings, lots and holds."""

    accounts: list[PointsReconciledAccount] = Field(description="the points account, then the growth account")


class PointsProgramReconciliation(Reply):
    """Every account checked (up to limit); the ones that do not add up."""

    accounts_checked: int = Field(description="accounts checked (at most limit)")
    balanced: bool = Field(description="true when every account checked adds up")
    mismatches: list[PointsReconciledAccount] = Field(description="accounts that do not add up (the first 50)")
    progress: ReconciliationProgress = Field(description="the reconciliation job's pass over every account")


class PointsReconciliationOut(RootModel[PointsMemberReconciliation | PointsProgramReconciliation]):
    """One member's accounts (member_id given) or every account, checked: balances = postings = lots."""

    model_config = ConfigDict(defer_build=True)


class EarnRulesSaved(Reply):
    """The version saved."""

    version: int = Field(description="the version saved")
    effective_from: str = Field(description="when it comes into force (ISO 8601, UTC)")
    rules: ProgramRules = Field(description="the configuration as saved")


class EarnRulesInForce(Reply):
    """The version in force and the list of versions."""

    version: int = Field(description="the version in force (0: none saved, the defaults)")
    versions: list[ConfigVersion] = Field(description="every version saved, with its start")
    rules: ProgramRules = Field(description="the configuration in force")
