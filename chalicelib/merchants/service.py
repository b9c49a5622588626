"""Creating merchants, stores and API keys; looking keys up for authentication."""

from __future__ import annotations

import secrets
from typing import Any

from chalicelib.api import auth
from chalicelib.db.uow import UnitOfWork
from chalicelib.merchants.tables import ApiKeyItem, MerchantItem, StoreItem
from chalicelib.shared import clock
from chalicelib.shared.credentials import key_secret
from chalicelib.shared.errors import Conflict, NotFound
from chalicelib.shared.events import DomainEvent


def create_merchant(merchant_id: str, name: str, uow: UnitOfWork) -> dict[str, Any]:
    """A new merchant; 409 if the id is taken."""
    now = clock.iso(clock.now())
    uow.create(MerchantItem(*MerchantItem.key(merchant_id), merchant_id=merchant_id, name=name, created_at=now),
               on_conflict=lambda: Conflict(f"merchant {merchant_id} exists"))
    uow.emit(DomainEvent("merchant.created", f"merchant:{merchant_id}", {"merchant_id": merchant_id},
                         merchant_id=merchant_id))
    return {"merchant_id": merchant_id, "name": name, "created_at": now}


def create_store(merchant_id: str, store_id: str, name: str, uow: UnitOfWork) -> dict[str, Any]:
    """A new store of an existing merchant; 409 if the store id is taken there."""
    if uow.merchants.merchant(merchant_id) is None:
        raise NotFound(f"no merchant {merchant_id}")
    now = clock.iso(clock.now())
    uow.create(StoreItem(*StoreItem.key(merchant_id, store_id), merchant_id=merchant_id, store_id=store_id,
                         name=name, created_at=now),
               on_conflict=lambda: Conflict(f"store {store_id} exists"))
    uow.emit(DomainEvent("store.created", f"merchant:{merchant_id}",
                         {"merchant_id": merchant_id, "store_id": store_id}, merchant_id=merchant_id))
    return {"merchant_id": merchant_id, "store_id": store_id, "name": name, "created_at": now}


def create_api_key(merchant_id: str, store_id: str | None, uow: UnitOfWork) -> dict[str, Any]:
    """A new key. Its secret is returned once, here, and never stored."""
    if uow.merchants.merchant(merchant_id) is None:
        raise NotFound(f"no merchant {merchant_id}")
    if store_id and uow.merchants.store(merchant_id, store_id) is None:
        raise NotFound(f"no store {store_id} at merchant {merchant_id}")
    key_id = "ak_" + secrets.token_hex(12)
    now = clock.iso(clock.now())
    uow.create(ApiKeyItem(*ApiKeyItem.key(key_id), key_id=key_id, merchant_id=merchant_id, store_id=store_id,
                          status="active", created_at=now))
    uow.emit(DomainEvent("api_key.created", f"merchant:{merchant_id}",
                         {"merchant_id": merchant_id, "store_id": store_id, "key_id": key_id},
                         merchant_id=merchant_id))
    return {"key_id": key_id, "secret": key_secret(key_id), "merchant_id": merchant_id,
            "store_id": store_id, "status": "active", "created_at": now}


def find_api_key(key_id: str) -> auth.ApiKey | None:
    """What authentication needs to know of a key (wired into ``api.auth`` below)."""
    item = UnitOfWork().merchants.api_key(key_id)
    if item is None:
        return None
    return auth.ApiKey(item.key_id, item.merchant_id, item.store_id, item.status)


auth.use_key_finder(find_api_key)
