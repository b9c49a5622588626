"""The directory of a program's merchants and stores: list, read, update (issue #28 item 5).

Who sees what: the program's HQ and readers (``is_hq``) every merchant and store; merchant staff
(``merchant_admin``, ``store_manager``, ``clerk``) their own merchant and its stores list, store
staff reading and changing only their own store; another merchant's is 403, another program's
does not exist (404, :mod:`chalicelib.db.tenancy`). Who changes what is decided by the route's
roles and, within them, here: a merchant admin not its merchant's status, a store manager only
its store's name and address.

Every update names the ``version`` its caller read and is conditional on it: of two changes read
at one version one commits, the other is refused (409 ``version-changed``), nothing changed. Each
emits ``merchant.updated`` / ``store.updated`` with before -> after of the fields it changed; the
contact's name and phone are personal data and appear only as ``"changed"``.

Listing never scans: a page of merchants is one Query of the program's ``MERCHANTS`` index
partition (gsi1), a page of stores one Query of the merchant's own partition.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import Attribute

from chalicelib.db.uow import UnitOfWork
from chalicelib.merchants import repository
from chalicelib.merchants.tables import LISTING, MerchantItem, StoreItem
from chalicelib.shared import clock
from chalicelib.shared.errors import Forbidden, NotFound, ValidationProblem, VersionChanged, changed
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import Principal

PERSONAL = ("contact_name", "contact_phone")        # never in events: a change says "changed"
MERCHANT_FIELDS = ("name", "contact_name", "contact_phone", "status")
STORE_FIELDS = ("name", "address", "latitude", "longitude", "status")
STORE_MANAGER_FIELDS = ("name", "address")


# --- reads -----------------------------------------------------------------------------------

def list_merchants(uow: UnitOfWork, by: Principal, limit: int, after: str | None) -> dict[str, Any]:
    """HQ and readers: a page of the program's merchants in id order (``next``: the cursor of the
    page after, null at the end). Merchant staff: their own merchant."""
    if not by.is_hq:
        own = repository.of(uow).merchant(by.merchant_id) if by.merchant_id else None
        return {"merchants": [merchant_view(own, by)] if own is not None else [], "next": None}
    found = repository.of(uow).merchants_page(after, limit + 1)
    return {"merchants": [merchant_view(m, by) for m in found[:limit]],
            "next": found[limit - 1].merchant_id if len(found) > limit else None}


def get_merchant(uow: UnitOfWork, by: Principal, merchant_id: str) -> dict[str, Any]:
    """One merchant: any for HQ and readers, their own for merchant staff."""
    return merchant_view(_merchant(uow, by, merchant_id), by)


def list_stores(uow: UnitOfWork, by: Principal, merchant_id: str, limit: int, after: str | None) -> dict[str, Any]:
    """A page of the merchant's stores in id order: any merchant's for HQ and readers, their own
    merchant's for its staff (store staff included)."""
    _merchant(uow, by, merchant_id)
    found = repository.of(uow).stores_page(merchant_id, after, limit + 1)
    return {"stores": [store_view(s) for s in found[:limit]],
            "next": found[limit - 1].store_id if len(found) > limit else None}


def get_store(uow: UnitOfWork, by: Principal, merchant_id: str, store_id: str) -> dict[str, Any]:
    """One store: HQ and readers any; merchant admins their merchant's; store staff their own."""
    return store_view(_store(uow, by, merchant_id, store_id))


# --- updates ---------------------------------------------------------------------------------

def update_merchant(uow: UnitOfWork, by: Principal, merchant_id: str, version: int,
                    values: dict[str, Any]) -> dict[str, Any]:
    """Change the fields given in ``values`` (a null clears the contact) if the merchant is still
    at ``version``. A super admin may change any merchant; its merchant admin all but its status."""
    item = _merchant(uow, by, merchant_id)
    if not by.is_hq and "status" in values:
        raise Forbidden("a merchant admin may not change its merchant's status: HQ does")
    changes = _changes(item, values, MERCHANT_FIELDS, version)
    if changes:
        actions = _actions(MerchantItem, changes)
        if item.gsi1pk is None:          # a merchant from before the listing: list it now
            actions += [MerchantItem.gsi1pk.set(uow.index_key(LISTING)), MerchantItem.gsi1sk.set(merchant_id)]
        uow.update_versioned(item, version, actions, on_conflict=changed(f"merchant {merchant_id}"))
        uow.emit(DomainEvent("merchant.updated", f"merchant:{merchant_id}",
                             {"merchant_id": merchant_id, "version": version + 1, "changes": _said(changes)},
                             merchant_id=merchant_id))
        _applied(item, changes, version)
    return merchant_view(item, by)


def update_store(uow: UnitOfWork, by: Principal, merchant_id: str, store_id: str, version: int,
                 values: dict[str, Any]) -> dict[str, Any]:
    """Change the fields given in ``values`` if the store is still at ``version``: a super admin
    any store, a merchant admin its merchant's, a store manager its own store's name and address."""
    item = _store(uow, by, merchant_id, store_id)
    if by.store_id is not None and not set(values) <= set(STORE_MANAGER_FIELDS):
        raise Forbidden("store staff change their store's name and address only")
    if ("latitude" in values) != ("longitude" in values) or \
            (values.get("latitude") is None) != (values.get("longitude") is None):
        raise ValidationProblem("latitude and longitude are set (or cleared) together")
    changes = _changes(item, values, STORE_FIELDS, version)
    if changes:
        uow.update_versioned(item, version, _actions(StoreItem, changes),
                             on_conflict=changed(f"store {store_id} of merchant {merchant_id}"))
        uow.emit(DomainEvent("store.updated", f"merchant:{merchant_id}",
                             {"merchant_id": merchant_id, "store_id": store_id, "version": version + 1,
                              "changes": _said(changes)}, merchant_id=merchant_id))
        _applied(item, changes, version)
    return store_view(item)


# --- views -----------------------------------------------------------------------------------

def merchant_view(item: MerchantItem, by: Principal) -> dict[str, Any]:
    """A merchant as the caller may see it: the contact masked unless the caller may reveal PII."""
    reveal = by.may_reveal_pii()
    return {"merchant_id": item.merchant_id, "name": item.name, "status": item.status or "active",
            "contact_name": item.contact_name if reveal else mask_name(item.contact_name),
            "contact_phone": item.contact_phone if reveal else mask_phone(item.contact_phone),
            "pii_masked": not reveal, "version": int(item.version or 0), "created_at": item.created_at,
            "updated_at": item.updated_at}


def store_view(item: StoreItem) -> dict[str, Any]:
    """A store."""
    return {"merchant_id": item.merchant_id, "store_id": item.store_id, "name": item.name,
            "status": item.status or "active", "address": item.address,
            "latitude": float(item.latitude) if item.latitude is not None else None,
            "longitude": float(item.longitude) if item.longitude is not None else None,
            "version": int(item.version or 0), "created_at": item.created_at, "updated_at": item.updated_at}


def mask_name(name: str | None) -> str | None:
    """A contact's name as those who may not see personal data see it: its first character."""
    return None if not name else name[0] + "*" * min(len(name) - 1, 3)


def mask_phone(phone: str | None) -> str | None:
    """A contact's phone masked as members' are (138****8821), or ``****`` when too short."""
    if not phone:
        return None
    digits = "".join(c for c in phone if c.isdigit())
    return digits[:3] + "****" + digits[-4:] if len(digits) >= 7 else "****"


# --- within -----------------------------------------------------------------------------------

def _merchant(uow: UnitOfWork, by: Principal, merchant_id: str) -> MerchantItem:
    if not by.is_hq and by.merchant_id != merchant_id:
        raise Forbidden("you act for your own merchant only")
    item = repository.of(uow).merchant(merchant_id) if len(merchant_id) <= 64 else None
    if item is None:
        raise NotFound(f"no merchant {merchant_id[:64]} in this program")
    return item


def _store(uow: UnitOfWork, by: Principal, merchant_id: str, store_id: str) -> StoreItem:
    _merchant(uow, by, merchant_id)
    if not by.is_hq and by.store_id is not None and by.store_id != store_id:
        raise Forbidden("your credentials are scoped to another store")
    item = repository.of(uow).store(merchant_id, store_id) if len(store_id) <= 64 else None
    if item is None:
        raise NotFound(f"no store {store_id[:64]} at merchant {merchant_id[:64]}")
    return item


def _changes(item: Any, values: dict[str, Any], fields: tuple[str, ...], version: int) -> dict[str, tuple[Any, Any]]:
    """``field -> (before, after)`` of what ``values`` changes; refused if the item moved past ``version``."""
    if int(item.version or 0) != version:
        raise VersionChanged(f"it is at version {int(item.version or 0)}, you read version {version}: read it again",
                             current_version=int(item.version or 0))
    before = {f: getattr(item, f) for f in fields}
    before = {f: (float(v) if f in ("latitude", "longitude") and v is not None else v) for f, v in before.items()}
    before["status"] = before["status"] or "active"
    return {f: (before[f], v) for f, v in values.items() if f in fields and before[f] != v}


def _actions(model: Any, changes: dict[str, tuple[Any, Any]]) -> list[Any]:
    out = [model.updated_at.set(clock.iso(clock.now()))]
    for name, (_, after) in changes.items():
        attribute: Attribute[Any] = getattr(model, name)
        out.append(attribute.remove() if after is None else attribute.set(after))
    return out


def _said(changes: dict[str, tuple[Any, Any]]) -> dict[str, Any]:
    """The changes as an event tells them: personal fields only as ``"changed"``."""
    return {f: "changed" if f in PERSONAL else {"before": b, "after": a} for f, (b, a) in changes.items()}


def _applied(item: Any, changes: dict[str, tuple[Any, Any]], version: int) -> None:
    """The item as the staged update leaves it (the reply)."""
    for name, (_, after) in changes.items():
        setattr(item, name, after)
    item.version, item.updated_at = version + 1, clock.iso(clock.now())
