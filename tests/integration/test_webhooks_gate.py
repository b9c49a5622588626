"""#25: a slow or dead endpoint holds up at most two of a batch's posts (chalicelib/webhooks/gate.py);
the rest of its messages go back on the queue untried (no attempt, no DynamoDB write, their
receive count unspent), while a healthy endpoint's batch is posted side by side."""

from __future__ import annotations

import json
import threading

import boto3
import pytest

from chalicelib.events import dispatch
from chalicelib.shared.config import settings
from chalicelib.webhooks import delivery, fanout, gate, repository
from devstack.pump import StreamReader
from tests.integration.conftest import AppClient
from tests.webhook_receiver import Receiver

BASE = "/v1/webhooks/subscriptions"


@pytest.fixture
def hooks(aws, monkeypatch):
    fanout.WAITING.clear()
    repository.forget_cached()
    gate.reset()
    monkeypatch.delenv("WEBHOOKS_QUEUE_URL", raising=False)    # the fan-out keeps its messages in WAITING
    yield AppClient(), boto3.client("sqs").create_queue(QueueName="webhooks-gate")["QueueUrl"]
    fanout.WAITING.clear()
    gate.reset()


def _messages(api: AppClient, receiver: Receiver, n: int) -> tuple[str, list[dict]]:
    status, sub = api.call("POST", BASE, {"url": receiver.url, "filters": ["member.registered"]})
    assert status == 201, sub
    arn = boto3.client("dynamodb").describe_table(TableName=settings().events_table)["Table"]["LatestStreamArn"]
    read = StreamReader(boto3.client("dynamodbstreams"), arn, "cn-north-1")
    read(100)
    for i in range(n):
        api.member(f"1381013{i:04d}")
    assert dispatch.handle_records(read(100)) == {"batchItemFailures": []}
    records = [{"messageId": f"m{k}", "receiptHandle": f"r{k}", "body": json.dumps(m),
                "attributes": {"ApproximateReceiveCount": "1"}} for k, m in enumerate(fanout.WAITING)]
    fanout.WAITING.clear()
    assert len(records) == n
    return sub["subscription_id"], records


def test_a_slow_endpoint_gets_two_posts_of_a_batch_and_the_rest_go_back_untried(hooks, monkeypatch):
    api, url = hooks
    monkeypatch.setattr(gate, "SLOW_SECONDS", 0.3)
    slow = Receiver(answer=lambda n: (200, 1.0))         # answers, but after the gate calls it slow
    sub, records = _messages(api, slow, 10)
    monkeypatch.setenv("WEBHOOKS_QUEUE_URL", url)        # where the handler sends the held ones
    at_once, most, counting = [0], [0], threading.Lock()
    enter, leave = gate.enter, gate.leave

    def counted_enter(endpoint):
        ticket = enter(endpoint)
        if ticket is not None:
            with counting:
                at_once[0] += 1
                most[0] = max(most[0], at_once[0])
        return ticket

    def counted_leave(endpoint, ticket, ok):
        with counting:
            at_once[0] -= 1
        leave(endpoint, ticket, ok)
    monkeypatch.setattr(gate, "enter", counted_enter)
    monkeypatch.setattr(gate, "leave", counted_leave)
    assert delivery.handle(records, None) == {"batchItemFailures": []}   # the rest are re-sent, not failed
    posted = len(slow.posts)              # a third may start once one has answered, on a slow machine
    assert most[0] == 2 and 2 <= posted < 10                             # never more than two at once
    sqs = boto3.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    held = int(attributes["ApproximateNumberOfMessagesDelayed"]) + int(attributes["ApproximateNumberOfMessages"])
    assert held == 10 - posted
    log = api.ok("GET", f"{BASE}/{sub}/deliveries")["deliveries"]
    assert sorted(d["status"] for d in log) == ["delivered"] * posted + ["sent"] * held
    assert all(d["attempts"] == 0 for d in log if d["status"] == "sent")   # untried: no attempt spent
    slow.close()


def test_a_healthy_endpoints_batch_is_posted_side_by_side_after_the_first_posts(hooks, monkeypatch):
    api, url = hooks
    fine = Receiver()
    sub, records = _messages(api, fine, 10)
    monkeypatch.setenv("WEBHOOKS_QUEUE_URL", url)
    assert delivery.handle(records, None) == {"batchItemFailures": []}
    assert len(fine.posts) == 10 and len(set(fine.ids())) == 10
    sqs = boto3.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == attributes["ApproximateNumberOfMessagesDelayed"] == "0"
    fine.close()
