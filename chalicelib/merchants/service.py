"""Creating merchants, stores and API keys."""

from __future__ import annotations

import secrets
from typing import Any

from chalicelib.api.auth import key_secret
from chalicelib.events.model import DomainEvent
from chalicelib.merchants.store import ApiKeyItem, MerchantItem, StoreItem
from chalicelib.shared import clock
from chalicelib.shared.errors import Conflict, NotFound
from chalicelib.store.uow import UnitOfWork


def _exists(item_cls, *key: str) -> bool:
    try:
        item_cls.get(*key)
        return True
    except item_cls.DoesNotExist:
        return False


def create_merchant(merchant_id: str, name: str, uow: UnitOfWork) -> dict[str, Any]:
    now = clock.iso(clock.now())
    uow.create(MerchantItem(*MerchantItem.key(merchant_id), merchant_id=merchant_id, name=name, created_at=now),
               on_conflict=lambda: Conflict(f"merchant {merchant_id} exists"))
    uow.emit(DomainEvent("merchant.created", f"merchant:{merchant_id}", {"merchant_id": merchant_id},
                         merchant_id=merchant_id))
    return {"merchant_id": merchant_id, "name": name, "created_at": now}


def create_store(merchant_id: str, store_id: str, name: str, uow: UnitOfWork) -> dict[str, Any]:
    if not _exists(MerchantItem, *MerchantItem.key(merchant_id)):
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
    if not _exists(MerchantItem, *MerchantItem.key(merchant_id)):
        raise NotFound(f"no merchant {merchant_id}")
    if store_id and not _exists(StoreItem, *StoreItem.key(merchant_id, store_id)):
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
