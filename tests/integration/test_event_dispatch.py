"""Stream batches delivered twice, or failing half-way, leave projections identical."""

import json
import threading
import time
from datetime import date

from chalicelib.db.outbox import event_from_image
from chalicelib.db.uow import UnitOfWork
from chalicelib.events import dispatch, stats
from chalicelib.members import service
from chalicelib.members.schemas import RegisterMember
from chalicelib.shared.config import settings
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import Principal
from devstack.pump import StreamReader
from tests.aws import client as aws_client

POS = Principal("merchant", "m1", None, "m1", "s1")


def _records():
    arn = aws_client("dynamodb").describe_table(TableName=settings().events_table)["Table"]["LatestStreamArn"]
    return StreamReader(aws_client("dynamodbstreams"), arn, "cn-north-1")(100)


def _register(n):
    for i in range(n):
        uow = UnitOfWork()
        service.register(RegisterMember(phone=f"1380013{8100 + i:04d}"), POS, uow)
        uow.commit()


def _counts():
    today = date.today()
    window = (date(today.year - 1, 1, 1), date(today.year + 1, 12, 31))
    return sum(d["members_registered"] for d in stats.daily(UnitOfWork(), "ALL", *window)), \
        sum(d["members_registered"] for d in stats.daily(UnitOfWork(), "m1", *window))


def test_redelivered_batch_changes_nothing(aws):
    _register(3)
    records = _records()
    assert len(records) == 3
    assert dispatch.handle_records(records) == {"batchItemFailures": []}
    assert _counts() == (3, 3)
    assert dispatch.handle_records(records) == {"batchItemFailures": []}
    assert _counts() == (3, 3)


def test_a_failure_mid_batch_reports_that_record_and_the_retry_converges(aws, monkeypatch):
    _register(4)
    records = _records()
    real = stats.count
    third = event_from_image(records[2]["dynamodb"]["NewImage"]).id
    calls = {"failed": 0}

    def flaky(event):
        if event.id == third and not calls["failed"]:
            calls["failed"] += 1
            raise RuntimeError("throttled")
        real(event)

    monkeypatch.setitem(dispatch.SUBSCRIBERS, "member.registered", [("daily-stats", flaky)])
    result = dispatch.handle_records(records)
    assert result == {"batchItemFailures": [{"itemIdentifier": records[2]["dynamodb"]["SequenceNumber"]}]}
    # the four members' events run side by side (#24 item 7): the fourth member's is done too
    assert _counts() == (3, 3)
    dispatch.handle_records(records)          # the mapping retries the whole batch from the start
    assert _counts() == (4, 4)


def test_remove_records_from_ttl_are_ignored():
    assert dispatch.handle_records([{"eventName": "REMOVE", "dynamodb": {"SequenceNumber": "1"}}]) == {"batchItemFailures": []}


def _steps(subjects: int, each: int) -> list[dict]:
    events = [DomainEvent("test.step", f"member:{s}", {"n": n}, program_id="default")
              for n in range(each) for s in range(subjects)]            # interleaved, as a shard's are
    return [{"eventName": "INSERT", "dynamodb": {"SequenceNumber": f"{i:021d}", "NewImage": {
        "payload": {"S": json.dumps(e.as_dict())}}}} for i, e in enumerate(events)]


def test_members_are_handled_side_by_side_each_in_order(monkeypatch):
    """#24 item 7: a batch's members run side by side (the shard's batches come one at a time, so
    the parallelism is inside the batch), each member's events in their stream order; a member
    stops at its failure, the others go on, and the earliest failure is reported."""
    seen: dict[str, list[int]] = {}
    threads = set()

    def step(event):
        threads.add(threading.current_thread().name)
        if event.subject == "member:3" and event.data["n"] == 2:
            raise RuntimeError("down")
        seen.setdefault(event.subject, []).append(event.data["n"])
        time.sleep(0.002)

    # only this test's subscriber: not those of every type (the webhooks' fan-out) another test's
    # import of the app registered
    monkeypatch.setattr(dispatch, "SUBSCRIBERS", {"test.step": [("steps", step)]})
    monkeypatch.setattr(dispatch.PROVIDERS, "load", lambda: None)
    records = _steps(10, 5)
    result = dispatch.handle_records(records)
    assert result == {"batchItemFailures": [{"itemIdentifier": records[2 * 10 + 3]["dynamodb"]["SequenceNumber"]}]}
    assert seen.pop("member:3") == [0, 1]                          # stopped at its failure
    assert all(ns == [0, 1, 2, 3, 4] for ns in seen.values()) and len(seen) == 9
    assert len(threads) > 1


def test_a_batch_of_many_members_waits_for_them_side_by_side(monkeypatch):
    def waits(event):
        time.sleep(0.01)                                          # a DynamoDB round trip

    # only this test's subscriber: not those of every type (the webhooks' fan-out) another test's
    # import of the app registered
    monkeypatch.setattr(dispatch, "SUBSCRIBERS", {"test.step": [("steps", waits)]})
    monkeypatch.setattr(dispatch.PROVIDERS, "load", lambda: None)
    records = _steps(100, 1)
    started = time.perf_counter()
    assert dispatch.handle_records(records) == {"batchItemFailures": []}
    side_by_side = time.perf_counter() - started
    monkeypatch.setattr(dispatch, "SUBJECT_WORKERS", 1)
    started = time.perf_counter()
    dispatch.handle_records(records)
    one_by_one = time.perf_counter() - started
    print(f"100 events of 100 members, 10 ms each: {one_by_one:.2f} s one by one, {side_by_side:.2f} s side by side")
    assert side_by_side * 3 < one_by_one
