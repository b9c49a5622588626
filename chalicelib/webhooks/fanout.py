"""The stream's fan-out: each event becomes one delivery per matching subscription, and one message
on the webhooks queue per delivery.

A subscriber of every event type (``*``) of the dispatcher. For an event, the program's enabled
subscriptions (read once per 10 s per container) whose filters match it and whose merchant scope
admits it get a delivery record each, created in one transaction, only where none exists: the
records are the fan-out's exactly-once marker, so an event no subscription wants costs one cached
read and no write at all. Then one message per record goes to the queue (``SendMessageBatch``).

Once the queue has taken a record's message the record is marked ``sent`` (one more write). A
redelivered stream batch finds the records there and sends again only those still ``queued``
(committed, but the send not confirmed: the process stopped between the two), so a redelivery
enqueues nothing twice, and loses nothing. A message sent twice all the same (a stop between the
send and the mark, or SQS's own at-least-once) is harmless: the deliverer takes a lease on the
record and posts once.

**Merchant scope.** A merchant's subscription receives an event when the event names that merchant
(the event's ``merchant_id``, or ``merchant_id`` / ``issuer_merchant_id`` in its data: its own
orders, payments and cards), or when it is a member's event (subject ``member:``) that names no
merchant. Events about the program itself (settings changed, reconciliations, inflation warnings,
a gift card event that does not name its issuer) go to program-wide subscriptions only, which
receive every event of the program.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from chalicelib.db.items import expiry_in
from chalicelib.db.uow import UnitOfWork
from chalicelib.events.dispatch import subscribe
from chalicelib.shared import queue
from chalicelib.shared.errors import Problem
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import DEFAULT_PROGRAM
from chalicelib.webhooks import domain, repository
from chalicelib.webhooks.tables import KEEP_DAYS, DeliveryItem, SubscriptionItem

ACTOR = "webhooks"
WAITING: list[dict[str, Any]] = []      # messages where no queue is configured (in-process tests)


def merchant_of(event: DomainEvent) -> str | None:
    """The merchant an event is about, if any."""
    return event.merchant_id or event.data.get("merchant_id") or event.data.get("issuer_merchant_id")


def admits(s: SubscriptionItem, event: DomainEvent) -> bool:
    """Whether ``s`` receives ``event``: its filters match, and its merchant scope admits it (the
    event is about that merchant, or it is a member's event that names no merchant; never a
    program's own events: its settings, reconciliations, warnings)."""
    if not domain.matches(s.filter_list(), event.type):
        return False
    if s.merchant_id is None:
        return True
    about = merchant_of(event)
    return about == s.merchant_id or (about is None and event.subject.startswith("member:"))


def body_of(event: DomainEvent) -> str:
    """What is posted: the event as the outbox holds it (ids, no personal data)."""
    return json.dumps(event.as_dict(), separators=(",", ":"), ensure_ascii=False)


def message(program: str, subscription_id: str, event_id: str) -> dict[str, Any]:
    """A queue message: which delivery to make (the record holds the rest)."""
    return {"program": program, "subscription_id": subscription_id, "event_id": event_id}


def send(messages: list[dict[str, Any]]) -> None:
    """Put messages on the webhooks queue (or keep them in :data:`WAITING`)."""
    queue.send("WEBHOOKS_QUEUE_URL", messages, WAITING)


def record(event: DomainEvent, s: SubscriptionItem, body: str) -> DeliveryItem:
    """A new delivery of ``event`` to ``s``, queued."""
    return DeliveryItem(*DeliveryItem.key(s.subscription_id, event.id), subscription_id=s.subscription_id,
                        event_id=event.id, event_type=event.type, body=body, status="queued", attempts=0,
                        expires_at=expiry_in(KEEP_DAYS))


@subscribe("webhooks", "*")
def fan_out(event: DomainEvent) -> None:
    """One delivery and one queue message per subscription that wants ``event``."""
    program = event.program_id or DEFAULT_PROGRAM
    uow = UnitOfWork(ACTOR, event.correlation_id, program=program)
    wanted = [s for s in repository.of(uow).enabled() if admits(s, event)]
    if not wanted:
        return
    body = body_of(event)
    for s in wanted:
        uow.create(record(event, s, body))
    try:
        uow.commit()
        fresh = wanted
    except Problem:                       # a redelivery: some records exist
        fresh = _again(event, wanted, body, program)
    send([message(program, s.subscription_id, event.id) for s in fresh])
    for s in fresh:                       # on the queue: a redelivery of the batch sends it no more
        sent = UnitOfWork(ACTOR, program=program)
        sent.update(DeliveryItem(*DeliveryItem.key(s.subscription_id, event.id)), [DeliveryItem.status.set("sent")],
                    DeliveryItem.status == "queued")
        with contextlib.suppress(Problem):    # the deliverer got to it first
            sent.commit()


def _again(event: DomainEvent, wanted: list[SubscriptionItem], body: str, program: str) -> list[SubscriptionItem]:
    """The subscriptions whose message may not have been sent: records created now, and records
    still queued and never tried."""
    again = []
    for s in wanted:
        uow = UnitOfWork(ACTOR, program=program)
        found = repository.of(uow).delivery(s.subscription_id, event.id)
        if found is None:
            if uow.put(record(event, s, body), DeliveryItem.pk.does_not_exist()):
                again.append(s)
        elif found.status == "queued":
            again.append(s)
    return again
