"""Gift card items, in the main table.

* ``GCSEQ / BATCH``: the last batch number of the platform (card numbers start with it).
* ``GCBATCH#<batch> / BATCH``: a batch: face value, validity, scope (what never changes, so a
  card use reads it from a per-container cache and never writes it), generation progress, and
  the sales' counters (``sold_count``, ``sold_fen``, ``version``: one write per sale or unsold
  void, none per card use; its size does not grow with them). Batches written before #24 item 6
  keep their ``sales`` / ``voided_unsold`` lists, which nothing appends to any more (read both
  ways). On the ``due`` index while it is generated and until its export of secrets is purged;
  listed on ``gsi1`` (``GCBATCHES``).
* ``GCBATCH#<batch> / CHUNK#<n>``: one chunk of generation, claimed with a lease, then done.
* ``GCBATCH#<batch> / SALE#<invoice>``: a sale (purchaser, range, price, double-entry lines).
* ``GCBATCH#<batch> / SALERANGE#<first serial, 8 digits>``: the range a sale sold (first, last,
  invoice, activated): a sale of 10,000 cards is one such item, and whether serial s is sold is
  one Query of at most one item (``sk <= SALERANGE#<s>``, descending, limit 1: ranges never
  overlap, so the last range starting at or before s holds s if any does).
* ``GCBATCH#<batch> / VOID#<serial, 8 digits>``: an unsold card voided (a later sale of a range
  holding it skips it: one Query of the range's voids).
* ``GIFTCARD#<number> / CARD``: a card: its secret's salted scrypt hash, what was used of it
  (the versioned account: ``used`` is its one bucket), its own state once it has one, the sale
  it was sold in (``sold_in``, ``sold_activated``: found by the range query and kept on the card
  at its first change, so later uses need no query), and its lock after wrong secrets. On
  ``gsi1`` as ``GCBATCH#<batch>`` / serial (the batch's cards).
* ``GCLEDGER#<number> / <version>``: one posting per change of a card's balance.
* ``GCORDER#<merchant>#<order> / CARD#<number>``: what a card paid for an order (once).
* ``GCGUARD#<caller> / GUARD``: a caller's wrong secrets in the current window, and its lock.
* ``GCHOLD#<hold> / HOLD``: a till's reservation of an amount on a card for an order
  (:mod:`chalicelib.ledger.holds`), on the ``due`` index (``DUE#gc-hold``) while open.
"""

from __future__ import annotations

import json
from typing import Any

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.db.items import DueIndex, Gsi1, MainModel
from chalicelib.ledger.holds import HoldRecord
from chalicelib.ledger.postings import JournalPosting


class BatchSequenceItem(MainModel):
    """One sequence for the whole platform: batch numbers, and so card numbers, are unique across
    programs (a card shown to another program's till is simply not found there)."""

    platform = True
    last = NumberAttribute(default=0)

    @staticmethod
    def key() -> tuple[str, str]:
        return "GCSEQ", "BATCH"


class GiftCardBatchItem(MainModel):
    batch_id = UnicodeAttribute()
    batch_no = NumberAttribute()
    name = UnicodeAttribute()
    face_value_fen = NumberAttribute()
    cards = NumberAttribute()
    valid_until = UnicodeAttribute()                 # the last day a card can be used (program date)
    channel = UnicodeAttribute()
    merchant_ids = UnicodeAttribute(null=True)       # JSON list: where cards are accepted (None: everywhere)
    issuer_merchant_id = UnicodeAttribute(null=True)  # whose liability (None: the program's)
    status = UnicodeAttribute()                      # generating | ready
    chunks = NumberAttribute()
    chunks_done = NumberAttribute(default=0)
    export_key = UnicodeAttribute(null=True)
    export_issued_at = UnicodeAttribute(null=True)
    export_issued_by = UnicodeAttribute(null=True)
    export_purged = BooleanAttribute(default=False)
    export_served = UnicodeAttribute(default="[]")   # JSON [part]: the parts of the export downloaded (once each)
    sales = UnicodeAttribute(default="[]")           # JSON [{first, last, invoice, activated, at}]: before #24 item 6 only
    sold_count = NumberAttribute(default=0)
    sold_fen = NumberAttribute(default=0)
    voided_unsold = UnicodeAttribute(default="[]")   # JSON [serial]: before #24 item 6 only (now VOID# items)
    version = NumberAttribute(default=0)
    created_by = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    listing = Gsi1()
    duepk = UnicodeAttribute(null=True)
    duesk = UnicodeAttribute(null=True)
    due = DueIndex()

    @staticmethod
    def key(batch_id: str) -> tuple[str, str]:
        return f"GCBATCH#{batch_id}", "BATCH"

    def legacy_sales(self) -> list[dict[str, Any]]:
        """The sales recorded on the batch item itself before #24 item 6 (never appended to now)."""
        return list(json.loads(self.sales or "[]"))

    def legacy_voided(self) -> set[int]:
        """The unsold cards voided before #24 item 6 (never appended to now)."""
        return set(json.loads(self.voided_unsold or "[]"))

    def scope(self) -> list[str] | None:
        return json.loads(self.merchant_ids) if self.merchant_ids else None


class GiftCardChunkItem(MainModel):
    status = UnicodeAttribute()                      # running | done
    lease = UnicodeAttribute()
    lease_until = UnicodeAttribute()

    @staticmethod
    def key(batch_id: str, n: int) -> tuple[str, str]:
        return f"GCBATCH#{batch_id}", f"CHUNK#{n:05d}"


class GiftCardSaleItem(MainModel):
    invoice_ref = UnicodeAttribute()
    purchaser = UnicodeAttribute()
    first = NumberAttribute()
    last = NumberAttribute()
    cards = NumberAttribute()
    face_fen = NumberAttribute()
    price_fen = NumberAttribute()
    activated = BooleanAttribute()
    entries = UnicodeAttribute()
    actor = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()

    @staticmethod
    def key(batch_id: str, invoice_ref: str) -> tuple[str, str]:
        return f"GCBATCH#{batch_id}", f"SALE#{invoice_ref}"


SALE_RANGE, VOID = "SALERANGE#", "VOID#"


class GiftCardSaleRangeItem(MainModel):
    """The range of serials one sale sold, keyed by its first serial (see the module docstring)."""

    first = NumberAttribute()
    last = NumberAttribute()
    invoice = UnicodeAttribute()
    activated = BooleanAttribute()
    at = UnicodeAttribute()

    @staticmethod
    def key(batch_id: str, first: int) -> tuple[str, str]:
        return f"GCBATCH#{batch_id}", f"{SALE_RANGE}{first:08d}"

    def view(self) -> dict[str, Any]:
        """As the batch item's ``sales`` list had it."""
        return {"first": int(self.first), "last": int(self.last), "invoice": self.invoice,
                "activated": bool(self.activated), "at": self.at}


class GiftCardVoidItem(MainModel):
    """An unsold card voided: it leaves the batch's stock."""

    serial = NumberAttribute()
    reason = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()

    @staticmethod
    def key(batch_id: str, serial: int) -> tuple[str, str]:
        return f"GCBATCH#{batch_id}", f"{VOID}{serial:08d}"


class GiftCardItem(MainModel):
    number = UnicodeAttribute()
    batch_id = UnicodeAttribute()
    serial = NumberAttribute()
    secret_hash = UnicodeAttribute()
    face_value_fen = NumberAttribute()
    used = NumberAttribute(default=0)                # fen taken from the card (the account's bucket)
    spent = NumberAttribute(default=0)               # paid at merchants
    redeemed = NumberAttribute(default=0)            # moved into a member's stored value
    voided_fen = NumberAttribute(default=0)          # left on the card when it was voided
    refunded = NumberAttribute(default=0)            # payments given back onto the card by refunds
    voided_paid = NumberAttribute(default=0)         # of voided_fen, paid back to the buyer
    breakage = NumberAttribute(default=0)            # an expired balance recognised as the issuer's income
    held = NumberAttribute(default=0)                # of used, reserved by open holds (spent or given back later)
    valid_until = UnicodeAttribute(null=True)        # an extension of this card past its batch's last day
    sold_in = UnicodeAttribute(null=True)            # the invoice of the sale holding it (None: not known yet)
    sold_activated = BooleanAttribute(null=True)     # whether that sale activated it
    state = UnicodeAttribute(default="issued")       # issued | activated | partially_used | redeemed | exhausted | voided
    activated_at = UnicodeAttribute(null=True)
    member_id = UnicodeAttribute(null=True)
    failures = NumberAttribute(default=0)
    failed_by = UnicodeAttribute(null=True)          # whose wrong secrets ``failures`` counts ("*": several callers')
    locks = NumberAttribute(default=0)
    locked_until = UnicodeAttribute(null=True)
    version = NumberAttribute(default=0)
    updated_at = UnicodeAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    listing = Gsi1()

    @staticmethod
    def key(number: str) -> tuple[str, str]:
        return f"GIFTCARD#{number}", "CARD"


class GiftCardPostingItem(JournalPosting):
    """A posting of a card (kind payment | payment_refund | redeem | void) with what it took from
    the card (a refund's ``used_delta`` is negative: it gives back)."""

    number = UnicodeAttribute()
    used_delta = NumberAttribute()

    @staticmethod
    def key(number: str, sequence: int) -> tuple[str, str]:
        return f"GCLEDGER#{number}", f"{sequence:010d}"


class GiftCardPaymentItem(MainModel):
    number = UnicodeAttribute()
    amount_fen = NumberAttribute()
    created_at = UnicodeAttribute()
    store_id = UnicodeAttribute(null=True)          # the store that took it (its refunds stay with the store)
    refunded_fen = NumberAttribute(default=0)        # given back onto the card so far
    refunds = UnicodeAttribute(null=True)            # JSON {refund_id: fen}: each refund once

    @staticmethod
    def key(merchant_id: str, order_id: str, number: str) -> tuple[str, str]:
        return f"GCORDER#{merchant_id}#{order_id}", f"CARD#{number}"


class GuardItem(MainModel):
    failures = NumberAttribute(default=0)
    window_start = UnicodeAttribute()
    streaks = UnicodeAttribute(null=True)        # JSON {card number: wrong secrets at it}, the latest few
    locks = NumberAttribute(default=0)
    locked_until = UnicodeAttribute(null=True)

    @staticmethod
    def key(caller: str) -> tuple[str, str]:
        return f"GCGUARD#{caller}", "GUARD"


class GiftCardHoldItem(HoldRecord):
    """An amount of a card reserved for an order at a till: taken off the card's balance (``used``,
    and ``held`` on the card) until confirmed (a payment of the order) or released."""

    due_kind = "gc-hold"
    number = UnicodeAttribute()
    merchant_id = UnicodeAttribute()
    order_id = UnicodeAttribute()
    amount_fen = NumberAttribute()

    @staticmethod
    def key(hold_id: str) -> tuple[str, str]:
        return f"GCHOLD#{hold_id}", "HOLD"
