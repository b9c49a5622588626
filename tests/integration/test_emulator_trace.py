"""The emulator's opt-in trace (``emulator.trace``, read by ``python -m bench.earn_items``): one
entry per item written, with its size and the units the meter counts for it."""

from devstack import emulator
from devstack.capacity import item_size


def test_each_written_item_is_traced_with_the_units_the_meter_counts(aws):
    aws.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    big = {"pk": {"S": "b"}, "blob": {"S": "x" * 1500}}
    emulator.trace(True)
    before = emulator.usage()
    aws.transact_write_items(TransactItems=[{"Put": {"TableName": "t", "Item": {"pk": {"S": "a"}}}},
                                            {"Put": {"TableName": "t", "Item": big}}])
    aws.put_item(TableName="t", Item={"pk": {"S": "c"}})
    aws.get_item(TableName="t", Key={"pk": {"S": "a"}})                 # a read: nothing traced
    used = emulator.usage().minus(before)
    entries = emulator.trace(False)
    assert [(e["action"], e["key"], e["wcu"]) for e in entries] == [
        ("TransactWriteItems", {"pk": "a"}, 2.0), ("TransactWriteItems", {"pk": "b"}, 4.0), ("PutItem", {"pk": "c"}, 1.0)]
    assert entries[1]["size"] == item_size(big) and not entries[1]["deleted"]
    assert sum(e["wcu"] for e in entries) == used.wcu
    aws.put_item(TableName="t", Item={"pk": {"S": "d"}})
    assert emulator.trace(False) == []                                 # off: nothing recorded
