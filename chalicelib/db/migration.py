"""Data migrations, run in order by :func:`migrate_all`: moving data written before programs
existed into ``default``; moving points accounts to the key that sorts before their lots;
counting what was spent on each order into ``spent_points``; marking the tier a downgraded
member left (``regain_from``); starting each prepaid issuer's outstanding counter at what the
figures say it holds; moving due entries into their program's due partitions (#24 item 6).

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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.db import due, tenancy
from chalicelib.shared.principal import DEFAULT_PROGRAM

PLATFORM_PREFIXES = ("APIKEY#", "PROGRAM#", "JOB#", "MIGRATION#")
MARKER = {"pk": {"S": "MIGRATION#programs"}, "sk": {"S": "DONE"}}

Visit = Callable[[dict[str, Any]], "bool | str | None"]
"""What a migration does to one scanned item: True (done), a phrase (left for the next run, and
reported: it changed meanwhile, or a person must decide), or None (not its business)."""


@dataclass
class Run:
    """What one run of a scanning migration did."""

    done: int = 0
    left: list[str] = field(default_factory=list)
    skipped: bool = False                 # its marker said it was done: nothing was scanned


def marker(name: str) -> dict[str, Any]:
    """The key of the item that records a migration as done."""
    return {"pk": {"S": f"MIGRATION#{name}"}, "sk": {"S": "DONE"}}


def _cursor(name: str) -> dict[str, Any]:
    return {"pk": {"S": f"MIGRATION#{name}"}, "sk": {"S": "CURSOR"}}


def scan_once(client: Any, table: str, name: str, visit: Visit, page_size: int = 1_000, **scan: Any) -> Run:
    """The shape of every scanning migration: skip it if its marker is set; else scan ``table``
    (consistently; ``scan`` adds a filter) and ``visit`` each item; set the marker once a run
    left nothing, so later starts skip the scan. Resumable: the scan's position is saved after
    each page (``MIGRATION#<name> / CURSOR``) and a run stopped half-way carries on from it. Each
    visit must be idempotent and never overwrite a concurrent change (a conditional write), so a
    run beside a live stage, stopped half-way or run again changes nothing twice."""
    done, cursor = marker(name), _cursor(name)
    if "Item" in client.get_item(TableName=table, Key=done, ConsistentRead=True):
        return Run(skipped=True)
    saved = client.get_item(TableName=table, Key=cursor, ConsistentRead=True).get("Item")
    start = json.loads(saved["at"]["S"]) if saved else None
    run = Run()
    while True:
        request = {"TableName": table, "ConsistentRead": True, "Limit": page_size, **scan}
        if start:
            request["ExclusiveStartKey"] = start
        page = client.scan(**request)
        for item in page["Items"]:
            outcome = visit(item)
            if outcome is True:
                run.done += 1
            elif isinstance(outcome, str):
                run.left.append(outcome)
        start = page.get("LastEvaluatedKey")
        if not start:
            break
        client.put_item(TableName=table, Item={**cursor, "at": {"S": json.dumps(start)}})
    if not run.left:
        client.put_item(TableName=table, Item=done)
    client.delete_item(TableName=table, Key=cursor)       # the next run (if any) starts from the top
    return run


def _logical(item: dict[str, Any]) -> bool:
    pk = item["pk"]["S"]
    return tenancy.split(pk)[0] is None and not pk.startswith(PLATFORM_PREFIXES)


def _moved(item: dict[str, Any], program: str) -> dict[str, Any]:
    out = dict(item)
    for name in ("pk", *tenancy.INDEX_KEYS):
        if name in out and not tenancy.is_global(out[name]["S"]) and tenancy.split(out[name]["S"])[0] is None:
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


OLD_ACCOUNT = re.compile(r"^PTS#([a-z][a-z0-9_]{0,31})#ACCOUNT$")


def migrate_points_account_keys(client: Any, table: str) -> dict[str, Any]:
    """Move every points account from ``PTS#<type>#ACCOUNT`` to ``PTS#<type>#LOT`` (the key that
    sorts just before the account's lots, so one Query reads both): put-if-absent, then delete,
    idempotent and resumable like the move into programs. An account already at the new key
    with other contents (the new code served it before the migration ran) is left where it is
    and reported, never overwritten; the marker is then not set, so the next run looks again."""
    def visit(item: dict[str, Any]) -> bool | str | None:
        found = OLD_ACCOUNT.match(item["sk"]["S"])
        if not found:
            return None
        new = {**item, "sk": {"S": f"PTS#{found.group(1)}#LOT"}}
        try:
            client.put_item(TableName=table, Item=new, ConditionExpression="attribute_not_exists(pk)")
        except client.exceptions.ConditionalCheckFailedException:
            there = client.get_item(TableName=table, Key={"pk": new["pk"], "sk": new["sk"]},
                                    ConsistentRead=True).get("Item")
            if there != new:                  # not a copy an interrupted run made: a person decides
                return f"{item['pk']['S']} {item['sk']['S']}"
        client.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})
        return True
    run = scan_once(client, table, "points-account-key", visit)
    return {"moved": run.done, "conflicts": run.left}


def _set_once(client: Any, table: str, item: dict[str, Any], attribute: str, value: dict[str, str]) -> bool:
    """Set ``attribute`` of a scanned item that lacks it, if the item's version is still the one
    scanned (False: it changed meanwhile, and is left for the next run)."""
    try:
        client.update_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]},
                           UpdateExpression="SET #a = :x",
                           ConditionExpression="attribute_not_exists(#a) AND "
                                               "(attribute_not_exists(version) OR version = :v)",
                           ExpressionAttributeNames={"#a": attribute},
                           ExpressionAttributeValues={":x": value, ":v": item.get("version", {"N": "0"})})
    except client.exceptions.ConditionalCheckFailedException:
        return False
    return True


def migrate_order_spent_points(client: Any, table: str) -> dict[str, Any]:
    """Give every order spent on before ``spent_points`` existed its total, the number a spend's
    share condition now reads instead of the order (an order without it refuses spends, 409
    ``order-not-migrated``). Conditioned on the order's version, so a concurrent change is never
    overwritten: that order is reported and the marker not set, so the next run does it."""
    def visit(item: dict[str, Any]) -> bool | str | None:
        if item["sk"]["S"] != "ORDER" or "spent" not in item or "spent_points" in item:
            return None
        points = sum(int(lot["points"]) for lot in json.loads(item["spent"]["S"]))
        return _set_once(client, table, item, "spent_points", {"N": str(points)}) or item["pk"]["S"]
    run = scan_once(client, table, "order-spent-points", visit)
    return {"counted": run.done, "changed": run.left}


ISSUANCE_MARKER = {"pk": {"S": "MIGRATION#issuance-counters"}, "sk": {"S": "DONE"}}


def program_ids(client: Any, table: str) -> list[str]:
    """Every program's id (the programs listing), ``default`` among them."""
    pages = client.get_paginator("query").paginate(
        TableName=table, IndexName="gsi1", KeyConditionExpression="gsi1pk = :p",
        ExpressionAttributeValues={":p": {"S": "PROGRAMS"}})
    return sorted({DEFAULT_PROGRAM} | {i["gsi1sk"]["S"] for page in pages for i in page["Items"]})


# The prepaid figures' account rows are spread over shards (chalicelib/events/folding.py: FOLD_SHARDS,
# shard_pk; a test holds the two equal): the balances are their sums.
PREPAID_ACCOUNTS = ["PREPAID#ACCOUNTS"] + [f"PREPAID#ACCOUNTS#S{n}" for n in range(1, 8)]


def migrate_issuance_counters(client: Any, table: str, issuer_of: Callable[[str], str | None]) -> dict[str, Any]:
    """Start each issuer's outstanding-prepaid counter (what the issuance limit is held against,
    stored_value/counters.py) at what the prepaid figures say it holds: money issued before the
    counters existed is counted. ``issuer_of`` maps a journal account to its issuer (the stored
    value capability's rule). Run before traffic, with the stream caught up; a counter that
    exists already (traffic came first) is left alone and reported, and the marker is then not
    set. Balances on no issuer's account (voids from before issuers were named) are reported."""
    if "Item" in client.get_item(TableName=table, Key=ISSUANCE_MARKER, ConsistentRead=True):
        return {"seeded": {}, "counting_already": [], "unattributed": {}}
    seeded: dict[str, int] = {}
    counting: list[str] = []
    unattributed: dict[str, int] = {}
    for program in program_ids(client, table):
        held: dict[str, int] = {}
        pages = [page for partition in PREPAID_ACCOUNTS for page in client.get_paginator("query").paginate(
            TableName=table, ConsistentRead=True, KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": tenancy.physical(program, partition)}})]
        for page in pages:
            for item in page["Items"]:
                account, balance = item["sk"]["S"], int(item.get("balance", {"N": "0"})["N"])
                issuer = issuer_of(account)
                if issuer is not None:
                    held[issuer] = held.get(issuer, 0) - balance          # liabilities are credits
                elif balance and account.startswith("gift_cards_voided"):
                    where = f"{program}/{account}"
                    unattributed[where] = unattributed.get(where, 0) - balance
        for issuer, fen in sorted(held.items()):
            if fen == 0:
                continue
            key = {"pk": {"S": tenancy.physical(program, f"SVCOUNT#ISSUER#{issuer}")}, "sk": {"S": "IN"}}
            try:
                client.put_item(TableName=table, Item={**key, "total": {"N": str(fen)}, "seeded": {"S": "migration"}},
                                ConditionExpression="attribute_not_exists(pk)")
            except client.exceptions.ConditionalCheckFailedException:
                found = client.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item", {})
                if "seeded" not in found:                  # not an earlier run's: traffic came first
                    counting.append(f"{program}/{issuer}")
                continue
            seeded[f"{program}/{issuer}"] = fen
    if not counting:
        client.put_item(TableName=table, Item=ISSUANCE_MARKER)
    return {"seeded": seeded, "counting_already": counting, "unattributed": unattributed}


REGAIN = "tier-regain-from"
DOWNWARD = ("downgrade", "refund")          # history causes that lower the tier earned by growth
REGAIN_LOOKBACK = 24                        # history entries read back per member, at most


def migrate_tier_regain_from(client: Any, table: str) -> dict[str, Any]:
    """Give members downgraded before ``regain_from`` existed the tier their downgrades left (issue
    #20 item 3: without it, the next small order lifts them back, since growth carried over never
    falls). It is the tier before the first of their latest run of downward changes (each one went
    lower, so the first left the highest). Conditioned on the tier's version, so a concurrent
    change is never overwritten: that member is reported and the marker not set."""
    def visit(item: dict[str, Any]) -> bool | str | None:
        if item["sk"]["S"] != "TIER" or "regain_from" in item:
            return None
        left = _tier_left(client, table, item)
        if left is None:
            return None
        return _set_once(client, table, item, "regain_from", {"S": left}) or item["pk"]["S"]
    run = scan_once(client, table, REGAIN, visit)
    return {"marked": run.done, "changed": run.left}


def _tier_left(client: Any, table: str, tier: dict[str, Any]) -> str | None:
    """The tier before the first of the member's latest run of downward changes, or None."""
    newest = int(tier.get("changes", {"N": "0"})["N"])
    if newest == 0:
        return None
    oldest = max(1, newest - REGAIN_LOOKBACK + 1)
    found = client.query(TableName=table, ConsistentRead=True, ScanIndexForward=False,
                         KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
                         ExpressionAttributeValues={":p": tier["pk"], ":a": {"S": f"TIERHIST#{oldest:08d}"},
                                                    ":b": {"S": f"TIERHIST#{newest:08d}"}})["Items"]
    left = None
    for entry in found:                      # newest first
        if entry.get("cause", {}).get("S") not in DOWNWARD or "from_tier" not in entry:
            break
        left = entry["from_tier"]["S"]
    return left


DUE = "due-by-program"
DUE_INDEXES = (("duepk", "duesk"), ("gsi1pk", "gsi1sk"))       # the due index, and gsi1's second kind


def _due_key(item: dict[str, Any], name: str, sort: str) -> str | None:
    """Where a due entry of ``item`` belongs now (None: not a due entry, or where it is): in its
    program's partitions, on the shard its kind's count gives (:func:`due.due_keys`)."""
    value, position = item.get(name, {}).get("S"), item.get(sort, {}).get("S")
    if not value or not position:
        return None
    logical = tenancy.split(value)[1]
    if not logical.startswith("DUE#"):
        return None
    kind, day_id = logical.split("#")[1], position.split("#", 1)
    program = tenancy.split(item["pk"]["S"])[0] or DEFAULT_PROGRAM
    wanted = tenancy.physical(program, due.due_keys(kind, due.due_day(position), day_id[1])[0])
    return wanted if wanted != value else None


def migrate_due_keys(client: Any, table: str) -> dict[str, Any]:
    """Move every due entry written while the due partitions were shared by all programs
    (``DUE#<kind>#<shard>``, eight shards a kind) to its program's (``<program>/DUE#<kind>#<shard>``,
    :data:`due.SHARDS` a kind), so a job run, which reads each program's, finds it. An update of the
    key alone, conditioned on the key scanned: idempotent and resumable, and an entry that changed
    meanwhile (the new code rewrote it in the new form, or took it off the index) is left, counted,
    and the marker not set, so the next run looks again."""
    moved = 0

    def visit(item: dict[str, Any]) -> bool | str | None:
        nonlocal moved
        changed = []
        for name, sort in DUE_INDEXES:
            wanted = _due_key(item, name, sort)
            if wanted is None:
                continue
            try:
                client.update_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]},
                                   UpdateExpression="SET #k = :new", ConditionExpression="#k = :old",
                                   ExpressionAttributeNames={"#k": name},
                                   ExpressionAttributeValues={":new": {"S": wanted}, ":old": item[name]})
                moved += 1
            except client.exceptions.ConditionalCheckFailedException:
                changed.append(f"{item['pk']['S']} {name}")
        return "; ".join(changed) or None
    run = scan_once(client, table, DUE, visit)
    return {"moved": moved, "changed": sum(len(left.split("; ")) for left in run.left)}


MERCHANT_LISTING = "merchant-listing"


def migrate_merchant_listing(client: Any, table: str) -> dict[str, Any]:
    """List every merchant written before the directory listed them (#28 item 5: ``listMerchants``
    reads the program's ``MERCHANTS`` partition of gsi1, never a scan): set its index keys where
    it has none. Each item only where ``gsi1pk`` is still absent, so it is idempotent, resumable
    and never overwrites what a concurrent update set (an update lists an unlisted merchant too)."""
    def visit(item: dict[str, Any]) -> bool | str | None:
        program, logical = tenancy.split(item["pk"]["S"])
        if item["sk"]["S"] != "MERCHANT" or not logical.startswith("MERCHANT#") or "gsi1pk" in item:
            return None
        listing = {"gsi1pk": tenancy.physical(program or DEFAULT_PROGRAM, "MERCHANTS"),   # merchants.tables.LISTING
                   "gsi1sk": logical.removeprefix("MERCHANT#")}
        return list_once(client, table, item, listing) or None          # listed meanwhile: nothing to do
    return {"listed": scan_once(client, table, MERCHANT_LISTING, visit).done}


def list_once(client: Any, table: str, item: dict[str, Any], keys: dict[str, str]) -> bool:
    """Give a scanned item its ``gsi1`` keys where it still has none (False: listed meanwhile)."""
    try:
        client.update_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]},
                           UpdateExpression="SET gsi1pk = :p, gsi1sk = :s",
                           ConditionExpression="attribute_exists(pk) AND attribute_not_exists(gsi1pk)",
                           ExpressionAttributeValues={":p": {"S": keys["gsi1pk"]}, ":s": {"S": keys["gsi1sk"]}})
    except client.exceptions.ConditionalCheckFailedException:
        return False
    return True


def migrate_all(client: Any, tables: list[str], main_table: str,
                issuer_of: Callable[[str], str | None] | None = None) -> dict[str, Any]:
    """Every migration, in order (each skips itself once done). ``issuer_of``: the stored value
    capability's map of journal accounts to issuers (the caller passes it: the data layer does
    not import capabilities)."""
    done = {"programs": migrate_to_programs(client, tables, main_table),
            "points_account_keys": migrate_points_account_keys(client, main_table),
            "order_spent_points": migrate_order_spent_points(client, main_table),
            "tier_regain_from": migrate_tier_regain_from(client, main_table),
            "due_keys": migrate_due_keys(client, main_table),
            "merchant_listing": migrate_merchant_listing(client, main_table)}
    if issuer_of is not None:
        done["issuance_counters"] = migrate_issuance_counters(client, main_table, issuer_of)
    return done
