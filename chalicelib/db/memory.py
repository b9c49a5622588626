"""The in-memory fake of the persistence port: the same contract as DynamoDB for what the code
uses (items by key, partitions in sort-key order, the indexes and their projections, conditional
writes applied all or nothing), held in dictionaries. Items are kept in DynamoDB's wire format,
so what a model serialises is exactly what it reads back. Its indexes can be made to lag, as
DynamoDB's do (:meth:`MemoryBackend.lag_indexes`).

Conditions and update actions are PynamoDB expression objects; the fake evaluates the subset the
code uses (comparisons, exists / not exists, begins_with, between, and / or / not; set, add,
remove, if_not_exists, list_append) and refuses anything else loudly, so a new kind of
expression cannot pass on the fake and fail on DynamoDB unnoticed.
"""

from __future__ import annotations

import copy
import threading
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, TypeVar

from pynamodb.expressions.condition import (
    And,
    BeginsWith,
    Between,
    Comparison,
    Condition,
    Exists,
    Not,
    NotExists,
    Or,
)
from pynamodb.expressions.operand import Path, Value, _IfNotExists, _ListAppend
from pynamodb.expressions.update import Action, AddAction, RemoveAction, SetAction
from pynamodb.models import Model
from typing_extensions import override

from chalicelib.db.backend import MAX_ITEMS, Backend, ConditionsFailed, SortKey, Write
from chalicelib.db.items import TableItem
from chalicelib.db.tables import MAIN

M = TypeVar("M", bound=Model)
Raw = dict[str, dict[str, Any]]
_INDEXES = {i.name: (i.hash_key, i.range_key) for i in MAIN.indexes}
_KEYS_ONLY = {i.name: ("pk", "sk", i.hash_key, i.range_key) for i in MAIN.indexes if i.projection == "KEYS_ONLY"}


def _projected(index: str | None, raw: Raw) -> Raw:
    """What an index returns of an item: all of it, or its keys alone (as DynamoDB projects)."""
    keys = _KEYS_ONLY.get(index or "")
    return raw if keys is None else {k: v for k, v in raw.items() if k in keys}


def _plain(wire: dict[str, Any] | None) -> Any:
    if wire is None:
        return None
    (kind, value), = wire.items()
    return Decimal(value) if kind == "N" else value


def _operand(item: Raw | None, operand: Any) -> Any:  # noqa: ANN401
    if isinstance(operand, Path):
        return _plain((item or {}).get(operand.path[0]))
    if isinstance(operand, Value):
        return _plain(operand.value)
    raise NotImplementedError(f"the in-memory table does not evaluate {operand!r}")


_COMPARE = {"=": lambda a, b: a == b, "<>": lambda a, b: a != b, "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


def holds(condition: Condition | None, item: Raw | None) -> bool:
    """Whether ``condition`` is true of ``item`` (None: the item does not exist)."""
    if condition is None:
        return True
    if isinstance(condition, And):
        return holds(condition.values[0], item) and holds(condition.values[1], item)
    if isinstance(condition, Or):
        return holds(condition.values[0], item) or holds(condition.values[1], item)
    if isinstance(condition, Not):
        return not holds(condition.values[0], item)
    if isinstance(condition, NotExists):
        return _operand(item, condition.values[0]) is None
    if isinstance(condition, Exists):
        return _operand(item, condition.values[0]) is not None
    values = [_operand(item, v) for v in condition.values]
    if any(v is None for v in values):
        return False                   # DynamoDB: a comparison with a missing attribute is false
    if isinstance(condition, Comparison):
        return bool(_COMPARE[condition.operator](values[0], values[1]))
    if isinstance(condition, BeginsWith):
        return str(values[0]).startswith(str(values[1]))
    if isinstance(condition, Between):
        return bool(values[1] <= values[0] <= values[2])
    raise NotImplementedError(f"the in-memory table does not evaluate {condition!r}")


def _wire(item: Raw, operand: Any) -> dict[str, Any] | None:  # noqa: ANN401
    """The stored form of a SET action's value: a value, an attribute, ``if_not_exists`` or ``list_append``."""
    if isinstance(operand, Value):
        return copy.deepcopy(operand.value)
    if isinstance(operand, Path):
        return copy.deepcopy(item.get(operand.path[0]))
    if isinstance(operand, _IfNotExists):
        return _wire(item, operand.values[0]) or _wire(item, operand.values[1])
    if isinstance(operand, _ListAppend):
        head, tail = (_wire(item, v) for v in operand.values)
        if head is None or tail is None:
            raise ValueError("list_append of a missing attribute")     # DynamoDB refuses it too
        return {"L": head["L"] + tail["L"]}
    raise NotImplementedError(f"the in-memory table does not evaluate {operand!r}")


def _apply(item: Raw, action: Action) -> None:
    target: Any = action.values[0]
    value: Any = action.values[1] if len(action.values) > 1 else None
    name = target.path[0]
    if isinstance(action, RemoveAction):
        item.pop(name, None)
    elif isinstance(action, SetAction):
        wire = _wire(item, value)
        if wire is None:
            raise ValueError(f"SET {name} to a missing attribute")          # DynamoDB refuses it too
        item[name] = wire
    elif isinstance(action, AddAction) and isinstance(value, Value) and "N" in value.value:
        before = _plain(item.get(name)) or Decimal(0)
        item[name] = {"N": str(before + _plain(value.value))}
    else:
        raise NotImplementedError(f"the in-memory table does not apply {action!r}")


class MemoryBackend(Backend):
    """Tables as dictionaries: ``{table: {pk: {sk: raw item}}}``, one lock around every call."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, dict[str, Raw]]] = defaultdict(lambda: defaultdict(dict))
        self.requests = 0
        self._lock = threading.RLock()
        self._index_view: dict[str, dict[str, dict[str, Raw]]] | None = None     # see lag_indexes
        self._order: dict[tuple[str, str], tuple[dict[str, Raw], int, list[str]]] = {}   # see _sort_keys

    def lag_indexes(self, lagging: bool = True) -> None:
        """Make the indexes show the table as it is now until called with ``False`` (they catch
        up). DynamoDB's global secondary indexes are eventually consistent: a committed write
        reaches them some time later, and a consistent read of an index does not exist. The fake
        and the emulators update them at once, so only this shows a reader trusting an index copy."""
        with self._lock:
            self._index_view = copy.deepcopy(self.tables) if lagging else None

    @staticmethod
    def _table(model: type[Model] | Model) -> str:
        return model.Meta.table_name

    def _load(self, model: type[M], raw: Raw) -> M:
        return model.from_raw_data(copy.deepcopy(raw))

    # reads ----------------------------------------------------------------------------------
    @override
    def get(self, model: type[M], pk: str, sk: str, consistent: bool = False) -> M | None:
        with self._lock:
            self.requests += 1
            raw = self.tables[self._table(model)].get(pk, {}).get(sk)
            return None if raw is None else self._load(model, raw)

    @override
    def batch_get(self, wanted: list[tuple[type[Model], str, str]], consistent: bool = False) -> list[Model | None]:
        with self._lock:
            self.requests += 1
            tables = [self.tables[self._table(model)].get(pk, {}).get(sk) for model, pk, sk in wanted]
            return [None if raw is None else self._load(model, raw)
                    for (model, _, _), raw in zip(wanted, tables, strict=True)]

    @override
    def query(self, model: type[M], pk: str, sort: SortKey | None = None, *, index: str | None = None,
              forward: bool = True, limit: int | None = None, consistent: bool = False,
              page_size: int | None = None) -> Iterator[M]:
        with self._lock:
            self.requests += 1
            tables = self.tables if index is None or self._index_view is None else self._index_view
            table = tables.get(self._table(model), {})
            if index is None:
                part = table.get(pk, {})
                keys = self._span(self._sort_keys(self._table(model), pk, part), sort)
                return iter([self._load(model, part[sk]) for sk in (keys if forward else keys[::-1])[:limit]])
            else:
                hash_attr, range_attr = _INDEXES[index]
                rows = [(raw[range_attr]["S"], raw) for part in table.values() for raw in part.values()
                        if raw.get(hash_attr, {}).get("S") == pk and range_attr in raw]
            rows = [(key, raw) for key, raw in rows if sort is None or sort.matches(key)]
            rows.sort(key=lambda row: (row[0], row[1]["pk"]["S"], row[1]["sk"]["S"]), reverse=not forward)
            found = [self._load(model, _projected(index, raw)) for _, raw in rows[:limit]]
        return iter(found)

    def _sort_keys(self, table: str, pk: str, part: dict[str, Raw]) -> list[str]:
        """A partition's sort keys in order, kept until the partition is written (a query of a
        big partition, as DynamoDB's, costs what it returns, not the partition's size)."""
        kept = self._order.get((table, pk))
        if kept is None or kept[0] is not part or kept[1] != len(part):
            kept = self._order[(table, pk)] = (part, len(part), sorted(part))
        return kept[2]

    @staticmethod
    def _span(keys: list[str], sort: SortKey | None) -> list[str]:
        """The sorted ``keys`` that satisfy ``sort``."""
        if sort is None:
            return keys
        if sort.op == "prefix":
            low = bisect_left(keys, sort.low)
            high = low
            while high < len(keys) and keys[high].startswith(sort.low):
                high += 1
            return keys[low:high]
        if sort.op == "between":
            return keys[bisect_left(keys, sort.low):bisect_right(keys, sort.high)]
        if sort.op == "above":
            return keys[bisect_right(keys, sort.low):]
        return keys[:bisect_left(keys, sort.low)]

    @override
    def query_kinds(self, model: type[Model], pk: str, sort: SortKey, pick: Callable[[str], type[Model]],
                    limit: int, consistent: bool = False) -> list[Model]:
        with self._lock:
            self.requests += 1
            rows = sorted((sk, raw) for sk, raw in self.tables[self._table(model)].get(pk, {}).items()
                          if sort.matches(sk))
            return [self._load(pick(sk), raw) for sk, raw in rows[:limit]]

    @override
    def scan(self, model: type[M]) -> Iterator[M]:
        with self._lock:
            rows = [raw for part in self.tables[self._table(model)].values() for raw in part.values()]
            return iter([self._load(model, raw) for raw in rows])

    # writes ---------------------------------------------------------------------------------
    @override
    def write(self, writes: list[Write]) -> None:
        if len(writes) > MAX_ITEMS:
            raise ValueError(f"a transaction holds at most {MAX_ITEMS} actions")
        with self._lock:
            self.requests += 1
            keys = [(self._table(w.item), str(w.item.pk), str(w.item.sk)) for w in writes]
            if len(set(keys)) != len(keys):
                raise ValueError("one transaction may not touch an item twice")
            current = [self.tables[t].get(pk, {}).get(sk) for t, pk, sk in keys]
            failed = [i for i, w in enumerate(writes) if not holds(w.condition, current[i])]
            if failed:
                raise ConditionsFailed(failed)
            for (table, pk, sk), w, before in zip(keys, writes, current, strict=True):
                self._order.pop((table, pk), None)
                if w.kind == "save":
                    self.tables[table][pk][sk] = copy.deepcopy(w.item.serialize())
                elif w.kind == "delete":
                    self.tables[table].get(pk, {}).pop(sk, None)
                elif w.kind == "update":
                    raw = copy.deepcopy(before) if before else {"pk": {"S": pk}, "sk": {"S": sk}}
                    for action in w.actions or []:
                        _apply(raw, action)
                    self.tables[table][pk][sk] = raw

    @override
    def create_many(self, items: list[TableItem]) -> int:
        created = 0
        with self._lock:
            self.requests += (len(items) + MAX_ITEMS - 1) // MAX_ITEMS
            for item in items:
                keyed: Any = item
                partition = self.tables[self._table(item)][str(keyed.pk)]
                self._order.pop((self._table(item), str(keyed.pk)), None)
                if str(keyed.sk) not in partition:
                    partition[str(keyed.sk)] = copy.deepcopy(item.serialize())
                    created += 1
        return created

    def clear(self) -> None:
        """Drop every item."""
        with self._lock:
            self.tables.clear()
            self._order.clear()
            self._index_view = None
