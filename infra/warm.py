"""Warm throughput for a planned peak (issue #24; ``docs/scale.md``, "The events stream" and "At 10×").

An on-demand table serves at once up to twice its previous peak; a flash beyond that throttles
until the table has split. DynamoDB's *warm throughput* makes a table ready for a given number of
reads and writes a second beforehand (billed once, when raised). Each table gets two parameters
(0: not set, the table as DynamoDB sizes it): the events table needs its partitions for the flash's
events, not its writes (packed outbox items: 12,000 WCU carry 30,000 events a second), and its
stream shards follow its partitions, so `docs/scale.md` sizes it at 28,000 writes a second.
Raise them before a planned flash (a stack update; no interruption) and leave them: lowering
warm throughput is not possible.
"""

from __future__ import annotations

from typing import Any

# logical id of the table -> the writes a second the load model's flash needs (the parameter's
# description says so; the default stays 0: warming is a deliberate, billed step)
FLASH_WRITES = {"MainTable": 30_000, "EventsTable": 28_000}


def _names(logical_id: str) -> tuple[str, str, str]:
    return f"{logical_id}WarmReadUnits", f"{logical_id}WarmWriteUnits", f"Has{logical_id}Warm"


def parameters() -> dict[str, Any]:
    """Two parameters a table: its warm writes a second (0: not warmed) and, when warmed, reads."""
    out: dict[str, Any] = {}
    for table, flash in FLASH_WRITES.items():
        reads, writes, _ = _names(table)
        out[writes] = {"Type": "Number", "Default": 0, "MinValue": 0,
                       "Description": f"{table}'s warm throughput in writes a second before a planned peak "
                                      f"(0: not set; the load model's flash: {flash:,})"}
        out[reads] = {"Type": "Number", "Default": 12_000, "MinValue": 1,
                      "Description": f"{table}'s warm throughput in reads a second, when its writes are set "
                                     "(12,000: an on-demand table's own)"}
    return out


def conditions() -> dict[str, Any]:
    """Whether each table is warmed (its writes parameter set)."""
    return {_names(table)[2]: {"Fn::Not": [{"Fn::Equals": [{"Ref": _names(table)[1]}, 0]}]} for table in FLASH_WRITES}


def add(resources: dict[str, Any]) -> None:
    """Each table's ``WarmThroughput`` from its parameters (absent while its writes are 0)."""
    for table in FLASH_WRITES:
        reads, writes, warmed = _names(table)
        resources[table]["Properties"]["WarmThroughput"] = {"Fn::If": [warmed, {
            "ReadUnitsPerSecond": {"Ref": reads}, "WriteUnitsPerSecond": {"Ref": writes}}, {"Ref": "AWS::NoValue"}]}
