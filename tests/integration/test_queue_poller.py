"""The local SQS event source mapping (devstack/queues.py) against moto in process: partial batch
failures, the redrive to the dead-letter queue, delays and visibility, as Lambda and SQS do them
(what moto does by itself, and the poller therefore does not, is checked here too)."""

from __future__ import annotations

import json
import threading
import time

import boto3
import pytest
from moto import mock_aws

from devstack.queues import QueuePoller, failed_ids, sqs_event


@pytest.fixture
def sqs():
    with mock_aws():
        yield boto3.client("sqs", region_name="cn-north-1")


def queue(sqs, name: str, visibility: int = 1, max_receives: int | None = None) -> tuple[str, str]:
    """A queue (url, arn); with ``max_receives``, a dead-letter queue ``<name>-dlq`` behind it."""
    attributes = {"VisibilityTimeout": str(visibility)}
    if max_receives:
        dlq_url, dlq_arn = queue(sqs, f"{name}-dlq")
        attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives})
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def counts(sqs, url: str) -> tuple[int, int, int]:
    """(visible, in flight, delayed) messages of a queue."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
             "ApproximateNumberOfMessagesDelayed"]
    found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return tuple(int(found[n]) for n in names)  # type: ignore[return-value]


def bodies(event: dict) -> list[str]:
    return [r["body"] for r in event["Records"]]


def test_a_reported_failure_is_kept_and_comes_back_after_its_visibility_the_rest_are_deleted(sqs):
    url, arn = queue(sqs, "webhooks", visibility=1)
    for body in ("a", "b", "c"):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "test"}})
    seen: list[dict] = []

    def handler(event):
        seen.append(event)
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]
                                      if r["body"] == "b"]}
    poller = QueuePoller(sqs, url, arn, handler, batch_size=10, report_failures=True, visibility_seconds=None)
    assert poller.step() == 2 and (poller.delivered, poller.failed) == (2, 1)
    [first] = seen
    assert sorted(bodies(first)) == ["a", "b", "c"]          # one batch, as Lambda hands it
    record = first["Records"][0]
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == arn
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["messageAttributes"]["kind"] == {"stringValue": "test", "stringListValues": [],
                                                   "binaryListValues": [], "dataType": "String"}
    assert counts(sqs, url) == (0, 1, 0)                     # b in flight until its visibility ends
    assert poller.step() == 0 and len(seen) == 1
    time.sleep(1.2)
    assert poller.step() == 0 and bodies(seen[1]) == ["b"]   # back, and reported failed again
    assert seen[1]["Records"][0]["attributes"]["ApproximateReceiveCount"] == "2"


def test_the_handlers_own_visibility_holds_a_failure_back_and_a_raising_handler_keeps_the_batch(sqs):
    url, arn = queue(sqs, "webhooks", visibility=1)
    sqs.send_message(QueueUrl=url, MessageBody="a")

    def retry_in_3s(event):
        for r in event["Records"]:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=r["receiptHandle"], VisibilityTimeout=3)
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}
    assert QueuePoller(sqs, url, arn, retry_in_3s, batch_size=10, report_failures=True,
                       visibility_seconds=None).step() == 0
    time.sleep(1.2)                                          # past the queue's visibility, not the handler's
    assert counts(sqs, url) == (0, 1, 0)
    errors = []

    def crash(event):
        raise RuntimeError("boom")
    sqs.send_message(QueueUrl=url, MessageBody="b")
    raising = QueuePoller(sqs, url, arn, crash, errors.append, batch_size=10, report_failures=True,
                          visibility_seconds=None)
    assert raising.step() == 0 and [str(e) for e in errors] == ["boom"] and raising.failed == 1
    assert counts(sqs, url) == (0, 2, 0)


def test_without_report_batch_item_failures_a_handler_that_returns_deletes_the_batch(sqs):
    """continue-job: whatever it returns (None, a list), its messages are done."""
    url, arn = queue(sqs, "jobs", visibility=1)
    for body in ("a", "b"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    poller = QueuePoller(sqs, url, arn, lambda event: None, batch_size=10)
    assert poller.step() == 2 and counts(sqs, url) == (0, 0, 0)
    sqs.send_message(QueueUrl=url, MessageBody="c")
    assert QueuePoller(sqs, url, arn, lambda event: {"batchItemFailures": [{"itemIdentifier": "x"}]}).step() == 1


def test_an_answer_lambda_cannot_read_fails_the_whole_batch():
    batch = [{"MessageId": "m1"}, {"MessageId": "m2"}]
    assert failed_ids(None, batch) == set() and failed_ids({"batchItemFailures": []}, batch) == set()
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "m2"}]}, batch) == {"m2"}
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "other"}]}, batch) == {"m1", "m2"}
    assert failed_ids({"batchItemFailures": [{}]}, batch) == {"m1", "m2"}
    assert failed_ids(["m1"], batch) == {"m1", "m2"}
    assert sqs_event({"MessageId": "m", "ReceiptHandle": "r", "Body": "x"},
                     "arn:aws-cn:sqs:cn-north-1:1:q")["Records"][0]["awsRegion"] == "cn-north-1"


def test_a_message_received_max_receive_count_times_lands_in_the_dead_letter_queue(sqs):
    """moto moves it itself, as SQS does: the receive after the last one that counted."""
    url, arn = queue(sqs, "webhooks", visibility=1, max_receives=2)
    dlq_url = sqs.get_queue_url(QueueName="webhooks-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="doomed")
    received: list[str] = []

    def always_fails(event):
        received.extend(r["attributes"]["ApproximateReceiveCount"] for r in event["Records"])
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}
    poller = QueuePoller(sqs, url, arn, always_fails, batch_size=10, report_failures=True, visibility_seconds=None)
    for _ in range(3):
        poller.step()
        time.sleep(1.1)
    assert received == ["1", "2"]                            # never a third time
    assert counts(sqs, url) == (0, 0, 0)
    [dead] = sqs.receive_message(QueueUrl=dlq_url).get("Messages", [])
    assert dead["Body"] == "doomed"


def test_a_delayed_message_is_held_back_until_its_delay_ends(sqs):
    url, arn = queue(sqs, "webhooks", visibility=1)
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=2)
    seen: list[str] = []
    poller = QueuePoller(sqs, url, arn, lambda event: seen.extend(bodies(event)), batch_size=10,
                         report_failures=True, visibility_seconds=None)
    assert poller.step() == 0 and seen == [] and counts(sqs, url) == (0, 0, 1)
    time.sleep(2.1)
    assert poller.step() == 1 and seen == ["later"] and counts(sqs, url) == (0, 0, 0)


def test_workers_poll_side_by_side_so_a_slow_batch_holds_up_no_other(sqs):
    url, arn = queue(sqs, "webhooks", visibility=30)
    release, slow_started = threading.Event(), threading.Event()
    fast: list[str] = []

    def handler(event):
        for body in bodies(event):
            if body == "slow":
                slow_started.set()
                assert release.wait(10)
            else:
                fast.append(body)
    poller = QueuePoller(sqs, url, arn, handler, batch_size=1, workers=2, report_failures=True,
                         visibility_seconds=None, name="test")
    sqs.send_message(QueueUrl=url, MessageBody="slow")
    poller.start()
    try:
        assert slow_started.wait(5)
        sqs.send_message(QueueUrl=url, MessageBody="fast")
        deadline = time.monotonic() + 5
        while not fast and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fast == ["fast"]                              # delivered while the slow one still runs
    finally:
        release.set()
        poller.stop()
    assert poller.delivered == 2
