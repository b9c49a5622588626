"""The concurrent double-spend check, shared by the tests and the benchmark.

``threads`` workers each make ``attempts`` conditional spends of 1 (an update guarded by
``n >= 1`` plus a receipt that must not exist yet) against one balance. An emulator that is as
atomic as DynamoDB lets exactly ``balance`` of them succeed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError


def double_spend(client: Callable[[], Any], table: str = "double-spend", threads: int = 16,
                 balance: int = 50, attempts: int = 5) -> dict[str, Any]:
    """Run the check on a fresh table; ``client()`` makes one DynamoDB client per worker."""
    admin = client()
    admin.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                       KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                       AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    admin.put_item(TableName=table, Item={"pk": {"S": "acct"}, "n": {"N": str(balance)}})
    outcomes: list[str] = []

    def spend(worker: int) -> None:
        c = client()
        for j in range(attempts):
            try:
                c.transact_write_items(TransactItems=[
                    {"Update": {"TableName": table, "Key": {"pk": {"S": "acct"}}, "UpdateExpression": "SET n = n - :a",
                                "ConditionExpression": "n >= :a", "ExpressionAttributeValues": {":a": {"N": "1"}}}},
                    {"Put": {"TableName": table, "Item": {"pk": {"S": f"receipt-{worker}-{j}"}},
                             "ConditionExpression": "attribute_not_exists(pk)"}}])
                outcomes.append("ok")
            except ClientError as e:
                outcomes.append(e.response["Error"]["Code"])

    workers = [threading.Thread(target=spend, args=(w,)) for w in range(threads)]
    [w.start() for w in workers]
    [w.join() for w in workers]
    final = int(admin.get_item(TableName=table, Key={"pk": {"S": "acct"}})["Item"]["n"]["N"])
    receipts = admin.scan(TableName=table, Select="COUNT")["Count"] - 1
    admin.delete_table(TableName=table)
    return {"threads": threads, "attempts": threads * attempts, "starting_balance": balance,
            "successes": outcomes.count("ok"), "final_balance": final, "receipts": receipts,
            "other_outcomes": sorted(set(outcomes) - {"ok"})}
