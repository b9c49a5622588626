"""PynamoDB base classes bound to the configured tables and endpoint."""

from __future__ import annotations

import zlib
from datetime import date, timedelta

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.shared import clock
from chalicelib.shared.config import settings
from chalicelib.store.tables import EVENTS, MAIN, TableSpec

_BOUND: list[type[Model]] = []


def _meta(spec: TableSpec) -> type:
    s = settings()

    class Meta:
        table_name = spec.physical_name(s)
        region = s.region
        host = s.dynamodb_endpoint
        max_retry_attempts = 3
        connect_timeout_seconds = 2
        read_timeout_seconds = 5
    return Meta


class _TableItem(Model):
    """String keys and a TTL attribute, shared by the items of every table."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    expires_at = NumberAttribute(null=True)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _BOUND.append(cls)


class MainModel(_TableItem):
    """An item of the main table. Subclasses add attributes."""

    Meta = _meta(MAIN)


class Gsi1(GlobalSecondaryIndex):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()
    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class DueIndex(GlobalSecondaryIndex):
    """Work that falls due: ``DUE#<kind>#<shard>`` / ``<day>#<id>``. Sparse: only items with work.

    A job asks each shard for ``duesk < <tomorrow>``: everything due, however overdue, and nothing
    else, so its reads are proportional to the work, never to the table.
    """

    class Meta:
        index_name = "due"
        projection = AllProjection()
    duepk = UnicodeAttribute(hash_key=True)
    duesk = UnicodeAttribute(range_key=True)


DUE_SHARDS = 8   # spreads due work over partitions; a job run makes DUE_SHARDS queries per kind


def due_keys(kind: str, day: date, item_id: str) -> tuple[str, str]:
    shard = zlib.crc32(item_id.encode()) % DUE_SHARDS
    return f"DUE#{kind}#{shard}", f"{day.isoformat()}#{item_id}"


def due_day(duesk: str) -> date:
    return date.fromisoformat(duesk.split("#", 1)[0])


def due_items(model: type[Model], kind: str, today: date):
    """Every item of ``kind`` due on or before ``today``, shard by shard."""
    tomorrow = (today + timedelta(days=1)).isoformat()
    for shard in range(DUE_SHARDS):
        yield from model.due.query(f"DUE#{kind}#{shard}", model.duesk < tomorrow)


class EventsModel(_TableItem):
    """An item of the events (outbox) table."""

    Meta = _meta(EVENTS)


def rebind() -> None:
    """Re-read settings into every model (tests and the local stack change them at run time)."""
    settings.cache_clear()
    s = settings()
    for model in _BOUND:
        spec = MAIN if issubclass(model, MainModel) else EVENTS
        model.Meta.table_name = spec.physical_name(s)
        model.Meta.region = s.region
        model.Meta.host = s.dynamodb_endpoint
        model._connection = None


def expiry_in(days: int) -> int:
    """An epoch-seconds TTL value ``days`` from now."""
    return int((clock.now() + timedelta(days=days)).timestamp())
