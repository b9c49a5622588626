"""Checkout items, in the main table.

* ``QUOTE#<quote> / QUOTE``: a quote as answered (``body``: compressed JSON, everything the commit
  checks: member, merchant, store, caller, cart hash, chosen coupons and their savings and
  versions, points and the rules version, totals), with the fields a commit filters on kept as
  attributes. One put; DynamoDB's TTL (``expires_at``) removes it a day after it expires.
  ``checkout_id``: the checkout that committed it (a quote is committed once).
* ``CHECKOUT#<checkout> / CHECKOUT``: a checkout, the record of its saga (:mod:`.saga`): its
  status, its plan (every hold it takes, each with the id derived from the commit's
  Idempotency-Key, and every line's parts), the payment and what it earned. Versioned (every
  move is conditioned on the version read). On the due index while holds are open (it lapses
  with them); listed on ``gsi1`` under its member (``CHECKOUTS#<member>`` / ``<created>#<id>``).
* ``CHECKOUT#<checkout> / DAY``: the checkout listed under the program day it was made on
  (``gsi1``: ``POSTDAY#checkouts#<day>#<shard>``, :mod:`chalicelib.ledger.postings`), with its
  merchant and store: the exports of a period read it, then the checkouts. Written once with the
  checkout (its own gsi1 is its member's listing): one small item and one index entry per checkout.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.db.items import Gsi1, MainModel, PackedJson
from chalicelib.ledger.holds import HoldRecord
from chalicelib.ledger.postings import day_keys


class QuoteItem(MainModel):
    quote_id = UnicodeAttribute()
    merchant_id = UnicodeAttribute()
    store_id = UnicodeAttribute(null=True)
    member_id = UnicodeAttribute(null=True)        # None: a walk-in customer
    caller = UnicodeAttribute()                    # who asked (a till's key, staff, the member)
    cart_hash = UnicodeAttribute()
    created_at = UnicodeAttribute()
    valid_until = UnicodeAttribute()               # the offer's end (ISO 8601, UTC); expires_at is the TTL
    body = PackedJson(attr_name="quote_z")         # the quote as answered
    checkout_id = UnicodeAttribute(null=True)      # the checkout that committed it

    @staticmethod
    def key(quote_id: str) -> tuple[str, str]:
        return f"QUOTE#{quote_id}", "QUOTE"


class CheckoutItem(HoldRecord):
    """A checkout: a hold of holds (its status is the saga's, :data:`.saga.MOVES`; ``hold_id`` is
    the checkout's id; it lapses on the due index with the holds it took)."""

    due_kind = "checkout"
    quote_id = UnicodeAttribute()
    order_id = UnicodeAttribute()                  # the order the holds and payments are recorded on
    member_id = UnicodeAttribute(null=True)        # None: a walk-in customer
    channel = UnicodeAttribute(null=True)
    caller = UnicodeAttribute()
    guide_id = UnicodeAttribute(null=True)         # the staff member who served (导购)
    plan = PackedJson(attr_name="plan_z")          # the holds (with their ids) and every line's parts
    totals = PackedJson(attr_name="totals_z")      # list, member, coupons, points, stored value, cards, cash
    committed_at = UnicodeAttribute(null=True)
    completed_at = UnicodeAttribute(null=True)
    cancelled_at = UnicodeAttribute(null=True)
    payment_ref = UnicodeAttribute(null=True)      # the payment's reference (completion)
    earned = UnicodeAttribute(null=True)           # JSON: points and growth the completion earned
    problem = UnicodeAttribute(null=True)          # JSON: why a commit failed (it released everything)
    why = UnicodeAttribute(null=True)              # why it was cancelled
    refunded = PackedJson(null=True, attr_name="refunded_z")   # every line's refunded share and parts (.refunds)
    version = NumberAttribute(default=0)
    gsi1 = Gsi1()
    gsi1pk = UnicodeAttribute(null=True)           # CHECKOUTS#<member>
    gsi1sk = UnicodeAttribute(null=True)           # <created_at>#<checkout>

    @property
    def checkout_id(self) -> str:
        return str(self.hold_id)

    @staticmethod
    def key(checkout_id: str) -> tuple[str, str]:
        return f"CHECKOUT#{checkout_id}", "CHECKOUT"


class CheckoutDayItem(MainModel):
    """A checkout's entry in the listing of its day (never changed)."""

    checkout_id = UnicodeAttribute()
    merchant_id = UnicodeAttribute(null=True)
    store_id = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    gsi1pk = UnicodeAttribute(null=True)           # POSTDAY#checkouts#<day>#<shard>
    gsi1sk = UnicodeAttribute(null=True)           # <created_at>#<checkout>
    by_day = Gsi1()

    @staticmethod
    def key(checkout_id: str) -> tuple[str, str]:
        return f"CHECKOUT#{checkout_id}", "DAY"

    @classmethod
    def of(cls, c: CheckoutItem, day: str) -> CheckoutDayItem:
        """The entry of checkout ``c``, made on program day ``day``."""
        made = cls(*cls.key(c.checkout_id), checkout_id=c.checkout_id, merchant_id=c.merchant_id, store_id=c.store_id,
                   created_at=c.created_at)
        made.gsi1pk, made.gsi1sk = day_keys("checkouts", day, str(c.created_at), c.checkout_id)
        return made


class CheckoutRefundItem(MainModel):
    """``CHECKOUT#<checkout> / REFUND#<refund_id>``: a refund of a checkout, the record of its saga
    (:mod:`.refunds`): what it asked (its digest: a refund id is made once), what each line gives
    back, each store's refund (its id derived from the checkout and the refund id) and which of
    them are done, each marked in the transaction of its own refund. Versioned."""

    checkout_id = UnicodeAttribute()
    refund_id = UnicodeAttribute()
    asked = UnicodeAttribute()                     # digest of lines / amount_fen
    status = UnicodeAttribute()                    # refunding | refunded
    reason = UnicodeAttribute()
    caller = UnicodeAttribute()
    plan = PackedJson(attr_name="refund_plan_z")   # lines (what each gives back), steps (store, id, fen)
    done = PackedJson(null=True, attr_name="done_z")   # step part -> what its store answered
    created_at = UnicodeAttribute()
    refunded_at = UnicodeAttribute(null=True)
    version = NumberAttribute(default=0)

    @staticmethod
    def key(checkout_id: str, refund_id: str) -> tuple[str, str]:
        return f"CHECKOUT#{checkout_id}", f"REFUND#{refund_id}"
