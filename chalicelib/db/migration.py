"""Data migrations. One so far: moving data written before programs existed into ``default``.

Before tenancy, items were stored under their logical keys (``MEMBER#01J...``). This step copies
each such item to its program key (``default/MEMBER#01J...``, index keys alike), then deletes
the original: put-if-absent, then delete, so it is idempotent and resumable (a run stopped
half-way leaves items that the next run finishes). Platform items (programs, API keys, job runs)
stay as they are. A marker records completion so later starts skip the scan.

Run it with ``python -m infra.migrate --stage <stage>`` against a deployed stage (it scans both
tables: a migration, never a request path); ``make run`` runs it on an old ``.local/data``.
"""

from __future__ import annotations

import contextlib
from typing import Any

from chalicelib.db import tenancy
from chalicelib.shared.principal import DEFAULT_PROGRAM

PLATFORM_PREFIXES = ("APIKEY#", "PROGRAM#", "JOB#", "MIGRATION#")
MARKER = {"pk": {"S": "MIGRATION#programs"}, "sk": {"S": "DONE"}}


def _logical(item: dict[str, Any]) -> bool:
    pk = item["pk"]["S"]
    return tenancy.split(pk)[0] is None and not pk.startswith(PLATFORM_PREFIXES)


def _moved(item: dict[str, Any], program: str) -> dict[str, Any]:
    out = dict(item)
    for name in ("pk", *tenancy.INDEX_KEYS):
        if name in out and not tenancy.is_global(out[name]["S"]):
            out[name] = {"S": tenancy.physical(program, out[name]["S"])}
    return out


def migrate_to_programs(client: Any, tables: list[str], marker_table: str,
                        program: str = DEFAULT_PROGRAM) -> dict[str, int]:
    """Move every logical-key item of ``tables`` into ``program``; returns counts per table."""
    if "Item" in client.get_item(TableName=marker_table, Key=MARKER, ConsistentRead=True):
        return {}
    moved: dict[str, int] = {}
    for table in tables:
        moved[table] = 0
        for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
            for item in page["Items"]:
                if not _logical(item):
                    continue
                # an earlier, interrupted run may have copied it already
                with contextlib.suppress(client.exceptions.ConditionalCheckFailedException):
                    client.put_item(TableName=table, Item=_moved(item, program),
                                    ConditionExpression="attribute_not_exists(pk)")
                client.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})
                moved[table] += 1
    client.put_item(TableName=marker_table, Item=MARKER)
    return moved
