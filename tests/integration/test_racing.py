"""The staged-race fake (``tests/racing.py``) does what the race tests rely on: it changes the
stored item only before a transaction that writes it, as many times as armed, and the unit of
work then answers with the write's own conflict."""

import pytest

from chalicelib.db.audit import AuditItem
from chalicelib.db.uow import UnitOfWork
from chalicelib.shared.errors import ConcurrentUpdate, Conflict
from tests.racing import appear, put


def _audit(actor: str = "t") -> AuditItem:
    return AuditItem(*AuditItem.key("m1", "2026-01-01", "1"), actor=actor, action="a", detail="d", at="2026-01-01")


def _save(on_conflict) -> None:
    uow = UnitOfWork("test")
    uow.save(_audit(), AuditItem.actor == "t", on_conflict=on_conflict)
    uow.commit()


def test_a_race_changes_the_stored_item_before_the_write_and_its_conflict_answers(racing):
    UnitOfWork("test").put(_audit())
    racing.race(AuditItem, put("actor", {"S": "someone else"}))
    with pytest.raises(ConcurrentUpdate, match="raced"):
        _save(lambda: ConcurrentUpdate("raced"))
    assert racing.raced == 1
    racing.race(AuditItem, put("actor", {"S": "t"}))          # a race that restores: the write goes through
    _save(lambda: ConcurrentUpdate("raced"))
    assert racing.raced == 2


def test_a_race_is_spent_after_its_times_and_only_on_its_model(racing):
    UnitOfWork("test").put(_audit())
    racing.race(AuditItem, put("actor", {"S": "x"}), times=1, where=lambda pk, sk: sk.endswith("never"))
    _save(lambda: ConcurrentUpdate("raced"))                   # its key does not match: no race
    assert racing.raced == 0
    racing.armed.clear()
    racing.race(AuditItem, put("actor", {"S": "t"}), times=1)
    _save(lambda: ConcurrentUpdate("raced"))
    _save(lambda: ConcurrentUpdate("raced"))
    assert racing.raced == 1


def test_a_create_race_makes_the_item_appear_first(racing):
    racing.race(AuditItem, create=appear(AuditItem))
    uow = UnitOfWork("test")
    uow.create(_audit(), on_conflict=lambda: Conflict("it appeared"))
    with pytest.raises(Conflict, match="it appeared"):
        uow.commit()
    assert racing.raced == 1
