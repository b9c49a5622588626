"""Staff accounts in the store: the login check under stale reads, the lock under concurrent
wrong passwords, and the account's changes ending its logins (moto, the fake, DynamoDB Local)."""

from __future__ import annotations

import threading

import pytest

from chalicelib.db import backend
from chalicelib.db.uow import UnitOfWork
from chalicelib.shared.errors import Unauthenticated
from chalicelib.shared.principal import Principal
from chalicelib.staff import accounts, attempts, check, sessions
from chalicelib.staff.tables import StaffLockItem

HQ = Principal("staff", "boss", "super_admin")
PASSWORD = "Correct-horse-staple-42"


def _account(login: str, role: str = "ops_manager") -> dict:
    uow = UnitOfWork(HQ.ref)
    made = accounts.create(uow, HQ, login, "x", role, None, None, PASSWORD)
    uow.commit()
    return made


def _login(login: str, password: str = PASSWORD) -> dict:
    uow = UnitOfWork("test")
    tokens = sessions.login(uow, login, password, None, "10.0.0.1")
    uow.commit()
    return tokens


def _claims(token: str) -> dict:
    import jwt
    return jwt.decode(token, options={"verify_signature": False})


def test_a_login_a_stale_read_misses_is_confirmed_by_a_consistent_read_before_it_is_refused(db, monkeypatch):
    _account("anna")
    claims = _claims(_login("anna")["token"])
    store = backend.current()
    real, calls = store.batch_get, []

    def stale(wanted, consistent=False):
        calls.append(consistent)
        return [None] * len(wanted) if not consistent else real(wanted, consistent=True)
    monkeypatch.setattr(store, "batch_get", stale)
    assert check.login_holds("default", claims["sub"], claims["ep"], claims["sid"]) is True
    assert calls == [False, True]
    calls.clear()
    assert check.login_holds("default", claims["sub"], claims["ep"] + 1, claims["sid"]) is False   # an old epoch
    assert calls == [False, True]


def test_concurrent_wrong_passwords_are_each_counted_and_lock_the_login(db):
    _account("bert")
    results: list[str] = []

    def wrong() -> None:
        try:
            _login("bert", "Wrong-password-123")
        except Exception as error:      # noqa: BLE001 - the kind of refusal is what is counted
            results.append(type(error).__name__)
    threads = [threading.Thread(target=wrong) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lock = UnitOfWork("test").get(StaffLockItem, StaffLockItem.key("bert"), consistent=True)
    assert lock is not None
    # 12 at once: at most 5 passwords checked (each admitted first), then the name locked
    assert int(lock.locks) == 1 and lock.locked_until is not None
    assert len(results) == 12 and results.count("Unauthenticated") <= attempts.TRIES
    assert set(results) <= {"Unauthenticated", "LoginLocked", "TooManyLogins", "CallerLocked"}
    with pytest.raises(attempts.LoginLocked):
        _login("bert")


def test_a_role_change_ends_the_login_and_its_refresh(db):
    made = _account("cara")
    tokens = _login("cara")
    claims = _claims(tokens["token"])
    assert check.login_holds("default", claims["sub"], claims["ep"], claims["sid"])
    uow = UnitOfWork(HQ.ref)
    accounts.update(uow, HQ, made["staff_id"], made["version"], {"role": "finance"})
    uow.commit()
    assert not check.login_holds("default", claims["sub"], claims["ep"], claims["sid"])
    with pytest.raises(Unauthenticated):
        sessions.refresh(UnitOfWork("test"), tokens["refresh_token"])


def test_one_caller_gets_thirty_wrong_passwords_in_fifteen_minutes_whatever_logins_it_names(db):
    for i in range(30):
        with pytest.raises(Unauthenticated):
            sessions.login(UnitOfWork("test"), f"nobody-{i}", "Wrong-password-123", None, "10.9.9.9")
    with pytest.raises(attempts.CallerLocked):
        sessions.login(UnitOfWork("test"), "nobody-31", "Wrong-password-123", None, "10.9.9.9")
    # another caller is not held back
    with pytest.raises(Unauthenticated):
        sessions.login(UnitOfWork("test"), "nobody-32", "Wrong-password-123", None, "10.9.9.10")


@pytest.mark.parametrize("source", ["Bearer abc.def.ghi", "0123456789abcdef" * 4], ids=["bearer", "hex-secret"])
def test_a_failed_login_from_an_address_that_looks_like_a_credential_is_401_and_audited_masked(api, monkeypatch, source):
    """A failed login's audit actor is ``anonymous:<source address>``, and the audit log refuses an
    actor that looks like a credential: such an address (sent by whatever stands in front of the
    gateway) answered 500. It is masked where the request's source is read."""
    import json

    from chalice.local import LambdaEventConverter

    from chalicelib.db.audit import AuditItem
    from tests.integration.conftest import scan
    monkeypatch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", source)
    _account("erin")

    def login(password: str):
        return api.client.http.post("/v1/auth/staff/login", headers={"Content-Type": "application/json"}, body=json.dumps(
            {"program_id": "default", "login": "erin", "password": password}))
    refused = login("Wrong-horse-staple-42")
    assert refused.status_code == 401, refused.body
    failed = [e for e in scan(AuditItem) if getattr(e, "action", None) == "staff.login_failed"]
    assert failed and {e.actor for e in failed} == {"anonymous:[redacted]"}
    assert login(PASSWORD).status_code == 201                      # the right password, from the same address
    assert source not in json.dumps([e.attribute_values for e in scan(AuditItem, None)], default=str)
