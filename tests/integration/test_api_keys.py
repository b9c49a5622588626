"""A merchant's API keys in the store: listing, rotation and last-used, on moto and the fake."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from chalicelib.api import auth
from chalicelib.api.signing import signed_headers
from chalicelib.db import backend
from chalicelib.db.audit import AuditItem
from chalicelib.db.uow import UnitOfWork
from chalicelib.merchants import keys
from chalicelib.merchants.tables import ApiKeyItem
from chalicelib.shared import cache, clock
from chalicelib.shared.errors import Conflict, Forbidden, NotFound, Unauthenticated
from chalicelib.shared.principal import Principal
from tests.integration.conftest import scan
from tests.outbox import outbox_events

HQ = Principal("staff", "boss", "super_admin")
M1_ADMIN = Principal("staff", "ann", "merchant_admin", "m1")
M2_ADMIN = Principal("staff", "bea", "merchant_admin", "m2")


def _create(by=HQ, merchant="m1", store="s1", caps=("pos",)):
    uow = UnitOfWork(by.ref)
    made = keys.create_api_key(by, merchant, store, list(caps), uow)
    uow.commit()
    return made


def _rotate(key_id, by=HQ, merchant="m1", hours=24):
    uow = UnitOfWork(by.ref)
    made = keys.rotate_api_key(by, merchant, key_id, hours, uow)
    uow.commit()
    return made


def _stored():
    return {k.key_id: k.attribute_values for k in scan(ApiKeyItem) if k.pk.startswith("APIKEY#")}


def _signed(key, path="/v1/x", at=None):
    h = signed_headers(key["key_id"], key["secret"], "GET", path, at=at)
    return auth.authenticate({k.lower(): v for k, v in h.items()}, "GET", path, None, b"")


def test_a_merchants_keys_are_listed_a_page_at_a_time_without_secrets(db):
    # listed by creation time (keys made in one millisecond sort by id): the clock set, not slept
    # on (a sleep of 2 ms left both in one millisecond once, on a loaded machine or a frozen clock)
    made = datetime(2026, 12, 1, 4, tzinfo=UTC)
    clock.freeze(made)
    try:
        first = _create()
        clock.freeze(made + timedelta(milliseconds=5))
        second = _create(by=M1_ADMIN, store=None, caps=("reports",))
        _create(merchant="m2", store=None)
    finally:
        clock.freeze(None)
    page = keys.listing(UnitOfWork(), HQ, "m1", 1, None)
    assert [k["key_id"] for k in page["keys"]] == [first["key_id"]] and page["next"]
    rest = keys.listing(UnitOfWork(), M1_ADMIN, "m1", 50, page["next"])
    assert [k["key_id"] for k in rest["keys"]] == [second["key_id"]] and rest["next"] is None
    shown = rest["keys"][0]
    assert shown == {"key_id": second["key_id"], "merchant_id": "m1", "store_id": None, "capabilities": ["reports"],
                     "status": "active", "created_at": second["created_at"], "created_by": "staff:ann",
                     "last_used_at": None, "retires_at": None, "rotated_from": None, "replaced_by": None}
    assert "secret" not in str(page) + str(rest)
    with pytest.raises(Forbidden):                    # another merchant's admin
        keys.listing(UnitOfWork(), M2_ADMIN, "m1", 50, None)
    with pytest.raises(NotFound):
        keys.listing(UnitOfWork(), HQ, "nobody", 50, None)
    with pytest.raises(NotFound):                     # another program has no merchant m1
        keys.listing(UnitOfWork(program="demo-2"), HQ, "m1", 50, None)


def test_a_merchant_admin_manages_its_own_merchants_keys_only_and_never_gives_member_login(db):
    mine = _create()
    before = _stored()
    for attempt in (lambda: _create(by=M2_ADMIN), lambda: _rotate(mine["key_id"], by=M2_ADMIN),
                    lambda: _rotate(mine["key_id"], by=M2_ADMIN, merchant="m2"),        # its own merchant: not there
                    lambda: _create(by=M1_ADMIN, caps=("pos", "member_login"))):
        with pytest.raises((Forbidden, NotFound)):
            attempt()
    uow = UnitOfWork()
    with pytest.raises(Forbidden):
        keys.revoke_api_key(M2_ADMIN, "m1", mine["key_id"], uow)
    assert _stored() == before
    login = _create(caps=("member_login",))
    with pytest.raises(Forbidden):                    # a fresh secret of a login key is HQ's to give too
        _rotate(login["key_id"], by=M1_ADMIN)


def test_rotation_keeps_both_keys_for_the_overlap_then_refuses_the_old_one(db, monkeypatch):
    old = _create(caps=("pos", "reports"))
    new = _rotate(old["key_id"], hours=1)
    assert (new["merchant_id"], new["store_id"], new["capabilities"], new["rotated_from"]) == \
        ("m1", "s1", ["pos", "reports"], old["key_id"])
    assert new["key_id"] != old["key_id"] and new["secret"] != old["secret"]
    retires = keys.clock.parse_iso(new["retires_at"]).timestamp()
    assert abs(retires - (time.time() + 3600)) < 5
    listed = {k["key_id"]: k for k in keys.listing(UnitOfWork(), HQ, "m1", 50, None)["keys"]}
    assert listed[old["key_id"]]["status"] == "retiring" and listed[old["key_id"]]["replaced_by"] == new["key_id"]
    assert listed[new["key_id"]]["status"] == "active" and listed[new["key_id"]]["rotated_from"] == old["key_id"]
    assert _signed(old).id == old["key_id"] and _signed(new).id == new["key_id"]       # both during the overlap
    later = time.time() + 3601
    monkeypatch.setattr(auth, "time", SimpleNamespace(time=lambda: later))
    with pytest.raises(Unauthenticated, match="rotated: use the new key"):
        _signed(old, at=later)
    assert _signed(new, at=later).store_id == "s1"
    monkeypatch.setattr(keys, "time", SimpleNamespace(time=lambda: later))
    statuses = {k["key_id"]: k["status"] for k in keys.listing(UnitOfWork(), HQ, "m1", 50, None)["keys"]}
    assert statuses == {old["key_id"]: "retired", new["key_id"]: "active"}


def test_a_revoked_or_already_rotated_key_cannot_be_rotated_and_nothing_changes(db):
    old = _create()
    new = _rotate(old["key_id"])
    uow = UnitOfWork()
    keys.revoke_api_key(HQ, "m1", new["key_id"], uow)
    uow.commit()
    before, events = _stored(), len(outbox_events(None))
    for key_id, why in ((old["key_id"], "rotated already"), (new["key_id"], "revoked")):
        with pytest.raises(Conflict, match=why):
            _rotate(key_id)
    assert _stored() == before
    assert len(outbox_events(None)) == events
    with pytest.raises(Unauthenticated, match="revoked"):
        _signed(new)


def test_two_rotations_of_one_key_at_once_make_one_new_key(db):
    old = _create()
    first, second = UnitOfWork(), UnitOfWork()
    keys.rotate_api_key(HQ, "m1", old["key_id"], 24, first)
    keys.rotate_api_key(HQ, "m1", old["key_id"], 24, second)      # both read it active
    first.commit()
    with pytest.raises(Conflict):
        second.commit()
    assert len(_stored()) == 2


class _Clock:
    """Wall and monotonic time, moved by the test."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset

    def monotonic(self) -> float:
        return time.monotonic() + self.offset


def test_last_used_is_written_at_most_once_a_minute(db, monkeypatch):
    key = _create()
    clock = _Clock()
    for module in (keys, auth, cache):
        monkeypatch.setattr(module, "time", clock)
    writes = []
    real = backend.current().write

    def counted(batch):
        writes.extend(w for w in batch if isinstance(w.item, ApiKeyItem))
        return real(batch)
    monkeypatch.setattr(backend.current(), "write", counted)

    _signed(key)
    first = _stored()[key["key_id"]]["last_used_at"]
    assert first and len(writes) == 1
    clock.offset += 30
    _signed(key)                                    # within the minute: no write at all
    assert len(writes) == 1 and _stored()[key["key_id"]]["last_used_at"] == first
    keys._WRITTEN.clear()                           # another container, within the minute: the condition refuses
    _signed(key)
    assert len(writes) == 2 and _stored()[key["key_id"]]["last_used_at"] == first
    clock.offset += 61
    _signed(key)                                    # the clock moved past the minute: written again
    assert len(writes) == 3 and _stored()[key["key_id"]]["last_used_at"] > first
    listed = keys.listing(UnitOfWork(), HQ, "m1", 50, None)["keys"]
    assert listed[0]["last_used_at"] == _stored()[key["key_id"]]["last_used_at"]


def test_a_failed_last_used_write_never_fails_the_request(db, monkeypatch):
    key = _create()

    def broken(batch):
        raise RuntimeError("the table is away")
    monkeypatch.setattr(backend.current(), "write", broken)
    assert _signed(key).id == key["key_id"]


def test_keys_made_before_listings_are_listed_once_by_the_migration(aws):
    from chalicelib.db.tables import MAIN
    from chalicelib.merchants.migration import migrate_key_listing
    from chalicelib.shared.config import settings
    old = ApiKeyItem(*ApiKeyItem.key("ak_before"), key_id="ak_before", merchant_id="m1", store_id=None,
                     capabilities=["pos"], status="active", created_at="2025-01-01T00:00:00.000Z")   # no program: default
    UnitOfWork().put(old)
    listed = _create()
    assert [k["key_id"] for k in keys.listing(UnitOfWork(), HQ, "m1", 50, None)["keys"]] == [listed["key_id"]]
    table = MAIN.physical_name(settings())
    assert migrate_key_listing(aws, table) == {"listed": 1, "failed": []}
    shown = [k["key_id"] for k in keys.listing(UnitOfWork(), HQ, "m1", 50, None)["keys"]]
    assert shown == ["ak_before", listed["key_id"]]            # oldest first
    assert migrate_key_listing(aws, table) == {"listed": 0, "failed": []}     # marked done


def test_a_revoke_of_a_revoked_key_answers_the_first_revocation_even_when_it_raced_it(api, monkeypatch):
    """Concurrent revokes of one key: the losers of the race answered the generic 409 (not in the
    document for revokeApiKey), and every 200 its own ``revoked_at``. Now each answers the key as
    revoked, with the one time it was."""
    from datetime import UTC, datetime, timedelta

    from chalicelib.shared import clock
    at = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    clock.freeze(at)
    made = api.ok("POST", "/v1/merchants/m1/api-keys", {"store_id": "s1"})
    revoke = f"/v1/merchants/m1/api-keys/{made['key_id']}/revoke"
    stale = UnitOfWork("t").get(ApiKeyItem, ApiKeyItem.key(made["key_id"]), consistent=True)   # as a racer read it
    first = api.ok("POST", revoke, {})
    assert first["status"] == "revoked" and first["revoked_at"] == "2026-12-05T09:00:00.000Z"
    clock.freeze(at + timedelta(seconds=3))
    real, reads = keys._key_of, []
    monkeypatch.setattr(keys, "_key_of", lambda *a, **k: reads.append(1) or (stale if len(reads) == 1 else real(*a, **k)))
    status, raced = api.call("POST", revoke, {})                  # read the key active, lost to the first revoke
    assert (status, raced["revoked_at"], raced["status"]) == (200, first["revoked_at"], "revoked"), raced
    monkeypatch.setattr(keys, "_key_of", real)
    assert api.ok("POST", revoke, {})["revoked_at"] == first["revoked_at"]          # a later one: the same
    revoked = {e.sk.rsplit("#", 1)[1] for e in scan(AuditItem)
               if e.action == "api_key.revoked" and made["key_id"] in (e.detail or "")}   # each entry's id
    assert len(revoked) == 1
