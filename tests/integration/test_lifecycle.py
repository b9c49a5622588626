"""The lifecycle review reads only the members that are due, and walks the stages."""

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.db.uow import UnitOfWork
from chalicelib.members import lifecycle, service
from chalicelib.members.schemas import RegisterMember, UpdateMember
from chalicelib.shared import clock
from chalicelib.shared.principal import Principal
from tests.integration.conftest import store
from tests.outbox import outbox_events

POS = Principal("merchant", "m1", None, "m1", "s1")
DAY0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


@pytest.fixture
def frozen():
    yield lambda at: clock.freeze(at)
    clock.freeze(None)


def register(n, at, frozen, start=0):
    frozen(at)
    ids = []
    for i in range(n):
        uow = UnitOfWork()
        ids.append(service.register(RegisterMember(phone=f"1370013{start + i:04d}"), POS, uow).member_id)
        uow.commit()
    return ids


def stage_events(member_id):
    return [e.type for e in outbox_events(subject=f"member:{member_id}", kind="member.stage_changed")]


def test_reads_only_what_is_due_and_moves_stages(db, frozen):
    early = register(3, DAY0, frozen)
    late = register(2, DAY0 + timedelta(days=10), frozen, start=100)
    frozen(None)
    first = lifecycle.review(DAY0 + timedelta(days=31))
    assert first["members_read"] == 3 and first["stages_changed"] == 3
    assert {store.load(m).stage for m in early} == {"active"}
    assert {store.load(m).stage for m in late} == {"new"}
    again = lifecycle.review(DAY0 + timedelta(days=31))
    assert again == {"members_read": 0, "stages_changed": 0}

    result = lifecycle.review(DAY0 + timedelta(days=95))       # catches up the days in between
    assert result["members_read"] == 5
    assert {store.load(m).stage for m in early} == {"dormant"}
    assert {store.load(m).stage for m in late} == {"active"}
    assert stage_events(early[0]) == ["member.stage_changed", "member.stage_changed"]


def test_activity_brings_a_dormant_member_back(db, frozen):
    [mid] = register(1, DAY0, frozen)
    frozen(None)
    lifecycle.review(DAY0 + timedelta(days=100))
    assert store.load(mid).stage == "dormant"
    frozen(DAY0 + timedelta(days=101))
    uow = UnitOfWork()
    service.update(mid, UpdateMember(name="back"), Principal("member", mid), uow)
    uow.commit()
    member = store.load(mid)
    assert member.stage == "active" and member.review_on is not None
    frozen(None)
    lifecycle.review(DAY0 + timedelta(days=150))
    assert store.load(mid).stage == "active"
    lifecycle.review(DAY0 + timedelta(days=400))
    assert store.load(mid).stage == "churned" and store.load(mid).review_on is None
