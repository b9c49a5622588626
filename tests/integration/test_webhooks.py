"""#25 webhooks in process: subscriptions over the API, the stream's fan-out, delivery to a real
receiver on 127.0.0.1 that verifies with the standardwebhooks library, retries, rotation, scope."""

from __future__ import annotations

import json

import pytest

from chalicelib.events import dispatch
from chalicelib.shared.config import settings
from chalicelib.webhooks import delivery, fanout, repository
from devstack.pump import StreamReader
from tests.aws import client as aws_client
from tests.integration.conftest import AppClient
from tests.outbox import record_events
from tests.webhook_receiver import Receiver

BASE = "/v1/webhooks/subscriptions"


@pytest.fixture
def hooks(aws):
    fanout.WAITING.clear()
    repository.forget_cached()
    client = AppClient()
    yield client
    fanout.WAITING.clear()


def _stream():
    arn = aws_client("dynamodb").describe_table(TableName=settings().events_table)["Table"]["LatestStreamArn"]
    return StreamReader(aws_client("dynamodbstreams"), arn, "cn-north-1")


def _deliver_waiting(receive_count: int = 1) -> dict:
    """What the SQS source would hand deliver-webhooks for the waiting messages."""
    records = [{"messageId": f"m{n}", "receiptHandle": f"r{n}", "body": json.dumps(m),
                "attributes": {"ApproximateReceiveCount": str(receive_count)}}
               for n, m in enumerate(fanout.WAITING)]
    fanout.WAITING.clear()
    return delivery.handle(records, None)


def _subscribe(api: AppClient, url: str, filters: list[str], token: str | None = None, **extra) -> dict:
    status, reply = api.call("POST", BASE, {"url": url, "filters": filters, **extra}, token=token)
    assert status == 201, reply
    return reply


def test_events_arrive_signed_once_and_a_redelivered_batch_enqueues_nothing_twice(hooks):
    api = hooks
    receiver = Receiver()
    made = _subscribe(api, receiver.url, ["points.*", "order.*"], description="CRM")
    assert made["secret"].startswith("whsec_") and made["status"] == "enabled"
    receiver.secrets = [made["secret"]]
    shown = api.ok("GET", f"{BASE}/{made['subscription_id']}")
    assert "secret" not in shown and len(shown["secrets"]) == 1
    read = _stream()
    read(100)                                          # what happened before: not this test's
    mid = api.member("13800139701")
    api.ok("POST", f"/v1/members/{mid}/points/earn", {"order_id": "W-1", "amount_fen": 20_000, "merchant_id": "m1"})
    records = read(100)
    assert {e.type for e in record_events(records)} >= {"points.earned", "order.earned",
                                                                          "growth.earned", "member.registered"}
    assert dispatch.handle_records(records) == {"batchItemFailures": []}
    assert len(fanout.WAITING) == 2                    # points.earned and order.earned; not growth nor member
    assert dispatch.handle_records(records) == {"batchItemFailures": []}
    assert len(fanout.WAITING) == 2                    # the redelivered batch enqueued nothing
    waiting = list(fanout.WAITING)
    assert _deliver_waiting() == {"batchItemFailures": []}
    posts = receiver.wait_for(2)
    assert sorted(receiver.types()) == ["order.earned", "points.earned"]
    assert all(p["verified"] == [made["secret"]] for p in posts)
    for p in posts:
        body = p["body"]
        assert p["headers"]["webhook-id"] == body["id"] and body["program_id"] == "default" and body["occurred_at"]
        assert "phone" not in p["raw"]
    earned = next(p["body"] for p in posts if p["body"]["type"] == "points.earned")
    assert earned["data"]["amount"] == 200 and earned["data"]["member_id"] == mid
    fanout.WAITING.extend(waiting)                     # the same messages again (SQS delivers at least once)
    assert _deliver_waiting() == {"batchItemFailures": []}
    assert len(receiver.posts) == 2                    # posted nothing twice
    log = api.ok("GET", f"{BASE}/{made['subscription_id']}/deliveries")["deliveries"]
    assert sorted(d["event_type"] for d in log) == ["order.earned", "points.earned"]
    assert all(d["status"] == "delivered" and d["attempts"] == 1 and len(d["log"]) == 1 for d in log)
    assert all(d["log"][0]["status_code"] == 204 for d in log)
    receiver.close()


def test_a_failing_receiver_is_retried_on_the_schedule_then_exhausted_and_disabled(hooks, monkeypatch):
    api = hooks
    monkeypatch.setenv("WEBHOOK_RETRY_SECONDS", "0,0")          # three attempts, no waiting
    monkeypatch.setenv("WEBHOOK_DISABLE_AFTER_EXHAUSTIONS", "1")
    monkeypatch.setenv("WEBHOOK_DISABLE_AFTER_DAYS", "0")
    receiver = Receiver(answer=lambda n: (503, 0.0))
    made = _subscribe(api, receiver.url, ["member.*"])
    sub = made["subscription_id"]
    read = _stream()
    read(100)
    api.member("13800139702")
    assert dispatch.handle_records(read(100)) == {"batchItemFailures": []}
    [message] = fanout.WAITING
    fanout.WAITING.append(message)                      # and a copy of it in the same batch
    assert len(_deliver_waiting(1)["batchItemFailures"]) == 2     # the copy posted nothing: kept till the lease ends
    assert len(receiver.posts) == 1
    [d] = api.ok("GET", f"{BASE}/{sub}/deliveries")["deliveries"]
    assert (d["status"], d["attempts"], d["last_status_code"]) == ("retrying", 1, 503) and d["next_attempt_at"]
    assert d["log"][0]["response"] == "ok" and d["log"][0]["error"] == "answered 503"
    fanout.WAITING.append(message)
    assert len(_deliver_waiting(2)["batchItemFailures"]) == 1
    fanout.WAITING.append(message)
    assert len(_deliver_waiting(3)["batchItemFailures"]) == 1      # the last: on to the dead-letter queue
    assert len(receiver.posts) == 3 and len(set(receiver.ids())) == 1
    [d] = api.ok("GET", f"{BASE}/{sub}/deliveries")["deliveries"]
    assert (d["status"], d["attempts"], len(d["log"])) == ("exhausted", 3, 3)
    shown = api.ok("GET", f"{BASE}/{sub}")
    assert shown["status"] == "disabled" and shown["exhausted_count"] == 1 and "exhausted" in shown["disabled_reason"]
    disabled = [e for e in record_events(read(100)) if e.type == "webhook.subscription_disabled"]
    assert len(disabled) == 1 and sub in json.dumps(disabled[0].as_dict())
    fanout.WAITING.append(message)
    assert _deliver_waiting(4) == {"batchItemFailures": []}          # exhausted: nothing more
    assert len(receiver.posts) == 3
    status, refused = api.call("POST", f"{BASE}/{sub}/replays", {"event_id": d["event_id"]})
    assert status == 422 and "disabled" in refused["detail"]
    assert api.ok("PATCH", f"{BASE}/{sub}", {"enabled": True})["exhausted_count"] == 0
    receiver.answer = lambda n: (200, 0.0)
    replayed = api.ok("POST", f"{BASE}/{sub}/replays", {"event_id": d["event_id"]})
    assert replayed["replayed"] == 1
    assert _deliver_waiting(1) == {"batchItemFailures": []}
    assert receiver.ids() == [d["event_id"]] * 4                     # the replay keeps the webhook-id
    receiver.close()


def test_rotation_signs_with_both_secrets_during_the_overlap(hooks):
    api = hooks
    receiver = Receiver()
    made = _subscribe(api, receiver.url, ["webhook.test"])
    sub = made["subscription_id"]
    rotated = api.ok("POST", f"{BASE}/{sub}/secret/rotate", {"overlap_hours": 1}, key="rot-1")
    assert rotated["secret"] != made["secret"] and len(rotated["secrets"]) == 2
    again = api.ok("POST", f"{BASE}/{sub}/secret/rotate", {"overlap_hours": 1}, key="rot-1")
    assert again["secret"] == rotated["secret"]          # a retry shows the same new secret
    receiver.secrets = [made["secret"], rotated["secret"]]
    tested = api.ok("POST", f"{BASE}/{sub}/test")
    assert tested["delivered"] and tested["status_code"] == 204
    [post] = receiver.posts
    assert post["verified"] == [made["secret"], rotated["secret"]] and post["body"]["type"] == "webhook.test"
    assert len(post["headers"]["webhook-signature"].split(" ")) == 2
    now = api.ok("POST", f"{BASE}/{sub}/secret/rotate", {"overlap_hours": 0})
    assert len(now["secrets"]) == 1                      # both earlier secrets retired at once
    receiver.secrets = [made["secret"], rotated["secret"], now["secret"]]
    api.ok("POST", f"{BASE}/{sub}/test")
    assert receiver.posts[1]["verified"] == [now["secret"]]
    receiver.close()


def test_a_merchants_subscription_receives_only_events_about_its_merchant(hooks):
    api = hooks
    receiver = Receiver()
    mine = _subscribe(api, receiver.url, ["order.*", "points.*", "tier.*"], merchant_id="m1")["subscription_id"]
    other = _subscribe(api, receiver.url, ["order.*", "points.*", "tier.*"], merchant_id="m2")["subscription_id"]
    everything = _subscribe(api, receiver.url, ["*"])["subscription_id"]
    read = _stream()
    read(100)
    mid = api.member("13800139703")
    api.ok("POST", f"/v1/members/{mid}/points/earn", {"order_id": "W-3", "amount_fen": 5_000, "merchant_id": "m1"})
    api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 7, "reason": "goodwill"})
    api.ok("PUT", "/v1/tiers/ladder", {"ladder": {"tiers": [{"code": "V1", "name": "会员", "threshold": 0}]}})
    assert dispatch.handle_records(read(100)) == {"batchItemFailures": []}
    got = {sub: sorted(d["event_type"] for d in api.ok("GET", f"{BASE}/{sub}/deliveries")["deliveries"])
           for sub in (mine, other, everything)}
    assert got[mine] == ["order.earned", "points.adjusted", "points.earned"]
    assert got[other] == ["points.adjusted"]            # names no merchant: a member's event
    assert "tier.ladder_changed" in got[everything] and "tier.ladder_changed" not in got[mine]   # the program's own
    assert {"member.registered", "growth.earned", "order.earned", "points.earned"} <= set(got[everything])
    receiver.close()


def test_bad_subscriptions_are_refused_and_change_nothing(hooks):
    api = hooks
    before = api.ok("GET", BASE)["subscriptions"]
    for body, status in (({"url": "ftp://x.example/h", "filters": ["*"]}, 422),
                         ({"url": "https://x.example/h", "filters": ["pointz.*"]}, 422),
                         ({"url": "https://user:pw@x.example/h", "filters": ["*"]}, 422),
                         ({"url": "https://x.example/h", "filters": []}, 422),
                         ({"url": "https://x.example/h", "filters": ["*"], "merchant_id": "nobody"}, 404),
                         ({"url": "https://x.example/h", "filters": ["*"], "extra": 1}, 422)):
        got, problem = api.call("POST", BASE, body)
        assert got == status and problem["type"].startswith("https://"), (body, got, problem)
    assert api.ok("GET", BASE)["subscriptions"] == before
    assert api.call("GET", f"{BASE}/01ARZ3NDEKTSV4RRFFQ69G5FAV")[0] == 404
    assert api.call("POST", f"{BASE}/01ARZ3NDEKTSV4RRFFQ69G5FAV/secret/rotate", {})[0] == 404
    made = _subscribe(api, "https://x.example/h", ["*"])
    assert api.ok("DELETE", f"{BASE}/{made['subscription_id']}")["status"] == "deleted"
    assert api.call("POST", f"{BASE}/{made['subscription_id']}/secret/rotate", {})[0] == 404
    assert api.call("GET", f"{BASE}/{made['subscription_id']}/deliveries",
                    )[0] == 404


def test_a_failing_endpoint_is_paused_and_its_deliveries_fail_without_a_post(hooks, monkeypatch):
    api = hooks
    monkeypatch.setattr(delivery, "BREAK_AFTER", 2)
    receiver = Receiver(answer=lambda n: (500, 0.0))
    sub = _subscribe(api, receiver.url, ["member.registered"])["subscription_id"]
    read = _stream()
    read(100)
    for n in range(4):
        api.member(f"1380013980{n}")
    assert dispatch.handle_records(read(100)) == {"batchItemFailures": []}
    messages = list(fanout.WAITING)
    assert len(messages) == 4
    for m in messages:                                   # one at a time, as they might come
        fanout.WAITING[:] = [m]
        assert len(_deliver_waiting(1)["batchItemFailures"]) == 1
    assert len(receiver.posts) == 2                      # the breaker opened after two failures
    shown = api.ok("GET", f"{BASE}/{sub}")
    assert shown["failures_in_a_row"] == 2 and shown["paused_until"]
    log = api.ok("GET", f"{BASE}/{sub}/deliveries")["deliveries"]
    skipped = [d for d in log if not d["log"]]           # not posted: no log line, the reason on the record
    assert len(skipped) == 2 and all("paused" in d["last_error"] and d["status"] == "retrying"
                                     and d["attempts"] == 1 for d in skipped)
    assert all(d["log"][0]["status_code"] == 500 for d in log if d not in skipped)
    receiver.answer = lambda n: (200, 0.0)
    assert api.ok("PATCH", f"{BASE}/{sub}", {"enabled": False})["status"] == "disabled"
    reopened = api.ok("PATCH", f"{BASE}/{sub}", {"enabled": True})     # an operator re-enables: breaker closed
    assert reopened["failures_in_a_row"] == 0 and reopened["paused_until"] is None
    receiver.close()


def test_a_retry_back_before_its_time_waits_for_it_and_is_not_lost(hooks, monkeypatch):
    api = hooks
    monkeypatch.setenv("WEBHOOK_RETRY_SECONDS", "30")
    receiver = Receiver(answer=lambda n: (500, 0.0) if n == 1 else (200, 0.0))
    sub = _subscribe(api, receiver.url, ["member.registered"])["subscription_id"]
    read = _stream()
    read(100)
    api.member("13800139811")
    assert dispatch.handle_records(read(100)) == {"batchItemFailures": []}
    [message] = fanout.WAITING
    assert len(_deliver_waiting(1)["batchItemFailures"]) == 1          # failed: due again in 30 s
    fanout.WAITING.append(message)
    assert len(_deliver_waiting(2)["batchItemFailures"]) == 1          # early: held back, not dropped
    assert len(receiver.posts) == 1
    [d] = api.ok("GET", f"{BASE}/{sub}/deliveries")["deliveries"]
    assert d["status"] == "retrying" and d["attempts"] == 1
    receiver.close()


def test_receives_that_take_no_attempt_bring_a_delivery_no_closer_to_the_dead_letter_queue(hooks, monkeypatch):
    """Exhaustion is the record's attempts, not the message's receives (#24): two early copies of
    a retry (not due: no attempt) used to make its second attempt the last (exhausted after 2 of
    3). The third attempt's failure sends the message to the dead-letter queue and deletes it."""
    from datetime import UTC, datetime, timedelta

    from chalicelib.shared import clock
    api = hooks
    sqs = aws_client("sqs")
    dlq = sqs.create_queue(QueueName="webhooks-dlq-test")["QueueUrl"]
    monkeypatch.setenv("WEBHOOKS_DLQ_URL", dlq)
    monkeypatch.setenv("WEBHOOK_RETRY_SECONDS", "30,30")        # three attempts, 30 s apart
    receiver = Receiver(answer=lambda n: (500, 0.0))
    sub = _subscribe(api, receiver.url, ["member.registered"])["subscription_id"]
    read = _stream()
    read(100)
    api.member("13800139821")
    assert dispatch.handle_records(read(100)) == {"batchItemFailures": []}
    [message] = fanout.WAITING
    t0 = datetime.now(UTC)
    try:
        receives = 0

        def receive(at_seconds: int) -> dict:
            nonlocal receives
            receives += 1
            clock.freeze(t0 + timedelta(seconds=at_seconds))
            fanout.WAITING[:] = [message]
            return _deliver_waiting(receives)
        assert len(receive(0)["batchItemFailures"]) == 1            # attempt 1 fails
        assert len(receive(5)["batchItemFailures"]) == 1            # early copies: no attempt
        assert len(receive(10)["batchItemFailures"]) == 1
        assert len(receive(50)["batchItemFailures"]) == 1            # attempt 2 (the 4th receive)
        [d] = api.ok("GET", f"{BASE}/{sub}/deliveries")["deliveries"]
        assert (d["status"], d["attempts"], len(receiver.posts)) == ("retrying", 2, 2)
        assert sqs.receive_message(QueueUrl=dlq).get("Messages", []) == []
        assert receive(100) == {"batchItemFailures": []}             # attempt 3: dead-lettered, deleted
        [d] = api.ok("GET", f"{BASE}/{sub}/deliveries")["deliveries"]
        assert (d["status"], d["attempts"], len(receiver.posts)) == ("exhausted", 3, 3)
        [dead] = sqs.receive_message(QueueUrl=dlq)["Messages"]
        assert json.loads(dead["Body"])["event_id"] == d["event_id"]
        replayed = api.ok("POST", f"{BASE}/{sub}/replays", {"event_id": d["event_id"]})
        assert replayed["replayed"] == 1                              # a replay: a new schedule
        assert len(receive(200)["batchItemFailures"]) == 1            # its first attempt fails: retried
        [d] = api.ok("GET", f"{BASE}/{sub}/deliveries")["deliveries"]
        assert (d["status"], d["attempts"], len(d["log"])) == ("retrying", 1, 4)
    finally:
        clock.freeze(None)
        receiver.close()
