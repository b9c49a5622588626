"""Webhook subscriptions: created, read, changed, deleted and their secrets rotated.

Who: the program's HQ staff (any subscription; program-wide, or one merchant's), and a merchant's
API key with the ``webhooks`` capability (its own merchant's subscriptions only: another's is not
found). Every change is one unit of work with its idempotency record; the secret is shown only
in the reply that made it (a retry of that request shows it again: it is unsealed from the table,
never kept in the idempotency record).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from chalicelib.db import audit
from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger import counters
from chalicelib.merchants import service as merchants
from chalicelib.shared import clock
from chalicelib.shared.errors import Conflict, Forbidden, NotFound, changed
from chalicelib.shared.ids import new_id
from chalicelib.shared.principal import Principal
from chalicelib.webhooks import catalogue, domain, repository, signing
from chalicelib.webhooks.tables import LISTING, SubscriptionCount, SubscriptionItem

MAX_OVERLAP_HOURS = 7 * 24


def view(s: SubscriptionItem) -> dict[str, Any]:
    """What the owner sees of a subscription (never a secret)."""
    live = signing.live(s.secret_list(), clock.now())
    return {"subscription_id": s.subscription_id, "url": s.url, "filters": s.filter_list(),
            "merchant_id": s.merchant_id, "description": s.description, "status": s.status,
            "created_at": s.created_at, "updated_at": s.updated_at, "disabled_at": s.disabled_at,
            "disabled_reason": s.disabled_reason,
            "secrets": [{"secret_id": x["id"], "created_at": x["created_at"], "retire_at": x.get("retire_at")}
                        for x in live],
            "exhausted_since": s.exhausted_since, "exhausted_count": int(s.exhausted_count or 0),
            "failures_in_a_row": int(s.failures or 0), "paused_until": s.paused_until}


def event_types() -> dict[str, Any]:
    """The event catalogue (:mod:`chalicelib.webhooks.catalogue`): every type a filter may name,
    when it happens, what its ``data`` carries; read from the code, no request."""
    return {"event_types": catalogue.event_types(), "ledger_fields": dict(catalogue.LEDGER_FIELDS)}


def merchant_level(by: Principal) -> None:
    """A key scoped to a store acts for its store only; subscriptions are a merchant's."""
    if not by.is_hq and by.store_id:
        raise Forbidden("webhook subscriptions belong to a merchant: use a merchant-level key (this one is "
                        f"scoped to store {by.store_id})")


def owned(uow: UnitOfWork, subscription_id: str, by: Principal) -> SubscriptionItem:
    """The subscription, if ``by`` may act on it (else 404: another merchant's does not exist for
    a merchant's key)."""
    merchant_level(by)
    s = repository.of(uow).subscription(subscription_id, consistent=True)
    if s is None or s.status == "deleted" or (not by.is_hq and s.merchant_id != by.merchant_id):
        raise NotFound(f"no webhook subscription {subscription_id[:64]}")
    return s


def _scope(uow: UnitOfWork, by: Principal, merchant_id: str | None) -> str | None:
    if not by.is_hq:
        if merchant_id is not None and merchant_id != by.merchant_id:
            raise Forbidden("a merchant's key subscribes for its own merchant only")
        return by.merchant_id
    if merchant_id is not None and not merchants.exists(uow, merchant_id):
        raise NotFound(f"no merchant {merchant_id[:64]}")
    return merchant_id


def create(cmd: BaseModel, by: Principal, uow: UnitOfWork) -> dict[str, Any]:
    """A new subscription, enabled, with a new secret (in the reply, once)."""
    url = domain.check_url(cmd.url)                            # type: ignore[attr-defined]
    filters = domain.check_filters(cmd.filters)                # type: ignore[attr-defined]
    merchant_level(by)
    merchant_id = _scope(uow, by, cmd.merchant_id)             # type: ignore[attr-defined]
    counters.add(uow, SubscriptionCount(*SubscriptionCount.key()), 1, domain.MAX_SUBSCRIPTIONS,
                 lambda: Conflict(f"a program has at most {domain.MAX_SUBSCRIPTIONS} subscriptions; delete one first"))
    subscription_id = new_id()
    secret = signing.new_secret()
    now = clock.iso(clock.now())
    item = SubscriptionItem(*SubscriptionItem.key(subscription_id), subscription_id=subscription_id,
                            merchant_id=merchant_id, url=url, filters=json.dumps(filters),
                            description=cmd.description, status="enabled",   # type: ignore[attr-defined]
                            secrets=json.dumps([signing.seal(secret, uow.program, subscription_id)]),
                            created_at=now, created_by=by.ref, version=1,
                            gsi1pk=LISTING, gsi1sk=subscription_id)
    uow.create(item)
    repository.forget_cached()
    return {**view(item), "secret": secret}


def without_secret(reply: dict[str, Any]) -> dict[str, Any]:
    """A reply as its idempotency record keeps it: without the secret."""
    return {k: v for k, v in reply.items() if k != "secret"}


def with_secret(uow: UnitOfWork, kept: dict[str, Any]) -> dict[str, Any]:
    """The reply to a retried creation or rotation: the secret it made, unsealed again."""
    s = repository.of(uow).subscription(kept["subscription_id"], consistent=True)
    made = kept.get("secret_id") or (kept["secrets"][0]["secret_id"] if kept.get("secrets") else None)
    for stored in (s.secret_list() if s is not None else []):
        if stored["id"] == made:
            return {**kept, "secret": signing.unseal(stored, uow.program, kept["subscription_id"])}
    raise NotFound("the secret this request made has been rotated away; rotate again for a new one")


def listing(uow: UnitOfWork, by: Principal) -> dict[str, Any]:
    """The subscriptions ``by`` sees."""
    merchant_level(by)
    found = [s for s in repository.of(uow).subscriptions() if by.is_hq or s.merchant_id == by.merchant_id]
    return {"subscriptions": [view(s) for s in sorted(found, key=lambda s: s.subscription_id)]}


def get(uow: UnitOfWork, subscription_id: str, by: Principal) -> dict[str, Any]:
    """One subscription ``by`` may see."""
    return view(owned(uow, subscription_id, by))


def update(uow: UnitOfWork, subscription_id: str, cmd: BaseModel, by: Principal) -> dict[str, Any]:
    """Change the URL, filters, description, or enable / disable (enabling clears the streak of
    exhausted deliveries)."""
    s = owned(uow, subscription_id, by)
    read = int(s.version or 0)
    given = cmd.model_dump(exclude_unset=True)
    if given.get("url") is not None:
        s.url = domain.check_url(given["url"])
    if given.get("filters") is not None:
        s.filters = json.dumps(domain.check_filters(given["filters"]))
    if "description" in given:
        s.description = given["description"]
    if given.get("enabled") is not None:
        if given["enabled"] and s.status != "enabled":
            s.status, s.disabled_at, s.disabled_reason = "enabled", None, None
            s.exhausted_since, s.exhausted_count, s.failures, s.paused_until = None, None, None, None
        elif not given["enabled"] and s.status == "enabled":
            s.status, s.disabled_at, s.disabled_reason = "disabled", clock.iso(clock.now()), f"by {by.ref}"
    s.updated_at = clock.iso(clock.now())
    uow.save_versioned(s, read, on_conflict=changed("the subscription"))
    repository.forget_cached()
    return view(s)


def delete(uow: UnitOfWork, subscription_id: str, by: Principal) -> dict[str, Any]:
    """Deleted: nothing more is delivered (messages in flight are dropped), it is not listed, and
    its operations answer 404 (its delivery records expire with their TTL)."""
    s = owned(uow, subscription_id, by)
    read = int(s.version or 0)
    s.status, s.updated_at = "deleted", clock.iso(clock.now())
    s.gsi1pk = s.gsi1sk = None
    s.secrets = json.dumps([])
    uow.save_versioned(s, read, on_conflict=changed("the subscription"))
    counters.add(uow, SubscriptionCount(*SubscriptionCount.key()), -1, None, changed("the subscription count"))
    repository.forget_cached()
    return {"subscription_id": subscription_id, "status": "deleted", "deleted_at": s.updated_at}


def rotate(uow: UnitOfWork, subscription_id: str, overlap_hours: int, by: Principal) -> dict[str, Any]:
    """A new secret signs from now on; the current one keeps signing beside it for
    ``overlap_hours`` (0: retired at once, after a leak); a secret still retiring from an earlier
    rotation is retired now: a delivery carries at most two signatures."""
    s = owned(uow, subscription_id, by)
    read = int(s.version or 0)
    now = clock.now()
    retire = clock.iso(now + timedelta(hours=overlap_hours))
    # the current secret signs on beside the new one for the overlap; one already retiring stops now
    # (never more than two signatures: the receiver holds the newest two secrets)
    current = [x for x in signing.live(s.secret_list(), now) if not x.get("retire_at")][:1]
    kept = [{**x, "retire_at": retire} for x in current if overlap_hours > 0]
    secret = signing.new_secret()
    sealed = signing.seal(secret, uow.program, subscription_id)
    s.secrets = json.dumps([sealed, *kept])
    s.updated_at = clock.iso(now)
    uow.save_versioned(s, read, on_conflict=changed("the subscription"))
    audit.record(uow, "webhook.secret_rotated", by.ref, merchant_id=s.merchant_id,
                 detail=f"{subscription_id}: new secret {sealed['id']}, the old one signs {overlap_hours} h more")
    repository.forget_cached()
    return {**view(s), "secret_id": sealed["id"], "secret": secret}
