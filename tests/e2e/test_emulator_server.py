"""The emulator as a server: concurrent conditional transactions over HTTP never double-spend, and
a transaction's ClientRequestToken is honoured as DynamoDB does (#24 item 1)."""

from uuid import uuid4

import pytest
from botocore.exceptions import ClientError

from devstack.checks import double_spend


def test_sixteen_threads_spend_exactly_the_balance(stack):
    result = double_spend(lambda: stack.client("dynamodb"), "e2e-double-spend")
    assert result["successes"] == 50
    assert result["other_outcomes"] == ["TransactionCanceledException"]        # no 500s
    assert result["final_balance"] == 0
    assert result["receipts"] == 50


def test_a_transaction_sent_again_with_its_token_applies_once(stack):
    client, table, token = stack.client("dynamodb"), "e2e-request-tokens", uuid4().hex
    client.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])

    def add(key: str) -> list[dict]:
        return [{"Update": {"TableName": table, "Key": {"pk": {"S": key}}, "UpdateExpression": "ADD n :one",
                            "ExpressionAttributeValues": {":one": {"N": "1"}}}},
                {"Put": {"TableName": table, "Item": {"pk": {"S": f"receipt-{key}"}},
                         "ConditionExpression": "attribute_not_exists(pk)"}}]
    for _ in range(2):                   # the second: botocore's resend of an answer lost, the same token
        client.transact_write_items(TransactItems=add("a"), ClientRequestToken=token)
    assert client.get_item(TableName=table, Key={"pk": {"S": "a"}})["Item"]["n"] == {"N": "1"}
    with pytest.raises(ClientError) as refused:
        client.transact_write_items(TransactItems=add("b"), ClientRequestToken=token)
    assert refused.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    assert "Item" not in client.get_item(TableName=table, Key={"pk": {"S": "b"}})
