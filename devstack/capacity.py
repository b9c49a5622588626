"""DynamoDB capacity units computed by the published AWS rules.

moto reports no ``ConsumedCapacity``, so the emulator meters every request itself.
Sizes follow https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html:
an item's size is the sum of its attribute names and values; reads are charged per 4 KB
(half for eventually consistent reads), writes per 1 KB, transactional requests twice.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


def value_size(value: dict[str, Any]) -> int:
    """Size in bytes of one DynamoDB wire value such as ``{"S": "abc"}``."""
    (kind, v), = value.items()
    if kind == "S":
        return len(v.encode("utf-8"))
    if kind == "N":
        return number_size(v)
    if kind == "B":
        return len(base64.b64decode(v)) if isinstance(v, str) else len(v)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode("utf-8")) for s in v)
    if kind == "NS":
        return sum(number_size(n) for n in v)
    if kind == "BS":
        return sum(len(base64.b64decode(b)) if isinstance(b, str) else len(b) for b in v)
    if kind == "L":
        return 3 + sum(1 + value_size(e) for e in v)
    if kind == "M":
        return 3 + sum(1 + len(k.encode("utf-8")) + value_size(e) for k, e in v.items())
    raise ValueError(f"unknown DynamoDB type {kind}")


def number_size(text: str) -> int:
    """One byte per two significant digits, plus one."""
    digits = Decimal(text).normalize().as_tuple().digits
    return (len(digits) + 1) // 2 + 1


def item_size(item: dict[str, Any] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode("utf-8")) + value_size(v) for name, v in item.items())


def read_units(size: int, consistent: bool, transactional: bool = False) -> float:
    units = max(1, math.ceil(size / 4096))
    if transactional:
        return 2.0 * units
    return float(units) if consistent else units / 2


def write_units(size: int, transactional: bool = False) -> float:
    units = max(1, math.ceil(size / 1024))
    return 2.0 * units if transactional else float(units)


@dataclass
class Usage:
    """Requests and capacity units consumed, in total and per operation.

    ``wcu`` is the base tables' writes; ``wcu_index`` the global secondary indexes' on top of them
    (:mod:`devstack.index_units`), in total and per index (``by_index``). DynamoDB bills both.
    """

    requests: int = 0
    rcu: float = 0.0
    wcu: float = 0.0
    by_operation: dict[str, list[float]] = field(default_factory=dict)
    wcu_index: float = 0.0
    by_index: dict[str, float] = field(default_factory=dict)

    def add(self, operation: str, rcu: float, wcu: float, index: dict[str, float] | None = None) -> None:
        self.requests += 1
        self.rcu += rcu
        self.wcu += wcu
        row = self.by_operation.setdefault(operation, [0, 0.0, 0.0])
        row[0] += 1
        row[1] += rcu
        row[2] += wcu
        for name, units in (index or {}).items():
            self.wcu_index += units
            self.by_index[name] = self.by_index.get(name, 0.0) + units

    def snapshot(self) -> Usage:
        return Usage(self.requests, self.rcu, self.wcu,
                     {k: list(v) for k, v in self.by_operation.items()}, self.wcu_index, dict(self.by_index))

    def minus(self, earlier: Usage) -> Usage:
        ops = {}
        for k, v in self.by_operation.items():
            e = earlier.by_operation.get(k, [0, 0.0, 0.0])
            if v[0] - e[0]:
                ops[k] = [v[0] - e[0], v[1] - e[1], v[2] - e[2]]
        indexes = {k: v - earlier.by_index.get(k, 0.0) for k, v in self.by_index.items()
                   if v - earlier.by_index.get(k, 0.0)}
        return Usage(self.requests - earlier.requests, self.rcu - earlier.rcu,
                     self.wcu - earlier.wcu, ops, self.wcu_index - earlier.wcu_index, indexes)

    def plus(self, other: Usage) -> Usage:
        ops = {k: list(v) for k, v in self.by_operation.items()}
        for k, v in other.by_operation.items():
            row = ops.setdefault(k, [0, 0.0, 0.0])
            ops[k] = [row[0] + v[0], row[1] + v[1], row[2] + v[2]]
        indexes = dict(self.by_index)
        for k, v in other.by_index.items():
            indexes[k] = indexes.get(k, 0.0) + v
        return Usage(self.requests + other.requests, self.rcu + other.rcu, self.wcu + other.wcu, ops,
                     self.wcu_index + other.wcu_index, indexes)

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "rcu": round(self.rcu, 2), "wcu": round(self.wcu, 2),
                "wcu_index": round(self.wcu_index, 2),
                "by_index": {k: round(v, 2) for k, v in sorted(self.by_index.items())},
                "by_operation": {k: {"requests": int(v[0]), "rcu": round(v[1], 2), "wcu": round(v[2], 2)}
                                 for k, v in sorted(self.by_operation.items())}}
