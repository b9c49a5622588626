"""The emulator patches: transactions atomic, cheap in table size, and serialised."""

import copy
import types

import boto3
import pytest
from botocore.exceptions import ClientError

from devstack import emulator
from devstack.checks import double_spend


def _table(client, name="t", stream=False):
    kwargs = dict(TableName=name, BillingMode="PAY_PER_REQUEST",
                  KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                  AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    if stream:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    client.create_table(**kwargs)


def _spend(key="acct", amount=1):
    return {"Update": {"TableName": "t", "Key": {"pk": {"S": key}}, "UpdateExpression": "SET n = n - :a",
                       "ConditionExpression": "n >= :a", "ExpressionAttributeValues": {":a": {"N": str(amount)}}}}


def _put_new(key):
    return {"Put": {"TableName": "t", "Item": {"pk": {"S": key}}, "ConditionExpression": "attribute_not_exists(pk)"}}


def _n(client, key="acct"):
    return int(client.get_item(TableName="t", Key={"pk": {"S": key}})["Item"]["n"]["N"])


def test_a_failed_condition_writes_nothing_and_names_the_item(aws):
    _table(aws)
    aws.put_item(TableName="t", Item={"pk": {"S": "acct"}, "n": {"N": "5"}})
    aws.put_item(TableName="t", Item={"pk": {"S": "taken"}})
    with pytest.raises(ClientError) as error:
        aws.transact_write_items(TransactItems=[_spend(), _put_new("fresh"), _put_new("taken")])
    reasons = [r["Code"] for r in error.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "ConditionalCheckFailed"]
    assert _n(aws) == 5
    assert "Item" not in aws.get_item(TableName="t", Key={"pk": {"S": "fresh"}})


def test_an_error_while_applying_rolls_back_earlier_items_and_their_stream_records(aws):
    _table(aws, stream=True)
    aws.put_item(TableName="t", Item={"pk": {"S": "acct"}, "n": {"N": "5"}, "s": {"S": "text"}})
    backend_table = emulator.dynamodb_backends["123456789012"]["cn-north-1"].get_table("t")
    records_before = len(backend_table.stream_shard.items)
    bad_update = {"Update": {"TableName": "t", "Key": {"pk": {"S": "acct"}}, "UpdateExpression": "SET n = s + :a",
                             "ExpressionAttributeValues": {":a": {"N": "1"}}}}
    with pytest.raises(ClientError):
        aws.transact_write_items(TransactItems=[_put_new("fresh"), bad_update])
    assert "Item" not in aws.get_item(TableName="t", Key={"pk": {"S": "fresh"}})
    assert _n(aws) == 5
    assert len(backend_table.stream_shard.items) == records_before


def test_a_transaction_copies_only_the_items_it_touches(aws, monkeypatch):
    """The fix for moto's O(table size) rollback copy: cost must not depend on table size."""
    _table(aws)
    for i in range(300):
        aws.put_item(TableName="t", Item={"pk": {"S": f"filler{i}"}, "n": {"N": "1"}})
    aws.put_item(TableName="t", Item={"pk": {"S": "acct"}, "n": {"N": "5"}})
    copied = []
    counting = types.SimpleNamespace(deepcopy=lambda x: copied.append(type(x).__name__) or copy.deepcopy(x))
    monkeypatch.setattr(emulator, "copy", counting)
    aws.transact_write_items(TransactItems=[_spend(), _put_new("new1")])
    assert copied == ["Item", "NoneType"]      # the updated item and the (absent) new one


def test_concurrent_conditional_transactions_never_overdraw(aws):
    result = double_spend(lambda: boto3.client("dynamodb"))
    assert result["successes"] == 50
    assert set(result["other_outcomes"]) <= {"TransactionCanceledException"}
    assert result["final_balance"] == 0


def test_requests_are_metered(aws):
    _table(aws)
    before = emulator.usage()
    aws.put_item(TableName="t", Item={"pk": {"S": "a"}, "blob": {"S": "x" * 3000}})
    aws.get_item(TableName="t", Key={"pk": {"S": "a"}})
    aws.get_item(TableName="t", Key={"pk": {"S": "a"}}, ConsistentRead=True)
    d = emulator.usage().minus(before)
    assert d.by_operation["PutItem"] == [1, 0.0, 3.0]
    assert d.by_operation["GetItem"] == [2, 1.5, 0.0]
    before = emulator.usage()                 # a batch's missing keys are read too, as DynamoDB bills them
    aws.batch_get_item(RequestItems={"t": {"Keys": [{"pk": {"S": k}} for k in ("a", "gone", "none")]}})
    aws.batch_get_item(RequestItems={"t": {"Keys": [{"pk": {"S": "gone"}}], "ConsistentRead": True}})
    assert emulator.usage().minus(before).by_operation["BatchGetItem"] == [2, 0.5 + 0.5 + 0.5 + 1.0, 0.0]


def test_a_query_reads_only_its_partition_and_answers_as_before(aws, monkeypatch):
    aws.create_table(TableName="q", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "S"}])
    for p in range(50):
        for s in range(5):
            aws.put_item(TableName="q", Item={"pk": {"S": f"p{p}"}, "sk": {"S": f"s{s}"}, "n": {"N": str(s)}})
    walked = []
    real = emulator._MOTO_ALL_ITEMS
    monkeypatch.setattr(emulator, "_MOTO_ALL_ITEMS", lambda table: walked.append(table.name) or real(table))
    r = aws.query(TableName="q", KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
                  ExpressionAttributeValues={":p": {"S": "p7"}, ":a": {"S": "s1"}, ":b": {"S": "s3"}},
                  ScanIndexForward=False, Limit=2)
    assert [i["sk"]["S"] for i in r["Items"]] == ["s3", "s2"] and "LastEvaluatedKey" in r
    nxt = aws.query(TableName="q", KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
                    ExpressionAttributeValues={":p": {"S": "p7"}, ":a": {"S": "s1"}, ":b": {"S": "s3"}},
                    ScanIndexForward=False, Limit=2, ExclusiveStartKey=r["LastEvaluatedKey"])
    assert [i["sk"]["S"] for i in nxt["Items"]] == ["s1"]
    assert aws.query(TableName="q", KeyConditionExpression="pk = :p",
                     ExpressionAttributeValues={":p": {"S": "nobody"}})["Items"] == []
    assert walked == []                                  # no whole-table walk for a base-table query
    assert aws.scan(TableName="q", Select="COUNT")["Count"] == 250
    assert walked == ["q"]                               # a scan still sees everything


def test_gsi_queries_read_the_index_map_and_it_stays_exact(aws, monkeypatch):
    aws.create_table(TableName="g", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "dp", "ds")],
                     GlobalSecondaryIndexes=[{"IndexName": "due", "Projection": {"ProjectionType": "ALL"},
                                              "KeySchema": [{"AttributeName": "dp", "KeyType": "HASH"},
                                                            {"AttributeName": "ds", "KeyType": "RANGE"}]}])

    def put(pk, dp=None, ds="2026-01-01"):
        item = {"pk": {"S": pk}, "sk": {"S": "x"}}
        if dp:
            item.update(dp={"S": dp}, ds={"S": ds + "#" + pk})
        aws.put_item(TableName="g", Item=item)

    def due(dp):
        r = aws.query(TableName="g", IndexName="due", KeyConditionExpression="dp = :d AND ds < :t",
                      ExpressionAttributeValues={":d": {"S": dp}, ":t": {"S": "2026-06-01"}})
        return sorted(i["pk"]["S"] for i in r["Items"])

    for i in range(40):
        put(f"m{i}", "DUE#0" if i % 4 == 0 else None)
    assert due("DUE#0") == sorted(f"m{i}" for i in range(0, 40, 4))
    walked = []
    real = emulator._MOTO_ALL_ITEMS
    monkeypatch.setattr(emulator, "_MOTO_ALL_ITEMS", lambda table: walked.append(table.name) or real(table))
    put("m1", "DUE#0")                                               # joins the index
    aws.update_item(TableName="g", Key={"pk": {"S": "m0"}, "sk": {"S": "x"}}, UpdateExpression="REMOVE dp, ds")
    aws.update_item(TableName="g", Key={"pk": {"S": "m4"}, "sk": {"S": "x"}}, UpdateExpression="SET dp = :d",
                    ExpressionAttributeValues={":d": {"S": "DUE#1"}})    # moves to another shard
    aws.delete_item(TableName="g", Key={"pk": {"S": "m8"}, "sk": {"S": "x"}})
    aws.transact_write_items(TransactItems=[{"Put": {"TableName": "g", "Item": {
        "pk": {"S": "m99"}, "sk": {"S": "x"}, "dp": {"S": "DUE#0"}, "ds": {"S": "2026-02-02#m99"}}}}])
    assert due("DUE#0") == sorted(["m1", "m12", "m16", "m20", "m24", "m28", "m32", "m36", "m99"])
    assert due("DUE#1") == ["m4"]
    assert walked == []                                              # the maps were kept, not rebuilt


def test_a_big_index_partition_answers_each_page_as_moto_walking_it_all(aws, monkeypatch):
    """The windowed page (``devstack/query_window``) against moto's walk of the whole partition:
    every page of random forward queries (range conditions, limits, filters, start keys), with
    ties on the index's sort key and writes between pages."""
    import random

    from devstack import query_window
    aws.create_table(TableName="w", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "dp", "ds")],
                     GlobalSecondaryIndexes=[{"IndexName": "day", "Projection": {"ProjectionType": "ALL"},
                                              "KeySchema": [{"AttributeName": "dp", "KeyType": "HASH"},
                                                            {"AttributeName": "ds", "KeyType": "RANGE"}]}])
    rng = random.Random(7)

    def put(i):
        aws.put_item(TableName="w", Item={"pk": {"S": f"m{i % 37}"}, "sk": {"S": f"p{i:05d}"}, "dp": {"S": "DAY"},
                                          "ds": {"S": f"t{rng.randrange(400):04d}"}, "n": {"N": str(i % 5)}})

    for i in range(300):
        put(i)
    conditions = [("ds > :a", {":a": "t0100"}), ("ds >= :a", {":a": "t0100"}), ("ds < :a", {":a": "t0300"}),
                  ("ds <= :a", {":a": "t0300"}), ("ds = :a", {":a": "t0042"}), ("ds BETWEEN :a AND :b", {":a": "t0050", ":b": "t0250"}),
                  ("begins_with(ds, :a)", {":a": "t01"}), (None, {})]

    def pages(condition, values, limit, filtered):
        kwargs = {"TableName": "w", "IndexName": "day", "Limit": limit,
                  "KeyConditionExpression": "dp = :d" + (f" AND {condition}" if condition else ""),
                  "ExpressionAttributeValues": {":d": {"S": "DAY"}, **{k: {"S": v} for k, v in values.items()}}}
        if filtered:
            kwargs.update(FilterExpression="n <> :z", ExpressionAttributeValues={**kwargs["ExpressionAttributeValues"], ":z": {"N": "0"}})
        got = []
        while True:
            r = aws.query(**kwargs)
            got.append(([(i["pk"]["S"], i["sk"]["S"]) for i in r["Items"]], r.get("LastEvaluatedKey")))
            if "LastEvaluatedKey" not in r:
                return got
            kwargs["ExclusiveStartKey"] = r["LastEvaluatedKey"]

    used = 0
    for round_ in range(12):
        condition, values = rng.choice(conditions)
        limit, filtered = rng.choice([1, 7, 50, 500]), rng.random() < 0.3
        monkeypatch.setattr(query_window, "BIG", 10**9)
        walked = pages(condition, values, limit, filtered)
        monkeypatch.setattr(query_window, "BIG", 100)
        windowed = pages(condition, values, limit, filtered)
        assert windowed == walked, (condition, limit, filtered)
        used += bool(query_window._SORTED)
        assert sum(len(items) for items, _ in walked) > 0 or condition == "ds = :a"
        put(1000 + round_)                                  # a write between rounds: the order is read again
    assert used == 12                                       # the window was used every round


def test_item_reads_answer_the_same_json_as_motos_serializer(aws, monkeypatch):
    """Patch 8: every attribute type and reply shape of the item reads, compared with moto's own
    serializer on each reply (``DEVSTACK_COMPARE_REPLIES``) and read back by botocore."""
    from devstack import item_replies
    monkeypatch.setenv("DEVSTACK_COMPARE_REPLIES", "1")
    _table(aws, "r")
    item = {"pk": {"S": "a"}, "b": {"B": b"\x00\xff"}, "n": {"N": "1.50"}, "e": {"S": ""},
            "l": {"L": [{"S": "x"}, {"NULL": True}, {"BOOL": False}, {"N": "-3"}]},
            "m": {"M": {"bs": {"BS": [b"a", b"b"]}, "ns": {"NS": ["1", "2"]}, "ss": {"SS": ["p", "的"]}}}}
    aws.put_item(TableName="r", Item=item)
    aws.put_item(TableName="r", Item={"pk": {"S": "b"}})
    calls = []
    real = item_replies._plain
    monkeypatch.setattr(item_replies, "_plain", lambda handler, result: calls.append(1) or real(handler, result))
    assert aws.get_item(TableName="r", Key={"pk": {"S": "a"}})["Item"] == item
    assert "Item" not in aws.get_item(TableName="r", Key={"pk": {"S": "zz"}})
    got = aws.query(TableName="r", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "a"}},
                    ReturnConsumedCapacity="TOTAL", ProjectionExpression="pk, b, m")
    sets = {"bs": lambda v: sorted(v["BS"]), "ss": lambda v: sorted(v["SS"]), "ns": lambda v: v}
    [m] = [i["m"]["M"] for i in got["Items"]]                # sets come back in any order, as on DynamoDB
    assert {k: sets[k](v) for k, v in m.items()} == {k: sets[k](v) for k, v in item["m"]["M"].items()}
    assert [{k: v for k, v in i.items() if k != "m"} for i in got["Items"]] == [{"pk": item["pk"], "b": item["b"]}] and got["ConsumedCapacity"]["TableName"] == "r"
    assert aws.scan(TableName="r", Limit=1)["LastEvaluatedKey"]
    assert aws.scan(TableName="r", Select="COUNT")["Count"] == 2
    batch = aws.batch_get_item(RequestItems={"r": {"Keys": [{"pk": {"S": "a"}}, {"pk": {"S": "b"}}]}},
                               ReturnConsumedCapacity="INDEXES")
    assert sorted(i["pk"]["S"] for i in batch["Responses"]["r"]) == ["a", "b"] and batch["UnprocessedKeys"] == {}
    assert len(calls) == 6                                  # each read took the plain path
    with pytest.raises(ClientError):                        # errors keep moto's serializer
        aws.get_item(TableName="nope", Key={"pk": {"S": "a"}})


def test_sqs_answers_queue_attributes_while_other_threads_receive_and_delete(aws):
    """Patch 6: moto listed a queue's pending message groups by iterating the in-flight set while
    other requests changed it (``Set changed size during iteration``, a 500 under the webhooks
    poller's threads)."""
    import threading
    sqs = boto3.client("sqs", region_name="cn-north-1")
    url = sqs.create_queue(QueueName="race")["QueueUrl"]
    errors: list[Exception] = []
    stop = threading.Event()

    def churn() -> None:
        while not stop.is_set():
            try:
                sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(10)])
                got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
                for m in got[:5]:                   # half come straight back (visibility 0): pending churns
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            except ClientError as error:
                if error.response["Error"]["Code"] != "ReceiptHandleIsInvalid":   # another took it back: SQS's way
                    errors.append(error)
            except Exception as error:  # noqa: BLE001 - collected for the assertion
                errors.append(error)

    def ask() -> None:
        while not stop.is_set():
            try:
                sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
            except Exception as error:  # noqa: BLE001
                errors.append(error)

    threads = [threading.Thread(target=churn) for _ in range(8)] + [threading.Thread(target=ask) for _ in range(2)]
    for t in threads:
        t.start()
    stop.wait(2.0)
    stop.set()
    for t in threads:
        t.join()
    assert errors == []


def test_the_server_finds_a_hosts_backend_once():
    # patch 7: moto matched every request's host against every service's URL patterns, under one lock
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    emulator.install()
    app = DomainDispatcherApplication(create_backend_app)
    assert app.get_backend_for_host("dynamodb.cn-north-1.amazonaws.com") == "dynamodb"
    assert app.get_backend_for_host("sqs.cn-north-1.amazonaws.com") == "sqs"
    app.backend_url_patterns = []                    # were they matched again, nothing would be found
    assert app.get_backend_for_host("dynamodb.cn-north-1.amazonaws.com") == "dynamodb"
    assert app.get_backend_for_host(None) is None
