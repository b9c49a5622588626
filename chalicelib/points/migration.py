"""Growth accounts of before (an item of their own, ``MEMBER#<id> / PTS#growth#LOT``) are carried
onto their members' points accounts (:mod:`.folded`) and their lots of the lot era
(``PTS#growth#LOT#...``) deleted (:func:`.growth.fold`). The live code carries an account when a
change of its member's points or growth reads it, and leaves its lots (read by nothing once it
is carried); this carries the rest and deletes every such lot: the accounts and lots are found by
a scan (a migration, never a request path).

Resumable: the scan's position is saved after each page (``MIGRATION#growth-accounts /
CURSOR``) and a run stopped half-way carries on from it; the marker (``DONE``) is set once a run
carried every account it read. ``python -m infra.migrate`` and the local stack run it."""

from __future__ import annotations

from typing import Any

from chalicelib.db import tenancy
from chalicelib.db.migration import scan_once
from chalicelib.shared.observability import logger

NAME = "growth-accounts"


def migrate_growth_accounts(client: Any, table: str, page_size: int = 1_000) -> dict[str, Any]:
    """Carry every growth account of before onto its points account and delete its lots."""
    from chalicelib.points.growth import fold  # (the capability, imported by the run only)
    report: dict[str, Any] = {"carried": 0, "lots_deleted": 0}
    folded: set[str] = set()            # members done in this run: the scan meets each lot of theirs

    def visit(item: dict[str, Any]) -> bool | str | None:
        program, logical = tenancy.split(item["pk"]["S"])
        if program is None or not logical.startswith("MEMBER#"):
            return None
        if item["pk"]["S"] in folded:
            return True
        try:
            carried, deleted = fold(program, logical.removeprefix("MEMBER#"))
        except Exception:   # noqa: BLE001 - one member must not stop the others; the next run retries
            logger.exception("growth account not carried", extra={"pk": item["pk"]["S"]})
            return item["pk"]["S"]
        report["carried"] += carried
        report["lots_deleted"] += deleted
        folded.add(item["pk"]["S"])
        return True
    run = scan_once(client, table, NAME, visit, page_size, FilterExpression="begins_with(sk, :g)",
                    ExpressionAttributeValues={":g": {"S": "PTS#growth#LOT"}})
    return {**report, "failed": run.left}
