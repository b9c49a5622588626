"""How the local stack reads the template's policies and judges a DynamoDB request as IAM does
(devstack/access.py; the enforcement itself is tested end to end in tests/e2e/test_iam_enforced.py)."""

from __future__ import annotations

from devstack import access

REFS = {"MainTable.Arn": "arn:aws-cn:dynamodb:cn-north-1:1:table/main",
        "EventsTable.Arn": "arn:aws-cn:dynamodb:cn-north-1:1:table/events",
        "EventsTable.StreamArn": "arn:aws-cn:dynamodb:cn-north-1:1:table/events/stream/x",
        "ReportsBucket.Arn": "arn:aws-cn:s3:::reports",
        "EventsDeadLetterQueue.Arn": "arn:aws-cn:sqs:cn-north-1:1:dlq",
        "JobsQueue.Arn": "arn:aws-cn:sqs:cn-north-1:1:jobs",
        "WebhooksQueue.Arn": "arn:aws-cn:sqs:cn-north-1:1:webhooks",
        "WebhooksDeadLetterQueue.Arn": "arn:aws-cn:sqs:cn-north-1:1:webhooks-dlq"}
PSEUDO = {"AWS::Partition": "aws-cn", "AWS::Region": "cn-north-1", "AWS::AccountId": "1",
          "AWS::StackName": "loyalty-local"}


def test_the_templates_references_resolve_to_the_emulators_arns():
    policies = access.policies("local", REFS, PSEUDO)
    assert set(policies) == {"api", "stream", "jobs", "webhooks"}
    flat = str(policies)
    assert "Fn::" not in flat and "${" not in flat
    resources = [r for s in policies["jobs"]["Statement"] for r in (s["Resource"] if isinstance(s["Resource"], list)
                                                                     else [s["Resource"]])]
    assert {"arn:aws-cn:dynamodb:cn-north-1:1:table/main/index/*", "arn:aws-cn:s3:::reports/*",
            "arn:aws-cn:s3:::reports"} <= set(resources)
    assert "arn:aws-cn:logs:cn-north-1:1:log-group:/aws/lambda/loyalty-local-*" in resources


def test_a_request_needs_what_iam_checks_on_aws():
    def arn(name: str) -> str:
        return "arn:t/" + name
    assert access.dynamodb_needs("Query", {"TableName": "main", "IndexName": "gsi1"}, arn) == \
        [("dynamodb:Query", "arn:t/main/index/gsi1")]
    assert access.dynamodb_needs("TransactWriteItems", {"TransactItems": [
        {"Put": {"TableName": "main"}}, {"Update": {"TableName": "main"}},
        {"ConditionCheck": {"TableName": "events"}}, {"Delete": {"TableName": "events"}}]}, arn) == [
        ("dynamodb:PutItem", "arn:t/main"), ("dynamodb:UpdateItem", "arn:t/main"),
        ("dynamodb:ConditionCheckItem", "arn:t/events"), ("dynamodb:DeleteItem", "arn:t/events")]
    assert access.dynamodb_needs("BatchWriteItem", {"RequestItems": {"main": []}}, arn) == \
        [("dynamodb:BatchWriteItem", "arn:t/main")]
    assert access.dynamodb_needs("ListTables", {}, arn) == [("dynamodb:ListTables", "*")]
    assert access.streams_needs("GetRecords", {"ShardIterator": "arn:s/stream/x|1|abc"}) == \
        [("dynamodb:GetRecords", "arn:s/stream/x")]
    # SQS: a batch action needs its single action's permission (IAM has no sqs:SendMessageBatch)
    assert [access.sqs_action(a) for a in ("SendMessageBatch", "DeleteMessageBatch", "ChangeMessageVisibilityBatch",
                                           "ReceiveMessage")] == \
        ["sqs:SendMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:ReceiveMessage"]


def test_outside_enforcement_every_kind_signs_as_the_operator():
    with access.acting_as("api"):
        assert access.FunctionCredentials().get_frozen_credentials().access_key == access.OPERATOR_KEY[0]
