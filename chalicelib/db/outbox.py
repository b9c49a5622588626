"""The outbox: how domain events are stored in the events table, and read back from its stream.

A unit of work writes the events it staged for one subject (a member, an order...) as **one
item** (:meth:`EventItem.pack`): ``pk`` the subject, ``sk`` the first event's id, the events in
the order they were staged inside, compressed (:class:`~chalicelib.db.items.PackedJson`). An earn's
three events of its member are one write of well under 1 KB (2 WCU in its transaction) where they
were three (6 WCU). A stream record is one item, so a transaction's events of a subject reach
the consumers together and in order; the handler dispatches them one by one, each with its own
exactly-once markers, as before.

Items written before (one event an item: ``type``, ``payload`` as JSON text) are still read
(:meth:`EventItem.events`, :func:`events_from_image`): a deploy drains the stream of the old shape.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterable
from typing import Any

from pynamodb.attributes import UnicodeAttribute

from chalicelib.db.items import EventsModel, PackedJson, expiry_in
from chalicelib.shared.config import settings
from chalicelib.shared.events import DomainEvent

# The most event JSON (uncompressed) one item holds: compressed it is at most this and a few bytes,
# well under DynamoDB's 400 KB an item with the keys beside it. A unit staging more for one subject
# (a bulk job's events of a program) is written as several items, in order (``sk`` ``<id>#<part>``).
MAX_PACKED_BYTES = 350_000


class EventItem(EventsModel):
    """Outbox item: ``pk`` is the subject so one aggregate's events read in order; ``events`` holds
    one transaction's events of that subject (an item of the old shape: one event, ``payload``)."""

    packed = PackedJson(null=True, attr_name="events")     # [event as_dict, ...] in staging order
    type = UnicodeAttribute(null=True)                     # the old shape (one event an item)
    occurred_at = UnicodeAttribute(null=True)
    payload = UnicodeAttribute(null=True)                  # JSON of the whole event: numbers stay exact ints
    merchant_id = UnicodeAttribute(null=True)

    @classmethod
    def pack(cls, events: list[DomainEvent]) -> list[EventItem]:
        """The outbox items of one unit's ``events``: one per subject (in the order the subjects
        first appear), holding that subject's events in staging order; a subject's events beyond
        :data:`MAX_PACKED_BYTES` go on in further items. Kept for the configured retention."""
        by_subject: dict[str, list[dict[str, Any]]] = {}
        for event in events:
            by_subject.setdefault(event.subject, []).append(event.as_dict())
        expires = expiry_in(settings().event_retention_days)
        items = []
        for subject, dicts in by_subject.items():
            for part, chunk in enumerate(_chunks(dicts)):
                sk = chunk[0]["id"] if part == 0 else f"{chunk[0]['id']}#{part:04d}"
                items.append(cls(subject, sk, packed=chunk, expires_at=expires))
        return items

    def events(self) -> list[DomainEvent]:
        """The events this outbox item holds, in the order they were staged."""
        if self.packed is not None:
            return [DomainEvent(**e) for e in self.packed]
        return [DomainEvent(**json.loads(self.payload))]


def _chunks(dicts: list[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    """``dicts`` cut in order into runs of at most :data:`MAX_PACKED_BYTES` of JSON each."""
    chunk: list[dict[str, Any]] = []
    size = 0
    for d in dicts:
        length = len(json.dumps(d, separators=(",", ":"), ensure_ascii=False).encode()) + 1
        if chunk and size + length > MAX_PACKED_BYTES:
            yield chunk
            chunk, size = [], 0
        chunk.append(d)
        size += length
    if chunk:
        yield chunk


def events_of(items: Iterable[EventItem]) -> list[DomainEvent]:
    """The events of outbox items read from the table (tests, audits), each item's in order."""
    return [event for item in items for event in item.events()]


def events_from_image(image: dict[str, Any]) -> list[DomainEvent]:
    """The events of a stream NewImage (DynamoDB wire format), in order: a packed item's (its
    binary value is base64 text in a Lambda event, bytes from the Streams API), or the one event
    of an item of the old shape."""
    if "events" in image:
        raw = image["events"]["B"]
        packed = base64.b64decode(raw) if isinstance(raw, str) else bytes(raw)
        return [DomainEvent(**e) for e in json.loads(zlib.decompress(packed))]
    return [DomainEvent(**json.loads(image["payload"]["S"]))]


def event_from_image(image: dict[str, Any]) -> DomainEvent:
    """The first (for an item of the old shape: the only) event of a stream NewImage."""
    return events_from_image(image)[0]
