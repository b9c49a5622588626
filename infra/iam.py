"""One role per function kind, each allowed only the actions and resources that kind uses.

* ``api``: reads and writes items of both tables (the outbox only by conditional put), reads the
  stage's secret, reads, writes and deletes exports: it serves gift card secrets and deletes the
  file with the last part, and ``runJob`` runs any job in the API function (generation writes the
  secrets' parts).
* ``stream``: reads the events table's stream, reads and writes the main table (projections,
  markers), puts outbox events, sends what it cannot deliver to the dead-letter queue, and
  (``redrive-events``) receives and deletes that queue's messages.
* ``jobs``: reads and writes the main table, puts outbox events, writes and deletes exports (gift
  card secrets are deleted once fetched), sends a run's continuation to the jobs queue and
  consumes it (``continue-job``: its event source mapping polls the queue with this role).
* ``api`` also sends continuations: a job run by ``runJob`` works to the request's deadline.
* ``webhooks`` (``deliver-webhooks``): reads and writes the webhooks' own items of the main table
  (subscriptions, delivery records, attempts: every such item's partition key contains
  ``WEBHOOK``, which the ``dynamodb:LeadingKeys`` condition holds it to; no delete, no scan),
  puts outbox events (``webhook.subscription_disabled``), reads the stage's secret (the signing
  secrets are encrypted with a key derived from its master secret), and consumes the webhooks
  queue: its event source mapping receives and deletes with this role, and the handler sets each
  failed message's visibility to its retry wait (``ChangeMessageVisibility``). No S3.
* ``stream`` (the fan-out of each event to its subscriptions) and ``api`` (replays) send to the
  webhooks queue. SQS has no permission of its own for a batch action: ``sqs:SendMessage``
  allows ``SendMessageBatch``, ``sqs:DeleteMessage`` ``DeleteMessageBatch``, and so on.

The API and the jobs may list the reports bucket, which holds nothing but exports: without it, S3
answers a read of a key that is not there 403, not 404.

Nobody gets ``BatchWriteItem``, a scan, or the events table's items beyond a put. Logs go only to
the stack's own Lambda log groups, which the stack creates with a retention (:mod:`infra.alarms`):
a function may not create one.
"""

from __future__ import annotations

from typing import Any

ITEM_READS = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem",
              "dynamodb:DescribeTable"]
ITEM_WRITES = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
OUTBOX = ["dynamodb:PutItem", "dynamodb:ConditionCheckItem", "dynamodb:DescribeTable"]
# What deliver-webhooks does to the main table: no DeleteItem, no scan, no BatchWriteItem.
WEBHOOK_ITEMS = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem",
                 "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem", "dynamodb:DescribeTable"]
# Every webhooks item's partition key contains WEBHOOK (chalicelib/webhooks). ForAllValues: every
# key a request names must match; a request that names none (DescribeTable) passes.
WEBHOOK_KEYS = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["*WEBHOOK*"]}}


def _table(logical_id: str) -> list[Any]:
    return [{"Fn::GetAtt": [logical_id, "Arn"]}, {"Fn::Sub": "${" + logical_id + ".Arn}/index/*"}]


def _allow(actions: list[str], resources: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


def statements(kind: str, stage: str) -> list[dict[str, Any]]:
    """The policy statements of a function kind."""
    logs = {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/"
                       "${AWS::StackName}-*"}
    observing = [_allow(["logs:CreateLogStream", "logs:PutLogEvents"],    # the groups are the stack's (retention)
                        [logs, {"Fn::Sub": logs["Fn::Sub"] + ":*"}]),
                 _allow(["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "*")]    # X-Ray takes no resource
    outbox = _allow(OUTBOX, [{"Fn::GetAtt": ["EventsTable", "Arn"]}])
    common = [*observing, _allow(ITEM_READS + ITEM_WRITES, _table("MainTable")), outbox]
    exports = {"Fn::Sub": "${ReportsBucket.Arn}/*"}
    # S3 answers a read of a missing key 404 only to a caller that may list the bucket, 403 to
    # anyone else: storage.get reads a missing export as None (generation asks for its part first).
    listing = _allow(["s3:ListBucket"], [{"Fn::GetAtt": ["ReportsBucket", "Arn"]}])
    jobs_queue = [{"Fn::GetAtt": ["JobsQueue", "Arn"]}]
    webhooks_queue = [{"Fn::GetAtt": ["WebhooksQueue", "Arn"]}]
    secret = {"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:"
                         f"loyalty/{stage}-*"}
    if kind == "webhooks":
        return observing + [
            {**_allow(WEBHOOK_ITEMS, _table("MainTable")), "Condition": WEBHOOK_KEYS}, outbox,
            _allow(["secretsmanager:GetSecretValue"], [secret]),
            # the event source mapping receives and deletes; the handler sets a failure's retry wait
            # and sends a message held back from a failing endpoint again (webhooks/gate.py)
            _allow(["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                    "sqs:ChangeMessageVisibility", "sqs:SendMessage"], webhooks_queue),
            # an exhausted delivery's message, by its record's attempts (webhooks/delivery.py)
            _allow(["sqs:SendMessage"], [{"Fn::GetAtt": ["WebhooksDeadLetterQueue", "Arn"]}])]
    if kind == "api":
        return common + [_allow(["secretsmanager:GetSecretValue"], [secret]),
                         _allow(["s3:PutObject", "s3:GetObject", "s3:DeleteObject"], [exports]), listing,
                         _allow(["sqs:SendMessage"], jobs_queue),
                         _allow(["sqs:SendMessage"], webhooks_queue)]          # replays
    if kind == "stream":
        return common + [
            _allow(["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                    "dynamodb:ListStreams"], [{"Fn::GetAtt": ["EventsTable", "StreamArn"]}]),
            _allow(["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage"],     # redrive-events reads it
                   [{"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]}]),
            _allow(["sqs:SendMessage"], webhooks_queue)]           # the fan-out to the subscriptions
    # (a multipart upload's parts are s3:PutObject; an export given up aborts its upload)
    return common + [_allow(["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                            [exports]), listing,
                     _allow(["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
                            jobs_queue)]


def role(kind: str, stage: str) -> dict[str, Any]:
    """The IAM role of a function kind."""
    return {"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
        "Policies": [{"PolicyName": f"loyalty-{kind}",
                      "PolicyDocument": {"Version": "2012-10-17", "Statement": statements(kind, stage)}}]}}


def tls_only_bucket_policy(bucket: str) -> dict[str, Any]:
    """A bucket policy that refuses every request not made over TLS."""
    return {"Type": "AWS::S3::BucketPolicy", "Properties": {
        "Bucket": {"Ref": bucket},
        "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [{"Fn::GetAtt": [bucket, "Arn"]}, {"Fn::Sub": "${" + bucket + ".Arn}/*"}],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}}}
