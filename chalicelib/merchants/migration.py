"""API keys made before they were listed per merchant (:meth:`ApiKeyItem.listed`) get their
listing keys once: every key item (``APIKEY#<id> / APIKEY``) without ``gsi1pk`` is read by a scan
(a migration, never a request path) and given them, only where it still has none (a run beside a
live stage, or run again, changes nothing twice). The marker (``DONE``) is set once a run listed
every key it read. ``python -m infra.migrate`` and the local stack run it."""

from __future__ import annotations

from typing import Any

from chalicelib.db.migration import list_once, scan_once
from chalicelib.merchants.tables import ApiKeyItem
from chalicelib.shared.principal import DEFAULT_PROGRAM


def migrate_key_listing(client: Any, table: str) -> dict[str, Any]:
    """List every key of a merchant that was made before keys were listed."""
    def visit(item: dict[str, Any]) -> bool | str | None:
        program = item.get("program_id", {}).get("S") or DEFAULT_PROGRAM
        keys = ApiKeyItem.listed(program, item["merchant_id"]["S"], item["created_at"]["S"], item["key_id"]["S"])
        try:
            return list_once(client, table, item, keys) or None           # listed meanwhile
        except Exception:   # noqa: BLE001 - one key must not stop the others; the next run retries
            return item["pk"]["S"]
    run = scan_once(client, table, "api-key-listing", visit, FilterExpression="sk = :k AND attribute_not_exists(gsi1pk)",
                    ExpressionAttributeValues={":k": {"S": "APIKEY"}})
    return {"listed": run.done, "failed": run.left}
