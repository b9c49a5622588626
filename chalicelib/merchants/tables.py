"""Merchants, stores and API keys in the main table: the item classes and their keys.

``MERCHANT#<id> / MERCHANT``        the merchant
``MERCHANT#<id> / STORE#<store>``   its stores
``APIKEY#<key id> / APIKEY``        a key, at platform level (found before the program is known):
                                    program, merchant, optional store scope, capabilities, status.
                                    No secret: it is derived from API_KEY_MASTER (see api.auth).
Merchants and stores live inside their program (see :mod:`chalicelib.db.tenancy`).
"""

from __future__ import annotations

from pynamodb.attributes import ListAttribute, UnicodeAttribute

from chalicelib.db.items import MainModel


class MerchantItem(MainModel):
    merchant_id = UnicodeAttribute()
    name = UnicodeAttribute()
    created_at = UnicodeAttribute()

    @staticmethod
    def key(merchant_id: str) -> tuple[str, str]:
        return f"MERCHANT#{merchant_id}", "MERCHANT"


class StoreItem(MainModel):
    merchant_id = UnicodeAttribute()
    store_id = UnicodeAttribute()
    name = UnicodeAttribute()
    created_at = UnicodeAttribute()

    @staticmethod
    def key(merchant_id: str, store_id: str) -> tuple[str, str]:
        return f"MERCHANT#{merchant_id}", f"STORE#{store_id}"


class ApiKeyItem(MainModel):
    platform = True                   # found by key id before the caller's program is known
    key_id = UnicodeAttribute()
    program_id = UnicodeAttribute(null=True)     # None: a key from before programs, in ``default``
    capabilities = ListAttribute(of=UnicodeAttribute, null=True)   # None: ["pos"]
    merchant_id = UnicodeAttribute()
    store_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute()
    created_at = UnicodeAttribute()
    master = UnicodeAttribute(null=True)         # the API key master version its secret derives from

    @staticmethod
    def key(key_id: str) -> tuple[str, str]:
        return f"APIKEY#{key_id}", "APIKEY"
