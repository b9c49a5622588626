"""The stream side of the outbox: DynamoDB stream records in, subscribers called, failures reported.

Delivery is at least once and a batch may be redelivered whole or in part, so every subscriber
must be idempotent; :func:`apply_once` gives a subscriber exactly-once effects by writing a
marker in the same transaction as its change.

The handler reports the first failing record as a ``batchItemFailures`` entry, the
``ReportBatchItemFailures`` contract: the stream mapping (``infra/``) and the local stream pump
then retry from that record, bisecting and finally sending it to the dead-letter queue.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from pynamodb.attributes import UnicodeAttribute

from chalicelib.db.items import MainModel, expiry_in
from chalicelib.db.outbox import event_from_image
from chalicelib.db.uow import ClaimTaken, UnitOfWork
from chalicelib.shared import clock
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.lazy import Modules
from chalicelib.shared.observability import count, logger
from chalicelib.shared.principal import DEFAULT_PROGRAM

Subscriber = Callable[[DomainEvent], None]
SUBSCRIBERS: dict[str, list[tuple[str, Subscriber]]] = defaultdict(list)
PROVIDERS = Modules()
MARKER_DAYS = 40        # longer than a stream keeps records (24 h) and the DLQ keeps messages (14 d)


def subscribe(name: str, *event_types: str) -> Callable[[Subscriber], Subscriber]:
    """Register ``fn(event)`` under a stable consumer ``name`` for the given event types."""
    def register(fn: Subscriber) -> Subscriber:
        for event_type in event_types:
            SUBSCRIBERS[event_type].append((name, fn))
        return fn
    return register


def provided_by(*modules: str) -> None:
    """Name modules that register subscribers, imported when the first event is dispatched (so
    a function that answers the API never pays for them at its cold start)."""
    PROVIDERS.add(*modules)


class AppliedMarker(MainModel):
    """``APPLIED#<consumer>#<event id>``: this consumer has applied this event."""

    applied_at = UnicodeAttribute()

    @staticmethod
    def key(consumer: str, event_id: str) -> tuple[str, str]:
        """The marker's key: one per consumer and event."""
        return f"APPLIED#{consumer}#{event_id}", "APPLIED"


def apply_once(consumer: str, event: DomainEvent, uow: UnitOfWork) -> bool:
    """Commit ``uow`` with a marker; False (and nothing written) if the event was applied before."""
    marker = AppliedMarker(*AppliedMarker.key(consumer, event.id), applied_at=event.occurred_at,
                           expires_at=expiry_in(MARKER_DAYS))
    try:
        uow.commit(claim=marker)
    except ClaimTaken:
        return False
    return True


def dispatch(event: DomainEvent) -> None:
    """Call every subscriber of the event's type."""
    PROVIDERS.load()
    subscribers = SUBSCRIBERS.get(event.type, [])
    if not subscribers:
        return
    with clock.in_program(event.program_id or DEFAULT_PROGRAM):     # its days are the program's days
        for _name, fn in subscribers:
            fn(event)


def handle_records(records: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, str]]]:
    """Process Lambda-shaped DynamoDB stream records in order; report the first failure."""
    delivered = 0
    for record in records:
        if record.get("eventName") not in ("INSERT",):   # MODIFY never happens; REMOVE is TTL
            continue
        sequence = record["dynamodb"]["SequenceNumber"]
        try:
            event = event_from_image(record["dynamodb"]["NewImage"])
            dispatch(event)
        except Exception:
            logger.exception("event handling failed", extra={"sequence": sequence})
            count("EventsDelivered", delivered)
            count("EventFailures")
            return {"batchItemFailures": [{"itemIdentifier": sequence}]}
        delivered += 1
    count("EventsDelivered", delivered)
    return {"batchItemFailures": []}
