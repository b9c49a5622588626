"""Stored value items, in the main table.

* ``MEMBER#<id> / SV#ACCOUNT``: the member's prepaid balances, principal and bonus kept apart,
  with running totals and the expiring bonus's lots; ``version`` is the lock of every change (the
  shared versioned account). Listed on ``keys1`` (``SVACCT#<shard>``; ``gsi1`` before, until an
  account's next change or the migration moves it) for the reconciliation of every account; on the ``due`` index (``DUE#sv-bonus``) while some bonus is set to expire.
* ``SVLEDGER#<member> / <version>``: one posting per change, with its double-entry lines.
* ``SVTOPUP#<payment ref>``: a top-up's payment, applied once.
* ``SVORDER#<merchant>#<order>`` / ``PAYMENT`` and ``REFUND#<id>``: what a payment took from
  principal and bonus, and its refunds (cumulative, never more than was paid).
* ``MEMBER#<id> / SV#HOLD#<id>``: a checkout hold (principal and bonus reserved).
* ``MEMBER#<id> / SV#CASHOUT#<id>``: a cash-out waiting for (or decided by) a second approval.
* ``MEMBER#<id> / SV#DAY#<date>`` and ``SV#BONUS#<rule>``: the day's top-ups (limit) and how
  often a bonus rule was given (per-member limit).
* ``SVCOUNT#MERCHANT#<id>`` / ``SVCOUNT#KEY#<key id>`` ``/ DAY#<date>``: a merchant's and an API
  key's top-ups that day; ``SVCOUNT#ISSUER#<issuer> / OUTSTANDING``: the prepaid money an issuer
  holds (stored_value/counters.py).
"""

from __future__ import annotations

import json
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.db.items import DueIndex, Gsi1, Keys1, MainModel
from chalicelib.events.folding import FOLD_SHARDS
from chalicelib.ledger.holds import HoldRecord
from chalicelib.ledger.listing import AccountListing
from chalicelib.ledger.postings import JournalPosting

ACCOUNT_SHARDS = 16
LISTING = AccountListing("SVACCT#", ACCOUNT_SHARDS)
BUCKETS = ("principal", "bonus", "held_principal", "held_bonus")
TOTALS = ("topped_up", "bonus_granted", "spent_principal", "spent_bonus", "refunded_principal",
          "refunded_bonus", "cashed_out", "bonus_forfeited", "card_redeemed", "bonus_expired", "spent_bonus_deducted")


class SvAccountItem(MainModel):
    member_id = UnicodeAttribute()
    principal = NumberAttribute(default=0)
    bonus = NumberAttribute(default=0)
    held_principal = NumberAttribute(default=0)      # taken by open checkout holds
    held_bonus = NumberAttribute(default=0)
    topped_up = NumberAttribute(default=0)
    bonus_granted = NumberAttribute(default=0)
    spent_principal = NumberAttribute(default=0)
    spent_bonus = NumberAttribute(default=0)
    refunded_principal = NumberAttribute(default=0)
    refunded_bonus = NumberAttribute(default=0)
    cashed_out = NumberAttribute(default=0)
    bonus_forfeited = NumberAttribute(default=0)
    card_redeemed = NumberAttribute(default=0)       # gift cards' balances moved in as principal
    bonus_expired = NumberAttribute(default=0)
    spent_bonus_deducted = NumberAttribute(default=0)   # spent bonus taken back from principal by cash-outs
    bonus_lots = UnicodeAttribute(null=True)         # JSON: expiring bonus (stored_value/bonus_lots.py)
    version = NumberAttribute(default=0)
    updated_at = UnicodeAttribute(null=True)
    k1pk = UnicodeAttribute(null=True)               # SVACCT#<shard> / <member>: every account, for the
    k1sk = UnicodeAttribute(null=True)               # reconciliation (keys only: ledger/listing.py)
    listing = Keys1()
    gsi1pk = UnicodeAttribute(null=True)             # where accounts were listed before (until they move)
    gsi1sk = UnicodeAttribute(null=True)
    old_listing = Gsi1()
    duepk = UnicodeAttribute(null=True)              # DUE#sv-bonus: the day the soonest lot has expired
    duesk = UnicodeAttribute(null=True)
    due = DueIndex()

    @staticmethod
    def key(member_id: str) -> tuple[str, str]:
        return f"MEMBER#{member_id}", "SV#ACCOUNT"

    @classmethod
    def new(cls, member_id: str) -> SvAccountItem:
        """An account never posted to (version 0), listed for the reconciliation of all."""
        item = cls(*cls.key(member_id), member_id=member_id, principal=0, bonus=0, held_principal=0, held_bonus=0,
                   version=0)
        for total in TOTALS:
            setattr(item, total, 0)
        return item.listed()

    def listed(self) -> SvAccountItem:
        """This account listed on keys1 and not on gsi1 (ledger/listing.py): every change puts it so."""
        LISTING.place(self, self.member_id, self.member_id)
        return self

    def view(self) -> dict[str, Any]:
        return {**{k: int(getattr(self, k) or 0) for k in (*BUCKETS, *TOTALS, "version")},
                "bonus_expiring": json.loads(self.bonus_lots or "[]")}


class SvPostingItem(JournalPosting):
    """A posting (kind top_up | payment | refund | cash_out | gift_card | hold*; amount is principal
    and bonus together, balance_after their sum) with the account's deltas."""

    principal_delta = NumberAttribute()
    bonus_delta = NumberAttribute()
    held_principal_delta = NumberAttribute(default=0)
    held_bonus_delta = NumberAttribute(default=0)
    day_ledger = "stored_value"                  # listed by day for exports (ledger/postings.py)
    gsi1pk = UnicodeAttribute(null=True)         # POSTDAY#stored_value#<day>#<shard>
    gsi1sk = UnicodeAttribute(null=True)         # <created_at>#<posting id>
    by_day = Gsi1()

    @staticmethod
    def key(member_id: str, sequence: int) -> tuple[str, str]:
        return f"SVLEDGER#{member_id}", f"{sequence:010d}"


class SvTopUpRefItem(MainModel):
    member_id = UnicodeAttribute()
    amount_fen = NumberAttribute()
    bonus_fen = NumberAttribute()
    at = UnicodeAttribute()

    @staticmethod
    def key(payment_ref: str) -> tuple[str, str]:
        return f"SVTOPUP#{payment_ref}", "REF"


class SvPaymentItem(MainModel):
    member_id = UnicodeAttribute()
    merchant_id = UnicodeAttribute()
    order_id = UnicodeAttribute()
    store_id = UnicodeAttribute(null=True)
    amount_fen = NumberAttribute()
    principal = NumberAttribute()
    bonus = NumberAttribute()
    refunded_principal = NumberAttribute(default=0)
    refunded_bonus = NumberAttribute(default=0)
    lots_taken = UnicodeAttribute(null=True)         # JSON: expiring bonus taken, not yet refunded
    created_at = UnicodeAttribute()

    @staticmethod
    def key(merchant_id: str, order_id: str) -> tuple[str, str]:
        return f"SVORDER#{merchant_id}#{order_id}", "PAYMENT"


class SvRefundItem(MainModel):
    amount_fen = NumberAttribute()
    created_at = UnicodeAttribute()

    @staticmethod
    def key(merchant_id: str, order_id: str, refund_id: str) -> tuple[str, str]:
        return f"SVORDER#{merchant_id}#{order_id}", f"REFUND#{refund_id}"


class SvCounterItem(MainModel):
    total = NumberAttribute(default=0)

    @staticmethod
    def key(member_id: str, name: str) -> tuple[str, str]:
        return f"MEMBER#{member_id}", f"SV#{name}"

    @staticmethod
    def of(kind: str, owner: str, name: str) -> tuple[str, str]:
        """A counter of someone other than a member: a merchant's, an API key's, an issuer's."""
        return f"SVCOUNT#{kind}#{owner}", name


class SvHoldItem(HoldRecord):
    """``MEMBER#<id> / SV#HOLD#<hold id>``: a checkout's reservation (:mod:`chalicelib.ledger.holds`),
    on the ``due`` index (``DUE#sv-hold``) until confirmed or released; it lapses by itself when its
    time is up."""

    due_kind = "sv-hold"
    member_id = UnicodeAttribute()
    merchant_id = UnicodeAttribute()
    order_id = UnicodeAttribute()
    amount_fen = NumberAttribute()
    principal = NumberAttribute()
    bonus = NumberAttribute()

    @staticmethod
    def key(member_id: str, hold_id: str) -> tuple[str, str]:
        return f"MEMBER#{member_id}", f"SV#HOLD#{hold_id}"


class SvCashOutItem(MainModel):
    """``MEMBER#<id> / SV#CASHOUT#<id>``: a cash-out above the approval amount, its principal held
    on the account until a second HQ staff member approves (paid) or rejects (released) it."""

    cash_out_id = UnicodeAttribute()
    member_id = UnicodeAttribute()
    principal = NumberAttribute()
    status = UnicodeAttribute()                      # pending | paid | rejected
    reason = UnicodeAttribute()
    refund_ref = UnicodeAttribute(null=True)
    requested_by = UnicodeAttribute()
    requested_at = UnicodeAttribute()
    decided_by = UnicodeAttribute(null=True)
    decided_at = UnicodeAttribute(null=True)
    decision_reason = UnicodeAttribute(null=True)
    bonus_forfeited = NumberAttribute(null=True)
    spent_bonus_deducted = NumberAttribute(null=True)   # taken from the held principal when paid

    @staticmethod
    def key(member_id: str, cash_out_id: str) -> tuple[str, str]:
        return f"MEMBER#{member_id}", f"SV#CASHOUT#{cash_out_id}"


class PrepaidAccountItem(MainModel):
    """``PREPAID#ACCOUNTS / <journal account>``: the account's balance (debit +, credit −), a
    projection of every movement's lines."""

    shards = FOLD_SHARDS          # hot: every stored value or gift card movement of the program adds to it (events/folding.py)

    account = UnicodeAttribute(null=True)
    balance = NumberAttribute(default=0)

    @staticmethod
    def key(account: str) -> tuple[str, str]:
        return "PREPAID#ACCOUNTS", account


class PrepaidDayItem(MainModel):
    """``PREPAIDDAY#<journal account> / <day>``: the account's debits and credits on a day."""

    shards = FOLD_SHARDS          # hot: every movement of the program adds to it (events/folding.py)

    day = UnicodeAttribute(null=True)
    debit = NumberAttribute(default=0)
    credit = NumberAttribute(default=0)

    @staticmethod
    def key(account: str, day: str) -> tuple[str, str]:
        return f"PREPAIDDAY#{account}", day
