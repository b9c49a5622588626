"""API keys made before they were listed per merchant (:meth:`ApiKeyItem.listed`) get their
listing keys once: every key item (``APIKEY#<id> / APIKEY``) without ``gsi1pk`` is read by a scan
(a migration, never a request path) and given them, only where it still has none (a run beside a
live stage, or run again, changes nothing twice). The marker (``DONE``) is set once a run listed
every key it read. ``python -m infra.migrate`` and the local stack run it."""

from __future__ import annotations

from typing import Any

from chalicelib.merchants.tables import ApiKeyItem
from chalicelib.shared.principal import DEFAULT_PROGRAM

MARKER = {"pk": {"S": "MIGRATION#api-key-listing"}, "sk": {"S": "DONE"}}


def migrate_key_listing(client: Any, table: str) -> dict[str, Any]:
    """List every key of a merchant that was made before keys were listed."""
    if "Item" in client.get_item(TableName=table, Key=MARKER, ConsistentRead=True):
        return {"listed": 0, "failed": []}
    listed, failed = 0, []
    request = {"TableName": table, "ConsistentRead": True, "FilterExpression": "sk = :k AND attribute_not_exists(gsi1pk)",
               "ExpressionAttributeValues": {":k": {"S": "APIKEY"}}}
    for page in client.get_paginator("scan").paginate(**request):
        for item in page["Items"]:
            program = item.get("program_id", {}).get("S") or DEFAULT_PROGRAM
            keys = ApiKeyItem.listed(program, item["merchant_id"]["S"], item["created_at"]["S"], item["key_id"]["S"])
            try:
                client.update_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]},
                                   UpdateExpression="SET gsi1pk = :p, gsi1sk = :s",
                                   ConditionExpression="attribute_exists(pk) AND attribute_not_exists(gsi1pk)",
                                   ExpressionAttributeValues={":p": {"S": keys["gsi1pk"]}, ":s": {"S": keys["gsi1sk"]}})
            except client.exceptions.ConditionalCheckFailedException:
                continue                          # listed meanwhile
            except Exception:   # noqa: BLE001 - one key must not stop the others; the next run retries
                failed.append(item["pk"]["S"])
                continue
            listed += 1
    if not failed:
        client.put_item(TableName=table, Item=MARKER)
    return {"listed": listed, "failed": failed}
