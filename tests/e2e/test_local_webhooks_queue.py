"""The local stack's webhooks queue (#25 item 4): messages sent as the stream's fan-out sends them
reach ``deliver-webhooks`` in batches, run as the ``webhooks`` role; a message it reports failed
comes back when the visibility it set ends, and ``wait_webhooks_idle`` waits for all of it. The
handler here is a stand-in (the delivery itself is tested with the webhooks code)."""

from __future__ import annotations

import json
import threading
import time

import boto3


def test_the_webhooks_poller_delivers_batches_as_the_webhooks_role_and_retries_reported_failures(stack, monkeypatch):
    import app as app_module
    from devstack import access
    seen: list[tuple[str, str, tuple[str, str] | None]] = []
    tag = str(time.time_ns())
    lock = threading.Lock()

    def stand_in(event, context):
        failed = []
        sqs = boto3.client("sqs")              # the app's own client: signs as the running function's role
        for record in event["Records"]:
            with lock:
                seen.append((record["body"], record["attributes"]["ApproximateReceiveCount"], access._ACTING.get()))
            if record["body"] == f"flaky-{tag}" and record["attributes"]["ApproximateReceiveCount"] == "1":
                sqs.change_message_visibility(QueueUrl=stack.webhooks_queue_url,
                                              ReceiptHandle=record["receiptHandle"], VisibilityTimeout=1)
                failed.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failed}
    monkeypatch.setattr(app_module, "deliver_webhooks", stand_in)
    # (earlier tests' messages may still be retrying on this queue, and their dead letters are in
    # its dead-letter queue: this test's own messages carry a tag, and its DLQ count is a difference)
    stack.wait_webhooks_idle(60)
    dead_before = int(stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.webhooks_dlq_url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
        "ApproximateNumberOfMessages"])
    delivered = stack.webhooks_poller.delivered
    fan_out = stack.client("sqs", "stream")
    fan_out.send_message_batch(QueueUrl=stack.webhooks_queue_url, Entries=[
        {"Id": str(i), "MessageBody": f"{body}-{tag}"} for i, body in enumerate(("first", "flaky", "third"))])
    stack.wait_webhooks_idle(20)
    assert sorted((body, count) for body, count, _ in seen if body.endswith(tag)) == [
        (f"first-{tag}", "1"), (f"flaky-{tag}", "1"), (f"flaky-{tag}", "2"), (f"third-{tag}", "1")]
    assert {kind for _, _, kind in seen} == {access.keys_of("webhooks")}
    settle = time.monotonic() + 10      # the poller counts a batch just after deleting it: the queue is idle first
    while stack.webhooks_poller.delivered - delivered < 3 and time.monotonic() < settle:
        time.sleep(0.05)
    assert stack.webhooks_poller.delivered - delivered == 3
    dlq = stack.client("sqs").get_queue_attributes(QueueUrl=stack.webhooks_dlq_url,
                                                   AttributeNames=["ApproximateNumberOfMessages"])
    assert int(dlq["Attributes"]["ApproximateNumberOfMessages"]) == dead_before


def test_the_webhooks_queue_dead_letters_after_the_retry_schedules_attempts(stack):
    from chalicelib.webhooks.domain import max_attempts
    attributes = stack.client("sqs").get_queue_attributes(QueueUrl=stack.webhooks_queue_url,
                                                          AttributeNames=["All"])["Attributes"]
    policy = json.loads(attributes["RedrivePolicy"])
    assert policy["maxReceiveCount"] == 3 * max_attempts()          # a backstop: the record's attempts decide
    assert policy["deadLetterTargetArn"].endswith(f"loyalty-{stack.stage}-webhooks-dlq")
    assert attributes["VisibilityTimeout"] == "60"
