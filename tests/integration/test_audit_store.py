"""#28 item 6: one audit store (chalicelib/db/audit.py) that every capability writes and that
listAuditLog and listMemberAudit read: paged newest first across sharded day partitions, by member,
by staff member (subject or actor), by kind (exact or a family prefix), by period; entries written
before it (the member's copy alone) still listed; no secret in an entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.db import audit
from chalicelib.db.audit import AuditItem, AuditRefused, Wanted
from chalicelib.db.uow import UnitOfWork
from chalicelib.members import repository as members_repository
from chalicelib.shared import clock
from tests.integration.conftest import scan

T = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)        # entries over three UTC days
LOW, HIGH = "2026-02-01T00:00:00.000Z", "2026-04-01T00:00:00.000Z"


@pytest.fixture
def frozen():
    yield
    clock.freeze(None)


def audits() -> list[AuditItem]:
    """Every audit item of the default program (scan reads every item as the model: keep ours)."""
    return [i for i in scan(AuditItem) if i.pk.startswith("AUDIT")]


def write(entries: list[dict], program: str = "default") -> None:
    """Record each entry at T + 2 h x its position, in one unit each (as a request would)."""
    for n, entry in enumerate(entries):
        clock.freeze(T + timedelta(hours=2 * n))
        uow = UnitOfWork("test", program=program)
        audit.record(uow, **entry)
        uow.commit()


ENTRIES = [
    {"action": "token.issued", "actor": "merchant:m1:s1:ak_1", "member_id": "m-a", "detail": "verified_by=sms_otp"},
    {"action": "staff.login", "actor": "staff:s-1", "staff_id": "s-1"},
    {"action": "pii.revealed", "actor": "staff:s-2", "member_id": "m-a", "detail": "phone,email"},
    {"action": "staff.role_changed", "actor": "staff:s-2", "staff_id": "s-1", "detail": "clerk -> store_manager"},
    {"action": "api_key.created", "actor": "staff:s-2", "merchant_id": "m1", "detail": "ak_2 store=s1"},
    {"action": "token.issued", "actor": "merchant:m1:s1:ak_1", "member_id": "m-b", "detail": "verified_by=password"},
    {"action": "staff.login_failed", "actor": "anonymous:login", "staff_id": "s-1"},
    {"action": "token.refreshed", "actor": "refresh-token", "member_id": "m-a", "detail": "refresh token 01J"},
] * 3      # 24 entries, 2 h apart: from 1 March 22:00 to 3 March 18:00 (UTC)


def listed(want: Wanted, limit: int, program: str = "default") -> tuple[list[AuditItem], int]:
    """Every entry ``want`` lists, page by page; and how many pages."""
    seen: list[AuditItem] = []
    before, pages = None, 0
    while True:
        found, before = audit.page(UnitOfWork("test", program=program), want, before, limit)
        seen += found
        pages += 1
        if before is None:
            return seen, pages


def test_an_entry_is_staged_on_the_unit_and_committed_with_it(db, frozen):
    clock.freeze(T)
    uow = UnitOfWork("test")
    audit.record(uow, "staff.role_changed", "staff:boss", member_id="m-1", staff_id="s-9", merchant_id="m1",
                 detail="clerk -> store_manager")
    assert audits() == []                                  # staged, not written
    uow.commit()
    stored = sorted(i.pk.split("#", 1)[0] for i in audits())
    # the day's shard, the family's, the member's, the subject's and the actor's copies
    assert stored == ["AUDIT", "AUDITFAM", "AUDITLOG", "AUDITSTAFF", "AUDITSTAFF"]
    assert {(i.action, i.actor, i.detail, i.member_id, i.staff_id, i.merchant_id) for i in audits()} == {
        ("staff.role_changed", "staff:boss", "clerk -> store_manager", "m-1", "s-9", "m1")}
    kept = {i.expires_at for i in audits()}
    assert kept == {int((T + timedelta(days=400)).timestamp())}   # 400 days: MLPS Level 3 wants 6 months


def test_text_that_looks_like_a_secret_is_masked_and_the_rest_kept(db):
    uow = UnitOfWork("test")
    masked = {"secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw kept": "secret [redacted] kept",
              "token rt_default.01J.abcdef": "token [redacted]",
              "Authorization: Bearer abc123": "Authorization: [redacted]",
              "Bearer abcdefghijklmnop": "[redacted]",
              "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.x end": "jwt [redacted] end",
              "key secret " + "a1" * 32: "key secret [redacted]",
              # plain phrases are not credentials: kept as typed
              "reason: bearer of the card asked for it": "reason: bearer of the card asked for it",
              "display_name: Bearer of the keys -> Anna": "display_name: Bearer of the keys -> Anna",
              "login bearer-x rt_ops": "login bearer-x rt_ops"}
    for detail in masked:
        audit.record(uow, "member.revealed", "staff:s", member_id="m-1", detail=detail)
    uow.commit()
    kept = sorted(i.detail for i in audits() if i.pk.startswith("AUDIT#"))
    assert kept == sorted(masked.values())
    uow = UnitOfWork("test")
    with pytest.raises(AuditRefused):                      # an actor is made by code: a bug, refused
        audit.record(uow, "staff.login_failed", "anonymous:Bearer eyJhbGciOiJIUzI1NiJ9x")
    for bad in ("Staff.Login", "staff..login", "", "staff login"):
        with pytest.raises(AuditRefused):
            audit.record(uow, bad, "staff:s")
    with pytest.raises(AuditRefused):
        audit.record(uow, "member.revealed", "staff:s", member_id="m#1")
    assert not uow.pending


def test_the_log_pages_newest_first_across_day_shards(db, frozen):
    write(ENTRIES)
    everything = [i.sk for i in audits() if i.pk.startswith("AUDITLOG#")]
    assert len(everything) == 24 and len({i.split("T")[0] for i in everything}) == 3
    assert len({i.pk for i in audits() if i.pk.startswith("AUDITLOG#")}) > 3     # shards of each day
    for limit in (1, 5, 7, 24, 200):
        seen, pages = listed(Wanted("2026-03-01T00:00:00.000Z", "2026-03-04T00:00:00.000Z"), limit)
        assert [i.sk for i in seen] == sorted(everything, reverse=True), limit
        assert pages == 24 // limit + 1
    # a period: the program's days are instants here; 2 March (UTC) only
    seen, _ = listed(Wanted("2026-03-02T00:00:00.000Z", "2026-03-03T00:00:00.000Z"), 5)
    assert [i.at[:10] for i in seen] == ["2026-03-02"] * 12


def test_each_filter_reads_its_own_partitions(db, frozen):
    write(ENTRIES)

    def actions(**wanted) -> list[tuple[str, str]]:
        seen, _ = listed(Wanted(LOW, HIGH, **wanted), 4)
        assert [i.sk for i in seen] == sorted((i.sk for i in seen), reverse=True)
        return [(i.action, i.subject_member() or i.staff_id or i.actor) for i in seen]

    assert actions(member_id="m-a") == [("token.refreshed", "m-a"), ("pii.revealed", "m-a"),
                                        ("token.issued", "m-a")] * 3
    # a staff member as the subject (s-1's login, role change, failed login) or the actor (s-1 logged in)
    assert actions(staff_id="s-1") == [("staff.login_failed", "s-1"), ("staff.role_changed", "s-1"),
                                       ("staff.login", "s-1")] * 3
    assert [a for a, _ in actions(staff_id="s-2")] == ["api_key.created", "staff.role_changed", "pii.revealed"] * 3
    assert actions(action="token.issued") == [("token.issued", "m-b"), ("token.issued", "m-a")] * 3
    assert [a for a, _ in actions(action="staff.")] == ["staff.login_failed", "staff.role_changed",
                                                        "staff.login"] * 3
    assert [a for a, _ in actions(action="token.")] == ["token.refreshed", "token.issued", "token.issued"] * 3
    assert actions(member_id="m-a", action="pii.revealed") == [("pii.revealed", "m-a")] * 3
    assert actions(staff_id="s-1", action="staff.login") == [("staff.login", "s-1")] * 3
    assert actions(action="gift_card.secrets_exported") == []
    assert actions(member_id="nobody") == []


def test_entries_written_before_the_store_are_still_listed(db, frozen):
    """The member's partition had AuditItem(actor, action, detail, at) alone: still read by
    listMemberAudit's repository and by the store's member filter."""
    uow = UnitOfWork("test")
    uow.create(AuditItem(*AuditItem.key("m-old", "2026-03-01T08:00:00.000Z", "01JAAAAAAAAAAAAAAAAAAAAAAA"),
                         actor="staff:hq", action="pii.revealed", detail="phone,email", at="2026-03-01T08:00:00.000Z"))
    uow.commit()
    write([{"action": "token.issued", "actor": "merchant:m1:s1:ak_1", "member_id": "m-old"}])
    trail = list(members_repository.of(UnitOfWork("test")).audit_trail("m-old"))
    assert [a.action for a in trail] == ["pii.revealed", "token.issued"]              # oldest first, as before
    seen, _ = listed(Wanted(LOW, HIGH, member_id="m-old"), 50)
    assert [(i.action, i.subject_member(), i.entry_id == "01JAAAAAAAAAAAAAAAAAAAAAAA") for i in seen] == [
        ("token.issued", "m-old", False), ("pii.revealed", "m-old", True)]


def test_a_sparse_period_costs_a_bounded_number_of_queries_a_page(db, frozen, monkeypatch):
    """92 empty days and an entry at each end: a page reads at most DAYS_PER_PAGE days' shards,
    then answers with a cursor to go on from (a page may be empty with more to come)."""
    clock.freeze(datetime(2026, 1, 1, 12, tzinfo=UTC))
    for when in (datetime(2026, 1, 1, 12, tzinfo=UTC), datetime(2026, 4, 1, 12, tzinfo=UTC)):
        clock.freeze(when)
        uow = UnitOfWork("test")
        audit.record(uow, "staff.login", "staff:s-1", staff_id="s-1")
        uow.commit()
    queries = []
    real = UnitOfWork.query

    def counting(self, *args, **kwargs):
        queries.append(args[1])
        return real(self, *args, **kwargs)
    monkeypatch.setattr(UnitOfWork, "query", counting)
    want = Wanted("2026-01-01T00:00:00.000Z", "2026-04-02T00:00:00.000Z")
    before, pages, seen = None, [], []
    while True:
        queries.clear()
        found, before = audit.page(UnitOfWork("test"), want, before, 50)
        pages.append(len(queries))
        seen += found
        if before is None:
            break
    assert [i.at[:10] for i in seen] == ["2026-04-01", "2026-01-01"]
    assert max(pages) <= audit.DAYS_PER_PAGE * audit.SHARDS
    assert len(pages) == -(-92 // audit.DAYS_PER_PAGE)                     # 92 days, 8 a page


def test_another_programs_entries_never_appear(db, frozen):
    write(ENTRIES[:4], program="demo-2")
    write(ENTRIES[4:6])
    seen, _ = listed(Wanted(LOW, HIGH), 50)
    assert [i.action for i in seen] == ["token.issued", "api_key.created"]
    seen, _ = listed(Wanted(LOW, HIGH, member_id="m-a"), 50)
    assert seen == []
    seen, _ = listed(Wanted(LOW, HIGH), 50, program="demo-2")
    assert len(seen) == 4
