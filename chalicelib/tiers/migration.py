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

from typing import Any

from chalicelib.db import tenancy
from chalicelib.db.migration import scan_once
from chalicelib.shared.observability import logger

NAME = "tier-listing"


def migrate_tier_listing(client: Any, table: str, page_size: int = 1_000) -> dict[str, Any]:
    """List the member of every tier item written before the listing's consumer existed."""
    from chalicelib.tiers import listing  # (the capability, imported by the run only)
    listed = 0

    def visit(item: dict[str, Any]) -> bool | str | None:
        nonlocal listed
        program, logical = tenancy.split(item["pk"]["S"])
        if program is None or not logical.startswith("MEMBER#"):
            return None
        try:
            listed += listing.place(program, logical.removeprefix("MEMBER#"))
        except Exception:   # noqa: BLE001 - one member must not stop the others; the next run retries
            logger.exception("tier listing not migrated", extra={"pk": item["pk"]["S"]})
            return item["pk"]["S"]
        return None
    run = scan_once(client, table, NAME, visit, page_size, FilterExpression="sk = :t",
                    ExpressionAttributeValues={":t": {"S": "TIER"}})
    return {"listed": listed, "failed": run.left}
