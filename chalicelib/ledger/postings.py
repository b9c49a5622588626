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


# Postings by day, for exports that read a period and nothing else (#29 item 3). A ledger whose
# posting class names ``day_ledger`` has each posting listed on gsi1 under
# ``POSTDAY#<ledger>#<program day>#<shard>`` / ``<created_at>#<posting id>``: one more index write
# per posting. Shards: a flash writes up to 10,000 earns a second (docs/scale.md), a partition
# takes 1,000 writes a second; 16 shards take 625 each. A reader merges a day's shards by sort key.
DAY_SHARDS = 16


def day_partition(ledger: str, day: str, shard: int) -> str:
    """The index partition of one shard of a ledger's day (the program's calendar day)."""
    return f"POSTDAY#{ledger}#{day}#{shard}"


def day_keys(ledger: str, day: str, created_at: str, posting_id: str) -> tuple[str, str]:
    """The index keys that list a posting under its day."""
    import zlib
    return day_partition(ledger, day, zlib.crc32(posting_id.encode()) % DAY_SHARDS), f"{created_at}#{posting_id}"
