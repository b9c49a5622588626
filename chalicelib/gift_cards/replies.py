"""What the gift card operations answer, figure by figure: the OpenAPI response schemas.

HQ operators and POS developers read these, not our code. Amounts are integer fen (1 yuan = 100
fen). Each model forbids undocumented fields, and a test validates real replies against the
served document, so a figure cannot appear without its description here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, RootModel

from chalicelib.ledger.replies import ReconciliationProgress
from chalicelib.shared.types import Reply

CardState = Literal["issued", "sold", "activated", "partially_used", "exhausted", "redeemed", "voided", "expired"]
STATES = ("issued (generated, not sold), sold (sold, waiting for activation), activated, partially_used, "
          "exhausted (nothing left), redeemed (its balance moved into a member's stored value), voided, "
          "expired (past its last day; a balance it holds is still the holder's until extended or recognised "
          "as breakage)")


class GiftCardJournalLine(Reply):
    account: str = Field(description="the account the line books to: cash_clearing, gift_card_discount, "
                                     "gift_cards:<issuer> (the issuer's liability for card balances; <issuer> "
                                     "is a merchant id or 'program'), gift_cards_voided:<issuer>, "
                                     "gift_cards_held:<issuer> (reserved by open holds), "
                                     "settlement:<merchant>, member:principal, gift_card_breakage...")
    fen: int = Field(description="fen booked: positive a debit, negative a credit; a posting's lines sum to 0")


# batches ------------------------------------------------------------------------------------------
class GiftCardBatchSale(Reply):
    first: int = Field(description="the serial (1-based position in the batch) of the range's first card")
    last: int = Field(description="the serial of the range's last card (inclusive)")
    invoice: str = Field(description="the sale's invoice reference")
    activated: bool = Field(description="whether the range's cards were usable at once (false: each is "
                                        "activated later)")
    at: str = Field(description="when the range was sold")


class GiftCardExportState(Reply):
    issued_at: str | None = Field(description="when the secrets' export was opened (null: not yet; it opens once)")
    issued_by: str | None = Field(description="who opened it")
    purged: bool = Field(description="whether the export file is deleted (every part downloaded, its 15 "
                                     "minutes passed, or 7 days unopened): the secrets can no longer be read")


class GiftCardBatchOut(Reply):
    """A batch of gift cards: its generation, sales and export (never a secret)."""

    batch_id: str
    name: str
    face_value_fen: int = Field(description="each card's face value in fen")
    count: int = Field(description="cards in the batch (sold, unsold and voided)")
    first_number: str = Field(description="the batch's first card number")
    last_number: str = Field(description="the batch's last card number")
    valid_until: str = Field(description="the batch's last day of use (program date); a card extended on its "
                                         "own keeps its own")
    channel: str = Field(description="how the batch is sold: corporate, store, online...")
    merchant_ids: list[str] | None = Field(description="merchants that accept the cards (null: every merchant)")
    issuer_merchant_id: str | None = Field(description="the merchant whose prepaid liability the cards are "
                                                       "(null: the program's)")
    status: Literal["generating", "ready"] = Field(description="generating (the gift-card-batches job is "
                                                               "creating the cards) or ready (to export and sell)")
    chunks: int = Field(description="chunks of up to 1,000 cards the batch is generated in")
    chunks_done: int = Field(description="chunks generated so far")
    export: GiftCardExportState
    sales: list[GiftCardBatchSale] = Field(description="the ranges sold, by first serial")
    sold_count: int = Field(description="cards sold (voided unsold cards inside a sold range not counted)")
    sold_fen: int = Field(description="face value of the cards sold, in fen (gross: before any discount)")
    created_at: str
    created_by: str = Field(description="who created the batch")


class GiftCardBatchCounts(Reply):
    by_state: dict[str, int] = Field(description="cards by their state today (" + STATES + "); states with no "
                                                 "card are left out")
    outstanding_fen: int = Field(description="what the sold, activated, partially used and expired cards still "
                                             "hold, in fen: the issuer's liability for the batch")


class GiftCardBatchDetailOut(GiftCardBatchOut):
    """A batch of gift cards, and with counts=true its cards by state and the value outstanding."""

    cards: GiftCardBatchCounts | None = Field(None, description="only with counts=true (reads every card)")


class GiftCardBatchesOut(Reply):
    """The program's batches, newest first (at most 200)."""

    batches: list[GiftCardBatchOut]


class GiftCardExportPart(Reply):
    part: int = Field(description="the part's number, from 1")
    cards: int = Field(description="cards (CSV rows) in the part, at most 10,000")
    path: str = Field(description="where to GET the part (downloadGiftCardSecrets), once")


class GiftCardExportOut(Reply):
    """The opened export of a batch's secrets: its parts, each downloadable once until expires_at."""

    batch_id: str
    count: int = Field(description="cards in the export: every card of the batch")
    expires_at: str = Field(description="the end of the 15 minutes in which the parts can be downloaded")
    parts: list[GiftCardExportPart]


class GiftCardSaleOut(Reply):
    """A sale of a range of a batch against an invoice."""

    batch_id: str
    invoice_ref: str
    purchaser: str = Field(description="the buying company or person")
    first_number: str = Field(description="the range's first card number")
    last_number: str = Field(description="the range's last card number (inclusive)")
    count: int = Field(description="cards sold: the range less the voided unsold cards in it")
    face_fen: int = Field(description="the cards' total face value in fen: what the issuer now owes their holders")
    price_fen: int = Field(description="what the purchaser paid, in fen; face_fen − price_fen is the discount")
    activated: bool = Field(description="whether the cards were usable at once (false: each is activated later)")
    entries: list[GiftCardJournalLine] = Field(description="the sale's double-entry lines: cash and the discount "
                                                           "debited, the issuer's gift card liability credited")
    created_at: str
    already_applied: bool | None = Field(None, description="true when this invoice's sale of the same range was "
                                                           "made before: nothing changed (absent otherwise)")


# cards --------------------------------------------------------------------------------------------
class GiftCardOut(Reply):
    """A gift card: its state and balance (never its secret)."""

    card_number: str
    batch_id: str
    state: CardState = Field(description="the card's state today: " + STATES)
    face_value_fen: int = Field(description="the value the card was sold with, in fen")
    balance_fen: int = Field(description="what is left on the card, in fen: face value less payments, a redemption, "
                                         "a void of a sold card and breakage, plus payment refunds (an unsold card, "
                                         "voided or not, shows its face value)")
    valid_until: str = Field(description="the card's last day of use (program date): its batch's, or its own "
                                         "once extended")
    merchant_ids: list[str] | None = Field(description="merchants that accept the card (null: every merchant)")
    member_id: str | None = Field(description="the member whose stored value the card was redeemed into "
                                              "(null: not redeemed)")
    activated_at: str | None = Field(description="when the card was activated on its own (null: activated by "
                                                 "its sale, or not yet)")
    locked_until: str | None = Field(description="the card refuses every secret until then, after wrong "
                                                 "secrets from several callers (may be past: the lock ended)")
    held_fen: int = Field(0, description="of what was taken off the card, the fen reserved by open holds "
                                         "(spent when confirmed, back on balance_fen when cancelled or lapsed)")


class GiftCardBalanceOut(Reply):
    """A card's balance, to a till that gave its number and secret (never the secret)."""

    card_number: str = Field(description="the number masked to its first and last four digits")
    state: CardState = Field(description="the card's state today: " + STATES)
    balance_fen: int = Field(description="what is left on the card, in fen (held amounts are not in it)")
    held_fen: int = Field(description="fen reserved by open holds (spent when confirmed, back on the balance when "
                                      "cancelled or lapsed)")
    face_value_fen: int = Field(description="the value the card was sold with, in fen")
    valid_until: str = Field(description="the card's last day of use (program date)")
    merchant_ids: list[str] | None = Field(description="merchants that accept the card (null: every merchant)")
    accepted_here: bool | None = Field(description="whether the caller's merchant accepts the card (null: the "
                                                   "caller is HQ, of no merchant)")


class GiftCardPostingShown(Reply):
    sequence: int = Field(description="the card's version after this posting: 1, 2, 3... without gaps")
    kind: Literal["redeem", "payment", "payment_refund", "payment_refund_to_member", "void", "void_paid_out",
                  "extension", "breakage", "hold", "hold_confirmed", "hold_released"] = Field(
        description="redeem (into a member's stored value), payment (at a till), payment_refund (back onto the "
                    "card), payment_refund_to_member (to the member the card was redeemed into), void, "
                    "void_paid_out (a voided card's balance paid back to its buyer), extension (a new last day), "
                    "breakage (an expired card's balance taken as the issuer's income), hold (an amount reserved "
                    "at a till), hold_confirmed (the held amount paid for its order), hold_released (given back)")
    amount_fen: int = Field(description="fen the posting moved, never negative (0 for an extension and a refund "
                                        "passed on to a member)")
    balance_after: int = Field(description="what the card held after the posting, in fen")
    entries: list[GiftCardJournalLine] = Field(description="the posting's double-entry lines (none when nothing "
                                                           "moved on the card's accounts)")
    ref: str | None = Field(description="the order (order:<merchant>:<order id>) or payout reference, if any")
    merchant_id: str | None
    member_id: str | None
    actor: str = Field(description="who made the change")
    created_at: str


class GiftCardDetailOut(GiftCardOut):
    """A gift card as HQ sees it: its state, balance and every posting (never its secret)."""

    failures: int = Field(description="wrong secrets tried on the card since its last right one, not yet "
                                      "counted into a lock")
    postings: list[GiftCardPostingShown] = Field(description="every change of the card's balance, oldest first")


class GiftCardVoidOut(GiftCardOut):
    """The voided card."""

    voided_fen: int | None = Field(None, description="a sold card's balance at the void, in fen: owed back to "
                                                     "its buyer until paid out (absent for an unsold card)")


class GiftCardPaidOutOut(GiftCardOut):
    """The voided card whose balance was paid back to its buyer."""

    paid_out_fen: int = Field(description="fen paid back to the buyer: what the void left owed")
    refund_ref: str = Field(description="the reference of the payment back to the buyer")


class GiftCardBreakageOut(GiftCardOut):
    """The expired card whose balance became the issuer's income."""

    breakage_fen: int = Field(description="fen recognised as breakage: the card's whole balance")


class GiftCardStoredValueShown(Reply):
    member_id: str
    principal: int = Field(description="the member's prepaid principal after the change, in fen (money paid in, "
                                       "cards redeemed, refunds)")
    bonus: int = Field(description="the member's top-up bonus after the change, in fen (lapsed bonus not "
                                   "included)")
    balance_fen: int = Field(description="principal + bonus: what the member can pay with")
    lapsed_bonus_fen: int = Field(description="the member's bonus past its last day that the expiry job has not "
                                              "taken yet, in fen: no longer theirs (see getStoredValueAccount)")


class GiftCardRedeemOut(Reply):
    """The card's whole balance, moved into the member's stored value as principal."""

    card_number: str
    redeemed_fen: int = Field(description="fen moved off the card into the member's principal")
    stored_value: GiftCardStoredValueShown


class GiftCardPaymentOut(Reply):
    """A payment for an order with a card."""

    card_number: str
    order_id: str
    amount_fen: int = Field(description="fen paid with the card")
    balance_fen: int = Field(description="what is left on the card, in fen")
    state: Literal["partially_used", "exhausted"] = Field(description="exhausted when nothing is left")


class GiftCardHoldOut(Reply):
    """A till's hold on a card: an amount reserved for an order, spent when confirmed, given back when
    cancelled or when it lapses."""

    hold_id: str
    card_number: str
    order_id: str
    merchant_id: str = Field(description="the merchant whose checkout it is")
    store_id: str | None = Field(description="its store (null: taken by a merchant-level caller)")
    amount_fen: int = Field(description="fen reserved")
    status: Literal["open", "confirmed", "released"] = Field(
        description="open (reserved), confirmed (paid for its order: refundable as any card payment), released "
                    "(cancelled, or lapsed at expires_at)")
    expires_at: str = Field(description="when an open hold lapses by itself")
    created_at: str
    balance_fen: int | None = Field(None, description="what is left to spend on the card after this change, in fen "
                                                      "(absent when only reading the hold)")


class GiftCardHoldConfirmedOut(GiftCardHoldOut):
    """A hold confirmed: the order is paid with the card, as by payWithGiftCard."""

    state: Literal["partially_used", "exhausted"] = Field(description="exhausted when nothing is left and nothing "
                                                                      "is held")


class GiftCardRefundOut(Reply):
    """A refund of a card payment: back onto the card, or to the member the card was since redeemed into."""

    card_number: str
    order_id: str
    refund_id: str
    amount_fen: int = Field(description="fen this refund gives back")
    payment_fen: int = Field(description="what the card paid for the order, in fen")
    payment_refunded_fen: int = Field(description="the payment's refunds so far, this one included "
                                                  "(cumulative; never more than payment_fen)")
    balance_fen: int = Field(description="what the card holds after the refund, in fen (0 for a redeemed card: "
                                         "the refund went to the member)")
    state: Literal["activated", "partially_used", "redeemed"] = Field(
        description="the card's recorded state after the refund: activated (full again), partially_used, or "
                    "redeemed (the refund went to refunded_to). An expired card is reported activated or "
                    "partially_used here, its recorded state; getGiftCard shows it expired")
    refunded_to: GiftCardStoredValueShown | None = Field(
        None, description="the member's stored value that received the refund as principal, when the card had "
                          "been redeemed (absent otherwise)")


# reconciliation -----------------------------------------------------------------------------------
class GiftCardChecked(Reply):
    card_number: str
    used: int = Field(description="fen taken off the card (face value − balance)")
    balanced: bool = Field(description="whether every check holds")
    checks: dict[str, bool] = Field(description="each check by name: used = postings, postings are gap-free, "
                                                "nothing negative, used <= face value, used = spent - refunded + "
                                                "redeemed + voided + breakage (+ held, when held by open holds), "
                                                "held = holds posted, voided paid out <= voided, every "
                                                "posting balances, lines = what was taken")


class GiftCardBatchReconciliation(Reply):
    """Every card of one batch proved against its postings, and the batch's sales against its cards."""

    batch_id: str
    issuer: str = Field(description="the issuer's liability account: gift_cards:<merchant id or 'program'>")
    cards_checked: int = Field(description="cards read")
    outstanding_fen: int = Field(description="what the batch's sold, unvoided cards still hold, in fen")
    voided_account: str = Field(description="the account of what voided cards owe their buyers: "
                                            "gift_cards_voided:<merchant id or 'program'>")
    voided_owed_fen: int = Field(description="voided cards' balances not yet paid back to their buyers, in fen")
    held_account: str = Field(description="the account of what open holds reserve on the batch's cards: "
                                          "gift_cards_held:<merchant id or 'program'>")
    held_fen: int = Field(description="what open holds reserve on the batch's cards, in fen")
    balanced: bool = Field(description="whether every check holds")
    checks: dict[str, bool] = Field(description="each check by name: sold cards = sales (face value), every card "
                                                "balances")
    mismatches: list[GiftCardChecked] = Field(description="the cards that failed a check (at most 50)")


class GiftCardIssuerCheck(Reply):
    cards_fen: int = Field(description="what the cards say the account holds, in fen (outstanding balances, or "
                                       "voided balances still owed)")
    figures_fen: int = Field(description="what the prepaid figures say it holds, in fen (the day's movements "
                                         "count once the stream has folded them in)")
    agree: bool = Field(description="cards_fen = figures_fen")


class GiftCardReconciliationTotal(Reply):
    """The first cards of the ready batches proved (up to 5,000, newest batch first), and each
    issuer's accounts against the prepaid figures when that was every card; where the
    ``gift-card-reconcile`` job's pass over every card is."""

    batches_checked: int = Field(description="batches whose cards were read (the last one possibly in part)")
    cards_checked: int
    cards_mismatched: int = Field(description="cards that failed a check")
    whole: bool = Field(description="whether every card of the program was checked (the issuers are compared with "
                                    "the figures only then)")
    balanced: bool = Field(description="whether every batch balances")
    issuers: dict[str, GiftCardIssuerCheck] = Field(description="by account: gift_cards:<issuer> (outstanding "
                                                                "card balances), gift_cards_voided:<issuer> "
                                                                "(voided balances owed to buyers, when any) and "
                                                                "gift_cards_held:<issuer> (reserved by open holds, "
                                                                "when any)")
    figures_agree: bool = Field(description="whether every issuer account agrees with the figures (false when "
                                            "not every card was checked)")
    mismatches: list[GiftCardBatchReconciliation] = Field(description="the batches that failed a check (at most 50)")
    progress: ReconciliationProgress = Field(description="the job's pass: each run checks the next `page` cards of "
                                                         "every ready batch (a shard here is a batch, by its number)")


class GiftCardReconciliationOut(RootModel[GiftCardBatchReconciliation | GiftCardReconciliationTotal]):
    """With batch_id, that batch proved card by card; without, every batch and each issuer's accounts."""
