"""What ``getBalanceSheet`` answers: the OpenAPI response schemas. Amounts are integer fen; a
liability is positive. Model names start with ``Bs`` (component names are global)."""

from __future__ import annotations

from pydantic import Field

from chalicelib.shared.types import Reply


class BsReconciliation(Reply):
    status: str = Field(description="the latest run of the line's reconciliation job for this program: ok | "
                                    "disagree (accounts out of balance, or figures unlike the ledger) | never_run | "
                                    "none (the line has no reconciliation)")
    at: str | None = Field(description="when that run finished (ISO 8601, UTC)")
    job: str | None = Field(description="the job (runJob name)")


class BsValuation(Reply):
    version: int = Field(description="the points valuation version in force at the day's close (0: the default)")
    fen_per_point: str = Field(description="fen one point is worth, a decimal as text")
    expected_redemption_percent: int = Field(description="the share of the points' value expected to be redeemed")


class BsPointsMonth(Reply):
    expires: str = Field(description="the expiry month (YYYY-MM) or never")
    points: int = Field(description="points outstanding that expire that month")
    face_value_fen: int = Field(description="points × fen per point, rounded half up")
    liability_fen: int = Field(description="face value × expected redemption %, rounded half up")


class BsPoints(Reply):
    point_type: str
    outstanding_points: int
    face_value_fen: int = Field(description="the months' face values summed")
    liability_fen: int = Field(description="the months' liabilities summed")
    valuation: BsValuation
    by_expiry_month: list[BsPointsMonth]
    reconciliation: BsReconciliation


class BsStoredValue(Reply):
    principal_fen: int = Field(description="members' paid principal, held parts included")
    bonus_fen: int = Field(description="members' top-up bonus, held parts included")
    liability_fen: int = Field(description="principal + bonus")
    held_principal_fen: int = Field(description="of the principal, reserved by open holds")
    held_bonus_fen: int = Field(description="of the bonus, reserved by open holds")
    reconciliation: BsReconciliation


class BsCardIssuer(Reply):
    issuer: str = Field(description="the issuing merchant, or program")
    outstanding_fen: int = Field(description="sold cards' unused balances")
    voided_owed_fen: int = Field(description="voided cards' balances owed back to their buyers")
    held_fen: int = Field(description="balances reserved by open holds")
    liability_fen: int


class BsGiftCards(Reply):
    by_issuer: list[BsCardIssuer]
    liability_fen: int
    reconciliation: BsReconciliation


class BsCouponTemplate(Reply):
    template_id: str
    merchant_id: str | None = Field(description="the template's owner (None: the program's head office)")
    kind: str
    outstanding: int = Field(description="claimed + issued − used + undone − expired")
    cost_per_coupon_fen: int = Field(description="the expected cost of one coupon (see cost_basis)")
    cost_basis: str = Field(description="terms (the most it takes off) | average_use (discount ÷ net uses) | none")
    liability_fen: int = Field(description="outstanding × cost per coupon")
    by_bearer: dict[str, int] = Field(description="the liability split by the template's cost bearer shares")


class BsCoupons(Reply):
    templates: list[BsCouponTemplate]
    outstanding: int
    liability_fen: int
    reconciliation: BsReconciliation


class BsMembershipFees(Reply):
    received_fen: int = Field(description="paid-membership fees received by the day's close, less what "
                                          "cancellations refunded (what one keeps of a cut period is earned "
                                          "that day)")
    earned_fen: int = Field(description="the part of received_fen earned day by day over each period (fee × days "
                                        "elapsed ÷ days, floor)")
    deferred_fen: int = Field(description="received − earned: not yet earned")
    liability_fen: int = Field(description="the deferred fees")
    reconciliation: BsReconciliation


class BalanceSheetOut(Reply):
    """The member balance sheet at the close of a day."""

    as_of: str = Field(description="the program day (YYYY-MM-DD)")
    closing_at: str = Field(description="the instant the figures are at: the day's last microsecond (ISO 8601, UTC)")
    live: bool = Field(description="today: the figures as they stand now (trailing the stream by its delay)")
    merchant_id: str | None = Field(description="the merchant whose lines these are (None: the whole program)")
    total_fen: int = Field(description="the lines' liabilities summed")
    points: BsPoints | None = Field(description="the program's line (None in a merchant's sheet)")
    stored_value: BsStoredValue | None = Field(description="the program's line (None in a merchant's sheet)")
    gift_cards: BsGiftCards
    coupons: BsCoupons
    membership_fees: BsMembershipFees | None = Field(description="the program's line (None in a merchant's sheet)")
