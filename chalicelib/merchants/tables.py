"""Merchants, stores and API keys in the main table: the item classes and their keys.

``MERCHANT#<id> / MERCHANT``        the merchant
``MERCHANT#<id> / STORE#<store>``   its stores
``APIKEY#<key id> / APIKEY``        a key: merchant, optional store scope, status. No secret:
                                    the secret is derived from API_KEY_MASTER (see api.auth).
"""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute

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
    key_id = UnicodeAttribute()
    merchant_id = UnicodeAttribute()
    store_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute()
    created_at = UnicodeAttribute()

    @staticmethod
    def key(key_id: str) -> tuple[str, str]:
        return f"APIKEY#{key_id}", "APIKEY"
