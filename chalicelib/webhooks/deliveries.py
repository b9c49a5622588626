"""A subscription's delivery log, its replays, and the test delivery.

* **The log** (``listWebhookDeliveries``): the deliveries of events since a moment (at most
  :data:`~chalicelib.webhooks.tables.KEEP_DAYS` ago: their TTL), each with its attempts (time,
  status code, latency, the first 1 KB of the answer, the error), in event id order (the order
  the events happened), a page at a time. Reading a day costs one Query per delivery shard.
* **Replay** (``replayWebhookEvents``): one event (by its id), or every event delivered to the
  subscription since a moment, is queued again, with its original ``webhook-id`` so receivers
  drop what they already have. At most :data:`REPLAY_PAGE` a call; the answer says where to carry
  on. Only what was fanned out to this subscription can be replayed (events before it existed,
  or that its filters did not take, never were).
* **Test** (``sendTestWebhook``): a ``webhook.test`` event posted at once, signed like any other,
  and its outcome answered; it is written to the log and never retried (nor sent to any other
  subscription).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ulid import ULID

from chalicelib.db.items import expiry_in
from chalicelib.db.uow import UnitOfWork
from chalicelib.shared import clock
from chalicelib.shared.errors import NotFound, Problem, ValidationProblem
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.ids import new_id
from chalicelib.shared.principal import Principal
from chalicelib.webhooks import delivery, fanout, repository, service
from chalicelib.webhooks.tables import KEEP_DAYS, DeliveryItem

REPLAY_PAGE = 500
DEFAULT_HOURS = 24


def _bound(since: datetime) -> str:
    """The smallest event id of ``since`` (ULIDs sort by time)."""
    return str(ULID.from_timestamp(since.timestamp()))[:10] + "0" * 16


def _since(since: datetime | None) -> datetime:
    now = clock.now()
    since = since or now - timedelta(hours=DEFAULT_HOURS)
    if since < now - timedelta(days=KEEP_DAYS):
        raise ValidationProblem(f"deliveries are kept {KEEP_DAYS} days: since must be after "
                                f"{clock.iso(now - timedelta(days=KEEP_DAYS))}")
    return since


def _days(since: datetime) -> list[str]:
    first, last = since.astimezone(UTC).date(), max(clock.now().astimezone(UTC).date(), datetime.now(UTC).date())
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def _attempt_view(a: DeliveryItem) -> dict[str, Any]:
    return {"at": a.at, "status_code": None if a.status_code is None else int(a.status_code),
            "latency_ms": int(a.latency_ms or 0), "response": a.response, "error": a.error}


def _view(d: DeliveryItem, attempts: list[DeliveryItem]) -> dict[str, Any]:
    return {"event_id": d.event_id, "event_type": d.event_type, "status": d.status,
            "attempts": int(d.attempts or 0), "next_attempt_at": d.next_attempt_at if d.status == "retrying" else None,
            "delivered_at": d.delivered_at, "replayed_at": d.replayed_at,
            "last_status_code": None if d.last_status_code is None else int(d.last_status_code),
            "last_error": d.last_error, "log": [_attempt_view(a) for a in attempts]}


def _walk(uow: UnitOfWork, subscription_id: str, since: datetime, after: str | None):
    """(delivery, attempts) of the subscription from ``since`` (after the event id ``after``),
    day by day in event id order."""
    low = max(_bound(since), after or "")
    for day in _days(since):
        found: dict[str, tuple[DeliveryItem | None, list[DeliveryItem]]] = {}
        for item in repository.of(uow).day(subscription_id, day, low):
            entry = found.setdefault(item.event_id, (None, []))
            if item.is_attempt:
                entry[1].append(item)
            else:
                found[item.event_id] = (item, entry[1])
        for event_id in sorted(found):
            d, attempts = found[event_id]
            if d is not None and event_id > low:
                yield d, sorted(attempts, key=lambda a: a.sk)


def log(uow: UnitOfWork, subscription_id: str, by: Principal, since: datetime | None, after: str | None,
        status: str | None, limit: int) -> dict[str, Any]:
    """A page of the subscription's deliveries since ``since`` (after the event id ``after``)."""
    service.owned(uow, subscription_id, by)
    since = _since(since)
    page: list[dict[str, Any]] = []
    more = None
    for d, attempts in _walk(uow, subscription_id, since, after):
        if status and d.status != status:
            continue
        if len(page) == limit:
            more = page[-1]["event_id"]
            break
        page.append(_view(d, attempts))
    return {"subscription_id": subscription_id, "since": clock.iso(since), "deliveries": page, "next_after": more}


def _requeue(uow: UnitOfWork, d: DeliveryItem) -> bool:
    """Queue a delivery again (not while a post of it is in flight), on a new schedule: its
    attempts, which decide when it is exhausted, count from 0 again (its log keeps every one)."""
    now = clock.now()
    free = ~DeliveryItem.status.is_in("delivering") | (DeliveryItem.lease_until < clock.iso(now))
    work = UnitOfWork(uow.actor, uow.correlation_id, program=uow.program)
    work.update(d, [DeliveryItem.status.set("queued"), DeliveryItem.replayed_at.set(clock.iso(now)),
                    DeliveryItem.attempts.set(0), DeliveryItem.next_attempt_at.remove()], free)
    try:
        work.commit()
    except Problem:
        return False
    return True


def replay(uow: UnitOfWork, subscription_id: str, by: Principal, event_id: str | None,
           since: datetime | None, after: str | None) -> dict[str, Any]:
    """Queue one event, or a page of the events since ``since``, again for the subscription."""
    s = service.owned(uow, subscription_id, by)
    if s.status != "enabled":
        raise ValidationProblem("the subscription is disabled: enable it before replaying")
    if event_id is not None:
        d = repository.of(uow).delivery(subscription_id, event_id)
        if d is None:
            raise NotFound(f"no delivery of event {event_id[:64]} to this subscription (kept {KEEP_DAYS} days)")
        chosen = [d] if _requeue(uow, d) else []
        more = None
    else:
        if since is None:
            raise ValidationProblem("give event_id, or since")
        chosen, more = [], None
        for d, _ in _walk(uow, subscription_id, _since(since), after):
            if len(chosen) == REPLAY_PAGE:
                more = chosen[-1].event_id
                break
            if _requeue(uow, d):
                chosen.append(d)
    fanout.send([fanout.message(uow.program, subscription_id, d.event_id) for d in chosen])
    return {"subscription_id": subscription_id, "replayed": len(chosen),
            "event_ids": [d.event_id for d in chosen][:100], "next_after": more}


def send_test(uow: UnitOfWork, subscription_id: str, by: Principal) -> dict[str, Any]:
    """Post a ``webhook.test`` event to the subscription now; its outcome."""
    s = service.owned(uow, subscription_id, by)
    event = DomainEvent("webhook.test", f"webhook:{subscription_id}",
                        {"subscription_id": subscription_id, "note": "a test delivery: verify its signature"},
                        actor=by.ref, merchant_id=s.merchant_id, program_id=uow.program,
                        correlation_id=uow.correlation_id)
    body = fanout.body_of(event)
    outcome, at = delivery.post(uow.program, s, event.id, body)
    d = fanout.record(event, s, body)
    d.status, d.attempts = ("delivered" if outcome.ok else "failed"), 1
    d.delivered_at = clock.iso(at) if outcome.ok else None
    d.last_status_code, d.last_error = outcome.status_code, outcome.error
    attempt = DeliveryItem(*DeliveryItem.attempt_key(subscription_id, event.id, new_id()),
                           subscription_id=subscription_id, event_id=event.id, at=clock.iso(at),
                           status_code=outcome.status_code, latency_ms=outcome.latency_ms,
                           response=outcome.response or None, error=outcome.error, expires_at=expiry_in(KEEP_DAYS))
    uow.create(d)
    uow.create(attempt)
    return {"subscription_id": subscription_id, "event_id": event.id, "delivered": outcome.ok,
            "status_code": outcome.status_code, "latency_ms": outcome.latency_ms, "response": outcome.response,
            "error": outcome.error}
