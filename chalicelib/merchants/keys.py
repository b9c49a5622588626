"""A merchant's API keys: create, list, rotate, revoke; what authentication reads of a key, and
when each key was last used.

Who: the program's super admin for any merchant; a merchant admin for its own merchant's keys
only (another merchant's: 403, nothing changed), and never a key with ``member_login``, which
logs in any member of the program (HQ's to give). Reads also admit the program-wide readers.

Credentials live on wall-clock time (:mod:`chalicelib.shared.credentials`): a rotated key's
``retires_at`` and a key's ``last_used_at`` are wall-clock instants, never the business clock
that tests and local job runs may move.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Any

from chalicelib.api import auth
from chalicelib.db import audit
from chalicelib.db.backend import SortKey
from chalicelib.db.uow import UnitOfWork
from chalicelib.merchants import repository, service
from chalicelib.merchants.tables import ApiKeyItem
from chalicelib.shared import clock
from chalicelib.shared.cache import TtlCache
from chalicelib.shared.credentials import active_master, key_secret
from chalicelib.shared.errors import Conflict, Forbidden, NotFound, Problem, ValidationProblem, changed
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.observability import logger
from chalicelib.shared.principal import DEFAULT_PROGRAM, KEY_CAPABILITIES, Principal

HQ_ONLY_CAPABILITIES = frozenset({"member_login"})     # logs in any member of the program: HQ gives it
LAST_USED_SECONDS = 60.0        # a key's last_used_at is written at most once a minute (per container, and
                                # by the condition across containers)


def _wall(at: float) -> str:
    return clock.iso(datetime.fromtimestamp(at, UTC))


def _merchant(uow: UnitOfWork, by: Principal, merchant_id: str) -> str:
    """The merchant whose keys the caller manages: its own (a merchant admin; another is 403), any
    of the program's (HQ); 404 if the program has no such merchant."""
    merchant, _ = service.place(uow, by, merchant_id, None, merchant_required=True)
    assert merchant is not None
    return merchant


def _may_give(by: Principal, capabilities: list[str]) -> None:
    if not by.is_hq and HQ_ONLY_CAPABILITIES & set(capabilities):
        raise Forbidden(f"only the program's head office gives keys {', '.join(sorted(HQ_ONLY_CAPABILITIES))}")


def _key_of(uow: UnitOfWork, merchant_id: str, key_id: str, consistent: bool = False) -> ApiKeyItem:
    item = repository.of(uow).api_key(key_id, consistent) if len(key_id) <= 64 else None
    if item is None or (item.program_id or DEFAULT_PROGRAM) != uow.program or item.merchant_id != merchant_id:
        raise NotFound(f"no API key {key_id[:64]} at merchant {merchant_id[:64]}")
    return item


def _new_key(uow: UnitOfWork, by: Principal, merchant_id: str, store_id: str | None, caps: list[str],
             rotated_from: str | None = None) -> dict[str, Any]:
    key_id = "ak_" + secrets.token_hex(12)
    now = clock.iso(clock.now())
    master = active_master()
    listed = ApiKeyItem.listed(uow.program, merchant_id, now, key_id)
    uow.create(ApiKeyItem(*ApiKeyItem.key(key_id), key_id=key_id, program_id=uow.program, merchant_id=merchant_id,
                          store_id=store_id, capabilities=caps, status="active", created_at=now, master=master,
                          created_by=by.ref, rotated_from=rotated_from, gsi1pk=listed["gsi1pk"],
                          gsi1sk=listed["gsi1sk"]))
    return {"key_id": key_id, "secret": key_secret(key_id, master), "program_id": uow.program, "merchant_id": merchant_id,
            "store_id": store_id, "capabilities": caps, "status": "active", "created_at": now, "created_by": by.ref}


def create_api_key(by: Principal, merchant_id: str, store_id: str | None, capabilities: list[str],
                   uow: UnitOfWork) -> dict[str, Any]:
    """A new key of the program's merchant, with the capabilities it may use. Its secret is
    returned once, here, and never stored."""
    unknown = sorted(set(capabilities) - set(KEY_CAPABILITIES))
    if unknown or not capabilities:
        raise ValidationProblem(f"capabilities are some of {', '.join(KEY_CAPABILITIES)}; not {unknown}")
    merchant_id = _merchant(uow, by, merchant_id)
    _may_give(by, capabilities)
    if store_id and repository.of(uow).store(merchant_id, store_id) is None:
        raise NotFound(f"no store {store_id} at merchant {merchant_id}")
    caps = sorted(set(capabilities))
    reply = _new_key(uow, by, merchant_id, store_id, caps)
    uow.emit(DomainEvent("api_key.created", f"merchant:{merchant_id}",
                         {"merchant_id": merchant_id, "store_id": store_id, "key_id": reply["key_id"],
                          "capabilities": caps}, merchant_id=merchant_id))
    audit.record(uow, "api_key.created", by.ref, merchant_id=merchant_id,
                 detail=f"{reply['key_id']} store={store_id or '-'} capabilities={','.join(caps)}")
    return reply


def without_secret(reply: dict[str, Any]) -> dict[str, Any]:
    """A new key's reply as its idempotency record keeps it: without the secret."""
    return {k: v for k, v in reply.items() if k != "secret"}


def with_secret(uow: UnitOfWork, kept: dict[str, Any]) -> dict[str, Any]:
    """The reply to a retried creation or rotation: the same key, its secret derived again (never stored)."""
    item = repository.of(uow).api_key(kept["key_id"])
    if item is None:
        raise NotFound(f"no API key {kept['key_id']}")
    return {"key_id": kept["key_id"], "secret": key_secret(item.key_id, item.master), **kept}


def _capabilities(item: ApiKeyItem) -> list[str]:
    return [str(c) for c in item.capabilities or ()] or ["pos"]       # none recorded: a key from before capabilities


def status_of(item: ApiKeyItem, now: float) -> str:
    """active; retiring (rotated, still good until ``retires_at``); retired (rotated, past it); revoked."""
    if item.status == "revoked":
        return "revoked"
    if item.retires_at:
        return "retired" if clock.parse_iso(item.retires_at).timestamp() <= now else "retiring"
    return "active"


def view(item: ApiKeyItem, now: float) -> dict[str, Any]:
    """A key as listings show it: never its secret."""
    return {"key_id": item.key_id, "merchant_id": item.merchant_id, "store_id": item.store_id,
            "capabilities": _capabilities(item), "status": status_of(item, now),
            "created_at": item.created_at, "created_by": item.created_by, "last_used_at": item.last_used_at,
            "retires_at": item.retires_at, "rotated_from": item.rotated_from, "replaced_by": item.replaced_by}


def listing(uow: UnitOfWork, by: Principal, merchant_id: str, limit: int, after: str | None) -> dict[str, Any]:
    """The merchant's keys, oldest first, a page at a time (one query of its gsi1 partition)."""
    merchant_id = _merchant(uow, by, merchant_id)
    sort = SortKey.above(after) if after else None
    items = list(uow.query(ApiKeyItem, ApiKeyItem.listing_partition(uow.program, merchant_id), sort, index="gsi1",
                           limit=limit + 1))
    more, items, now = len(items) > limit, items[:limit], time.time()
    return {"merchant_id": merchant_id, "keys": [view(i, now) for i in items],
            "next": items[-1].gsi1sk if more and items else None}


def rotate_api_key(by: Principal, merchant_id: str, key_id: str, overlap_hours: int, uow: UnitOfWork) -> dict[str, Any]:
    """A new key in place of an active one (same merchant, store and capabilities; its secret shown
    once); the old one keeps working for ``overlap_hours``, then is refused. A revoked or already
    rotated key: 409, nothing changed."""
    merchant_id = _merchant(uow, by, merchant_id)
    old = _key_of(uow, merchant_id, key_id)
    if old.status == "revoked":
        raise Conflict(f"API key {key_id} is revoked: create a new key instead")
    if old.status != "active" or old.retires_at:
        raise Conflict(f"API key {key_id} was rotated already (into {old.replaced_by}): rotate that one")
    caps = _capabilities(old)
    _may_give(by, caps)
    reply = _new_key(uow, by, merchant_id, old.store_id, caps, rotated_from=key_id)
    retires_at = _wall(time.time() + overlap_hours * 3600)
    uow.update(old, [ApiKeyItem.status.set("retiring"), ApiKeyItem.retires_at.set(retires_at),
                     ApiKeyItem.replaced_by.set(reply["key_id"])],
               (ApiKeyItem.status == "active") & ApiKeyItem.retires_at.does_not_exist(),
               on_conflict=lambda: Conflict(f"API key {key_id} changed meanwhile (rotated or revoked)"))
    uow.emit(DomainEvent("api_key.rotated", f"merchant:{merchant_id}",
                         {"merchant_id": merchant_id, "store_id": old.store_id, "key_id": key_id,
                          "new_key_id": reply["key_id"], "retires_at": retires_at, "capabilities": caps},
                         merchant_id=merchant_id))
    audit.record(uow, "api_key.rotated", by.ref, merchant_id=merchant_id,
                 detail=f"{key_id} active -> retiring at {retires_at}; new key {reply['key_id']}")
    uow.after_commit(lambda: auth.forget_key(key_id))       # this process refuses it on time
    return {**reply, "rotated_from": key_id, "retires_at": retires_at}


def revoke_api_key(by: Principal, merchant_id: str, key_id: str, uow: UnitOfWork) -> dict[str, Any]:
    """Stop a key working (within ``auth.KEY_CACHE_SECONDS`` everywhere; at once in this process)."""
    merchant_id = _merchant(uow, by, merchant_id)
    item = _key_of(uow, merchant_id, key_id, consistent=True)
    # revoked already (by a revoke that raced this one, or long ago): the key as it was revoked
    revoked_at = item.revoked_at or clock.iso(clock.now())     # a key revoked before the time was kept: now
    if item.status != "revoked":
        uow.update(item, [ApiKeyItem.status.set("revoked"), ApiKeyItem.revoked_at.set(revoked_at)],
                   ApiKeyItem.status == item.status, on_conflict=changed("the key's status"))
        uow.emit(DomainEvent("api_key.revoked", f"merchant:{merchant_id}", {"merchant_id": merchant_id,
                                                                              "key_id": key_id},
                             merchant_id=merchant_id))
        audit.record(uow, "api_key.revoked", by.ref, merchant_id=merchant_id,
                     detail=f"{key_id} {item.status} -> revoked")
    auth.forget_key(key_id)
    return {"key_id": key_id, "merchant_id": merchant_id, "status": "revoked", "revoked_at": revoked_at,
            "effective_within_seconds": auth.KEY_CACHE_SECONDS}


# --- authentication ---------------------------------------------------------------------------

def find_api_key(key_id: str) -> auth.ApiKey | None:
    """What authentication needs to know of a key (wired into ``api.auth`` below)."""
    item = repository.of(UnitOfWork()).api_key(key_id)
    if item is None:
        return None
    status = item.status
    if status in ("active", "retiring"):         # and its merchant and store still in business?
        uow = UnitOfWork(program=item.program_id or DEFAULT_PROGRAM)
        wanted = service.standing_keys(item.merchant_id, item.store_id)
        uow.prefetch(wanted)
        if service.suspended([uow.get(model, key) for model, key in wanted]):
            status = "suspended"
    return auth.ApiKey(item.key_id, item.merchant_id, item.store_id, status,
                       item.program_id or DEFAULT_PROGRAM, tuple(str(c) for c in item.capabilities or ("pos",)),
                       item.master, clock.parse_iso(item.retires_at).timestamp() if item.retires_at else None)


# The keys this container has written last_used_at of within the last minute: a busy till's
# requests cost no write at all in between.
_WRITTEN: TtlCache[bool] = TtlCache(LAST_USED_SECONDS, max_entries=8192)


def note_use(key: auth.ApiKey) -> None:
    """A request signed with ``key`` authenticated: record ``last_used_at``, at most once a minute.

    At most one conditional UpdateItem per key, container and minute (the condition keeps other
    containers from writing it again within the minute), outside the request's unit of work: a
    failure is logged and the request goes on."""
    try:
        if _WRITTEN.peek(key.key_id):
            return
        _WRITTEN.put(key.key_id, True)     # first, so that concurrent requests of this container do not write too
        now = time.time()
        uow = UnitOfWork(program=key.program_id)
        stale = ApiKeyItem.last_used_at.does_not_exist() | (ApiKeyItem.last_used_at < _wall(now - LAST_USED_SECONDS))
        uow.update(ApiKeyItem(*ApiKeyItem.key(key.key_id)), [ApiKeyItem.last_used_at.set(_wall(now))],
                   ApiKeyItem.pk.exists() & stale)
        uow.commit()
    except Problem:
        pass                                # another container wrote it within the minute
    except Exception as error:  # the request must not fail for a bookkeeping write
        logger.warning("last_used_at not written", extra={"key_id": getattr(key, "key_id", None),
                                                          "error": str(error)[:300]})


auth.use_key_finder(find_api_key, note_use)
