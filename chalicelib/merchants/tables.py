"""Merchants, stores and API keys in the main table: the item classes and their keys.

``MERCHANT#<id> / MERCHANT``        the merchant; listed under ``gsi1pk = MERCHANTS`` (the program's
                                    index partition), ``gsi1sk = <id>``: a page of merchants is one Query
``MERCHANT#<id> / STORE#<store>``   its stores (a page of them is one Query of the merchant's partition)
``APIKEY#<key id> / APIKEY``        a key, at platform level (found before the program is known):
                                    program, merchant, optional store scope, capabilities, status.
                                    No secret: it is derived from API_KEY_MASTER (see api.auth).
Merchants and stores live inside their program (see :mod:`chalicelib.db.tenancy`).
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import ListAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.db.items import Gsi1, MainModel

LISTING = "MERCHANTS"


class MerchantItem(MainModel):
    merchant_id = UnicodeAttribute()
    name = UnicodeAttribute()
    created_at = UnicodeAttribute()
    status = UnicodeAttribute(null=True)           # None: active (merchants from before it existed)
    contact_name = UnicodeAttribute(null=True)     # personal data: masked to those who may not reveal it
    contact_phone = UnicodeAttribute(null=True)
    version = NumberAttribute(null=True)           # None: never updated (0)
    updated_at = UnicodeAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    listing = Gsi1()

    def __init__(self, hash_key: Any = None, range_key: Any = None, _user_instantiated: bool = True,
                 **attributes: Any) -> None:
        # every merchant written is listed, whoever writes it (the API, the local stack's seed)
        if _user_instantiated and attributes.get("merchant_id"):
            attributes.setdefault("gsi1pk", LISTING)
            attributes.setdefault("gsi1sk", attributes["merchant_id"])
        super().__init__(hash_key, range_key, _user_instantiated, **attributes)

    @staticmethod
    def key(merchant_id: str) -> tuple[str, str]:
        return f"MERCHANT#{merchant_id}", "MERCHANT"


class StoreItem(MainModel):
    merchant_id = UnicodeAttribute()
    store_id = UnicodeAttribute()
    name = UnicodeAttribute()
    created_at = UnicodeAttribute()
    status = UnicodeAttribute(null=True)           # None: active
    address = UnicodeAttribute(null=True)
    latitude = NumberAttribute(null=True)          # degrees, for location-based audiences
    longitude = NumberAttribute(null=True)
    version = NumberAttribute(null=True)           # None: never updated (0)
    updated_at = UnicodeAttribute(null=True)

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
