"""Tier items, in the member's partition of the main table.

* ``MEMBER#<id> / TIER``: the tier a member earned by growth, its validity and the growth
  counted when its period began (the period's growth is the growth account's count less it, so
  an earn that moves no tier writes nothing here), any manual floor, and the next review on the ``due`` index (``DUE#tier-review``) on the
  day after the validity (or grace, or floor) ends, and its next reminder on ``keys1``
  (``DUE#tier-reminder``; keys only, so the item's other writes write nothing there: on ``gsi1``,
  ``DUE#tier-remind``, until 2026-12-06, every write copied the whole item). ``version`` is the lock of every change.
* ``MEMBER#<id> / TIERHIST#<n>``: every change of the tier, numbered, with its cause.
* ``TIERMEMBERS#<tier>#<shard> / <member>`` and ``MEMBER#<id> / TIERLISTED``: the members of each
  tier, a projection of the tier items (:mod:`chalicelib.tiers.listing`).
"""

from __future__ import annotations

import zlib

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.db.items import DueIndex, Gsi1, Keys1, MainModel

LISTING_SHARDS = 16                  # partitions of each tier's member listing


class TierItem(MainModel):
    member_id = UnicodeAttribute()
    tier = UnicodeAttribute()                        # the tier earned by growth (code)
    since = UnicodeAttribute()                       # when it was reached or last changed (ISO instant)
    previous = UnicodeAttribute(null=True)           # the tier before (orders dated before ``since``)
    valid_until = UnicodeAttribute(null=True)        # last day of the validity period (None: the base tier)
    period_start = UnicodeAttribute()                # first day of the current period (ISO date)
    period_growth = NumberAttribute(default=0)       # until 2026-12-06: the period's growth, counted at each
                                                     # change (items without ``growth_base`` still read it)
    growth_base = NumberAttribute(null=True)         # the member's growth counted (points ``growth_total``)
                                                     # when the period began: the period's growth is the
                                                     # growth account's count less this
    growth_seq = NumberAttribute(null=True)          # the last growth posting (its ``sequence``) that wrote
                                                     # this item: a redelivered or older one changes nothing
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
    regain_from = UnicodeAttribute(null=True)        # the highest tier left by a downgrade: up to it, growth
                                                     # earned since must meet a tier's retention to regain it
    reminded = UnicodeAttribute(null=True)           # the last reminder sent: "<valid_until>:<days>"
    k1pk = UnicodeAttribute(null=True)               # DUE#tier-reminder: the next reminder before the validity end
    k1sk = UnicodeAttribute(null=True)
    reminder = Keys1()
    gsi1pk = UnicodeAttribute(null=True)             # DUE#tier-remind: where it was until 2026-12-06 (until the
    gsi1sk = UnicodeAttribute(null=True)             # item's next write moves it)
    reminders = Gsi1()

    @property
    def reminder_at(self) -> str | None:
        """The sort key of the item's next reminder on its index (None: none due)."""
        return self.k1sk or self.gsi1sk

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


class MembershipItem(MainModel):
    """``MEMBER#<id> / PLUS``: the member's paid membership (one at a time), its paid periods and
    its expiry on the ``due`` index (``DUE#membership-expiry``, the day after ``until``)."""

    member_id = UnicodeAttribute()
    plan = UnicodeAttribute()
    status = UnicodeAttribute()                      # active | cancelled | expired
    started = UnicodeAttribute()                     # first day of the current run of periods
    until = UnicodeAttribute()                       # last day (inclusive)
    periods = UnicodeAttribute()                     # JSON [{start, end, price_fen, payment_ref|trial}]
    trials = UnicodeAttribute(null=True)             # JSON [plan codes whose trial was used]
    changes = NumberAttribute(default=0)
    version = NumberAttribute(default=0)
    updated_at = UnicodeAttribute(null=True)
    duepk = UnicodeAttribute(null=True)
    duesk = UnicodeAttribute(null=True)
    due = DueIndex()

    @staticmethod
    def key(member_id: str) -> tuple[str, str]:
        return f"MEMBER#{member_id}", "PLUS"


class MembershipHistoryItem(MainModel):
    """``MEMBER#<id> / PLUSHIST#<n>``: purchases, renewals, cancellations and expiries."""

    member_id = UnicodeAttribute()
    number = NumberAttribute()
    at = UnicodeAttribute()
    action = UnicodeAttribute()                      # purchased | renewed | cancelled | expired
    plan = UnicodeAttribute()
    until = UnicodeAttribute(null=True)
    amount_fen = NumberAttribute(default=0)          # paid (purchase, renewal) or to refund (cancellation)
    payment_ref = UnicodeAttribute(null=True)
    actor = UnicodeAttribute(null=True)

    @staticmethod
    def key(member_id: str, number: int) -> tuple[str, str]:
        return f"MEMBER#{member_id}", f"PLUSHIST#{number:08d}"


class PaymentRefItem(MainModel):
    """``PLUSPAY#<payment ref>``: a payment applied once; a replay with another amount is refused."""

    member_id = UnicodeAttribute()
    plan = UnicodeAttribute()
    amount_fen = NumberAttribute()
    at = UnicodeAttribute()

    @staticmethod
    def key(payment_ref: str) -> tuple[str, str]:
        return f"PLUSPAY#{payment_ref}", "PAYMENT"


class TierMemberItem(MainModel):
    """``TIERMEMBERS#<tier>#<shard> / <member id>``: one member holding the tier, in one of
    :data:`LISTING_SHARDS` partitions (crc32 of the member id): a tier's members, listed without a
    scan (a targeted coupon issue reads them), kept by the ``tier-listing`` stream consumer
    (:mod:`chalicelib.tiers.listing`). A flash of upgrades spreads its writes over the shards."""

    member_id = UnicodeAttribute()
    since = UnicodeAttribute()                       # when the member came to hold the tier (ISO instant)

    @staticmethod
    def key(tier: str, member_id: str) -> tuple[str, str]:
        return TierMemberItem.partition(tier, zlib.crc32(member_id.encode()) % LISTING_SHARDS), member_id

    @staticmethod
    def partition(tier: str, shard: int) -> str:
        return f"TIERMEMBERS#{tier}#{shard}"


class TierListedItem(MainModel):
    """``MEMBER#<id> / TIERLISTED``: where the listing has the member (its tier), as of which
    version of the tier item: the listing moves only for a newer version, so a late or redelivered
    event never moves a member back."""

    member_id = UnicodeAttribute()
    tier = UnicodeAttribute()
    since = UnicodeAttribute()
    tier_version = NumberAttribute()                 # the TierItem version the listing reflects

    @staticmethod
    def key(member_id: str) -> tuple[str, str]:
        return f"MEMBER#{member_id}", "TIERLISTED"
