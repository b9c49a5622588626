"""The outbox: how a domain event is stored in the events table, and read back from its stream."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from pynamodb.attributes import UnicodeAttribute

from chalicelib.db.items import EventsModel, expiry_in
from chalicelib.shared.config import settings
from chalicelib.shared.events import DomainEvent


class EventItem(EventsModel):
    """Outbox row: ``pk`` is the subject so one aggregate's events read in order."""

    type = UnicodeAttribute()
    occurred_at = UnicodeAttribute()
    payload = UnicodeAttribute()          # JSON of the whole event: numbers stay exact ints
    merchant_id = UnicodeAttribute(null=True)

    @classmethod
    def of(cls, event: DomainEvent) -> EventItem:
        """The outbox row of ``event``, kept for the configured retention."""
        return cls(event.subject, event.id, type=event.type, occurred_at=event.occurred_at,
                   payload=json.dumps(event.as_dict(), separators=(",", ":"), ensure_ascii=False),
                   merchant_id=event.merchant_id,
                   expires_at=expiry_in(settings().event_retention_days))

    def events(self) -> list[DomainEvent]:
        """The events this outbox item holds, in the order they were staged."""
        return [DomainEvent(**json.loads(self.payload))]


def events_of(items: Iterable[EventItem]) -> list[DomainEvent]:
    """The events of outbox items read from the table (tests, audits), each item's in order."""
    return [event for item in items for event in item.events()]


def event_from_image(image: dict[str, Any]) -> DomainEvent:
    """Rebuild an event from a stream NewImage (DynamoDB wire format)."""
    return DomainEvent(**json.loads(image["payload"]["S"]))
