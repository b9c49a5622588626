"""Checkout items, in the main table.

* ``QUOTE#<quote> / QUOTE``: a quote as answered (``body``: its JSON, everything the commit
  checks: member, merchant, store, caller, cart hash, chosen coupons and their savings and
  versions, points and the rules version, totals), with the fields a commit filters on kept as
  attributes. One put; DynamoDB's TTL (``expires_at``) removes it a day after it expires.
"""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute

from chalicelib.db.items import MainModel


class QuoteItem(MainModel):
    quote_id = UnicodeAttribute()
    merchant_id = UnicodeAttribute()
    store_id = UnicodeAttribute(null=True)
    member_id = UnicodeAttribute(null=True)        # None: a walk-in customer
    caller = UnicodeAttribute()                    # who asked (a till's key, staff, the member)
    cart_hash = UnicodeAttribute()
    created_at = UnicodeAttribute()
    valid_until = UnicodeAttribute()               # the offer's end (ISO 8601, UTC); expires_at is the TTL
    body = UnicodeAttribute()                      # JSON of the quote as answered

    @staticmethod
    def key(quote_id: str) -> tuple[str, str]:
        return f"QUOTE#{quote_id}", "QUOTE"
