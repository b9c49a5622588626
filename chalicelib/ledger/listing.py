"""Where a ledger lists its accounts for its reconciliation, on the keys-only index ``keys1``
(#24 Cost; docs/scale.md, *The accounts' listing on a keys-only index*).

A ledger lists every account in shards, ``<prefix><shard>`` / ``<listing key>`` (points:
``PTSACCT#<crc32(member) mod 64>`` / ``<member>#<type>``; stored value: ``SVACCT#<mod 16>`` /
``<member>``). The reconciliation reads a shard a page at a time and then each account it names
by key, consistently: it needs the listing's keys alone. The accounts were listed on ``gsi1``,
which projects ALL, so every change of a balance rewrote the account's copy there (1 WCU, two an
earn, and the flash's hottest index partitions). They are listed on ``keys1`` now, which projects
the keys: a write that keeps an item's ``keys1`` keys writes nothing to it.

* :meth:`AccountListing.place`: an account item listed on ``keys1`` and not on ``gsi1``. An
  account is created so, and every change of one places it again before the account is put whole,
  so an account still on gsi1 moves at its next change, atomically (its ``keys1`` keys set and its
  ``gsi1`` keys removed in the one write), paying one gsi1 delete and one keys1 put, once.
* :meth:`AccountListing.page`: the next listing keys of a shard on both indexes, merged by the key
  (the same on both) under one cursor, each account once: while an index lags an account's move,
  the account can show on both. It can also, for a moment, show on neither; the next pass checks it.
* :func:`migrate_account_listing`: moves every account still on gsi1 (``python -m infra.migrate``).
  Once it has run on a stage, gsi1's read in :meth:`AccountListing.page` can go.
"""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

from chalicelib.db import tenancy
from chalicelib.db.backend import SortKey
from chalicelib.db.uow import UnitOfWork
from chalicelib.shared.observability import logger

INDEX, OLD_INDEX = "keys1", "gsi1"
MIGRATION = "account-listing"


@dataclass(frozen=True)
class AccountListing:
    """How one ledger lists its accounts: the partitions' prefix and how many shards."""

    prefix: str
    shards: int

    def partition(self, member_id: str) -> str:
        """The shard that lists the member's accounts."""
        return f"{self.prefix}{zlib.crc32(member_id.encode()) % self.shards}"

    def place(self, item: Any, member_id: str, key: str) -> None:
        """List the account ``item`` under its member's shard and ``key`` on ``keys1``, and not on
        ``gsi1`` (an account put whole after this leaves gsi1 in the same write)."""
        item.k1pk, item.k1sk = self.partition(member_id), key
        item.gsi1pk = item.gsi1sk = None

    def page(self, uow: UnitOfWork, model: type[Any], shard: int, after: str | None = None,
             limit: int | None = None) -> list[str]:
        """The listing keys of ``shard`` after ``after`` (a cursor), in order, at most ``limit``:
        those on ``keys1`` and those not moved off ``gsi1`` yet, each once. Two Queries a page."""
        partition, sort = f"{self.prefix}{shard}", SortKey.above(after) if after else None
        moved = (str(i.k1sk) for i in uow.query(model, partition, sort, index=INDEX, limit=limit))
        old = (str(i.gsi1sk) for i in uow.query(model, partition, sort, index=OLD_INDEX, limit=limit))
        return list(islice(_once(heapq.merge(moved, old)), limit))


def _once(keys: Iterable[str]) -> Iterator[str]:
    """Sorted ``keys`` with each repeat left out."""
    last = None
    for key in keys:
        if key != last:
            yield key
        last = key


def migrate_account_listing(client: Any, table: str, listings: Sequence[AccountListing],
                            page_size: int = 1_000) -> dict[str, Any]:
    """Move every account still listed on ``gsi1`` to ``keys1``: each shard of each listing in each
    program is read on gsi1 a page at a time, and each account found there is moved by an update
    conditioned on ``attribute_exists(gsi1pk)``, so an account the live code moved meanwhile (or an
    earlier run did, and the index still shows) is left as it is. Idempotent and resumable without
    a cursor of its own: a moved account leaves gsi1, so a run stopped half-way and run again finds
    only the accounts left. A failed move is reported and the next run tries it again; once a run
    has moved everything it found, a marker (``MIGRATION#account-listing / DONE``) skips later runs."""
    from chalicelib.db.migration import marker, program_ids  # a migration's, not a request's
    done = marker(MIGRATION)
    if "Item" in client.get_item(TableName=table, Key=done, ConsistentRead=True):
        return {"moved": 0, "moved_already": 0, "failed": []}
    report: dict[str, Any] = {"moved": 0, "moved_already": 0, "failed": []}
    for program in program_ids(client, table):
        for listing in listings:
            for shard in range(listing.shards):
                partition = tenancy.physical(program, f"{listing.prefix}{shard}")
                for item in _listed(client, table, partition, page_size):
                    _move(client, table, program, listing, item, report)
    if not report["failed"]:
        client.put_item(TableName=table, Item=done)
    return report


def _listed(client: Any, table: str, partition: str, page_size: int) -> Iterator[dict[str, Any]]:
    """The items listed on gsi1 under ``partition``, a page at a time."""
    request: dict[str, Any] = {"TableName": table, "IndexName": OLD_INDEX, "Limit": page_size,
                               "KeyConditionExpression": "gsi1pk = :p",
                               "ExpressionAttributeValues": {":p": {"S": partition}}}
    while True:
        page = client.query(**request)
        yield from page["Items"]
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _move(client: Any, table: str, program: str, listing: AccountListing, item: dict[str, Any],
          report: dict[str, Any]) -> None:
    """Move one account (as gsi1 shows it) to keys1, where it is still on gsi1."""
    key = {"pk": item["pk"], "sk": item["sk"]}
    listed_as = item["gsi1sk"]["S"]
    member = item.get("member_id", {}).get("S") or listed_as.split("#", 1)[0]
    try:
        client.update_item(TableName=table, Key=key, UpdateExpression="SET k1pk = :p, k1sk = :s REMOVE gsi1pk, gsi1sk",
                           ConditionExpression="attribute_exists(gsi1pk)",
                           ExpressionAttributeValues={":p": {"S": tenancy.physical(program, listing.partition(member))},
                                                      ":s": {"S": listed_as}})
    except client.exceptions.ConditionalCheckFailedException:
        report["moved_already"] += 1
        return
    except Exception:   # noqa: BLE001 - one account must not stop the others; the next run retries it
        logger.exception("account listing not migrated", extra={"pk": key["pk"]["S"], "sk": key["sk"]["S"]})
        report["failed"].append(f"{key['pk']['S']} {key['sk']['S']}")
        return
    report["moved"] += 1
