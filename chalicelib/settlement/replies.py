"""What the settlement's operations answer (the OpenAPI response schemas)."""

from __future__ import annotations

from pydantic import Field

from chalicelib.shared.types import Reply


class SideOut(Reply):
    """What one party owes the other, by kind, in fen."""

    points_fen: int = Field(description="points redeemed at the other party, valued in fen")
    coupon_fen: int = Field(description="coupon discounts given by the other party, this party's share of their cost")
    stored_value_fen: int = Field(description="members' stored value spent at the other party")
    gift_card_fen: int = Field(description="gift cards this party issued, spent at the other party")
    total_fen: int = Field(description="the sum")


class NetOut(Reply):
    """Who owes whom, net."""

    debtor: str | None = Field(description="who owes, net (null: nobody)")
    creditor: str | None = Field(description="who is owed, net")
    fen: int = Field(description="how much, net (0 or more)")


class StatementOut(Reply):
    """A statement of one pair of parties for one period."""

    period: str = Field(description="the calendar month (YYYY-MM, the program's time zone)")
    party_a: str = Field(description="one party: `program` or a merchant id (the lower of the two)")
    party_b: str = Field(description="the other party")
    a_owes_b: SideOut
    b_owes_a: SideOut
    net_fen: int = Field(description="a_owes_b.total_fen - b_owes_a.total_fen (negative: b owes a)")
    net_position: NetOut
    line_count: int = Field(description="lines on the statement, adjustments included")
    adjustment_lines: int = Field(description="lines of earlier periods: arrived after their period closed, or "
                                  "corrections (refunds, undos) of an earlier period's originals")
    adjustment_fen: int = Field(description="what the adjustment lines add to a's debt to b, net")
    closed: bool = Field(description="whether the period is closed: the statement is final")
    closed_at: str | None = Field(description="when the period was closed")


class LineOut(Reply):
    """One clearing line."""

    kind: str = Field(description="points, coupon, stored_value or gift_card")
    payer: str = Field(description="who owes")
    payee: str = Field(description="who is owed")
    fen: int = Field(description="how much (negative: a refund or undo gives back an earlier line)")
    merchant_id: str = Field(description="the merchant where it was redeemed")
    store_id: str | None = Field(description="its store, when the event names one")
    event_id: str = Field(description="the domain event the line comes from")
    event_type: str = Field(description="that event's type")
    occurred_at: str = Field(description="when the event happened")
    adjustment: bool = Field(description="a line of an earlier period: its event came after that period closed, "
                             "or it corrects (a refund, an undo) an original of an earlier period")
    original_period: str = Field(description="the period the line belongs to: its event's program month, or for a "
                                 "correction the month of the original it corrects")
    points: int | None = Field(description="points lines: how many points (negative: given back)")
    fen_per_point: str | None = Field(description="points lines: the value of a point in force at the event (a "
                                      "refund: the rate its redemption was cleared at)")
    reference: str | None = Field(None, description="what ties a correction to its original: `<points|prepaid>:<merchant>:"
                                  "<order>` (a coupon: `coupon:<coupon id>:<order>`); null when the event names no order")


class StatementPageOut(StatementOut):
    """A statement and a page of its lines (oldest first)."""

    lines: list[LineOut]
    next_after: str | None = Field(description="give as `after` for the next page (null: no more)")


class StatementListOut(Reply):
    """A period's statements, with whether the period is closed."""

    period: str = Field(description="the calendar month listed")
    closed: bool = Field(description="whether the period is closed")
    closed_at: str | None = Field(description="when it was closed")
    merchant_id: str | None = Field(description="the merchant whose statements are listed (null: every one)")
    statements: list[StatementOut]


class ClosedOut(Reply):
    """A closed settlement period."""

    period: str = Field(description="the period closed")
    closed: bool = Field(description="true")
    closed_at: str = Field(description="when")
    closed_by: str = Field(description="who closed it")


class MismatchOut(Reply):
    """A statement whose totals differ from its lines."""

    statement: str = Field(description="the statement's pair (a~b)")
    kept: dict[str, int] = Field(description="its totals as kept")
    lines: dict[str, int] = Field(description="the same totals summed from its lines")


class MerchantCheckOut(Reply):
    """One merchant's stored value and gift card clearing against its journal account."""

    merchant_id: str
    journal_fen: int = Field(description="the settlement:<merchant> journal account's balance, owed to the merchant")
    cleared_fen: int = Field(description="what the settlement saw put on it (all periods)")
    own_money_fen: int = Field(description="of it, the merchant's own gift cards spent at its tills: no line")
    lined_fen: int = Field(description="of it, in stored value and gift card lines")
    agrees: bool = Field(description="journal = cleared = own money + lined")


class ReconciliationOut(Reply):
    """A period's statements checked against their lines, and each merchant's clearing against the journal."""

    period: str
    statements_checked: int
    lines_checked: int
    statement_mismatches: list[MismatchOut]
    merchants: list[MerchantCheckOut]
    balanced: bool = Field(description="every statement equals its lines and every merchant agrees")
    as_of: str
