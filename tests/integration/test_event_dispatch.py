"""Stream batches delivered twice, or failing half-way, leave projections identical."""

from datetime import date

import boto3

from chalicelib.db.uow import UnitOfWork
from chalicelib.events import dispatch, stats
from chalicelib.members import service
from chalicelib.members.schemas import RegisterMember
from chalicelib.shared.config import settings
from chalicelib.shared.principal import Principal
from devstack.pump import StreamReader

POS = Principal("merchant", "m1", None, "m1", "s1")


def _records():
    arn = boto3.client("dynamodb").describe_table(TableName=settings().events_table)["Table"]["LatestStreamArn"]
    return StreamReader(boto3.client("dynamodbstreams"), arn, "cn-north-1")(100)


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
    calls = {"n": 0}

    def flaky(event):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("throttled")
        real(event)

    monkeypatch.setitem(dispatch.SUBSCRIBERS, "member.registered", [("daily-stats", flaky)])
    result = dispatch.handle_records(records)
    assert result == {"batchItemFailures": [{"itemIdentifier": records[2]["dynamodb"]["SequenceNumber"]}]}
    assert _counts() == (2, 2)
    dispatch.handle_records(records)          # the mapping retries the whole batch from the start
    assert _counts() == (4, 4)


def test_remove_records_from_ttl_are_ignored():
    assert dispatch.handle_records([{"eventName": "REMOVE", "dynamodb": {"SequenceNumber": "1"}}]) == {"batchItemFailures": []}
