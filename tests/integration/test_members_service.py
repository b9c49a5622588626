"""Members on real DynamoDB code: identities unique, writes atomic with events and claims."""

import json

import pytest

from chalicelib.api.idempotency import IdempotencyRecord
from chalicelib.db.uow import ClaimTaken, UnitOfWork
from chalicelib.members import service
from chalicelib.members.domain import Identity
from chalicelib.members.schemas import RegisterMember, UpdateMember
from chalicelib.shared.errors import ConcurrentUpdate, Conflict, Forbidden, IdentityTaken, NotFound
from chalicelib.shared.principal import Principal
from tests.integration.conftest import scan, store
from tests.outbox import outbox_events

ADMIN = Principal("staff", "admin", "super_admin")
POS = Principal("merchant", "m1", None, "m1", "s1")


def register(body, by=ADMIN, claim=None):
    uow = UnitOfWork(by.ref, "corr-1")
    member = service.register(RegisterMember(**body), by, uow)
    uow.commit(claim)
    return member


def events():
    return outbox_events()



def test_register_writes_profile_identities_and_one_event(db):
    m = register({"phone": "13800138000", "identities": [{"type": "wechat_openid", "value": "oABCDEF123"}]})
    assert store.resolve(Identity("phone", "+8613800138000")) == m.member_id
    assert store.resolve(Identity("wechat_openid", "oABCDEF123")) == m.member_id
    assert store.load(m.member_id).identities == m.identities
    [event] = events()
    assert event.type == "member.registered" and event.subject == f"member:{m.member_id}"
    assert "13800138000" not in json.dumps(event.as_dict(), ensure_ascii=False)


def test_a_taken_identity_refuses_the_whole_registration(db):
    register({"phone": "13800138000"})
    with pytest.raises(IdentityTaken) as error:
        register({"phone": "+86 138 0013 8000", "email": "new@example.com"})
    assert error.value.extensions["conflicts"] == [{"type": "phone", "value": "138****8000"}]
    assert store.resolve(Identity("email", "new@example.com")) is None
    assert len(events()) == 1


def test_every_taken_identity_is_named(db):
    register({"phone": "13800138000", "email": "a@example.com"})
    with pytest.raises(IdentityTaken) as error:
        register({"phone": "13800138000", "email": "a@example.com"})
    assert {c["type"] for c in error.value.extensions["conflicts"]} == {"phone", "email"}


def test_pos_registration_takes_the_store_of_its_key(db):
    m = register({"phone": "13800138001"}, by=POS)
    assert (m.merchant_id, m.store_id) == ("m1", "s1")
    with pytest.raises(Forbidden):
        register({"phone": "13800138002", "store_id": "other"}, by=POS)


def test_claim_is_atomic_with_the_write(db):
    claim = IdempotencyRecord.claim("staff:admin", "k1", "fp", 201, {"ok": True})
    register({"phone": "13800138003"}, claim=claim)
    again = IdempotencyRecord.claim("staff:admin", "k1", "fp", 201, {"ok": True})
    with pytest.raises(ClaimTaken):
        register({"phone": "13800138004"}, claim=again)
    assert store.resolve(Identity("phone", "+8613800138004")) is None
    assert len(events()) == 1


def test_bind_and_update(db):
    m = register({"identities": [{"type": "wechat_openid", "value": "oABCDEF999"}]})
    uow = UnitOfWork()
    updated, added = service.bind(m.member_id, "phone", "13800138005", ADMIN, uow)
    uow.commit()
    assert added and store.resolve(Identity("phone", "+8613800138005")) == m.member_id
    uow = UnitOfWork()
    same, added = service.bind(m.member_id, "phone", "138 0013 8005", ADMIN, uow)
    assert not added and not uow.pending
    with pytest.raises(Conflict):
        service.bind(m.member_id, "phone", "13800138006", ADMIN, UnitOfWork())
    uow = UnitOfWork()
    service.update(m.member_id, UpdateMember(name="Li", custom_fields={"size": "M"}), ADMIN, uow)
    uow.commit()
    assert store.load(m.member_id).custom_fields == {"size": "M"}
    assert store.load(m.member_id).version == 3


def test_a_lost_update_is_refused(db):
    m = register({"phone": "13800138007"})
    first, second = UnitOfWork(), UnitOfWork()
    service.update(m.member_id, UpdateMember(name="A"), ADMIN, first)
    service.update(m.member_id, UpdateMember(name="B"), ADMIN, second)
    first.commit()
    with pytest.raises(ConcurrentUpdate):
        second.commit()
    assert store.load(m.member_id).name == "A"


def test_members_read_only_themselves(db):
    m = register({"phone": "13800138008"})
    me = Principal("member", m.member_id)
    assert service.get(UnitOfWork(), "me", me)["phone"] == "+8613800138008"
    with pytest.raises(Forbidden):
        service.get(UnitOfWork(), "01J00000000000000000000000", me)
    with pytest.raises(NotFound):
        service.get(UnitOfWork(), "01J00000000000000000000000", ADMIN)
    with pytest.raises(Forbidden):
        service.get(UnitOfWork(), m.member_id, Principal("staff", "c", "clerk"), reveal=True)


def test_a_birthday_is_set_once_and_then_changed_only_by_hq_with_a_reason(db):
    """Issue #20: a member moved their birthday to today before every order (a 3x multiplier)."""
    from datetime import date

    from chalicelib.db.audit import AuditItem
    from chalicelib.members.service import BirthdayLocked
    from chalicelib.shared.errors import ValidationProblem
    m = register({"phone": "13800138031"})
    me = Principal("member", m.member_id)
    uow = UnitOfWork()
    service.update("me", UpdateMember(birthday=date(1990, 5, 1)), me, uow)             # set once: fine
    uow.commit()
    for who in (me, POS):
        for birthday in (date(1990, 12, 2), None):
            with pytest.raises(BirthdayLocked):
                service.update(m.member_id if who is POS else "me", UpdateMember(birthday=birthday), who,
                               UnitOfWork())
    uow = UnitOfWork()
    service.update("me", UpdateMember(birthday=date(1990, 5, 1), name="Wang"), me, uow)  # unchanged: fine
    uow.commit()
    with pytest.raises(ValidationProblem):                                                  # HQ: a reason
        service.update(m.member_id, UpdateMember(birthday=date(1990, 6, 1)), ADMIN, UnitOfWork())
    assert store.load(m.member_id).birthday == date(1990, 5, 1)
    assert [a for a in scan(AuditItem) if a.action == "birthday_changed"] == []
    uow = UnitOfWork()
    service.update(m.member_id, UpdateMember(birthday=date(1990, 6, 1), reason="ID card shows June"), ADMIN, uow)
    uow.commit()
    assert store.load(m.member_id).birthday == date(1990, 6, 1)
    audited = [a for a in scan(AuditItem) if a.action == "birthday_changed" and a.pk.startswith("AUDIT#")]  # the member's copy
    assert [(a.actor, a.detail) for a in audited] == [(ADMIN.ref, "1990-05-01 -> 1990-06-01: ID card shows June")]


def _counting_gets(monkeypatch, fake):
    """Count the member items a test's units read from the backend."""
    from chalicelib.members.tables import MemberItem
    reads = []
    real = type(fake).get

    def get(self, model, pk, sk, consistent=False):
        if model is MemberItem:
            reads.append(consistent)
        return real(self, model, pk, sk, consistent)
    monkeypatch.setattr(type(fake), "get", get)
    return reads


def test_the_member_a_request_acts_on_is_read_once_per_unit(memory, monkeypatch):
    m = register({"phone": "13800138000"})
    reads = _counting_gets(monkeypatch, memory)
    uow = UnitOfWork(ADMIN.ref)
    first = service.acting_on(uow, m.member_id, ADMIN)
    # points, stored value and tiers of one request each ask: one read between them
    assert service.acting_on(uow, m.member_id, ADMIN) is first and service.acting_on(uow, m.member_id) is first
    assert reads == [False]
    # a change reads consistently and afresh; a new unit reads again
    service.update(m.member_id, UpdateMember(name="Li"), ADMIN, uow)
    service.acting_on(UnitOfWork(ADMIN.ref), m.member_id, ADMIN)
    assert reads == [False, True, False]


def test_a_unit_that_forgets_reads_the_member_again(memory, monkeypatch):
    m = register({"phone": "13800138000"})
    reads = _counting_gets(monkeypatch, memory)
    uow = UnitOfWork(ADMIN.ref)
    service.acting_on(uow, m.member_id, ADMIN)
    uow.forget()
    service.acting_on(uow, m.member_id, ADMIN)
    assert reads == [False, False]


def test_the_resolver_still_refuses_another_members_record_to_a_member(memory):
    m = register({"phone": "13800138000"})
    other = register({"phone": "13800138001"})
    uow = UnitOfWork()
    me = Principal("member", m.member_id)
    assert service.acting_on(uow, "me", me).member_id == m.member_id
    with pytest.raises(Forbidden):
        service.acting_on(uow, other.member_id, me)       # even once the other was read in this unit
    service.acting_on(uow, other.member_id, ADMIN)
    with pytest.raises(Forbidden):
        service.acting_on(uow, other.member_id, me)
