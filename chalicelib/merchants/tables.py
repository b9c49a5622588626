"""Merchants, stores and API keys in the main table: the item classes and their keys.

``MERCHANT#<id> / MERCHANT``        the merchant; listed under ``gsi1pk = MERCHANTS`` (the program's
                                    index partition), ``gsi1sk = <id>``: a page of merchants is one Query
``MERCHANT#<id> / STORE#<store>``   its stores (a page of them is one Query of the merchant's partition)
``APIKEY#<key id> / APIKEY``        a key, at platform level (found before the program is known):
                                    program, merchant, optional store scope, capabilities, status
                                    (active, retiring after a rotation, revoked), who made it, when
                                    it was last used, when a rotated key stops working.
                                    No secret: it is derived from API_KEY_MASTER (see api.auth).
                                    Listed per merchant on gsi1: ``KEYS#<program>#<merchant>`` /
                                    ``<created_at>#<key id>`` (the program is in the index key
                                    itself: the item is a platform item, stored as it is).
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
    created_by = UnicodeAttribute(null=True)     # the caller who created (or rotated into) it
    last_used_at = UnicodeAttribute(null=True)   # wall clock, written at most once a minute
    retires_at = UnicodeAttribute(null=True)     # a rotated key: refused from then on (wall clock)
    revoked_at = UnicodeAttribute(null=True)     # when it was revoked (None: not, or before this was kept)
    rotated_from = UnicodeAttribute(null=True)   # the key this one replaced
    replaced_by = UnicodeAttribute(null=True)    # the key that replaced this one
    gsi1pk = UnicodeAttribute(null=True)         # None: a key from before listings (not listed)
    gsi1sk = UnicodeAttribute(null=True)
    listing = Gsi1()

    @staticmethod
    def key(key_id: str) -> tuple[str, str]:
        return f"APIKEY#{key_id}", "APIKEY"

    @staticmethod
    def listing_partition(program_id: str, merchant_id: str) -> str:
        """The gsi1 partition of a merchant's keys."""
        return f"KEYS#{program_id}#{merchant_id}"

    @staticmethod
    def listed(program_id: str, merchant_id: str, created_at: str, key_id: str) -> dict[str, str]:
        """The index attributes that list a new key under its merchant (oldest first)."""
        return {"gsi1pk": ApiKeyItem.listing_partition(program_id, merchant_id), "gsi1sk": f"{created_at}#{key_id}"}
