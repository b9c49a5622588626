"""A lost race names the record it was lost on (``ConcurrentUpdate.record``), so the endpoint
queues a process's retries on that record (``api/contention``), not on the request's path."""

import pytest

from chalicelib.db import backend as backends
from chalicelib.db.uow import UnitOfWork
from chalicelib.jobs import JobRun
from chalicelib.shared.errors import ConcurrentUpdate, Conflict, changed


def _run(name: str) -> JobRun:
    return JobRun(*JobRun.key(name), job=name, as_of="2026-12-05T00:00:00Z", finished_at="2026-12-05T00:00:01Z",
                  result="{}")


def test_a_failed_condition_names_its_record(aws):
    first = UnitOfWork()
    first.create(_run("raced"))
    first.commit()
    again = UnitOfWork()
    again.create(_run("free"))
    again.create(_run("raced"), on_conflict=changed("job raced"))
    with pytest.raises(ConcurrentUpdate) as lost:
        again.commit()
    assert lost.value.record == "JOB#raced/LAST"


def test_a_refusal_that_is_not_a_race_names_nothing(aws):
    UnitOfWork().put(_run("taken"))
    uow = UnitOfWork()
    uow.create(_run("taken"))
    with pytest.raises(Conflict) as refused:
        uow.commit()
    assert not isinstance(refused.value, ConcurrentUpdate) and getattr(refused.value, "record", None) is None


def test_a_transaction_conflict_names_the_write_it_collided_on(aws, monkeypatch):
    def collides(self, writes):
        raise backends.Contended([1])
    monkeypatch.setattr(backends.DynamoBackend, "write", collides)
    uow = UnitOfWork()
    uow.create(_run("a"))
    uow.create(_run("b"))
    with pytest.raises(ConcurrentUpdate) as lost:
        uow.commit()
    assert lost.value.record == "JOB#b/LAST"
    monkeypatch.setattr(backends.DynamoBackend, "write", lambda self, writes: (_ for _ in ()).throw(backends.Contended()))
    uow = UnitOfWork()
    uow.create(_run("c"))
    with pytest.raises(ConcurrentUpdate) as unknown:
        uow.commit()
    assert unknown.value.record is None                 # DynamoDB did not say which: the member or the path
