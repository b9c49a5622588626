"""Webhook items, in the main table (every partition key holds ``WEBHOOK``: the delivery role's
IAM condition admits those partitions and no other).

* ``WEBHOOK#<subscription> / SUB``: a subscription: its URL, filters, merchant scope, status,
  its signing secrets encrypted (:mod:`chalicelib.webhooks.signing`), and its streak of exhausted
  deliveries. Listed on ``gsi1`` as ``WEBHOOKS`` / subscription id while not deleted.
* ``WEBHOOK#<subscription>#<day>#<shard> / <event id>``: the delivery of one event to one
  subscription: the event's body as signed, its status, attempts and lease. ``<day>`` is the UTC
  day of the event's id (a ULID: its time), ``<shard>`` comes from the id (:data:`SHARDS`), so
  a delivery is found from the event id alone and a day's deliveries are read shard by shard: the
  delivery log and the replay index. Kept :data:`KEEP_DAYS` (TTL).
* ``WEBHOOK#<subscription>#<day>#<shard> / <event id>#<attempt id>``: one attempt: when, the
  status code, the latency, the first 1 KB of the answer, the error. Kept as long.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from ulid import ULID

from chalicelib.db.items import Gsi1, MainModel

LISTING = "WEBHOOKS"
# Delivery partitions per subscription and day: a subscription to ``*`` receives about three
# events per earn, so a flash of 10,000 earns a second writes 30,000 deliveries a second into its
# day; 32 partitions of 1,000 writes a second each take them (docs/scale.md).
SHARDS = 32
KEEP_DAYS = 30


class SubscriptionItem(MainModel):
    subscription_id = UnicodeAttribute()
    merchant_id = UnicodeAttribute(null=True)         # None: the whole program
    url = UnicodeAttribute()
    filters = UnicodeAttribute()                      # JSON list of event type patterns
    description = UnicodeAttribute(null=True)
    status = UnicodeAttribute()                       # enabled | disabled | deleted
    secrets = UnicodeAttribute()                      # JSON list of encrypted secrets (signing.py)
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute()
    updated_at = UnicodeAttribute(null=True)
    disabled_at = UnicodeAttribute(null=True)
    disabled_reason = UnicodeAttribute(null=True)
    exhausted_since = UnicodeAttribute(null=True)     # the first exhausted delivery since the last success
    exhausted_count = NumberAttribute(null=True)
    failures = NumberAttribute(null=True)             # posts failed in a row (the circuit breaker)
    paused_until = UnicodeAttribute(null=True)        # no post before then: each delivery due fails at once
    version = NumberAttribute(default=0)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi1 = Gsi1()

    @staticmethod
    def key(subscription_id: str) -> tuple[str, str]:
        return f"WEBHOOK#{subscription_id}", "SUB"

    def filter_list(self) -> list[str]:
        return list(json.loads(self.filters))

    def secret_list(self) -> list[dict[str, Any]]:
        return list(json.loads(self.secrets))


class SubscriptionCount(MainModel):
    """``WEBHOOK#COUNT / COUNT``: the program's subscriptions not deleted, counted in the same
    transaction as each creation and deletion, so concurrent creations never pass the limit."""

    total = NumberAttribute(null=True)                # (chalicelib.ledger.counters: bounded at commit)

    @staticmethod
    def key() -> tuple[str, str]:
        return "WEBHOOK#COUNT", "COUNT"


class DeliveryItem(MainModel):
    """A delivery (``sk`` = event id) or one of its attempts (``sk`` = event id # attempt id)."""

    subscription_id = UnicodeAttribute()
    event_id = UnicodeAttribute()
    # the delivery
    event_type = UnicodeAttribute(null=True)
    body = UnicodeAttribute(null=True)                # the event as it is posted (ids, no personal data)
    status = UnicodeAttribute(null=True)              # queued | sent | delivering | retrying | delivered | exhausted | dropped
    attempts = NumberAttribute(null=True)
    lease_until = UnicodeAttribute(null=True)
    next_attempt_at = UnicodeAttribute(null=True)
    delivered_at = UnicodeAttribute(null=True)
    replayed_at = UnicodeAttribute(null=True)
    # an attempt
    at = UnicodeAttribute(null=True)
    status_code = NumberAttribute(null=True)
    latency_ms = NumberAttribute(null=True)
    response = UnicodeAttribute(null=True)
    error = UnicodeAttribute(null=True)
    last_status_code = NumberAttribute(null=True)
    last_error = UnicodeAttribute(null=True)

    @staticmethod
    def key(subscription_id: str, event_id: str) -> tuple[str, str]:
        return partition(subscription_id, event_id), event_id

    @staticmethod
    def attempt_key(subscription_id: str, event_id: str, attempt_id: str) -> tuple[str, str]:
        return partition(subscription_id, event_id), f"{event_id}#{attempt_id}"

    @property
    def is_attempt(self) -> bool:
        return "#" in self.sk


def day_of(event_id: str) -> str:
    """The UTC day of an event id (a ULID carries its time; an id that is not one: today)."""
    try:
        return ULID.from_str(event_id).datetime.astimezone(UTC).date().isoformat()
    except ValueError:
        return datetime.now(UTC).date().isoformat()


def shard_of(event_id: str) -> int:
    """The delivery shard of an event id (a hash of it: evenly spread)."""
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=4).digest(), "big") % SHARDS


def partition(subscription_id: str, event_id: str) -> str:
    """The partition holding an event's delivery to a subscription."""
    return day_partition(subscription_id, day_of(event_id), shard_of(event_id))


def day_partition(subscription_id: str, day: str, shard: int) -> str:
    """One shard of a subscription's deliveries of one day."""
    return f"WEBHOOK#{subscription_id}#{day}#{shard:02d}"
