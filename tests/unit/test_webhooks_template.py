"""The webhooks queue in the deployable template (issue #25 item 4): its queue and dead-letter
queue, deliver-webhooks' role, settings and event source mapping, the queue's URL everywhere, the
alarm (infra/build.py, infra/iam.py, infra/alarms.py; the packaged whole: tests/integration/test_infra.py)."""

from __future__ import annotations

import json
import os

import pytest

from chalicelib.webhooks.domain import MAX_ATTEMPTS
from infra import build

QUEUE = {"Fn::GetAtt": ["WebhooksQueue", "Arn"]}


@pytest.fixture(scope="module")
def template() -> dict:
    # the stage the app was imported for (its stream placeholder names that stage's events table)
    return build.merge_template(os.environ["STAGE"])


def statements(t: dict, role: str) -> list[dict]:
    return t["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]


def on(statement: dict) -> list:
    """A statement's resources, as a list."""
    found = statement["Resource"]
    return found if isinstance(found, list) else [found]


def test_the_queue_dead_letters_a_message_after_the_last_attempt_and_outlives_the_retries(template):
    t = template["Resources"]
    queue, dlq = t["WebhooksQueue"]["Properties"], t["WebhooksDeadLetterQueue"]["Properties"]
    assert t["WebhooksQueue"]["Type"] == t["WebhooksDeadLetterQueue"]["Type"] == "AWS::SQS::Queue"
    # the record's attempts decide (deliver-webhooks dead-letters an exhausted delivery's message
    # itself); the queue's receives are a backstop well past them
    assert queue["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": ["WebhooksDeadLetterQueue", "Arn"]},
                                      "maxReceiveCount": 3 * MAX_ATTEMPTS} and MAX_ATTEMPTS == 10
    props = t["DeliverWebhooks"]["Properties"]
    assert props["Environment"]["Variables"]["WEBHOOKS_DLQ_URL"] == {"Ref": "WebhooksDeadLetterQueue"}
    sends = [s for s in statements(template, "WebhooksRole") if s["Action"] in ("sqs:SendMessage", ["sqs:SendMessage"])]
    assert [on(s) for s in sends] == [[{"Fn::GetAtt": ["WebhooksDeadLetterQueue", "Arn"]}]]
    assert queue["SqsManagedSseEnabled"] is dlq["SqsManagedSseEnabled"] is True
    assert dlq["MessageRetentionPeriod"] == 14 * 86400
    assert queue["VisibilityTimeout"] == 6 * t["DeliverWebhooks"]["Properties"]["Timeout"] == 360
    assert queue["MessageRetentionPeriod"] > 28 * 3600                 # the retry schedule's ~27.6 hours
    assert template["Outputs"]["WebhooksQueueUrl"] == {"Value": {"Ref": "WebhooksQueue"}}
    alarm = t["WebhooksDeadLetterQueueAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["WebhooksDeadLetterQueue",
                                                                                 "QueueName"]}}]


def test_deliver_webhooks_consumes_the_webhooks_queue_reporting_failures_with_bounded_concurrency(template):
    t = template["Resources"]
    props = t["DeliverWebhooks"]["Properties"]
    [(name, source)] = props["Events"].items()
    assert name == "DeliverWebhooksSqsEventSource"
    assert source["Properties"]["Queue"] == QUEUE
    assert source["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert source["Properties"]["ScalingConfig"] == {"MaximumConcurrency": build.WEBHOOKS_CONCURRENCY}
    assert props["ReservedConcurrentExecutions"] == build.WEBHOOKS_CONCURRENCY == 20
    assert (props["Timeout"], props["MemorySize"]) == (60, 512)
    assert props["Role"] == {"Fn::GetAtt": ["WebhooksRole", "Arn"]}
    assert "DeliverWebhooksIteratorAgeAlarm" not in t and "DeliverWebhooksThrottlesAlarm" in t
    # it reads the stage's secret as the API does (the key of the signing secrets derives from it)
    env = props["Environment"]["Variables"]
    api = t["APIHandler"]["Properties"]
    for variable in ("SECRETS_NAME", "REQUIRE_SECRETS", "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"):
        assert env[variable] == api["Environment"]["Variables"][variable]
    assert props["Layers"] == api["Layers"]
    # the jobs keep their queue: continue-job is not wired to the webhooks queue, nor the reverse
    [jobs] = t["ContinueJob"]["Properties"]["Events"].values()
    assert jobs["Properties"] == {"Queue": {"Fn::GetAtt": ["JobsQueue", "Arn"]}}
    assert "JobsQueue" not in json.dumps(props["Events"])


def test_every_function_knows_the_webhooks_queue(template):
    functions = {k: v for k, v in template["Resources"].items() if "Environment" in v.get("Properties", {})}
    assert {"APIHandler", "DispatchDomainEvents", "DeliverWebhooks", "ContinueJob"} <= set(functions)
    for props in functions.values():
        assert props["Properties"]["Environment"]["Variables"]["WEBHOOKS_QUEUE_URL"] == {"Ref": "WebhooksQueue"}


def test_the_webhooks_role_touches_only_webhooks_items_and_its_queue(template):
    found = statements(template, "WebhooksRole")
    actions = [a for s in found for a in s["Action"]]
    assert not [a for a in actions if a.startswith("s3:")]
    assert not {"dynamodb:BatchWriteItem", "dynamodb:Scan", "dynamodb:DeleteItem"} & set(actions)
    assert not any(a.endswith(":*") for a in actions)
    [main] = [s for s in found if {"Fn::GetAtt": ["MainTable", "Arn"]} in on(s)]
    assert main["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["*WEBHOOK*"]}}
    assert set(main["Action"]) == {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem",
                                   "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem", "dynamodb:DescribeTable"}
    [outbox] = [s for s in found if {"Fn::GetAtt": ["EventsTable", "Arn"]} in on(s)]
    assert set(outbox["Action"]) == {"dynamodb:PutItem", "dynamodb:ConditionCheckItem", "dynamodb:DescribeTable"}
    [queue] = [s for s in found if s["Resource"] == [QUEUE]]
    assert set(queue["Action"]) == {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                                    "sqs:ChangeMessageVisibility", "sqs:SendMessage"}   # held back: sent again
    assert not [s for s in found if "JobsQueue" in json.dumps(s["Resource"])]
    [secret] = [s for s in found if s["Action"] == ["secretsmanager:GetSecretValue"]]
    assert secret["Resource"][0]["Fn::Sub"].endswith(f":secret:loyalty/{os.environ['STAGE']}-*")


def test_the_stream_and_the_api_send_to_the_webhooks_queue_and_receive_nothing_from_it(template):
    for role in ("StreamRole", "ApiRole"):
        on_queue = [a for s in statements(template, role) if QUEUE in on(s) for a in s["Action"]]
        assert on_queue == ["sqs:SendMessage"], role          # allows SendMessageBatch too (SQS's IAM)
    assert not [s for s in statements(template, "JobsRole") if QUEUE in on(s)]


def test_the_tables_can_be_warmed_for_a_planned_peak_and_are_not_by_default(template):
    """#24: the events table needs its partitions (and stream shards) for the flash's events, not
    its packed writes; each table's warm throughput is a parameter, unset (0) by default."""
    for table in ("MainTable", "EventsTable"):
        warm = template["Resources"][table]["Properties"]["WarmThroughput"]["Fn::If"]
        assert warm[0] == f"Has{table}Warm" and warm[2] == {"Ref": "AWS::NoValue"}
        assert warm[1] == {"ReadUnitsPerSecond": {"Ref": f"{table}WarmReadUnits"},
                           "WriteUnitsPerSecond": {"Ref": f"{table}WarmWriteUnits"}}
        assert template["Parameters"][f"{table}WarmWriteUnits"]["Default"] == 0
        assert template["Conditions"][f"Has{table}Warm"] == {
            "Fn::Not": [{"Fn::Equals": [{"Ref": f"{table}WarmWriteUnits"}, 0]}]}
    assert "28,000" in template["Parameters"]["EventsTableWarmWriteUnits"]["Description"]
