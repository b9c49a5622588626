"""Creating merchants, stores and API keys; looking keys up for authentication."""

from __future__ import annotations

import secrets
from typing import Any

from chalicelib.api import auth
from chalicelib.db import audit
from chalicelib.db.uow import UnitOfWork
from chalicelib.merchants import repository
from chalicelib.merchants.tables import ApiKeyItem, MerchantItem, StoreItem
from chalicelib.shared import clock
from chalicelib.shared.cache import TtlCache
from chalicelib.shared.credentials import active_master, key_secret
from chalicelib.shared.errors import Conflict, Forbidden, NotFound, ValidationProblem
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import DEFAULT_PROGRAM, KEY_CAPABILITIES, Principal

RESERVED_MERCHANT_IDS = frozenset({
    "program",          # the program itself as a prepaid issuer (stored value rules, journal accounts, counters)
})


def create_merchant(merchant_id: str, name: str, uow: UnitOfWork) -> dict[str, Any]:
    """A new merchant; 409 if the id is taken, 422 if it names something else."""
    if merchant_id in RESERVED_MERCHANT_IDS:
        raise ValidationProblem(f"'{merchant_id}' is reserved: it names the program itself")
    now = clock.iso(clock.now())
    uow.create(MerchantItem(*MerchantItem.key(merchant_id), merchant_id=merchant_id, name=name, created_at=now),
               on_conflict=lambda: Conflict(f"merchant {merchant_id} exists"))
    uow.emit(DomainEvent("merchant.created", f"merchant:{merchant_id}", {"merchant_id": merchant_id},
                         merchant_id=merchant_id))
    return {"merchant_id": merchant_id, "name": name, "created_at": now}


def create_store(merchant_id: str, store_id: str, name: str, uow: UnitOfWork) -> dict[str, Any]:
    """A new store of an existing merchant; 409 if the store id is taken there."""
    if repository.of(uow).merchant(merchant_id) is None:
        raise NotFound(f"no merchant {merchant_id}")
    now = clock.iso(clock.now())
    uow.create(StoreItem(*StoreItem.key(merchant_id, store_id), merchant_id=merchant_id, store_id=store_id,
                         name=name, created_at=now),
               on_conflict=lambda: Conflict(f"store {store_id} exists"))
    uow.emit(DomainEvent("store.created", f"merchant:{merchant_id}",
                         {"merchant_id": merchant_id, "store_id": store_id}, merchant_id=merchant_id))
    return {"merchant_id": merchant_id, "store_id": store_id, "name": name, "created_at": now}


def create_api_key(merchant_id: str, store_id: str | None, capabilities: list[str], uow: UnitOfWork) -> dict[str, Any]:
    """A new key of the program's merchant, with the capabilities it may use. Its secret is
    returned once, here, and never stored."""
    unknown = sorted(set(capabilities) - set(KEY_CAPABILITIES))
    if unknown or not capabilities:
        raise ValidationProblem(f"capabilities are some of {', '.join(KEY_CAPABILITIES)}; not {unknown}")
    if repository.of(uow).merchant(merchant_id) is None:
        raise NotFound(f"no merchant {merchant_id}")
    if store_id and repository.of(uow).store(merchant_id, store_id) is None:
        raise NotFound(f"no store {store_id} at merchant {merchant_id}")
    key_id = "ak_" + secrets.token_hex(12)
    now = clock.iso(clock.now())
    caps = sorted(set(capabilities))
    master = active_master()
    uow.create(ApiKeyItem(*ApiKeyItem.key(key_id), key_id=key_id, program_id=uow.program, merchant_id=merchant_id,
                          store_id=store_id, capabilities=caps, status="active", created_at=now, master=master))
    uow.emit(DomainEvent("api_key.created", f"merchant:{merchant_id}",
                         {"merchant_id": merchant_id, "store_id": store_id, "key_id": key_id, "capabilities": caps},
                         merchant_id=merchant_id))
    audit.record(uow, "api_key.created", uow.actor or "-", merchant_id=merchant_id,
                 detail=f"{key_id} store={store_id or '-'} capabilities={','.join(caps)}")
    return {"key_id": key_id, "secret": key_secret(key_id, master), "program_id": uow.program, "merchant_id": merchant_id,
            "store_id": store_id, "capabilities": caps, "status": "active", "created_at": now}


def without_secret(reply: dict[str, Any]) -> dict[str, Any]:
    """A new key's reply as its idempotency record keeps it: without the secret."""
    return {k: v for k, v in reply.items() if k != "secret"}


def with_secret(uow: UnitOfWork, kept: dict[str, Any]) -> dict[str, Any]:
    """The reply to a retried creation: the same key, its secret derived again (never stored)."""
    item = repository.of(uow).api_key(kept["key_id"])
    if item is None:
        raise NotFound(f"no API key {kept['key_id']}")
    return {"key_id": kept["key_id"], "secret": key_secret(item.key_id, item.master), **kept}


def revoke_api_key(merchant_id: str, key_id: str, uow: UnitOfWork) -> dict[str, Any]:
    """Stop a key working (within ``auth.KEY_CACHE_SECONDS`` everywhere; at once in this process)."""
    item = repository.of(uow).api_key(key_id) if len(key_id) <= 64 else None
    if item is None or (item.program_id or DEFAULT_PROGRAM) != uow.program or item.merchant_id != merchant_id:
        raise NotFound(f"no API key {key_id[:64]} at merchant {merchant_id[:64]}")
    now = clock.iso(clock.now())
    if item.status != "revoked":
        uow.update(item, [ApiKeyItem.status.set("revoked")], ApiKeyItem.status == item.status)
        uow.emit(DomainEvent("api_key.revoked", f"merchant:{merchant_id}", {"merchant_id": merchant_id,
                                                                              "key_id": key_id},
                             merchant_id=merchant_id))
        audit.record(uow, "api_key.revoked", uow.actor or "-", merchant_id=merchant_id,
                     detail=f"{key_id} {item.status} -> revoked")
    auth.forget_key(key_id)
    return {"key_id": key_id, "merchant_id": merchant_id, "status": "revoked", "revoked_at": now,
            "effective_within_seconds": auth.KEY_CACHE_SECONDS}


def find_api_key(key_id: str) -> auth.ApiKey | None:
    """What authentication needs to know of a key (wired into ``api.auth`` below)."""
    item = repository.of(UnitOfWork()).api_key(key_id)
    if item is None:
        return None
    return auth.ApiKey(item.key_id, item.merchant_id, item.store_id, item.status,
                       item.program_id or DEFAULT_PROGRAM, tuple(str(c) for c in item.capabilities or ("pos",)), item.master)


auth.use_key_finder(find_api_key)


# --- where a caller acts ---------------------------------------------------------------------

PLACE_CACHE_SECONDS = 60.0      # merchants and stores are created, not moved: a positive answer keeps
_KNOWN: TtlCache[bool] = TtlCache(PLACE_CACHE_SECONDS, max_entries=4096)


def _known(uow: UnitOfWork, merchant_id: str, store_id: str | None) -> bool:
    key = (uow.program, merchant_id, store_id)

    def look() -> bool:
        if store_id is None:
            return repository.of(uow).merchant(merchant_id) is not None
        return repository.of(uow).store(merchant_id, store_id) is not None
    found = _KNOWN.get(key, look)
    if not found:
        _KNOWN.invalidate(key)          # a store created a moment later must be usable at once
    return found


def exists(uow: UnitOfWork, merchant_id: str) -> bool:
    """Whether the program has the merchant ``merchant_id``."""
    return _known(uow, merchant_id, None)


def acts_for(by: Principal, merchant_id: str | None, store_id: str | None) -> bool:
    """Whether the caller may see and change a business record (an order, payment, hold, refund)
    that ``merchant_id`` took at ``store_id``: HQ any; a merchant's key or staff its merchant's;
    a store-scoped key or store staff only its store's. A record with no store (taken before
    records kept their store, or by a merchant-level caller) is for merchant-level callers only:
    a store cannot show it was its own."""
    if by.is_hq:
        return True
    if by.kind not in ("merchant", "staff") or merchant_id is None or by.merchant_id != merchant_id:
        return False
    return by.store_id is None or by.store_id == store_id


def sees_references(by: Principal, merchant_id: str | None, store_id: str | None) -> bool:
    """Whether a ledger entry shows the caller its references (order, payment reference, hold,
    reason, caller): the member and HQ see all; a merchant's caller those of the program's own
    entries and of the records it may act for (:func:`acts_for`: a store's caller, its store's).
    Every caller sees every entry's balances."""
    return merchant_id is None or by.kind == "member" or acts_for(by, merchant_id, store_id)


def place(uow: UnitOfWork, by: Principal, merchant_id: str | None = None, store_id: str | None = None,
          *, merchant_required: bool = False) -> tuple[str | None, str | None]:
    """The merchant and store an operation is booked to, checked against the caller.

    A merchant's key or staff acts for its own merchant (naming another is 403) and, when scoped
    to a store, for that store only (403). HQ staff may name any merchant of the program. A named
    merchant or store must exist in the program, the store at that merchant (404).
    """
    own = by.merchant_id if by.kind in ("merchant", "staff") else None
    if own and not by.is_hq:
        if merchant_id and merchant_id != own:
            raise Forbidden("you act for your own merchant only")
        if by.store_id and store_id and store_id != by.store_id:
            raise Forbidden("your credentials are scoped to another store")
        merchant_id, store_id = own, store_id or by.store_id
    else:
        merchant_id = merchant_id or own
    if merchant_id is None:
        if merchant_required or store_id:
            raise ValidationProblem("merchant_id is required: name the merchant the operation is booked to")
        return None, None
    if not _known(uow, merchant_id, None):
        raise NotFound(f"no merchant {merchant_id[:64]} in this program")
    if store_id and not _known(uow, merchant_id, store_id):
        raise NotFound(f"no store {store_id[:64]} at merchant {merchant_id[:64]}")
    return merchant_id, store_id
