"""PynamoDB base classes bound to the configured tables and endpoint."""

from __future__ import annotations

import json
import zlib
from datetime import timedelta
from typing import Any

from pynamodb.attributes import Attribute, NumberAttribute, UnicodeAttribute
from pynamodb.connection import Connection, TableConnection
from pynamodb.constants import BINARY
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.db.tables import EVENTS, MAIN, TableSpec
from chalicelib.shared import aws, clock
from chalicelib.shared.config import settings

_BOUND: list[type[Model]] = []
_CONNECTIONS: dict[tuple[str | None, str | None], Connection] = {}


def _meta(spec: TableSpec) -> Any:
    s = settings()

    class Meta:
        table_name = spec.physical_name(s)
        region = s.region
        host = s.dynamodb_endpoint
        max_retry_attempts = s.aws_attempts - 1
        connect_timeout_seconds = s.aws_connect_timeout
        read_timeout_seconds = s.aws_read_timeout
    return Meta


def connection(region: str | None, host: str | None) -> Connection:
    """The one low-level connection (and botocore client) of an endpoint, shared by every item
    class and the backend's batch and transaction calls (botocore clients are thread-safe), with the
    timeouts and attempts of every AWS client (:func:`chalicelib.shared.aws.config`)."""
    key = (region, host)
    if key not in _CONNECTIONS:
        s = settings()
        made = Connection(region=region, host=host, max_retry_attempts=s.aws_attempts - 1,
                          connect_timeout_seconds=s.aws_connect_timeout, read_timeout_seconds=s.aws_read_timeout)
        made._local.session = aws.session()       # not a session of its own (chalicelib.shared.aws)
        _CONNECTIONS[key] = made
    return _CONNECTIONS[key]


class PackedJson(Attribute[Any]):
    """A JSON value kept zlib-compressed (a binary attribute): a write costs a unit per KB, and a
    checkout's plan of 20 lines or a quote with 50 coupons' reasons is text that packs to a fifth
    of its size. Give it an attribute name no other item kind uses for text (the tests' scans read
    every item of a table as one model)."""

    attr_type = BINARY

    def serialize(self, value: Any) -> Any:
        """The value as compressed JSON."""
        return zlib.compress(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode(), 6)

    def deserialize(self, value: Any) -> Any:
        """The value the compressed JSON holds."""
        return json.loads(zlib.decompress(value))


class TableItem(Model):
    """String keys and a TTL attribute, shared by the items of every table.

    Items belong to a program: the unit of work puts the program in front of their partition keys
    (:mod:`chalicelib.db.tenancy`). Item classes of the platform itself (programs, API keys, job
    runs) set ``platform = True`` and are stored as they are.
    """

    platform = False
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    expires_at = NumberAttribute(null=True)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _BOUND.append(cls)

    @classmethod
    def _get_connection(cls) -> TableConnection:
        """PynamoDB's table connection of this class, on the shared botocore client: left to
        itself, PynamoDB gives each item class its own botocore session and client, and each
        costs about 80 ms of CPU to create (it re-reads the endpoint and service models), paid by
        the first request that touches each of some sixty classes."""
        table = super()._get_connection()
        if table.connection._client is None:
            table.connection._client = connection(cls.Meta.region, cls.Meta.host).client
        return table


class MainModel(TableItem):
    """An item of the main table. Subclasses add attributes."""

    Meta = _meta(MAIN)


class Gsi1(GlobalSecondaryIndex):
    """Listings and secondary lookups: ``gsi1pk`` / ``gsi1sk``, meaning chosen per item kind."""

    class Meta:
        index_name = "gsi1"
        projection = AllProjection()
    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class DueIndex(GlobalSecondaryIndex):
    """Work that falls due: ``DUE#<kind>#<shard>`` / ``<day>#<id>``. Sparse: only items with work.

    A job asks each shard for ``duesk < <tomorrow>``: everything due, however overdue, and nothing
    else, so its reads are proportional to the work, never to the table. Keys only: the job reads
    the items themselves (:func:`chalicelib.db.due.due_items`).
    """

    class Meta:
        index_name = "due2"
        projection = KeysOnlyProjection()
    duepk = UnicodeAttribute(hash_key=True)
    duesk = UnicodeAttribute(range_key=True)


class Keys1(GlobalSecondaryIndex):
    """Listings of keys alone: ``k1pk`` / ``k1sk``, meaning chosen per item kind (the ledgers'
    accounts: :mod:`chalicelib.ledger.listing`). A reader learns which items are listed and reads
    what it needs of them by key; an update that keeps the keys writes nothing to the index."""

    class Meta:
        index_name = "keys1"
        projection = KeysOnlyProjection()
    k1pk = UnicodeAttribute(hash_key=True)
    k1sk = UnicodeAttribute(range_key=True)


class EventsModel(TableItem):
    """An item of the events (outbox) table."""

    Meta = _meta(EVENTS)


def rebind() -> None:
    """Re-read settings into every model (tests and the local stack change them at run time),
    and drop the shared connections: the endpoint may have changed."""
    settings.cache_clear()
    _CONNECTIONS.clear()
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
