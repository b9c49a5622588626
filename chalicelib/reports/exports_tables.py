"""How exports live in the main table.

``EXPORT#<id> / EXPORT``   one export: what was asked (kind, format, period, merchant, store), who
                           asked, its status (queued, running, done, failed), and where the job
                           stands: the source's cursor and the rows written as of the last part
                           uploaded, and the multipart upload (its id, its parts). Listed under
                           ``gsi1pk = EXPORTS`` / ``<created_at>#<id>`` (newest first: backwards);
                           due for the ``exports`` job (``DUE#export#<shard>``) while queued or running.

``PostingRow`` reads the points and stored value postings listed by day (``ledger/postings.py``):
only the attributes an export writes, whichever ledger wrote them. ``CouponUseRow`` reads the
coupons' write-offs and undos listed the same way, ``CheckoutDayRow`` the checkouts' day entries
and ``CheckoutRow`` the checkouts they name (read only, the attributes an export writes).
"""

from __future__ import annotations

import json
from typing import Any

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.db.items import DueIndex, Gsi1, MainModel, PackedJson
from chalicelib.shared.storage import Upload

LISTING = "EXPORTS"


class ExportItem(MainModel):
    export_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    format = UnicodeAttribute()
    start = UnicodeAttribute()
    end = UnicodeAttribute()
    merchant_id = UnicodeAttribute(null=True)
    store_id = UnicodeAttribute(null=True)
    reveal = BooleanAttribute(default=False)        # personal data unmasked (the creator may reveal it)
    status = UnicodeAttribute()                     # queued | running | done | failed
    rows_done = NumberAttribute(default=0)          # rows stored (as of the last part uploaded)
    rows_estimated = NumberAttribute(null=True)
    cursor = UnicodeAttribute(null=True)            # the source's position after rows_done rows (JSON)
    upload = UnicodeAttribute(null=True)            # the multipart upload (JSON: storage.Upload)
    object_key = UnicodeAttribute()
    size_bytes = NumberAttribute(null=True)
    url_seconds = NumberAttribute()
    error = UnicodeAttribute(null=True)
    runs = NumberAttribute(default=0)
    created_by = UnicodeAttribute()
    created_at = UnicodeAttribute()
    started_at = UnicodeAttribute(null=True)
    finished_at = UnicodeAttribute(null=True)
    version = NumberAttribute(default=0)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    listed = Gsi1()
    duepk = UnicodeAttribute(null=True)
    duesk = UnicodeAttribute(null=True)
    due = DueIndex()

    @staticmethod
    def key(export_id: str) -> tuple[str, str]:
        """An export's key."""
        return f"EXPORT#{export_id}", "EXPORT"

    def stored_upload(self) -> Upload | None:
        """The upload as last recorded (None: not started, or begun afresh)."""
        return Upload.load(json.loads(self.upload)) if self.upload else None

    def position(self) -> Any:
        """The source's cursor as last recorded (None: from the start)."""
        return json.loads(self.cursor) if self.cursor else None


class DayListed(MainModel):
    """An item listed under its program day (``POSTDAY#<listing>#<day>#<shard>`` / ``<at>#<id>``)."""

    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    by_day = Gsi1()


class PostingRow(DayListed):
    """A posting of the points or stored value ledger as an export reads it (read only)."""

    posting_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    amount = NumberAttribute()
    balance_after = NumberAttribute()
    member_id = UnicodeAttribute(null=True)
    point_type = UnicodeAttribute(null=True)            # points
    available_delta = NumberAttribute(null=True)        # points
    pending_delta = NumberAttribute(null=True)
    principal_delta = NumberAttribute(null=True)        # stored value
    bonus_delta = NumberAttribute(null=True)
    entries = UnicodeAttribute(null=True)               # stored value: the journal lines (JSON)
    source = UnicodeAttribute(null=True)                # points: order, behaviour, hold, adjustment, expiry
    ref = UnicodeAttribute(null=True)                   # stored value: payment ref, order, refund, card
    reason = UnicodeAttribute(null=True)
    merchant_id = UnicodeAttribute(null=True)
    store_id = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    growth = UnicodeAttribute(null=True)                # points: the growth posting of the change, carried
    #                                                     (its fields that differ: points/folded.py)

    def carried(self) -> PostingRow | None:
        """The growth posting this points posting carries, as a row of its own."""
        if not self.growth:
            return None
        names = set(self.get_attributes()) - {"pk", "sk", "gsi1pk", "gsi1sk", "growth"}
        from chalicelib.points import service as points  # what a points posting carries is points' to say
        values = points.carried_posting({k: v for k, v in self.attribute_values.items() if k in names}, self.growth)
        return PostingRow(self.pk, self.sk, **{k: v for k, v in values.items() if k in names})


class CouponUseRow(DayListed):
    """A coupon's write-off or undo (``COUPONUSE#<coupon>``) as an export reads it (read only)."""

    use_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    coupon_id = UnicodeAttribute()
    template_id = UnicodeAttribute()
    owner_merchant_id = UnicodeAttribute(null=True)
    member_id = UnicodeAttribute()
    merchant_id = UnicodeAttribute(null=True)
    store_id = UnicodeAttribute(null=True)
    order_id = UnicodeAttribute(null=True)
    saving_fen = NumberAttribute()
    order_amount_fen = NumberAttribute(default=0)
    cost = UnicodeAttribute()
    by = UnicodeAttribute(null=True)
    at = UnicodeAttribute()


class CheckoutDayRow(DayListed):
    """A checkout's entry in its day's listing (``CHECKOUT#<id> / DAY``, read only)."""

    checkout_id = UnicodeAttribute()
    merchant_id = UnicodeAttribute(null=True)
    store_id = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()


class CheckoutRow(MainModel):
    """A checkout (``CHECKOUT#<id> / CHECKOUT``) as an export reads it (read only)."""

    hold_id = UnicodeAttribute()
    status = UnicodeAttribute()
    order_id = UnicodeAttribute()
    merchant_id = UnicodeAttribute(null=True)
    store_id = UnicodeAttribute(null=True)
    member_id = UnicodeAttribute(null=True)
    channel = UnicodeAttribute(null=True)
    guide_id = UnicodeAttribute(null=True)
    totals = PackedJson(attr_name="totals_z")
    refunded = PackedJson(null=True, attr_name="refunded_z")
    payment_ref = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    committed_at = UnicodeAttribute(null=True)
    completed_at = UnicodeAttribute(null=True)
    cancelled_at = UnicodeAttribute(null=True)

    @staticmethod
    def key(checkout_id: str) -> tuple[str, str]:
        """A checkout's key."""
        return f"CHECKOUT#{checkout_id}", "CHECKOUT"
