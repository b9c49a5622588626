"""The posting every money ledger writes: one per change of a versioned account, numbered by the
account's version, carrying its double-entry lines and who did it, why and under which key.
Capabilities subclass it with their account's deltas and their key."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.db.items import MainModel


class JournalPosting(MainModel):
    posting_id = UnicodeAttribute()
    sequence = NumberAttribute()
    kind = UnicodeAttribute()
    amount = NumberAttribute()                       # fen moved
    balance_after = NumberAttribute()
    entries = UnicodeAttribute()                     # JSON [{account, fen}]: debit +, credit -; sums to 0
    ref = UnicodeAttribute(null=True)                # payment ref, order, refund, card
    merchant_id = UnicodeAttribute(null=True)
    store_id = UnicodeAttribute(null=True)
    member_id = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    actor = UnicodeAttribute(null=True)
    idempotency_key = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
