"""Creating merchants and stores; where a caller acts (API keys: :mod:`chalicelib.merchants.keys`)."""

from __future__ import annotations

from typing import Any

from chalicelib.db.uow import UnitOfWork
from chalicelib.merchants import repository
from chalicelib.merchants.tables import MerchantItem, StoreItem
from chalicelib.shared import clock
from chalicelib.shared.cache import TtlCache
from chalicelib.shared.errors import Conflict, Forbidden, NotFound, ValidationProblem
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import Principal

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


# --- standing: a suspended merchant or store acts no more -----------------------------------

def standing_keys(merchant_id: str | None, store_id: str | None) -> list[tuple[type, tuple[str, str]]]:
    """The items that say whether a caller of ``merchant_id`` (at ``store_id``) may act: read in
    the same batch as the caller's own credential."""
    if not merchant_id:
        return []
    return [(MerchantItem, MerchantItem.key(merchant_id))] + (
        [(StoreItem, StoreItem.key(merchant_id, store_id))] if store_id else [])


def suspended(items: list[Any]) -> bool:
    """Whether any of the merchant's or store's items read says it is suspended."""
    return any(item is not None and getattr(item, "status", None) == "suspended" for item in items)
