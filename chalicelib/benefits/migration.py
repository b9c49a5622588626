"""Entitlements recorded before coupons existed become coupons: every ``coupon_pack``
entitlement still ``granted`` with no pack owed for it gets its pack's coupons, in one unit with
its status ``issued`` (:func:`chalicelib.benefits.service.issue_open`), or, when they are refused
(no such pack in force, out of stock, a template not active, a limit), its pack owed on the due
index, which the ``coupon-owed`` job tries daily.

Like the data layer's migrations (``db/migration.py``) it scans (a migration, never a request
path), and it is idempotent and resumable: the coupons' ids are derived from the entitlement, an
entitlement issued or owed already is passed over, and a run stopped half-way leaves the rest to
the next. ``python -m infra.migrate`` and the local stack run it after the data layer's
migrations; the marker is set once a run found nothing it could not settle."""

from __future__ import annotations

from typing import Any

from chalicelib.db import tenancy
from chalicelib.db.migration import scan_once
from chalicelib.shared.observability import logger


def migrate_open_entitlements(client: Any, table: str) -> dict[str, Any]:
    """Issue (or owe) the coupons of every entitlement recorded before coupons existed."""
    from chalicelib.benefits import service  # (the capability, imported by the run only)
    done = {"issued": 0, "owed": 0, "skipped": 0}

    def visit(item: dict[str, Any]) -> bool | str | None:
        program, logical = tenancy.split(item["pk"]["S"])
        if program is None or not logical.startswith("MEMBER#"):
            return None
        try:
            done[service.issue_open(program, logical.removeprefix("MEMBER#"), item["sk"]["S"])] += 1
        except Exception:   # noqa: BLE001 - one entitlement must not stop the others; the next run retries it
            logger.exception("entitlement not migrated", extra={"pk": item["pk"]["S"], "sk": item["sk"]["S"]})
            return f"{item['pk']['S']} {item['sk']['S']}"
        return True
    run = scan_once(client, table, "entitlement-coupons", visit, FilterExpression="begins_with(sk, :e) AND #s = :g",
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={":e": {"S": "ENTITLE#"}, ":g": {"S": "granted"}})
    return {"issued": done["issued"], "owed": done["owed"], "failed": run.left}
