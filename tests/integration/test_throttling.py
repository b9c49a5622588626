"""DynamoDB refusing work for capacity (#24 item 4), on the emulator made to throttle
(``devstack/throttling.py``): every refusal is :class:`Throttled` with nothing written, whatever the
call, and a batch read asks again for what was left unprocessed after growing pauses, a bounded
number of times."""

from __future__ import annotations

import types

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from chalicelib.db import backend, tenancy
from chalicelib.db.audit import AuditItem
from chalicelib.db.backend import BATCH_GET_TRIES, Throttled
from chalicelib.db.uow import UnitOfWork
from chalicelib.shared import retry
from devstack import throttling


@pytest.fixture
def throttled(aws, monkeypatch):
    """The emulator, ready to throttle; botocore's own pauses between its retries skipped."""
    from botocore.retries import standard
    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)
    yield aws
    throttling.calm()


def _audit(member: str, n: int) -> AuditItem:
    return AuditItem(*AuditItem.key(member, "2026-01-01", str(n)), actor="t", action="a", detail="d", at="2026-01-01")


def _audits(member: str) -> list[AuditItem]:
    return list(UnitOfWork().query(AuditItem, f"AUDIT#{member}"))


def test_the_emulator_throttles_as_dynamodb_does(throttled):
    client = boto3.client("dynamodb", config=Config(retries={"mode": "standard", "total_max_attempts": 2}))
    table = AuditItem.Meta.table_name
    put = {"Put": {"TableName": table, "Item": {"pk": {"S": "x"}, "sk": {"S": "1"}}}}
    throttling.throttle("TransactWriteItems")
    with pytest.raises(ClientError) as cancelled:
        client.transact_write_items(TransactItems=[put, {"Put": {**put["Put"], "Item": {"pk": {"S": "x"}, "sk": {"S": "2"}}}}])
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert [r["Code"] for r in cancelled.value.response["CancellationReasons"]] == ["ThrottlingError", "None"]
    throttling.throttle("PutItem", times=2)                      # both of botocore's attempts
    with pytest.raises(ClientError) as refused:
        client.put_item(TableName=table, Item=put["Put"]["Item"])
    assert refused.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert "Item" not in client.get_item(TableName=table, Key={"pk": {"S": "x"}, "sk": {"S": "1"}})
    assert throttling.calm() == 0


def test_a_transaction_cancelled_for_throttling_is_throttled_and_writes_nothing(throttled):
    uow = UnitOfWork("test")
    for i in range(2):
        uow.create(_audit("m1", i))
    throttling.throttle("TransactWriteItems")
    with pytest.raises(Throttled):
        uow.commit()
    assert _audits("m1") == [] and not uow.committed
    again = UnitOfWork("test")
    for i in range(2):
        again.create(_audit("m1", i))
    again.commit()                                                 # later, the same change goes through
    assert len(_audits("m1")) == 2


def test_a_call_throttled_past_botocores_attempts_is_throttled_and_one_within_them_is_not(throttled):
    UnitOfWork("test").put(_audit("m2", 0))
    key = AuditItem.key("m2", "2026-01-01", "0")
    throttling.throttle("GetItem", times=2)                        # botocore retries: 3 attempts in all
    assert UnitOfWork().get(AuditItem, key) is not None
    throttling.throttle("GetItem", times=3)
    with pytest.raises(Throttled):
        UnitOfWork().get(AuditItem, key)
    throttling.throttle("Query", times=3)
    with pytest.raises(Throttled):
        _audits("m2")                                              # a lazy query too
    throttling.throttle("PutItem", times=3)
    with pytest.raises(Throttled):
        UnitOfWork("test").put(_audit("m2", 1))
    assert throttling.calm() == 0 and len(_audits("m2")) == 1


def _three(member: str) -> list[tuple[type, str, str]]:
    uow = UnitOfWork("test")
    for i in range(3):
        uow.create(_audit(member, i))
    uow.commit()
    keys = [AuditItem.key(member, "2026-01-01", str(i)) for i in range(3)]
    return [(AuditItem, tenancy.physical("default", pk), sk) for pk, sk in keys]


def test_keys_left_unprocessed_are_asked_for_again_after_growing_jittered_pauses(throttled, monkeypatch):
    wanted = _three("m3")
    pauses: list[float] = []
    monkeypatch.setattr(retry, "time", types.SimpleNamespace(sleep=pauses.append))
    monkeypatch.setattr(retry.random, "uniform", lambda low, high: high)       # the longest pause each time
    throttling.leave_unprocessed(times=2)                  # one key served, then one more, then the last
    found = backend.current().batch_get(wanted, consistent=True)
    assert [item.sk for item in found] == [sk for _, _, sk in wanted]          # complete
    assert pauses == [0.05, 0.1]                                                # backed off before each ask
    assert throttling.calm() == 0


def test_keys_left_unprocessed_every_time_are_throttled_after_a_bounded_number_of_tries(throttled, monkeypatch):
    wanted = _three("m4")
    pauses: list[float] = []
    monkeypatch.setattr(retry, "time", types.SimpleNamespace(sleep=pauses.append))
    throttling.leave_unprocessed(times=50, serve=0)
    with pytest.raises(Throttled, match="3 keys"):
        backend.current().batch_get(wanted, consistent=True)
    assert throttling.calm() == 50 - BATCH_GET_TRIES and len(pauses) == BATCH_GET_TRIES - 1
    assert sum(pauses) <= 0.05 + 0.1 + 0.2 + 0.4 + 0.8
