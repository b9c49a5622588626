"""PynamoDB base classes bound to the configured tables and endpoint."""

from __future__ import annotations

from datetime import timedelta

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


class MainModel(Model):
    """An item of the main table. Subclasses add attributes; keys are strings."""

    Meta = _meta(MAIN)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    expires_at = NumberAttribute(null=True)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _BOUND.append(cls)


class Gsi1(GlobalSecondaryIndex):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()
    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class EventsModel(Model):
    Meta = _meta(EVENTS)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    expires_at = NumberAttribute(null=True)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _BOUND.append(cls)


def rebind() -> None:
    """Re-read settings into every model (tests and the local stack change them at run time)."""
    settings.cache_clear()
    s = settings()
    for model in [MainModel, EventsModel, *_BOUND]:
        spec = MAIN if issubclass(model, MainModel) else EVENTS
        model.Meta.table_name = spec.physical_name(s)
        model.Meta.region = s.region
        model.Meta.host = s.dynamodb_endpoint
        model._connection = None


def expiry_in(days: int) -> int:
    """An epoch-seconds TTL value ``days`` from now."""
    return int((clock.now() + timedelta(days=days)).timestamp())
