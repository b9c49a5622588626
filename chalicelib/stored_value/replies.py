"""What the stored value operations answer, figure by figure: the OpenAPI response schemas.

A POS developer or an HQ operator reads these, not our code. Every amount is integer fen (1 yuan =
100 fen). A member's prepaid balance is kept in two parts: *principal* (money the member paid in,
refundable by a cash-out) and *bonus* (granted by top-up rules, spendable, never cashed out). Each
model forbids undocumented fields, and a test validates real replies against the served document.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.shared.types import Reply

PRINCIPAL = "principal available to spend after the change, fen (held principal not included; never negative)"
BONUS = ("bonus available to spend after the change, fen (held bonus and lapsed bonus not included; never "
         "negative)")
BALANCE = ("principal + bonus: what the member can spend now, fen (held amounts and lapsed bonus not included; "
           "never negative)")
POSTING = "the ledger posting this change wrote (see listStoredValueLedger)"
LAPSED = ("bonus past its lot's last day that the stored-value-bonus-expiry job has not taken yet, fen: no longer "
          "the member's (never spent, not in bonus or balance_fen); the job only makes it permanent, as "
          "bonus_expired. Bonus held by an open checkout is not counted (it lapses if the hold is cancelled)")
PRINCIPAL_PART = "of the amount, the principal part, fen (split by the rules' spend_order)"
BONUS_PART = "of the amount, the bonus part, fen (split by the rules' spend_order)"

# The account's figures, shared by the account, a top-up's replay and the reconciliation.
ACCOUNT_TEXT = {
    "principal": "principal available to spend, fen: money the member paid in (top-ups, gift cards redeemed), "
                 "refundable by a cash-out; held principal not included; never negative",
    "bonus": "bonus available to spend, fen: granted by top-up bonus rules, never cashed out; held bonus and "
             "lapsed bonus (lapsed_bonus_fen) not included; never negative",
    "held_principal": "principal reserved, fen: by open checkout holds and by cash-outs pending approval; still "
                      "the member's, not spendable",
    "held_bonus": "bonus reserved by open checkout holds, fen",
    "topped_up": "lifetime principal paid in by top-ups, fen (gross)",
    "bonus_granted": "lifetime bonus granted by top-ups, fen (gross)",
    "spent_principal": "lifetime principal spent by payments and confirmed holds, fen (gross, before refunds)",
    "spent_bonus": "lifetime bonus spent by payments and confirmed holds, fen (gross, before refunds)",
    "refunded_principal": "lifetime principal given back by refunds of payments (and of gift card payments whose "
                          "card was since redeemed into this account), fen",
    "refunded_bonus": "lifetime bonus given back by refunds of payments, fen",
    "cashed_out": "lifetime principal paid back to the member by cash-outs, fen",
    "spent_bonus_deducted": "lifetime bonus already spent that cash-outs took back from the principal "
                            "(cash_out_deducts_spent_bonus), fen; spent_bonus − refunded_bonus − this is what the "
                            "next cash-out deducts",
    "bonus_forfeited": "lifetime bonus forfeited by cash-outs, fen",
    "card_redeemed": "lifetime principal added by gift cards redeemed into the account, fen",
    "bonus_expired": "lifetime bonus that expired unspent, fen",
    "version": "the account's version: one more per posting (0: nothing ever happened on it)",
    "bonus_expiring": "the bonus that expires, in lots, soonest first (covers bonus available and held; bonus of "
                      "rules without valid_days never expires and is in no lot); lapsed bonus is out of them, as "
                      "the expiry job will leave them",
}


class SvBonusLot(Reply):
    """Bonus usable until a day."""

    expires: str = Field(description="the lot's last usable day (program date, YYYY-MM-DD)")
    fen: int = Field(description="bonus left in the lot, fen")


class SvAccountState(Reply):
    """A stored value account's balances and lifetime totals."""

    principal: int = Field(description=ACCOUNT_TEXT["principal"])
    bonus: int = Field(description=ACCOUNT_TEXT["bonus"])
    held_principal: int = Field(description=ACCOUNT_TEXT["held_principal"])
    held_bonus: int = Field(description=ACCOUNT_TEXT["held_bonus"])
    topped_up: int = Field(description=ACCOUNT_TEXT["topped_up"])
    bonus_granted: int = Field(description=ACCOUNT_TEXT["bonus_granted"])
    spent_principal: int = Field(description=ACCOUNT_TEXT["spent_principal"])
    spent_bonus: int = Field(description=ACCOUNT_TEXT["spent_bonus"])
    refunded_principal: int = Field(description=ACCOUNT_TEXT["refunded_principal"])
    refunded_bonus: int = Field(description=ACCOUNT_TEXT["refunded_bonus"])
    cashed_out: int = Field(description=ACCOUNT_TEXT["cashed_out"])
    bonus_forfeited: int = Field(description=ACCOUNT_TEXT["bonus_forfeited"])
    card_redeemed: int = Field(description=ACCOUNT_TEXT["card_redeemed"])
    bonus_expired: int = Field(description=ACCOUNT_TEXT["bonus_expired"])
    spent_bonus_deducted: int = Field(description=ACCOUNT_TEXT["spent_bonus_deducted"])
    version: int = Field(description=ACCOUNT_TEXT["version"])
    bonus_expiring: list[SvBonusLot] = Field(description=ACCOUNT_TEXT["bonus_expiring"])


class StoredValueAccountOut(SvAccountState):
    """The member's prepaid balances (principal and bonus, available and held) and lifetime totals."""

    member_id: str
    balance_fen: int = Field(description="principal + bonus: what the member can spend now, fen (held amounts "
                                         "and lapsed bonus not included; never negative)")
    lapsed_bonus_fen: int = Field(description=LAPSED)


REPLAY = " (only on a replay: already_applied)"
DEDUCTED = ("bonus already spent (net of refunds, not taken back by an earlier cash-out) kept from the principal "
            "instead of paid back, fen, up to the principal (0 when the rules' cash_out_deducts_spent_bonus is false)")


class TopUpPackOut(Reply):
    """A top-up's coupon pack: its coupons, or owed (the coupon-owed job issues it when it can)."""

    pack_id: str
    coupons: list[str] = Field(description="the coupon ids issued with the top-up (listMemberCoupons shows them)")
    owed: str | None = Field(None, description="why the pack could not be issued with the top-up: it is owed")


class SvTopUpOut(Reply):
    """The top-up applied (or, for a payment_ref applied before, the account as it is now)."""

    member_id: str
    principal: int = Field(description=PRINCIPAL)
    bonus: int = Field(description=BONUS)
    balance_fen: int = Field(description=BALANCE)
    lapsed_bonus_fen: int = Field(description=LAPSED)
    bonus_fen: int = Field(description="the bonus this top-up granted, fen (0: no rule applied); on a replay, the "
                                       "bonus the payment_ref's top-up granted when first applied")
    issuer: str = Field(description="who issues the stored value, whose issuance limit and custodian statement "
                                    "count it: always `program`")
    posting_id: str | None = Field(None, description=POSTING + " (absent on a replay)")
    bonus_rule: str | None = Field(None, description="the id of the bonus rule applied (null: none; the best "
                                                     "single rule is applied, never several; absent on a replay)")
    bonus_until: str | None = Field(None, description="the bonus's last usable day (program date; null: the "
                                                      "bonus never expires or there is none; absent on a replay)")
    coupon_pack: TopUpPackOut | None = Field(None, description="the bonus rule's coupon pack (储值赠券), if it names "
                                                               "one; absent on a replay")
    already_applied: bool | None = Field(None, description="true when this payment_ref was applied before (by "
                                                           "another request): nothing was added, and the reply "
                                                           "is the account as it is now; absent otherwise")
    held_principal: int | None = Field(None, description=ACCOUNT_TEXT["held_principal"] + REPLAY)
    held_bonus: int | None = Field(None, description=ACCOUNT_TEXT["held_bonus"] + REPLAY)
    topped_up: int | None = Field(None, description=ACCOUNT_TEXT["topped_up"] + REPLAY)
    bonus_granted: int | None = Field(None, description=ACCOUNT_TEXT["bonus_granted"] + REPLAY)
    spent_principal: int | None = Field(None, description=ACCOUNT_TEXT["spent_principal"] + REPLAY)
    spent_bonus: int | None = Field(None, description=ACCOUNT_TEXT["spent_bonus"] + REPLAY)
    refunded_principal: int | None = Field(None, description=ACCOUNT_TEXT["refunded_principal"] + REPLAY)
    refunded_bonus: int | None = Field(None, description=ACCOUNT_TEXT["refunded_bonus"] + REPLAY)
    cashed_out: int | None = Field(None, description=ACCOUNT_TEXT["cashed_out"] + REPLAY)
    bonus_forfeited: int | None = Field(None, description=ACCOUNT_TEXT["bonus_forfeited"] + REPLAY)
    card_redeemed: int | None = Field(None, description=ACCOUNT_TEXT["card_redeemed"] + REPLAY)
    bonus_expired: int | None = Field(None, description=ACCOUNT_TEXT["bonus_expired"] + REPLAY)
    spent_bonus_deducted: int | None = Field(None, description=ACCOUNT_TEXT["spent_bonus_deducted"] + REPLAY)
    version: int | None = Field(None, description=ACCOUNT_TEXT["version"] + REPLAY)
    bonus_expiring: list[SvBonusLot] | None = Field(None, description=ACCOUNT_TEXT["bonus_expiring"] + REPLAY)


class SvPaymentOut(Reply):
    """The order paid with stored value, and the balances it leaves."""

    member_id: str
    order_id: str
    principal: int = Field(description=PRINCIPAL)
    bonus: int = Field(description=BONUS)
    balance_fen: int = Field(description=BALANCE)
    lapsed_bonus_fen: int = Field(description=LAPSED)
    amount_fen: int = Field(description="the amount paid, fen (principal_fen + bonus_fen)")
    principal_fen: int = Field(description=PRINCIPAL_PART)
    bonus_fen: int = Field(description=BONUS_PART)
    posting_id: str = Field(description=POSTING)


class SvRefundOut(Reply):
    """The refund given back to the member, to the payment's split of principal and bonus."""

    member_id: str
    order_id: str
    refund_id: str
    principal: int = Field(description=PRINCIPAL)
    bonus: int = Field(description=BONUS)
    balance_fen: int = Field(description=BALANCE)
    lapsed_bonus_fen: int = Field(description=LAPSED + "; bonus given back to a lot past its last day lapses "
                                                       "at once")
    principal_fen: int = Field(description="of this refund, the principal given back, fen (in proportion to the "
                                           "payment's split)")
    bonus_fen: int = Field(description="of this refund, the bonus given back, fen (in proportion to the "
                                       "payment's split)")
    refunded_fen: int = Field(description="the payment's refunds so far, this one included, fen (cumulative; "
                                          "never more than the payment)")
    posting_id: str = Field(description=POSTING)


CASH_OUT_STATUS = "pending (principal held, awaiting another HQ staff member), paid or rejected"


class SvCashOutOut(Reply):
    """The cash-out paid at once, or (above the approval amount) opened and pending approval."""

    member_id: str
    status: Literal["paid", "pending"] = Field(description="paid: the principal was paid back now; pending: it "
                                                           "is held until another HQ staff member approves or "
                                                           "rejects the cash-out")
    principal: int = Field(description=PRINCIPAL + "; 0 after a cash-out, paid or pending")
    bonus: int = Field(description=BONUS + "; 0 once paid (forfeited), unchanged while pending")
    balance_fen: int = Field(description=BALANCE)
    cashed_out_fen: int = Field(description="principal paid back now, fen (0 while pending)")
    bonus_forfeited_fen: int = Field(description="bonus forfeited now, fen (0 while pending: forfeited on "
                                                 "approval)")
    spent_bonus_deducted_fen: int = Field(description=DEDUCTED + " (0 while pending: deducted on approval)")
    posting_id: str | None = Field(None, description=POSTING + " (only when paid at once)")
    cash_out_id: str | None = Field(None, description="the pending cash-out to approve or reject (only when "
                                                      "pending)")
    principal_fen: int | None = Field(None, description="the principal held for the pending cash-out, fen (only "
                                                        "when pending)")
    requested_by: str | None = Field(None, description="who requested it, as `staff:<id>` (only when pending)")


class SvCashOutRecord(Reply):
    """A cash-out awaiting or past its approval: what, its status, who requested it and who decided."""

    cash_out_id: str
    member_id: str
    principal_fen: int = Field(description="the principal held for (and, once paid, paid back by) the cash-out, "
                                           "fen")
    status: Literal["pending", "paid", "rejected"] = Field(description=CASH_OUT_STATUS)
    reason: str = Field(description="why it was requested")
    refund_ref: str | None = Field(description="the original payment route's reference for the refund (null: "
                                               "none given)")
    requested_by: str = Field(description="who requested it, as `staff:<id>`")
    requested_at: str = Field(description="when it was requested (UTC, ISO 8601)")
    decided_by: str | None = Field(description="who approved or rejected it, as `staff:<id>` (null while "
                                               "pending)")
    decided_at: str | None = Field(description="when it was approved or rejected (null while pending)")
    decision_reason: str | None = Field(description="why it was approved or rejected (null: none given; a "
                                                    "rejection always has one)")
    bonus_forfeited_fen: int | None = Field(description="bonus forfeited when it was paid, fen (null until paid; "
                                                        "null when rejected)")
    spent_bonus_deducted_fen: int | None = Field(description=DEDUCTED + " when it was paid (null until paid; null "
                                                             "when rejected)")


class SvCashOutApprovedOut(SvCashOutRecord):
    """The approved cash-out (status paid): the held principal paid back, the bonus left forfeited."""

    principal: int = Field(description=PRINCIPAL)
    bonus: int = Field(description=BONUS + "; 0 after the approval (forfeited)")
    balance_fen: int = Field(description=BALANCE)
    cashed_out_fen: int = Field(description="principal paid back, fen (principal_fen − spent_bonus_deducted_fen)")
    posting_id: str = Field(description=POSTING)


class SvCashOutRejectedOut(SvCashOutRecord):
    """The rejected cash-out (status rejected): the held principal is the member's to spend again."""

    principal: int = Field(description=PRINCIPAL + " (the released principal included)")
    bonus: int = Field(description=BONUS)
    balance_fen: int = Field(description=BALANCE)


class SvJournalLine(Reply):
    account: str = Field(description="the journal account: member:principal, member:bonus, "
                                     "member:held_principal, member:held_bonus, cash_clearing, bonus_expense, "
                                     "bonus_forfeited, bonus_recovered, bonus_expired, settlement:<merchant>, gift_cards:<issuer>")
    fen: int = Field(description="debit (positive) or credit (negative), fen; a posting's lines sum to 0")


class SvPosting(Reply):
    sequence: int = Field(description="the posting's number on the account: 1, 2, ... (the account version it "
                                      "made)")
    kind: Literal["top_up", "payment", "refund", "cash_out", "cash_out_held", "cash_out_released", "gift_card",
                  "card_refund", "hold", "hold_confirmed", "hold_released", "bonus_expired"] = Field(
        description="what moved: top_up, payment, refund (of a payment), cash_out (paid), cash_out_held / "
                    "cash_out_released (a cash-out awaiting approval / rejected), gift_card (a card redeemed "
                    "into the account), card_refund (a refund of a gift card payment), hold / hold_confirmed / "
                    "hold_released (a checkout hold), bonus_expired")
    amount_fen: int = Field(description="the amount moved, principal and bonus together, fen (always positive; "
                                        "the deltas give the direction)")
    principal_delta: int = Field(description="change of the available principal, fen (negative: taken)")
    bonus_delta: int = Field(description="change of the available bonus, fen (negative: taken)")
    balance_after: int = Field(description="principal + bonus available after the posting, fen")
    entries: list[SvJournalLine] = Field(description="the double-entry lines of the movement")
    ref: str | None = Field(description="the payment reference, order, refund, hold or cash-out it concerns "
                                        "(null: none, or hidden)")
    merchant_id: str | None = Field(description="the merchant where it happened (null: none)")
    reason: str | None = Field(description="the reason given (cash-outs; null: none, or hidden)")
    actor: str | None = Field(description="who made it: `staff:<id>`, `member:<id>`, "
                                          "`merchant:<merchant>:<store or ->:<key id>`, or `job:<name>` "
                                          "(null: hidden)")
    created_at: str = Field(description="when it was written (UTC, ISO 8601)")
    references_hidden: bool | None = Field(None, description="true on another merchant's or store's posting: "
                                                             "ref, reason and actor are null; absent otherwise")


class SvLedgerOut(Reply):
    """The account's postings with their double-entry lines, newest first."""

    member_id: str
    postings: list[SvPosting]
    next_before: int | None = Field(description="pass as `before` for the next page; null on the last")


HOLD_BALANCE = "principal + bonus available after the change, fen (held amounts and lapsed bonus not included)"


class SvHoldOut(Reply):
    """The stored value held for a checkout: confirm it to pay, cancel it, or it lapses."""

    hold_id: str
    member_id: str
    order_id: str
    amount_fen: int = Field(description="the amount held, fen (principal_fen + bonus_fen)")
    principal_fen: int = Field(description="of the amount, the principal held, fen")
    bonus_fen: int = Field(description="of the amount, the bonus held, fen")
    status: Literal["open"]
    expires_at: str = Field(description="when the hold lapses and the amount returns, unless confirmed (UTC, "
                                        "ISO 8601)")
    balance_fen: int = Field(description=HOLD_BALANCE)
    lapsed_bonus_fen: int = Field(description=LAPSED)


class SvHoldConfirmedOut(Reply):
    """The held amount spent: the order is paid (and refundable like any payment)."""

    hold_id: str
    order_id: str
    status: Literal["confirmed"]
    amount_fen: int = Field(description="the amount paid, fen (principal_fen + bonus_fen)")
    principal_fen: int = Field(description="of the amount, the principal paid, fen")
    bonus_fen: int = Field(description="of the amount, the bonus paid, fen")
    balance_fen: int = Field(description=HOLD_BALANCE + " (unchanged by the confirmation)")


class SvHoldReleasedOut(Reply):
    """The held amount given back to the member."""

    hold_id: str
    status: Literal["released"]
    amount_fen: int = Field(description="the amount given back, fen")
    balance_fen: int = Field(description=HOLD_BALANCE + " (the released amount included)")
