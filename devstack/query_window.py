"""A page of a big index partition without walking the partition (patch 4 of :mod:`devstack.emulator`).

moto answers every ``Query`` page by sorting the whole partition it reads and walking it from the
start, past the previous pages (``ExclusiveStartKey``) and past the items a range condition
rejects. Over an index partition of 60,000 items (a day of 1,000,000 postings over 16 shards, the
export benchmark) each page of 500 items costs about a second, so reading the day takes an hour.

Here an index partition of :data:`BIG` items or more keeps its items sorted in moto's order (index
hash, index range, table hash, table range) until a write touches it, and a forward query gets
only the items from the first that can follow (after the start key, at or above the range
condition's lower bound) up to one past its ``Limit``: the items moto would have walked past are
the ones it would have skipped, and the one past the limit lets it say where the page ends, so
moto's own loop answers exactly as it does over the whole partition
(``tests/integration/test_emulator.py`` compares the two on random pages).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Any

from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

BIG = 2_000     # index partitions at least this big are windowed (smaller ones are cheap to walk)

# (table, index, index hash value) -> (the items' sort tuples, the items), in moto's order
_SORTED: dict[tuple[str, str, Any], tuple[list[tuple], list]] = {}

# range conditions whose matches are one run of the partition's order, and whether their first
# operand is a lower bound (inclusive or not); the others (``<``, ``<=``) start at the start
_LOWER = {">": bisect_right, "GT": bisect_right, ">=": bisect_left, "GE": bisect_left,
          "=": bisect_left, "EQ": bisect_left, "BETWEEN": bisect_left, "BEGINS_WITH": bisect_left}
_FROM_START = {None, "<", "LT", "<=", "LE"}


def _attrs(table: Table, index_name: str) -> tuple[list[str], str | None]:
    """moto's sort attributes of a query on the index, and the index's range attribute."""
    index = table.get_index(index_name)
    hashes: list[str] = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
    ranges: list[str | None] = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]
    if len(hashes) != 1 or len(ranges) != 1 or table.hash_key_attr is None:
        return [], None
    return table._generate_attr_to_sort_by([*hashes, table.hash_key_attr], [*ranges, table.range_key_attr]), ranges[0]


def _sorted(table: Table, index_name: str, hash_value: Any, items: list, attrs: list[str]) -> tuple[list[tuple], list]:
    cached = _SORTED.get((table.name, index_name, hash_value))
    if cached is None:
        kept = [item for item in items if all(attr in item.attrs for attr in attrs)]
        kept.sort(key=lambda item: tuple(item.attrs[attr] for attr in attrs))
        cached = ([tuple(item.attrs[attr] for attr in attrs) for item in kept], kept)
        _SORTED[(table.name, index_name, hash_value)] = cached
    return cached


def window(table: Table, index_name: str, hash_value: Any, items: list, query: tuple) -> list | None:
    """The items of the partition a forward page can reach, or None to let moto walk them all.

    ``query`` is moto's ``Table.query`` arguments after the hash key: range comparison, range
    values, limit, exclusive start key, scan forward."""
    comparison, values, limit, start, forward = query[:5]
    if forward is False or not limit or (comparison not in _LOWER and comparison not in _FROM_START):
        return None
    attrs, range_attr = _attrs(table, index_name)
    if range_attr is None:
        return None
    keys, ordered = _sorted(table, index_name, hash_value, items, attrs)
    first = 0
    if comparison in _LOWER:
        first = _LOWER[comparison](ordered, values[0], key=lambda item: item.attrs[range_attr])
    if start is not None:
        if any(attr not in start for attr in attrs):
            return None
        first = max(first, bisect_right(keys, tuple(DynamoType(start[attr]) for attr in attrs)))
    return ordered[first:first + limit + 1]


def forget(table_name: str, index_name: str, hash_value: Any) -> None:
    """A write touched this partition: its order is read again on the next query."""
    _SORTED.pop((table_name, index_name, hash_value), None)


def forget_table(table_name: str | None) -> None:
    """Items were written around the requests (bulk fills): every partition is read again."""
    if table_name is None:
        _SORTED.clear()
    else:
        for key in [key for key in _SORTED if key[0] == table_name]:
            del _SORTED[key]
