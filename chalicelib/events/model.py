"""A domain event and its outbox item."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from pynamodb.attributes import UnicodeAttribute

from chalicelib.shared import clock
from chalicelib.shared.config import settings
from chalicelib.shared.ids import new_id
from chalicelib.store.models import EventsModel, expiry_in


@dataclass(frozen=True)
class DomainEvent:
    """Something that happened, named in the past tense (``member.registered``)."""

    type: str
    subject: str                       # the aggregate it happened to, e.g. ``member:01J...``
    data: dict[str, Any]
    id: str = field(default_factory=new_id)
    occurred_at: str = field(default_factory=lambda: clock.iso(clock.now()))
    actor: str | None = None           # principal that caused it, e.g. ``staff:alice``
    merchant_id: str | None = None
    correlation_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class EventItem(EventsModel):
    """Outbox row: ``pk`` is the subject so one aggregate's events read in order."""

    type = UnicodeAttribute()
    occurred_at = UnicodeAttribute()
    payload = UnicodeAttribute()          # JSON of the whole event: numbers stay exact ints
    merchant_id = UnicodeAttribute(null=True)

    @classmethod
    def of(cls, event: DomainEvent) -> "EventItem":
        return cls(event.subject, event.id, type=event.type, occurred_at=event.occurred_at,
                   payload=json.dumps(event.as_dict(), separators=(",", ":"), ensure_ascii=False),
                   merchant_id=event.merchant_id,
                   expires_at=expiry_in(settings().event_retention_days))


def event_from_image(image: dict[str, Any]) -> DomainEvent:
    """Rebuild an event from a stream NewImage (DynamoDB wire format)."""
    return DomainEvent(**json.loads(image["payload"]["S"]))
