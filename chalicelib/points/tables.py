"""How points live in the main table: the item classes and their keys. Everything of one member sits in the member's partition.

``MEMBER#<id> / PTS#<type>#LOT``                     balances by bucket + version (the lock); it sorts
                                                     just before its lots, so one Query reads the
                                                     account and the lots a spend takes first
``MEMBER#<id> / PTS#<type>#LOT#<expires>#<lot>``     a live lot: spendable, soonest expiry first
``MEMBER#<id> / PTS#<type>#PEND#<lot>``              a pending lot (order return window)
``LEDGER#<id> / PTS#<type>#POST#<version>``          the ledger: one posting per account version, in a
                                                     partition of its own so history never sits
                                                     beside the lots every operation queries
``MEMBER#<id> / PTS#<type>#HOLD#<hold>``             a two-phase checkout hold
``MEMBER#<id> / PTS#<type>#REMINDED``                the expiry reminders sent, by last day
``MEMBER#<id> / PTS#<type>#CAP#<period>``            earned-per-period counters (caps)
``MEMBER#<id> / PTS#BEH#<behavior>#<period>``        behaviour counters; ``PTS#CHECKIN`` the streak
``ORDER#<merchant>#<order> / ORDER``                 the order (``orders``) with what it earned and
                                                     spent (refunds); a spend appends to it by one
                                                     update, unread
``CONFIG#points-rules / FROM#<time>#<version>``      the program, versioned by effective time
``CONFIG#points-rules / VERSION#<version>``          one per version number: concurrent saves cannot share one
``CONFIG#points-rules / HEAD``                       the latest version (what a warm Lambda checks, ``db/versioned``)
``PTSLIAB#<type>``, ``PTSSTAT#<type>``, ``PTSWARN#``  program-wide figures projected from events (the first
                                                    two over shards ``#S1``.. too: events/folding.py)

A lot that is used up is deleted: its identity lives on in the postings and the order that
touched it, and a refund that restores points to it re-creates it with its original expiry. So
spending reads only live lots, and no operation reads more as a member's history grows.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from pynamodb.attributes import BooleanAttribute, ListAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.db.due import due_keys
from chalicelib.db.items import DueIndex, Gsi1, Keys1, MainModel
from chalicelib.events.folding import FOLD_SHARDS
from chalicelib.ledger.holds import HoldRecord
from chalicelib.ledger.listing import AccountListing
from chalicelib.orders.service import OrderItem

NO_EXPIRY = "9999-12-31"
DATES = "points-dates"         # the due kind of an account's next date (points/dates.py)
VIEW_FIELDS = ("available", "pending", "held", "debt", "earned", "redeemed", "expired", "clawed_back", "restored",
               "version")
# The points and growth accounts are listed under PTSACCT#<shard> / <member>#<type> for the
# reconciliation, on keys1 (keys only: ledger/listing.py), written once an account. They were on
# gsi1, which copies the whole item, so every earn rewrote two entries there: at the load model's
# flash (20,000 index writes a second) 16 shards took 1,250 WCU a second each, over a partition's
# 1,000, and 64 took 312 (docs/scale.md). Accounts listed on gsi1 before 64 shards keep their shard
# (0..15) until they move, and the reconciliation reads those shards anyway.
ACCOUNT_SHARDS = 64
LISTING = AccountListing("PTSACCT#", ACCOUNT_SHARDS)


class AccountItem(MainModel):
    member_id = UnicodeAttribute()
    point_type = UnicodeAttribute()
    available = NumberAttribute(default=0)
    pending = NumberAttribute(default=0)
    held = NumberAttribute(default=0)
    debt = NumberAttribute(default=0)
    earned = NumberAttribute(default=0)
    redeemed = NumberAttribute(default=0)
    expired = NumberAttribute(default=0)
    clawed_back = NumberAttribute(null=True)     # refunds: points taken back (from lots or as debt)
    restored = NumberAttribute(null=True)        # refunds: spent points given back
    version = NumberAttribute(default=0)
    updated_at = UnicodeAttribute(null=True)
    rolling_until = UnicodeAttribute(null=True)  # rolling expiry: last valid day of every live lot
    rolling_owed = NumberAttribute(null=True)    # owed points without a date, filed under rolling_until's month
    rolling_expired_at = UnicodeAttribute(null=True)   # when the rolling expiry last took every live lot
    owed_lots = UnicodeAttribute(null=True)      # JSON {lot_id: points}: debt a refund added for a lot's points
                                                 # it found gone (held or spent); points coming back repay it first
    open_holds = UnicodeAttribute(null=True)     # JSON {hold_id: expires_at} of the open holds (None: holds from
    #                                              before accounts named them may be open: read the holds)
    recent = UnicodeAttribute(null=True)         # growth: JSON {day: net growth recorded that day}, the last
    #                                              7 days (points/growth.py; None: an account from before)
    reset_cut = UnicodeAttribute(null=True)      # growth: the last reset's cut (orders before it: expired)
    # growth on the points account (points/folded.py): growth's buckets, totals and version (its postings'
    # sequence); None for g_version: an item that may not have taken the growth account of before yet
    g_available = NumberAttribute(null=True)
    g_debt = NumberAttribute(null=True)
    g_earned = NumberAttribute(null=True)
    g_expired = NumberAttribute(null=True)
    g_clawed_back = NumberAttribute(null=True)
    g_version = NumberAttribute(null=True)
    duepk = UnicodeAttribute(null=True)          # DUE#points-dates: the account's next date (points/dates.py;
    #                                              DUE#points-rolling: a rolling date's entry of before)
    duesk = UnicodeAttribute(null=True)
    due = DueIndex()
    k1pk = UnicodeAttribute(null=True)          # PTSACCT#<shard>: every account, for the reconciliation
    k1sk = UnicodeAttribute(null=True)          # <member>#<type>
    listing = Keys1()
    gsi1pk = UnicodeAttribute(null=True)        # where accounts were listed before (until they move)
    gsi1sk = UnicodeAttribute(null=True)
    old_listing = Gsi1()

    @staticmethod
    def key(member_id: str, point_type: str) -> tuple[str, str]:
        return f"MEMBER#{member_id}", f"PTS#{point_type}#LOT"          # (was ``#ACCOUNT``: db/migration.py)

    @staticmethod
    def home(member_id: str, point_type: str) -> tuple[str, str]:
        """Where the account of ``point_type`` lives: its own item, but growth's is the points
        account's (points/folded.py; ``key(member, "growth")`` is the item of before)."""
        return AccountItem.key(member_id, "points" if point_type == "growth" else point_type)

    @staticmethod
    def listed_as(listing_key: str) -> tuple[str, str]:
        """The member and point type of an account's listing key (``<member>#<type>``)."""
        member_id, point_type = listing_key.rsplit("#", 1)
        return member_id, point_type

    @classmethod
    def new(cls, member_id: str, point_type: str) -> AccountItem:
        """An account that has never been posted to (version 0), listed for the reconciliation."""
        item = cls(*cls.key(member_id, point_type), member_id=member_id, point_type=point_type,
                   available=0, pending=0, held=0, debt=0, earned=0, redeemed=0, expired=0, version=0)
        return item.listed()

    def listed(self) -> AccountItem:
        """This account listed on keys1 and not on gsi1 (ledger/listing.py): every change puts it so."""
        LISTING.place(self, self.member_id, f"{self.member_id}#{self.point_type}")
        return self

    def view(self) -> dict[str, int]:
        return {k: int(getattr(self, k) or 0) for k in VIEW_FIELDS}


class LotItem(MainModel):
    lot_id = UnicodeAttribute()
    member_id = UnicodeAttribute()
    point_type = UnicodeAttribute()
    original = NumberAttribute()
    remaining = NumberAttribute()
    expires_on = UnicodeAttribute(null=True)
    unlock_on = UnicodeAttribute(null=True)
    earned_at = UnicodeAttribute()
    source = UnicodeAttribute(null=True)
    duepk = UnicodeAttribute(null=True)          # DUE#points-lot: unlock (pending); expiry (live, until 2026-12-06)
    duesk = UnicodeAttribute(null=True)
    due = DueIndex()
    k1pk = UnicodeAttribute(null=True)           # DUE#points-reminder: a lot's next reminder until 2026-12-06
    k1sk = UnicodeAttribute(null=True)           # (the account's next date stands for it now: points/dates.py)
    reminder = Keys1()
    gsi1pk = UnicodeAttribute(null=True)         # DUE#points-remind: where it was until 2026-12-06 (gsi1 copied
    gsi1sk = UnicodeAttribute(null=True)         # the lot at every spend from it), until its next reminder
    reminders = Gsi1()
    remind_for = UnicodeAttribute(null=True)     # rolling expiry: the account's date a lot of before reminded of

    @property
    def reminder_at(self) -> str | None:
        """The sort key of the lot's next reminder on its index (None: none due)."""
        return self.k1sk or self.gsi1sk

    @staticmethod
    def live_key(member_id: str, point_type: str, expires_on: str | None, lot_id: str) -> tuple[str, str]:
        return f"MEMBER#{member_id}", f"PTS#{point_type}#LOT#{expires_on or NO_EXPIRY}#{lot_id}"

    @staticmethod
    def pending_key(member_id: str, point_type: str, lot_id: str) -> tuple[str, str]:
        return f"MEMBER#{member_id}", f"PTS#{point_type}#PEND#{lot_id}"

    @property
    def is_pending(self) -> bool:
        return "#PEND#" in self.sk

    def set_due(self) -> None:
        """Index a pending lot for its unlock day. A live lot has no entry of its own: its
        account's next date stands for its expiry and reminders (points/dates.py); lots from
        before keep theirs (``duepk``: expiry; ``k1pk`` or ``gsi1pk``: next reminder) until due."""
        if self.is_pending and self.unlock_on:
            self.duepk, self.duesk = due_keys("points-lot", date.fromisoformat(self.unlock_on),
                                              f"{self.member_id}#{self.sk}")
        else:
            self.duepk = self.duesk = None
        self.k1pk = self.k1sk = self.gsi1pk = self.gsi1sk = None


class RemindedItem(MainModel):
    """``MEMBER#<id> / PTS#<type>#REMINDED``: the account's expiry reminders sent (points/dates.py),
    ``sent`` JSON {last day: the nearest reminder point sent, in days before it}, last days from
    the visit's day on; written only by a reminder's visit, on the item as it read it."""

    member_id = UnicodeAttribute()
    point_type = UnicodeAttribute()
    sent = UnicodeAttribute()

    @staticmethod
    def key(member_id: str, point_type: str) -> tuple[str, str]:
        return f"MEMBER#{member_id}", f"PTS#{point_type}#REMINDED"


class PostingItem(MainModel):
    @staticmethod
    def partition(member_id: str) -> str:
        return f"LEDGER#{member_id}"

    @staticmethod
    def sort_key(point_type: str, version: int) -> str:
        return f"PTS#{point_type}#POST#{version:012d}"

    posting_id = UnicodeAttribute()
    member_id = UnicodeAttribute()
    point_type = UnicodeAttribute()
    kind = UnicodeAttribute()
    amount = NumberAttribute()
    available_delta = NumberAttribute()
    pending_delta = NumberAttribute()
    held_delta = NumberAttribute()
    debt_delta = NumberAttribute()
    balance_after = NumberAttribute()
    lots = UnicodeAttribute()                    # JSON [{lot_id, expires_on, delta, bucket}]
    reason = UnicodeAttribute(null=True)
    actor = UnicodeAttribute(null=True)
    source = UnicodeAttribute(null=True)         # order:<merchant>:<id>, behavior:..., hold:..., adjustment, expiry
    idempotency_key = UnicodeAttribute(null=True)
    merchant_id = UnicodeAttribute(null=True)    # whose business the posting records (None: the program's)
    store_id = UnicodeAttribute(null=True)       # the store that took it (None: the merchant, or before stores)
    created_at = UnicodeAttribute()
    day_ledger = "points"                        # listed by day for exports (ledger/postings.py)
    gsi1pk = UnicodeAttribute(null=True)         # POSTDAY#points#<day>#<shard>
    gsi1sk = UnicodeAttribute(null=True)         # <created_at>#<posting id>
    by_day = Gsi1()
    growth = UnicodeAttribute(null=True)         # a points posting carrying the growth posting of its change:
    #                                              JSON of that posting's fields that differ (points/folded.py)
    k1pk = UnicodeAttribute(null=True)           # GPOST#<member>: where the growth statement finds it
    k1sk = UnicodeAttribute(null=True)           # the growth posting's sequence (12 digits)
    by_growth = Keys1()

    @staticmethod
    def growth_listing(member_id: str) -> str:
        """The keys1 partition listing the points postings that carry a growth posting."""
        return f"GPOST#{member_id}"

    def carry(self, growth: PostingItem) -> None:
        """Carry ``growth`` (the growth posting of this posting's change) in this points posting:
        its fields that differ from this one's, and its sequence listed on keys1."""
        mine, theirs = self.attribute_values, growth.attribute_values
        fields = {k: theirs.get(k) for k in {*mine, *theirs} - _NOT_CARRIED if theirs.get(k) != mine.get(k)}
        if "lots" in fields:               # as JSON in the JSON, not a string of it (an item stays under 1 KB)
            fields["lots"] = json.loads(str(fields["lots"]))
        self.growth = json.dumps(fields, separators=(",", ":"), sort_keys=True)
        self.k1pk, self.k1sk = self.growth_listing(str(self.member_id)), f"{growth.sequence:012d}"

    def carried(self) -> PostingItem | None:
        """The growth posting this points posting carries, as it would be stored on its own."""
        if not self.growth:
            return None
        values = carried_fields({k: v for k, v in self.attribute_values.items() if k not in _NOT_CARRIED}, self.growth)
        return PostingItem(self.partition(str(self.member_id)), self.sort_key("growth", int(str(self.k1sk))), **values)

    @property
    def sequence(self) -> int:
        """The posting's sequence in its ledger (its account's version it made)."""
        return int(str(self.sk).rsplit("#", 1)[1])

    def view(self, references: bool = True) -> dict[str, Any]:
        """The posting; without ``references`` (another merchant's entry), no order, hold or key."""
        if not references:
            return {**self.view(), "reason": None, "actor": None, "source": None, "idempotency_key": None,
                    "references_hidden": True}
        return {"posting_id": self.posting_id, "merchant_id": self.merchant_id, "sequence": self.sequence, "kind": self.kind,
                "amount": int(self.amount), "available_delta": int(self.available_delta),
                "pending_delta": int(self.pending_delta), "held_delta": int(self.held_delta),
                "debt_delta": int(self.debt_delta), "balance_after": int(self.balance_after),
                "lots": json.loads(self.lots), "reason": self.reason, "actor": self.actor,
                "source": self.source, "idempotency_key": self.idempotency_key, "created_at": self.created_at}


_NOT_CARRIED = {"pk", "sk", "gsi1pk", "gsi1sk", "k1pk", "k1sk", "growth", "point_type"}


def carried_fields(values: dict[str, Any], growth: str) -> dict[str, Any]:
    """The values of the growth posting a points posting carries (``growth``, as
    :meth:`PostingItem.carry` wrote it: its fields that differ) over the points posting's
    ``values``, those None left out: the one overlay the ledger and the exports both read."""
    fields = json.loads(growth)
    if "lots" in fields:
        fields["lots"] = json.dumps(fields["lots"], separators=(",", ":"))
    merged = {**values, **fields, "point_type": "growth"}
    return {k: v for k, v in merged.items() if v is not None}


class HoldItem(HoldRecord):
    """A checkout hold of points (:mod:`chalicelib.ledger.holds`), with the lots it took."""

    due_kind = "points-hold"
    member_id = UnicodeAttribute()
    point_type = UnicodeAttribute()
    points = NumberAttribute()
    lots = UnicodeAttribute()                    # JSON [{lot_id, expires_on, points}]
    order = UnicodeAttribute(null=True)
    order_amount_fen = NumberAttribute(null=True)  # the order's amount, with order (its share cap)
    claimed = BooleanAttribute(null=True)        # with order: its points are reserved in the order's spent_points
    target = NumberAttribute(null=True)          # filling: the points the spend it serves needs in all
    returning = UnicodeAttribute(null=True)      # releasing: JSON of the lots still to go back
    returned = NumberAttribute(null=True)        # releasing: points gone back so far (the step's lock)
    # merchant_id, store_id: None on older holds (and store_id for a merchant-level caller's)

    @staticmethod
    def key(member_id: str, point_type: str, hold_id: str) -> tuple[str, str]:
        return f"MEMBER#{member_id}", f"PTS#{point_type}#HOLD#{hold_id}"

    @property
    def outstanding(self) -> int:
        """Points this hold keeps in the account's ``held`` bucket now."""
        if self.status not in ("open", "filling", "releasing"):
            return 0
        return int(self.points) - int(self.returned or 0)

    @property
    def owner(self) -> str | None:
        """The merchant whose checkout it is (older holds name it only in their order)."""
        return self.merchant_id or (self.order.split(":", 1)[0] if self.order else None)


class CounterItem(MainModel):
    total = NumberAttribute(default=0)
    last_day = UnicodeAttribute(null=True)       # check-in streak
    streak = NumberAttribute(null=True)

    @staticmethod
    def key(member_id: str, name: str) -> tuple[str, str]:
        return f"MEMBER#{member_id}", name


class PointsOrderItem(OrderItem):
    """The order (``orders.tables.OrderItem``) with the points part's own attributes, which live on
    the order's item: what it earned, what every spend took, and what refunds clawed back and
    restored. Points writes them by a versioned put of the whole item (read first) or by an
    update that moves the version."""

    earned_at = UnicodeAttribute(null=True)
    earned = UnicodeAttribute(null=True)         # JSON {type: [{lot_id, expires_on, points, pending}]}
    earned_lines = UnicodeAttribute(null=True)   # JSON {type: [points per order line]}: what a line's refund claws
    spent = UnicodeAttribute(null=True)          # JSON [{lot_id, expires_on, points}] (spends before `spends`)
    spends = ListAttribute(of=UnicodeAttribute, null=True)   # one JSON [{lot_id, expires_on, points}] per spend
    spent_points = NumberAttribute(null=True)    # points spent or held on it: what a spend's share condition reads
    spend_bases = ListAttribute(of=NumberAttribute, null=True)   # refunded_fen when each of the last spends was made
    clawed = UnicodeAttribute(null=True)         # JSON {type: points its refunds reversed so far (the cumulative base)}
    not_clawed = UnicodeAttribute(null=True)     # JSON {type: {"expired": n, "forgiven": n}}: of those, not taken back
    restored = NumberAttribute(default=0)        # spent points given back so far
    restored_lots = UnicodeAttribute(null=True)  # JSON {lot_id: of those, given back to that lot} (refunds.py)
    expired = UnicodeAttribute(null=True)        # JSON {lot_id: points of its lots that expired unspent}
    shortfall = NumberAttribute(default=0)       # clawback that found the points already spent


class LiabilityItem(MainModel):
    """``PTSLIAB#<type> / EXP#<month>``: outstanding points by expiry month (a projection)."""

    shards = FOLD_SHARDS          # hot: every posting of the program adds to it (events/folding.py)

    month = UnicodeAttribute()
    points = NumberAttribute(default=0)

    @staticmethod
    def key(point_type: str, month: str) -> tuple[str, str]:
        return f"PTSLIAB#{point_type}", f"EXP#{month}"


class PointsDayItem(MainModel):
    """``PTSSTAT#<type> / DAY#<day>``: issued, redeemed, expired... on one day (a projection)."""

    shards = FOLD_SHARDS          # hot: every posting of the program adds to it (events/folding.py)

    day = UnicodeAttribute()
    issued = NumberAttribute(default=0)
    redeemed = NumberAttribute(default=0)
    expired = NumberAttribute(default=0)
    clawed_back = NumberAttribute(default=0)
    restored = NumberAttribute(default=0)
    adjusted = NumberAttribute(default=0)

    @staticmethod
    def key(point_type: str, day: str) -> tuple[str, str]:
        return f"PTSSTAT#{point_type}", f"DAY#{day}"


class WarningMarker(MainModel):
    """``PTSWARN#inflation#<day>``: the inflation warning of that day was sent."""

    at = UnicodeAttribute()

    @staticmethod
    def key(day: str) -> tuple[str, str]:
        return f"PTSWARN#inflation#{day}", "WARN"
