"""What the points operations answer, figure by figure: the OpenAPI response schemas.

A POS developer reads these, not our code. Every figure says what it counts, gross or net, and
whether it can be negative. Each model forbids undocumented fields, and a test validates real
replies against the served document, so a figure cannot appear without its description here.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from chalicelib.shared.types import Reply

BALANCE = ("available − debt after the change: what the member owns, negative while they owe points "
           "(refunds of orders whose points were already spent)")


class LotShown(Reply):
    expires_on: str | None = Field(description="the lot's last valid day (null: never expires)")
    points: int = Field(description="points left in the lot")


class BalanceOut(Reply):
    available: int = Field(description="points in live lots, not held; spendable once debt is repaid")
    pending: int = Field(description="earned points not yet spendable (pending_days after the order)")
    held: int = Field(description="points reserved by open checkout holds")
    debt: int = Field(description="points owed: clawbacks that found the points already spent; repaid first "
                                  "by the next earnings")
    balance: int = Field(description="available − debt (negative while owing)")
    spendable: int = Field(description="what a redemption or hold may take now: max(0, available − debt)")
    earned: int = Field(description="gross lifetime points added (orders, behaviours, adjustments), "
                                    "before clawbacks")
    clawed_back: int = Field(description="lifetime points taken back by refunds (from lots, or as debt)")
    net_earned: int = Field(description="earned − clawed_back")
    redeemed: int = Field(description="gross lifetime points spent (redemptions and confirmed holds)")
    restored: int = Field(description="lifetime spent points given back by refunds")
    net_redeemed: int = Field(description="redeemed − restored")
    expired: int = Field(description="lifetime points that expired unspent")
    version: int = Field(description="the account's version: one more per posting")
    expiring_soon: list[LotShown] | None = Field(None, description="lots ending within 30 days (not growth)")
    next_lots: list[LotShown] | None = Field(None, description="the next lots a redemption takes, soonest "
                                                               "expiry first (not growth)")
    value_fen: int | None = Field(None, description="what the available points are worth in fen as a cash "
                                                    "offset under the program's rules (not growth)")


class AccountOut(Reply):
    member_id: str
    accounts: dict[str, BalanceOut] = Field(description="by point type: points, growth, and any custom type")


class LotTaken(Reply):
    lot_id: str
    expires_on: str | None
    points: int = Field(description="points taken from this lot")


class EarnOut(Reply):
    member_id: str
    order_id: str
    rules_version: int = Field(description="the program version in force when the order was paid")
    points: int = Field(description="points this order earned (after caps)")
    growth: int = Field(description="growth value this order earned (tiers read it; never spendable)")
    explanation: list[str] = Field(description="how the figure was reached: base, multipliers, caps")
    pending: bool | None = Field(None, description="whether the points wait pending_days before they count")
    expires_on: str | None = Field(None, description="the earned lot's last valid day")
    posting_id: str | None = None
    balance: int | None = Field(None, description=BALANCE)


class RedeemOut(Reply):
    member_id: str
    points: int = Field(description="points spent")
    value_fen: int = Field(description="their cash value in fen under the program's rules")
    lots: list[LotTaken] = Field(description="the lots they came from, soonest expiry first")
    posting_id: str
    balance: int = Field(description=BALANCE)


class HoldOut(Reply):
    hold_id: str
    member_id: str
    points: int = Field(description="points reserved (taken from their lots until confirmed or released)")
    status: str = Field(description="open")
    expires_at: str = Field(description="when the hold lapses and its points return, unless confirmed")
    balance: int = Field(description=BALANCE + "; held points are not in available")


class HoldSettledOut(Reply):
    hold_id: str
    status: str = Field(description="confirmed (spent) or released (given back)")
    points: int
    balance: int = Field(description=BALANCE)
    expired_on_return: int | None = Field(None, description="released points whose lot had ended meanwhile: "
                                                            "they expired on return")
    returning: int | None = Field(None, description="released points of a hold over more lots than one "
                                                    "transaction holds, still on their way back (held)")


class RefundOut(Reply):
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
                                          "transaction holds: held until they are back in their lots, moments later")


class OrderOut(Reply):
    order_id: str
    merchant_id: str
    store_id: str | None
    member_id: str
    amount_fen: int | None = Field(description="the order's amount, fixed by its first use")
    created_at: str | None = Field(description="when the order was first used (earned or spent on)")
    earned_at: str | None
    earned: dict[str, Any] = Field(description="by point type, the lots the order earned")
    spent: list[dict[str, Any]] = Field(description="the lots points were spent from on this order")
    spent_points: int = Field(description="points spent on the order (redemptions and confirmed holds)")
    refunded_fen: int = Field(description="refunds so far")
    clawed_back: dict[str, int] = Field(description="points taken back by its refunds, by type")
    restored_points: int = Field(description="spent points given back by its refunds")
    shortfall_points: int = Field(description="clawback its refunds could not take from lots (owed or forgiven)")


class OrdersOut(Reply):
    member_id: str
    orders: list[OrderOut]
    next_before: str | None = Field(description="pass as `before` for the next page; null on the last")
