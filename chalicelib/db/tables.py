"""The tables, defined once.

The deployed template (``infra/``), the local stack (``devstack/``) and the tests all build their
tables from these specs, and the PynamoDB models are checked against them by a test.

Two tables:

* ``main``: every entity of every capability, single-table design. ``pk``/``sk`` address an item;
  ``gsi1`` serves listings; ``due2`` indexes work that falls due on a date (expiry, reminders,
  lifecycle reviews) so scheduled jobs read only what is due, never scan. It projects the keys
  only (#24 item 6): a job reads each due item itself before it changes it, so a copy of the whole
  item bought nothing and cost an index write at every change of an indexed item, key or not
  (``due``, projecting ALL, is what it replaces: docs/engineers/deploy.md says how a stage moves).
  ``keys1`` lists items by their keys alone (``k1pk``/``k1sk``): the ledgers' accounts for their
  reconciliations (:mod:`chalicelib.ledger.listing`), which read each account by key anyway. An
  update that keeps an item's ``keys1`` keys writes nothing to it, where ``gsi1`` (ALL) rewrites
  its copy of the item at every change.
* ``events``: the domain-event outbox. Written in the same transaction as the change it reports,
  streamed (NEW_IMAGE) to the event dispatcher, kept for ``EVENT_RETENTION_DAYS`` by TTL.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from chalicelib.shared.config import Settings


@dataclass(frozen=True)
class Index:
    name: str
    hash_key: str
    range_key: str
    projection: str = "ALL"       # ALL | KEYS_ONLY (the table's and the index's keys alone)


@dataclass(frozen=True)
class TableSpec:
    key: str                      # short name used in code and settings
    logical_id: str               # CloudFormation resource name
    env_var: str                  # Lambda environment variable holding the physical name
    hash_key: str = "pk"
    range_key: str = "sk"
    indexes: tuple[Index, ...] = field(default_factory=tuple)
    retiring: tuple[Index, ...] = field(default_factory=tuple)      # replaced, kept while a stage moves
    stream_view: str | None = None
    ttl_attribute: str | None = "expires_at"

    def attributes(self) -> list[str]:
        names = [self.hash_key, self.range_key]
        for index in self.indexes:
            names += [index.hash_key, index.range_key]
        return list(dict.fromkeys(names))

    def create_table_kwargs(self, name: str) -> dict[str, Any]:
        """Arguments for boto3 ``create_table``."""
        kwargs: dict[str, Any] = {
            "TableName": name,
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": self.hash_key, "KeyType": "HASH"},
                          {"AttributeName": self.range_key, "KeyType": "RANGE"}],
            "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in self.attributes()],
        }
        if self.indexes:
            kwargs["GlobalSecondaryIndexes"] = [
                {"IndexName": i.name,
                 "KeySchema": [{"AttributeName": i.hash_key, "KeyType": "HASH"},
                               {"AttributeName": i.range_key, "KeyType": "RANGE"}],
                 "Projection": {"ProjectionType": i.projection}}
                for i in self.indexes]
        if self.stream_view:
            kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": self.stream_view}
        return kwargs

    def cloudformation(self, keep_retiring: bool = False) -> dict[str, Any]:
        """The ``AWS::DynamoDB::Table`` resource (with ``keep_retiring``, the indexes being replaced
        too: a stage's first deploy of a replacement adds it beside the old one, since an update
        may add or delete one index but cannot change one's projection)."""
        props = self.create_table_kwargs("unused")
        del props["TableName"]
        if keep_retiring and self.retiring:
            kept = replace(self, indexes=self.retiring)
            props["GlobalSecondaryIndexes"] = kept.create_table_kwargs("x")["GlobalSecondaryIndexes"] \
                + props["GlobalSecondaryIndexes"]
        if self.stream_view:
            props["StreamSpecification"] = {"StreamViewType": self.stream_view}
        props["PointInTimeRecoverySpecification"] = {"PointInTimeRecoveryEnabled": True}
        props["SSESpecification"] = {"SSEEnabled": True}
        if self.ttl_attribute:
            props["TimeToLiveSpecification"] = {"AttributeName": self.ttl_attribute, "Enabled": True}
        return {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain",
                "UpdateReplacePolicy": "Retain", "Properties": props}

    def physical_name(self, settings: Settings) -> str:
        return getattr(settings, f"{self.key}_table")

    def physical_name_for(self, stage: str) -> str:
        """The default name in a stage (what the deployed template and the defaults agree on)."""
        return f"loyalty-{stage}-{self.key}"


MAIN = TableSpec(
    key="main", logical_id="MainTable", env_var="MAIN_TABLE",
    indexes=(Index("gsi1", "gsi1pk", "gsi1sk"), Index("due2", "duepk", "duesk", "KEYS_ONLY"),
             Index("keys1", "k1pk", "k1sk", "KEYS_ONLY")),
    retiring=(Index("due", "duepk", "duesk"),),
)
EVENTS = TableSpec(
    key="events", logical_id="EventsTable", env_var="EVENTS_TABLE", stream_view="NEW_IMAGE",
)
TABLES: tuple[TableSpec, ...] = (MAIN, EVENTS)


def stream_placeholder(spec: TableSpec) -> str:
    """A stream ARN that names the table; stands in until the real ARN is known."""
    from chalicelib.shared.config import settings
    s = settings()
    return f"arn:aws:dynamodb:{s.region}:000000000000:table/{spec.physical_name(s)}/stream/latest"


def table_of_stream(arn: str) -> str:
    """The table name inside a stream ARN."""
    return arn.split(":table/", 1)[1].split("/", 1)[0]
