"""Data migrations, run in order by :func:`migrate_all`: moving data written before programs
existed into ``default``; moving points accounts to the key that sorts before their lots;
counting what was spent on each order into ``spent_points``.

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
import json
import re
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


ACCOUNT_MARKER = {"pk": {"S": "MIGRATION#points-account-key"}, "sk": {"S": "DONE"}}
OLD_ACCOUNT = re.compile(r"^PTS#([a-z][a-z0-9_]{0,31})#ACCOUNT$")


def migrate_points_account_keys(client: Any, table: str) -> dict[str, Any]:
    """Move every points account from ``PTS#<type>#ACCOUNT`` to ``PTS#<type>#LOT`` (the key that
    sorts just before the account's lots, so one Query reads both): put-if-absent, then delete,
    idempotent and resumable like the move into programs. An account already at the new key
    with other contents (the new code served it before the migration ran) is left where it is
    and reported, never overwritten; the marker is then not set, so the next run looks again."""
    if "Item" in client.get_item(TableName=table, Key=ACCOUNT_MARKER, ConsistentRead=True):
        return {"moved": 0, "conflicts": []}
    moved, conflicts = 0, []
    for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for item in page["Items"]:
            found = OLD_ACCOUNT.match(item["sk"]["S"])
            if not found:
                continue
            new = {**item, "sk": {"S": f"PTS#{found.group(1)}#LOT"}}
            try:
                client.put_item(TableName=table, Item=new, ConditionExpression="attribute_not_exists(pk)")
            except client.exceptions.ConditionalCheckFailedException:
                there = client.get_item(TableName=table, Key={"pk": new["pk"], "sk": new["sk"]},
                                        ConsistentRead=True).get("Item")
                if there != new:                  # not a copy an interrupted run made: a person decides
                    conflicts.append(f"{item['pk']['S']} {item['sk']['S']}")
                    continue
            client.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})
            moved += 1
    if not conflicts:
        client.put_item(TableName=table, Item=ACCOUNT_MARKER)
    return {"moved": moved, "conflicts": conflicts}


ORDER_MARKER = {"pk": {"S": "MIGRATION#order-spent-points"}, "sk": {"S": "DONE"}}


def migrate_order_spent_points(client: Any, table: str) -> dict[str, Any]:
    """Give every order spent on before ``spent_points`` existed its total, the number a spend's
    share condition now reads instead of the order (an order without it refuses spends, 409
    ``order-not-migrated``). Conditioned on the order's version, so a concurrent change is never
    overwritten: that order is reported and the marker not set, so the next run does it."""
    if "Item" in client.get_item(TableName=table, Key=ORDER_MARKER, ConsistentRead=True):
        return {"counted": 0, "changed": []}
    counted, changed = 0, []
    for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for item in page["Items"]:
            if item["sk"]["S"] != "ORDER" or "spent" not in item or "spent_points" in item:
                continue
            points = sum(int(lot["points"]) for lot in json.loads(item["spent"]["S"]))
            version = item.get("version", {"N": "0"})
            try:
                client.update_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]},
                                   UpdateExpression="SET spent_points = :n",
                                   ConditionExpression="attribute_not_exists(spent_points) AND "
                                                       "(attribute_not_exists(version) OR version = :v)",
                                   ExpressionAttributeValues={":n": {"N": str(points)}, ":v": version})
            except client.exceptions.ConditionalCheckFailedException:
                changed.append(item["pk"]["S"])
                continue
            counted += 1
    if not changed:
        client.put_item(TableName=table, Item=ORDER_MARKER)
    return {"counted": counted, "changed": changed}


def migrate_all(client: Any, tables: list[str], main_table: str) -> dict[str, Any]:
    """Every migration, in order (each skips itself once done)."""
    return {"programs": migrate_to_programs(client, tables, main_table),
            "points_account_keys": migrate_points_account_keys(client, main_table),
            "order_spent_points": migrate_order_spent_points(client, main_table)}
