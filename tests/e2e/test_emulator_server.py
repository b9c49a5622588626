"""The emulator as a server: concurrent conditional transactions over HTTP never double-spend."""

import threading

from botocore.exceptions import ClientError


def test_sixteen_threads_spend_exactly_the_balance(stack):
    client = stack.client("dynamodb")
    client.create_table(TableName="e2e-double-spend", BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    client.put_item(TableName="e2e-double-spend", Item={"pk": {"S": "acct"}, "n": {"N": "50"}})
    outcomes = []

    def spend(t):
        c = stack.client("dynamodb")
        for j in range(5):
            try:
                c.transact_write_items(TransactItems=[
                    {"Update": {"TableName": "e2e-double-spend", "Key": {"pk": {"S": "acct"}},
                                "UpdateExpression": "SET n = n - :a", "ConditionExpression": "n >= :a",
                                "ExpressionAttributeValues": {":a": {"N": "1"}}}},
                    {"Put": {"TableName": "e2e-double-spend", "Item": {"pk": {"S": f"receipt-{t}-{j}"}},
                             "ConditionExpression": "attribute_not_exists(pk)"}}])
                outcomes.append("ok")
            except ClientError as e:
                outcomes.append(e.response["Error"]["Code"])

    threads = [threading.Thread(target=spend, args=(t,)) for t in range(16)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert outcomes.count("ok") == 50
    assert set(outcomes) == {"ok", "TransactionCanceledException"}        # no 500s
    item = client.get_item(TableName="e2e-double-spend", Key={"pk": {"S": "acct"}})["Item"]
    assert item["n"]["N"] == "0"
    receipts = client.scan(TableName="e2e-double-spend", Select="COUNT")["Count"] - 1
    assert receipts == 50
