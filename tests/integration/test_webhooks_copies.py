"""#24 / #25: a webhook message received a second time while its first receive is still posting
(SQS's at-least-once, or a batch that outran the queue's visibility, as the local stack's did under
load) is kept until the first one's lease ends, never deleted: the first receive's post may fail,
and its retry wait, set on a message the copy has deleted, would fail with it, leaving a failed
delivery that nothing ever tries again (the webhooks bench's 999 of 1,000)."""

from __future__ import annotations

import json
import threading
import time

import boto3
import pytest

from chalicelib.events import dispatch
from chalicelib.shared.config import settings
from chalicelib.webhooks import delivery, fanout, gate, repository
from devstack.pump import StreamReader
from devstack.queues import QueuePoller
from tests.integration.conftest import AppClient
from tests.webhook_receiver import Receiver

BASE = "/v1/webhooks/subscriptions"


@pytest.fixture
def hooks(aws, monkeypatch):
    fanout.WAITING.clear()
    repository.forget_cached()
    gate.reset()
    monkeypatch.delenv("WEBHOOKS_QUEUE_URL", raising=False)    # the fan-out keeps its message in WAITING
    url = boto3.client("sqs").create_queue(QueueName="webhooks-copies", Attributes={"VisibilityTimeout": "1"})
    yield AppClient(), url["QueueUrl"]
    fanout.WAITING.clear()
    gate.reset()


def _one_event_on_the_queue(api: AppClient, receiver: Receiver, url: str) -> tuple[str, str]:
    """A subscription and one event's message on the queue at ``url``: (subscription id, event id)."""
    status, sub = api.call("POST", BASE, {"url": receiver.url, "filters": ["member.registered"]})
    assert status == 201, sub
    arn = boto3.client("dynamodb").describe_table(TableName=settings().events_table)["Table"]["LatestStreamArn"]
    read = StreamReader(boto3.client("dynamodbstreams"), arn, "cn-north-1")
    read(100)
    api.member("13810140001")
    assert dispatch.handle_records(read(100)) == {"batchItemFailures": []}
    [message] = fanout.WAITING
    fanout.WAITING.clear()
    boto3.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps(message))
    return sub["subscription_id"], message["event_id"]


def test_a_copy_received_while_the_first_receive_posts_keeps_the_message_for_its_retry(hooks, monkeypatch):
    api, url = hooks
    monkeypatch.setenv("WEBHOOK_RETRY_SECONDS", "1,1,1")
    monkeypatch.setattr(delivery, "LEASE_SECONDS", 4)          # the lease outlives the slow post (60 s deployed)
    # the first post fails after 2.5 s, longer than the queue's visibility (1 s); the next ones succeed
    receiver = Receiver(answer=lambda n: (500, 2.5) if n == 1 else (204, 0.0))
    sub, event_id = _one_event_on_the_queue(api, receiver, url)
    monkeypatch.setenv("WEBHOOKS_QUEUE_URL", url)              # where the handler sets waits
    poller = QueuePoller(boto3.client("sqs"), url, "arn:aws:sqs:cn-north-1:123456789012:webhooks-copies",
                         lambda event: delivery.handle(event["Records"], None), batch_size=10,
                         report_failures=True, visibility_seconds=None)
    first = threading.Thread(target=poller.step)               # the first receive: leases, posts, waits 2.5 s
    first.start()
    end = time.monotonic() + 10
    while not receiver.posts and time.monotonic() < end:
        time.sleep(0.05)
    assert len(receiver.posts) == 1
    time.sleep(1.2)                                            # the message is visible again: a second receive
    copy = 0
    while not copy and time.monotonic() < end:
        copy = poller.step() + poller.failed                   # received (kept or deleted)
    assert len(receiver.posts) == 1                            # the copy posted nothing: the first holds the lease
    first.join(10)
    [d] = api.ok("GET", f"{BASE}/{sub}/deliveries")["deliveries"]
    assert (d["status"], d["attempts"], d["last_status_code"]) == ("retrying", 1, 500)
    end = time.monotonic() + 20                                # the retry: within the lease's end and a second
    while len(receiver.posts) < 2 and time.monotonic() < end:
        poller.step(wait_seconds=1)
    assert receiver.ids() == [event_id, event_id]              # retried, and delivered
    [d] = api.ok("GET", f"{BASE}/{sub}/deliveries")["deliveries"]
    assert (d["status"], d["attempts"]) == ("delivered", 2)
    attributes = boto3.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
    receiver.close()


def test_a_message_back_after_its_handler_failed_mid_post_waits_for_the_lease_and_is_retried(hooks, monkeypatch):
    """A handler that fails after its lease (a crash mid-post, a DynamoDB error writing the outcome)
    leaves the message to come back after the queue's visibility: locally the function's timeout,
    as long as the lease, so it comes back before the lease ends."""
    api, url = hooks
    monkeypatch.setenv("WEBHOOK_RETRY_SECONDS", "1,1,1")
    monkeypatch.setattr(delivery, "LEASE_SECONDS", 3)
    receiver = Receiver()
    sub, event_id = _one_event_on_the_queue(api, receiver, url)
    monkeypatch.setenv("WEBHOOKS_QUEUE_URL", url)
    posted, crashes = delivery.post, [1]

    def crash_once(*args):
        if crashes:
            crashes.pop()
            raise RuntimeError("the function stopped mid-post")
        return posted(*args)
    monkeypatch.setattr(delivery, "post", crash_once)
    poller = QueuePoller(boto3.client("sqs"), url, "arn:aws:sqs:cn-north-1:123456789012:webhooks-copies",
                         lambda event: delivery.handle(event["Records"], None), batch_size=10,
                         report_failures=True, visibility_seconds=None)
    assert poller.step() == 0 and poller.failed == 1           # leased, then failed: kept
    [d] = api.ok("GET", f"{BASE}/{sub}/deliveries")["deliveries"]
    assert d["status"] == "delivering"                         # its lease runs 3 s; the message is back in 1
    end = time.monotonic() + 20
    while not receiver.posts and time.monotonic() < end:
        poller.step(wait_seconds=1)
    assert receiver.ids() == [event_id]
    [d] = api.ok("GET", f"{BASE}/{sub}/deliveries")["deliveries"]
    assert d["status"] == "delivered"
    receiver.close()
