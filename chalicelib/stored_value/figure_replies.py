"""What the stored value figures answer (reconciliation, liability, daily movements, the
custodian's statement): the OpenAPI response schemas, for HQ finance. Amounts are integer fen;
each model forbids undocumented fields, and a test validates real replies against the document.
"""

from __future__ import annotations

from pydantic import Field

from chalicelib.ledger.replies import ReconciliationProgress
from chalicelib.shared.types import Reply
from chalicelib.stored_value.replies import SvAccountState


class SvCheckedSums(Reply):
    principal: int = Field(description="sum of the postings' principal deltas, fen")
    bonus: int = Field(description="sum of the postings' bonus deltas, fen")
    held_principal: int = Field(description="sum of the postings' held principal deltas, fen")
    held_bonus: int = Field(description="sum of the postings' held bonus deltas, fen")
    lines_principal: int = Field(description="principal and held principal by the postings' double-entry lines "
                                             "(credits as positive), fen")
    lines_bonus: int = Field(description="bonus and held bonus by the postings' double-entry lines (credits as "
                                         "positive), fen")


CHECKS = ("each check by name, true when it passes: 'principal = postings', 'bonus = postings', "
          "'held_principal = postings', 'held_bonus = postings', 'postings are gap-free', 'nothing negative', "
          "'every posting balances', 'lines = deltas', 'principal = totals', 'bonus = totals', "
          "'expiring bonus <= bonus'")


class SvAccountCheck(Reply):
    """One account's reconciliation: its balances against its postings, lines and totals."""

    member_id: str
    account: SvAccountState = Field(description="the account as stored")
    postings: int = Field(description="how many postings the account has")
    sums: SvCheckedSums = Field(description="the balances re-added from the postings")
    balanced: bool = Field(description="true when every check passes")
    checks: dict[str, bool] = Field(description=CHECKS)


class SvProgramTotals(Reply):
    principal: int = Field(description="members' principal, available and held, by their accounts, fen")
    bonus: int = Field(description="members' bonus, available and held, by their accounts, fen")
    lines_principal: int = Field(description="the same by the postings' double-entry lines, fen")
    lines_bonus: int = Field(description="the same by the postings' double-entry lines, fen")


class SvProjectedTotals(Reply):
    principal: int = Field(description="members' principal, available and held, by the prepaid figures "
                                        "(the projection the liability report reads), fen")
    bonus: int = Field(description="members' bonus, available and held, by the prepaid figures, fen")


class SvIssuerCheck(Reply):
    counter_fen: int = Field(description="the issuer's outstanding prepaid money by its counter (what its "
                                         "issuance limit is held against), fen")
    figures_fen: int = Field(description="the same by the prepaid figures, fen")
    limit_fen: int | None = Field(description="the issuer's issuance limit, fen (null: none)")
    agree: bool = Field(description="counter_fen = figures_fen (false for a moment while the event stream "
                                    "catches up)")


EVERY = " (only when every account is checked: no member_id given)"
ONE = " (only for one member: member_id given)"


class SvReconciliationOut(Reply):
    """Proof that stored value adds up: one member's account (member_id given), or every account and the
    program's totals."""

    balanced: bool = Field(description="true when every check passes (for every account: each account balances "
                                       "and the accounts' totals equal their lines)")
    member_id: str | None = Field(None, description="the member checked" + ONE)
    account: SvAccountState | None = Field(None, description="the account as stored" + ONE)
    postings: int | None = Field(None, description="how many postings the account has" + ONE)
    sums: SvCheckedSums | None = Field(None, description="the balances re-added from the postings" + ONE)
    checks: dict[str, bool] | None = Field(None, description=CHECKS + ONE)
    accounts_checked: int | None = Field(None, description="accounts checked, at most `limit`" + EVERY)
    totals: SvProgramTotals | None = Field(None, description="the checked accounts' totals" + EVERY)
    figures: SvProjectedTotals | None = Field(None, description="the same totals by the prepaid figures" + EVERY)
    figures_agree: bool | None = Field(None, description="totals = figures (false when some account was left "
                                                         "unchecked by `limit`, or for a moment while the event "
                                                         "stream catches up)" + EVERY)
    issuance: dict[str, SvIssuerCheck] | None = Field(None, description="by issuer (`program`, or a merchant "
                                                                        "issuing gift cards), its outstanding "
                                                                        "money by counter and by figures" + EVERY)
    issuance_agrees: bool | None = Field(None, description="every issuer's counter agrees with the figures"
                                                           + EVERY)
    mismatches: list[SvAccountCheck] | None = Field(None, description="the accounts that failed a check, at most "
                                                                      "50" + EVERY)
    progress: ReconciliationProgress | None = Field(None, description="the reconciliation job's pass over every "
                                                                      "account" + EVERY)


class SvMembersOwed(Reply):
    principal_fen: int = Field(description="members' principal, available and held, fen (held included)")
    bonus_fen: int = Field(description="members' bonus, available and held, fen (held included)")
    held_principal_fen: int = Field(description="of principal_fen, the part held by checkouts and pending "
                                                "cash-outs, fen")
    held_bonus_fen: int = Field(description="of bonus_fen, the part held by checkouts, fen")


OWED = "fen owed (positive: the program owes it)"


class SvLiabilityOut(Reply):
    """Prepaid money owed: members' principal and bonus, gift cards by issuer, settlements by merchant."""

    as_of: str = Field(description="when the figures were read (UTC, ISO 8601); they trail the movements by the "
                                    "event stream's delay")
    members: SvMembersOwed = Field(description="what members' stored value accounts hold")
    gift_cards_by_issuer: dict[str, int] = Field(description="by issuer (`program` or a merchant), the balance of "
                                                             "gift cards sold and not yet used, " + OWED + "; "
                                                             "expired cards' balances included until extended or "
                                                             "recognised as breakage")
    gift_cards_voided_by_issuer: dict[str, int] = Field(description="by issuer, voided cards' balances owed back "
                                                                    "to their buyers until paid out, " + OWED)
    breakage_fen: int = Field(description="expired gift card balances recognised as breakage (no longer owed), "
                                          "fen")
    settlement_by_merchant: dict[str, int] = Field(description="by merchant, stored value and gift cards spent "
                                                               "there less refunds, " + OWED + " to the merchant")
    cash_collected_fen: int = Field(description="cash taken in by top-ups and gift card sales less cash paid "
                                                "back (cash-outs, voided cards paid out), fen (net)")
    accounts: dict[str, int] = Field(description="every journal account's balance, fen: debit positive, credit "
                                                 "negative (liabilities show negative)")
    lines_balance: bool = Field(description="true when the accounts sum to 0 (every movement balanced)")


class SvDayMovement(Reply):
    opening_fen: int = Field(description="the account's balance at the day's start, fen (debit +, credit −)")
    debit_fen: int = Field(description="the day's debits, fen (gross, ≥ 0)")
    credit_fen: int = Field(description="the day's credits, fen (gross, ≥ 0)")
    closing_fen: int = Field(description="the balance at the day's end, fen: opening + debit − credit")


class SvMovementsOut(Reply):
    """A day's debits and credits per journal account, with opening and closing balances."""

    day: str = Field(description="the program date (YYYY-MM-DD)")
    accounts: dict[str, SvDayMovement] = Field(description="by journal account (member:principal, "
                                                           "settlement:<merchant>, gift_cards:<issuer>, "
                                                           "cash_clearing, ...)")
    balanced: bool = Field(description="true when the day's debits equal its credits")


class SvIssuerStatement(Reply):
    issuer: str = Field(description="`program` (members' stored value and its own gift cards) or a merchant "
                                    "issuing gift cards")
    opening_fen: int = Field(description="prepaid money held at the previous day's close, fen (members' "
                                         "principal, held or not, and gift cards sold, voided ones still owed "
                                         "included; bonus is not prepaid money)")
    received_fen: int = Field(description="the prepaid money the issuer received on the day, fen: top-ups, card "
                                          "sales, refunds to a card or an account, a card redeemed into stored value "
                                          "(for the program); moves between its own accounts (a hold, a cash-out "
                                          "awaiting approval, their release) are not counted")
    released_fen: int = Field(description="the prepaid money the issuer released on the day, fen: payments, "
                                          "cash-outs paid, voided cards paid out, breakage, a card redeemed into "
                                          "stored value (for the card's issuer); moves between its own accounts "
                                          "are not counted")
    closing_fen: int = Field(description="prepaid money held at the day's close, fen: opening + received − "
                                         "released")
    reserve_percent: int = Field(description="the share of it to keep deposited, percent (the rules' "
                                             "reserve_percent)")
    reserve_fen: int = Field(description="the reserve to keep deposited at the day's close, fen: closing × "
                                         "reserve_percent / 100, a part of a fen rounded up")
    reserve_change_fen: int = Field(description="reserve_fen less the previous day's, fen (negative: the reserve "
                                                "may shrink)")
    issuance_limit_fen: int | None = Field(description="the issuer's issuance limit, fen (null: none)")


class SvSupervisionOut(Reply):
    """The custodian bank's statement: per issuer, prepaid money held, the reserve and its change."""

    day: str = Field(description="the program date of the statement (YYYY-MM-DD)")
    previous_day: str = Field(description="the day before, whose close is the opening")
    issuers: list[SvIssuerStatement] = Field(description="one row per issuer, by issuer id")
