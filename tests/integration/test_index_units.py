"""The emulator counts index writes by DynamoDB's rules (#24 item 9, Cost), on the main table as
the shared spec creates it: whatever projection the spec gives an index, the expected units are
worked out from that projection here."""

import math

from chalicelib.db import due
from chalicelib.db.tables import MAIN
from chalicelib.shared.config import settings
from devstack import emulator
from devstack.capacity import item_size

BLOB = "x" * 2500                     # 2.5 KB of a non-key attribute: three writes if projected


def _table() -> str:
    return MAIN.physical_name(settings())


def _entry(index_name: str, item: dict) -> dict:
    """What the spec's projection of ``index_name`` keeps of ``item``."""
    index = next(i for i in MAIN.indexes if i.name == index_name)
    if index.projection == "ALL":
        return item
    keys = {MAIN.hash_key, MAIN.range_key, index.hash_key, index.range_key,
            *getattr(index, "non_key_attributes", ())}
    return {k: v for k, v in item.items() if k in keys}


def _entry_units(index_name: str, item: dict) -> int:
    return math.ceil(item_size(_entry(index_name, item)) / 1024)


def _spent(aws, call, **kwargs):
    before = emulator.usage()
    getattr(aws, call)(TableName=_table(), **kwargs)
    return emulator.usage().minus(before)


def test_an_item_without_index_keys_costs_nothing_on_the_indexes(aws):
    used = _spent(aws, "put_item", Item={"pk": {"S": "P#1"}, "sk": {"S": "A"}, "blob": {"S": BLOB}})
    assert used.wcu == 3 and used.wcu_index == 0 and used.by_index == {}


def test_a_put_with_gsi1_keys_costs_a_write_per_kb_of_the_projected_item(aws):
    item = {"pk": {"S": "P#2"}, "sk": {"S": "A"}, "gsi1pk": {"S": "L#1"}, "gsi1sk": {"S": "2026"},
            "blob": {"S": BLOB}}
    used = _spent(aws, "put_item", Item=item)
    assert used.wcu == 3                                   # the base table, as before
    assert used.by_index == {"gsi1": _entry_units("gsi1", item)}
    assert used.wcu_index == _entry_units("gsi1", item)


def test_an_update_that_moves_the_index_key_costs_a_delete_and_a_put(aws):
    item = {"pk": {"S": "P#3"}, "sk": {"S": "A"}, "gsi1pk": {"S": "L#1"}, "gsi1sk": {"S": "a"}}
    aws.put_item(TableName=_table(), Item=item)
    used = _spent(aws, "update_item", Key={"pk": item["pk"], "sk": item["sk"]},
                  UpdateExpression="SET gsi1sk = :b", ExpressionAttributeValues={":b": {"S": "b"}})
    assert used.by_index == {"gsi1": 2}                    # small item: one unit out, one in


def test_an_index_entry_changes_only_when_something_projected_does(aws):
    item = {"pk": {"S": "P#4"}, "sk": {"S": "A"}, "gsi1pk": {"S": "L#1"}, "gsi1sk": {"S": "a"}, "n": {"N": "1"}}
    aws.put_item(TableName=_table(), Item=item)
    used = _spent(aws, "update_item", Key={"pk": item["pk"], "sk": item["sk"]},
                  UpdateExpression="SET n = :n", ExpressionAttributeValues={":n": {"N": "2"}})
    after = {**item, "n": {"N": "2"}}
    changed = _entry("gsi1", item) != _entry("gsi1", after)
    assert used.wcu_index == (_entry_units("gsi1", after) if changed else 0)
    used = _spent(aws, "delete_item", Key={"pk": item["pk"], "sk": item["sk"]})
    assert used.by_index == {"gsi1": 1}                    # the entry leaves the index


def test_a_transaction_counts_each_index_write_once(aws):
    put = {"pk": {"S": "P#5"}, "sk": {"S": "A"}, "duepk": {"S": "DUE#x#0"}, "duesk": {"S": "2026"}}
    used = _spent_transaction(aws, [{"Put": {"TableName": _table(), "Item": put}}])
    assert used.wcu == 2 and used.by_index == {due.INDEX: 1}   # the base write doubled, the index's not


def _spent_transaction(aws, items):
    before = emulator.usage()
    aws.transact_write_items(TransactItems=items)
    return emulator.usage().minus(before)

