"""Tier items, in the member's partition of the main table.

* ``MEMBER#<id> / TIER``: the tier a member earned by growth, its validity and the period's
  growth, any manual floor, and the next review on the ``due`` index (``DUE#tier-review``) on the
  day after the validity (or grace, or floor) ends. ``version`` is the lock of every change.
* ``MEMBER#<id> / TIERHIST#<n>``: every change of the tier, numbered, with its cause.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.db.items import DueIndex, MainModel


class TierItem(MainModel):
    member_id = UnicodeAttribute()
    tier = UnicodeAttribute()                        # the tier earned by growth (code)
    since = UnicodeAttribute()                       # when it was reached or last changed (ISO instant)
    previous = UnicodeAttribute(null=True)           # the tier before (orders dated before ``since``)
    valid_until = UnicodeAttribute(null=True)        # last day of the validity period (None: the base tier)
    period_start = UnicodeAttribute()                # first day of the current period (ISO date)
    period_growth = NumberAttribute(default=0)       # net growth earned since period_start
    grace_until = UnicodeAttribute(null=True)        # in grace: last day to reach the retention
    manual_tier = UnicodeAttribute(null=True)        # a floor set by HQ staff ...
    manual_until = UnicodeAttribute(null=True)       # ... until this day (inclusive)
    manual_reason = UnicodeAttribute(null=True)
    manual_by = UnicodeAttribute(null=True)
    changes = NumberAttribute(default=0)             # history entries written
    version = NumberAttribute(default=0)
    updated_at = UnicodeAttribute(null=True)
    duepk = UnicodeAttribute(null=True)
    duesk = UnicodeAttribute(null=True)
    due = DueIndex()

    @staticmethod
    def key(member_id: str) -> tuple[str, str]:
        return f"MEMBER#{member_id}", "TIER"


class TierHistoryItem(MainModel):
    member_id = UnicodeAttribute()
    number = NumberAttribute()
    at = UnicodeAttribute()                          # when the change took effect
    from_tier = UnicodeAttribute(null=True)
    to_tier = UnicodeAttribute()
    cause = UnicodeAttribute()                       # crossing | retention | downgrade | manual | manual_end | refund
    detail = UnicodeAttribute(null=True)             # JSON: growth figures, reason, ladder version
    actor = UnicodeAttribute(null=True)

    @staticmethod
    def key(member_id: str, number: int) -> tuple[str, str]:
        return f"MEMBER#{member_id}", f"TIERHIST#{number:08d}"
