"""Write units a DynamoDB write spends on the table's global secondary indexes.

DynamoDB bills every index write on top of the base table's
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.Writes): a write
whose item has an index's key attributes before or after costs writes on that index, per 1 KB of
the index entry (the item's projected attributes: table keys, index keys, and all or the listed
non-key attributes). Per index:

* the item is in the index neither before nor after: nothing;
* it enters the index (a new item with the keys, or the keys set by an update): one put;
* it leaves the index (deleted, or a key attribute removed): one delete, of the old entry;
* the index key changes (A to B): a delete of the old entry and a put of the new one;
* the key stays and a projected attribute changes: one put; nothing projected changes: nothing.

The emulator meters the base table by :mod:`devstack.capacity` and these on their own
(``Usage.wcu_index``), so a benchmark shows both. The index writes of a transaction are counted as
standard writes: DynamoDB propagates them to the index after the transaction, outside it. The
projection is the table's own, as :mod:`chalicelib.db.tables` created it (moto keeps the spec's
``Projection``), so narrowing an index's projection there shows here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from devstack.capacity import item_size, write_units

Item = dict[str, Any]          # an item in wire form: {"pk": {"S": "..."}, ...}


@dataclass(frozen=True)
class IndexShape:
    """What of an item one index holds: its key attributes, the table's, and its projection."""

    name: str
    keys: tuple[str, ...]               # the index's hash (and range) key attribute names
    table_keys: tuple[str, ...]
    projection: str = "ALL"             # ALL, KEYS_ONLY or INCLUDE
    non_key: tuple[str, ...] = ()       # INCLUDE's NonKeyAttributes

    def entry(self, item: Item | None) -> Item | None:
        """The item's entry in this index, or None when the item is not in it (sparse index)."""
        if not item or any(k not in item for k in self.keys):
            return None
        if self.projection == "ALL":
            return item
        kept = set(self.keys) | set(self.table_keys)
        if self.projection == "INCLUDE":
            kept |= set(self.non_key)
        return {name: value for name, value in item.items() if name in kept}


def entry_units(shape: IndexShape, old: Item | None, new: Item | None) -> float:
    """Write units one write (``old`` item to ``new``, either absent) costs on one index."""
    before, after = shape.entry(old), shape.entry(new)
    if before is None and after is None:
        return 0.0
    if before is None:
        return write_units(item_size(after))
    if after is None:
        return write_units(item_size(before))
    if any(before[k] != after[k] for k in shape.keys):
        return write_units(item_size(before)) + write_units(item_size(after))
    return 0.0 if before == after else write_units(item_size(after))


def shapes_of(table: Any) -> tuple[IndexShape, ...]:
    """The global secondary indexes of a moto table, as created from the table spec."""
    table_keys = tuple(k for k in (table.hash_key_attr, table.range_key_attr) if k)
    return tuple(IndexShape(index.name, tuple(k["AttributeName"] for k in index.schema), table_keys,
                            (index.projection or {}).get("ProjectionType", "ALL"),
                            tuple((index.projection or {}).get("NonKeyAttributes", ())))
                 for index in getattr(table, "global_indexes", None) or ())


def items_of(backend: Any, targets: list[tuple]) -> list[Item | None]:
    """The current wire form of each written item (``(table, key, ...)`` targets), None if absent."""
    found: list[Item | None] = []
    for name, key, *_ in targets:
        try:
            item = backend.get_item(name, key) if backend.get_table(name).global_indexes else None
        except Exception:
            item = None
        found.append(item.to_json()["Attributes"] if item else None)
    return found


def index_units(backend: Any, targets: list[tuple], before: list[Item | None]) -> dict[str, float]:
    """Write units per index of the writes to ``targets``, whose items were ``before``."""
    spent: dict[str, float] = {}
    for (name, _key, *_), old, new in zip(targets, before, items_of(backend, targets), strict=True):
        for shape in shapes_of(backend.get_table(name)):
            units = entry_units(shape, old, new)
            if units:
                spent[shape.name] = spent.get(shape.name, 0.0) + units
    return spent
