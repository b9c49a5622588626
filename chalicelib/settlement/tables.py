"""The settlement's items.

``STLPERIOD#<period> / HEAD``        a period's head: absent or open until closed (``closed_at``).
                                     Closing writes this one item: every statement of the period
                                     is frozen by it (a line's transaction checks it is still open).
``STLSTMT#<period>[#S<n>] / <a>~<b>`` a statement's totals, counters sharded (``FOLD_SHARDS``: a
                                     mall's busy pair takes thousands of lines a minute), summed
                                     at read: the period's partition lists its statements.
``STLLINES#<period>#<a>~<b> / <occurred_at>#<event id>#<n>``  the statement's lines, in time order.
``STLREF#<reference> / MEMO``          an original's memo (its period, a points rate, what its points
                                     corrections gave back so far): what a later refund or undo of
                                     the same order corrects.
``STLTALLY[#S<n>] / <merchant>``     all-time tallies of what the stored value journal put on the
                                     merchant's ``settlement:`` account (for the reconciliation).
"""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.db.items import MainModel
from chalicelib.events.folding import FOLD_SHARDS

DIRECTIONS = ("ab", "ba")           # a owes b, b owes a
AMOUNTS = tuple(f"{d}_{k}_fen" for d in DIRECTIONS for k in ("points", "coupon", "stored_value", "gift_card"))


class PeriodItem(MainModel):
    """A period's head, in :data:`HEAD_SHARDS` copies: every line's transaction checks one (a
    DynamoDB transaction conflicts with any other that holds the same item, even for a check, so
    one head would serialise a mall's whole month), and a close sets them all at once."""

    period = UnicodeAttribute(null=True)
    closed_at = UnicodeAttribute(null=True)
    closed_by = UnicodeAttribute(null=True)

    @staticmethod
    def key(period: str, shard: int = 0) -> tuple[str, str]:
        """One copy of the period's head (0: the one read)."""
        return f"STLPERIOD#{period}", "HEAD" if shard == 0 else f"HEAD#{shard}"


HEAD_SHARDS = 8


class StatementItem(MainModel):
    shards = FOLD_SHARDS        # hot: every line of a busy pair adds to it
    period = UnicodeAttribute(null=True)
    party_a = UnicodeAttribute(null=True)
    party_b = UnicodeAttribute(null=True)
    ab_points_fen = NumberAttribute(default=0)
    ab_coupon_fen = NumberAttribute(default=0)
    ab_stored_value_fen = NumberAttribute(default=0)
    ab_gift_card_fen = NumberAttribute(default=0)
    ba_points_fen = NumberAttribute(default=0)
    ba_coupon_fen = NumberAttribute(default=0)
    ba_stored_value_fen = NumberAttribute(default=0)
    ba_gift_card_fen = NumberAttribute(default=0)
    line_count = NumberAttribute(default=0)
    adjustment_lines = NumberAttribute(default=0)
    adjustment_fen = NumberAttribute(default=0)     # a owes b, net, of the adjustment lines

    @staticmethod
    def partition(period: str) -> str:
        """The period's statements (shard 0; shards add ``#S<n>``)."""
        return f"STLSTMT#{period}"


class LineItem(MainModel):
    period = UnicodeAttribute()
    party_a = UnicodeAttribute()
    party_b = UnicodeAttribute()
    kind = UnicodeAttribute()
    payer = UnicodeAttribute()
    payee = UnicodeAttribute()
    fen = NumberAttribute()
    merchant_id = UnicodeAttribute()
    store_id = UnicodeAttribute(null=True)
    event_id = UnicodeAttribute()
    event_type = UnicodeAttribute()
    occurred_at = UnicodeAttribute()
    adjustment = BooleanAttribute(default=False)
    original_period = UnicodeAttribute()
    points = NumberAttribute(null=True)
    rate = UnicodeAttribute(null=True)
    reference = UnicodeAttribute(null=True)     # the order the line's original or correction is of

    @staticmethod
    def partition(period: str, pair_key: str) -> str:
        """The lines of one statement."""
        return f"STLLINES#{period}#{pair_key}"


class TallyItem(MainModel):
    shards = FOLD_SHARDS
    merchant_id = UnicodeAttribute(null=True)
    journal_fen = NumberAttribute(default=0)    # put on settlement:<merchant> (owed to it), net
    self_fen = NumberAttribute(default=0)       # of it, the merchant's own money (no line)
    lined_fen = NumberAttribute(default=0)      # of it, in lines (stored value and gift cards)

    PARTITION = "STLTALLY"


class MemoItem(MainModel):
    """What a correction needs of its original: the period its lines belong to and, for points,
    the rate they were cleared at (the first original's, if an order had more than one), the points
    and fen all its originals cleared; and what its points corrections so far gave back (``corrected_points``, ``corrected_fen``: each
    correction is the value of all of them, rounded once, less what the earlier ones said)."""

    period = UnicodeAttribute(null=True)
    rate = UnicodeAttribute(null=True)
    points = NumberAttribute(null=True)             # what its originals cleared (an order may redeem twice)
    fen = NumberAttribute(null=True)
    corrected_points = NumberAttribute(null=True)
    corrected_fen = NumberAttribute(null=True)

    @staticmethod
    def key(reference: str) -> tuple[str, str]:
        return f"STLREF#{reference}", "MEMO"
