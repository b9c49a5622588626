"""Members whose tier was set before the tier listing existed (:mod:`chalicelib.tiers.listing`)
are listed once: every tier item (``MEMBER#<id> / TIER``) is read by a scan (a migration, never a
request path) and its member placed as the stream consumer would (:func:`listing.place`: only
where the listing is behind the tier item's version, so a run beside the live stream, or run
again, moves nobody twice and nobody back).

Resumable: the scan's position is saved after each page (``MIGRATION#tier-listing / CURSOR``),
and a run stopped half-way carries on from it; the marker (``DONE``) is set once a run placed
every member it read. ``python -m infra.migrate`` and the local stack run it after the data
layer's migrations."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.db import tenancy
from chalicelib.shared.observability import logger

MARKER = {"pk": {"S": "MIGRATION#tier-listing"}, "sk": {"S": "DONE"}}
CURSOR = {"pk": {"S": "MIGRATION#tier-listing"}, "sk": {"S": "CURSOR"}}


def migrate_tier_listing(client: Any, table: str, page_size: int = 1_000) -> dict[str, Any]:
    """List the member of every tier item written before the listing's consumer existed."""
    if "Item" in client.get_item(TableName=table, Key=MARKER, ConsistentRead=True):
        return {"listed": 0, "failed": []}
    from chalicelib.tiers import listing  # (the capability, imported by the run only)
    saved = client.get_item(TableName=table, Key=CURSOR, ConsistentRead=True).get("Item")
    start = json.loads(saved["at"]["S"]) if saved else None
    listed, failed = 0, []
    while True:
        request: dict[str, Any] = {"TableName": table, "ConsistentRead": True, "Limit": page_size,
                                   "FilterExpression": "sk = :t", "ExpressionAttributeValues": {":t": {"S": "TIER"}}}
        if start:
            request["ExclusiveStartKey"] = start
        page = client.scan(**request)
        for item in page["Items"]:
            program, logical = tenancy.split(item["pk"]["S"])
            if program is None or not logical.startswith("MEMBER#"):
                continue
            try:
                listed += listing.place(program, logical.removeprefix("MEMBER#"))
            except Exception:   # noqa: BLE001 - one member must not stop the others; the next run retries
                logger.exception("tier listing not migrated", extra={"pk": item["pk"]["S"]})
                failed.append(item["pk"]["S"])
        start = page.get("LastEvaluatedKey")
        if not start:
            break
        client.put_item(TableName=table, Item={**CURSOR, "at": {"S": json.dumps(start)}})
    if not failed:
        client.put_item(TableName=table, Item=MARKER)
        client.delete_item(TableName=table, Key=CURSOR)
    return {"listed": listed, "failed": failed}
