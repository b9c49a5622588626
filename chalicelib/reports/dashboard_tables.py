"""The dashboard's items: its counter rows per scope and period, and each member's last days.

``DASH#<scope> / DAY#<day>``, ``WEEK#<monday>``, ``MONTH#<yyyy-mm>``, ``TOTAL``: counters, sharded
(``FOLD_SHARDS``) and summed at read. A scope is ``ALL`` (the program), ``M:<merchant>`` or
``S:<merchant>/<store>``. ``DASHM#<member> / <scope>``: the member's last active and purchase
days in that scope, what makes a count of *distinct* members possible without reading a period's
events again.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.db.items import MainModel
from chalicelib.events.folding import FOLD_SHARDS

# Counters folded from each event (additive over days).
FOLDED = ("new_members", "paid_members_net", "points_issued", "points_redeemed", "points_expired",
          "sv_topped_up_fen", "sv_bonus_fen", "sv_spent_fen", "sv_refunded_fen", "coupons_issued", "coupons_used",
          "checkouts", "gmv_fen", "member_orders", "member_amount_fen", "walk_in_orders", "walk_in_amount_fen",
          "refunds", "refunded_fen", "sv_balance_net")
# Counters of distinct members, kept per day, week and month (not additive over days).
DISTINCT = ("active_members", "buyers", "repeat_buyers")


class DashRowItem(MainModel):
    shards = FOLD_SHARDS          # hot: every event of the program adds to its ALL row of the day
    scope = UnicodeAttribute(null=True)
    period = UnicodeAttribute(null=True)
    new_members = NumberAttribute(default=0)
    paid_members_net = NumberAttribute(default=0)
    points_issued = NumberAttribute(default=0)
    points_redeemed = NumberAttribute(default=0)
    points_expired = NumberAttribute(default=0)
    sv_topped_up_fen = NumberAttribute(default=0)
    sv_bonus_fen = NumberAttribute(default=0)
    sv_spent_fen = NumberAttribute(default=0)
    sv_refunded_fen = NumberAttribute(default=0)
    coupons_issued = NumberAttribute(default=0)
    coupons_used = NumberAttribute(default=0)
    checkouts = NumberAttribute(default=0)
    gmv_fen = NumberAttribute(default=0)
    member_orders = NumberAttribute(default=0)
    member_amount_fen = NumberAttribute(default=0)
    walk_in_orders = NumberAttribute(default=0)
    walk_in_amount_fen = NumberAttribute(default=0)
    refunds = NumberAttribute(default=0)
    refunded_fen = NumberAttribute(default=0)
    sv_balance_net = NumberAttribute(default=0)      # program only: what members' stored value changed by
    active_members = NumberAttribute(default=0)
    buyers = NumberAttribute(default=0)
    repeat_buyers = NumberAttribute(default=0)
    members_total = NumberAttribute(default=0)
    paid_members_total = NumberAttribute(default=0)

    @staticmethod
    def key(scope: str, period: str) -> tuple[str, str]:
        """The row of a scope and a period (``DAY#2026-12-05``, ``WEEK#2026-11-30``, ``MONTH#2026-12``, ``TOTAL``)."""
        return f"DASH#{scope}", period


class DashMemberItem(MainModel):
    """One member's last active day and last purchase day in one scope (YYYY-MM-DD; absent: never)."""

    last_active = UnicodeAttribute(null=True)
    last_purchase = UnicodeAttribute(null=True)

    @staticmethod
    def key(member_id: str, scope: str) -> tuple[str, str]:
        """The member's item in one scope."""
        return f"DASHM#{member_id}", scope
