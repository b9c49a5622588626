"""Exports (#29 item 3) on the store: a period's postings and members, exactly, parsed back; a
merchant's export holds its own records only; an export killed after a part resumes without a
duplicate row; the ceiling fails it; XLSX parses with openpyxl. Runs on moto and the fake."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import UTC, datetime

import pytest

from chalicelib.points.tables import PostingItem
from chalicelib.reports import exports_job
from chalicelib.shared import clock, storage
from chalicelib.shared.credentials import mint_token
from chalicelib.stored_value.tables import SvPostingItem
from tests.integration.conftest import scan

DAYS = [datetime(2026, 3, d, 4, 0, tzinfo=UTC) for d in (1, 2, 3)]   # noon in Shanghai
TODAY = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)
M1_ADMIN = mint_token("staff", "m1-admin", 600, role="merchant_admin", merchant_id="m1")
FINANCE = mint_token("staff", "fin", 600, role="finance")


@pytest.fixture
def small_parts(monkeypatch):
    """Exports in memory, in parts of 300 bytes (S3's minimum scaled down), so a few rows fill one."""
    store = storage.MemoryStorage(min_part=300)
    previous = storage.use(store)
    monkeypatch.setattr(storage, "PART_BYTES", 300)
    yield store
    storage.use(previous)


def _workload(api, n: int = 4) -> list[str]:
    """``n`` members earning and topping up at m1 and m2 on each of three days."""
    members = []
    for i in range(n):
        clock.freeze(DAYS[0])
        members.append(api.member(f"1390000{i:04d}"))
    for d, at in enumerate(DAYS):
        clock.freeze(at)
        for i, mid in enumerate(members):
            merchant = "m1" if i % 2 == 0 else "m2"
            api.ok("POST", f"/v1/members/{mid}/points/earn", {"order_id": f"o{d}-{i}", "amount_fen": 1_000 * (i + 1),
                                                              "merchant_id": merchant})
            api.ok("POST", f"/v1/members/{mid}/stored-value/top-ups", {"amount_fen": 500 + i, "payment_ref": f"p{d}-{i}",
                                                                       "merchant_id": merchant})
    clock.freeze(TODAY)
    return members


def _export(api, body: dict, token: str | None = None) -> dict:
    created = api.ok("POST", "/v1/exports", body, token=token)
    assert created["status"] == "queued"
    api.run_job("exports")
    done = api.ok("GET", f"/v1/exports/{created['export_id']}", token=token)
    assert done["status"] == "done", done
    return done


def _rows(export: dict) -> list[dict]:
    body = storage.current().get(f"exports/reports/default/{export['export_id']}.csv")
    assert body is not None and body.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def _postings(model) -> list:
    """Every posting of the points (``LEDGER#``) or stored value (``SVLEDGER#``) ledger."""
    prefix = "LEDGER#" if model is PostingItem else "SVLEDGER#"
    stored = [p for p in scan(model) if p.pk.startswith(prefix)]
    if model is not PostingItem:
        return stored
    return [q for p in stored for q in (p, p.carried()) if q is not None]      # growth carried in points


def _on(day: str, items) -> list:
    return [p for p in items if p.created_at[:10] == day]          # noon in Shanghai: the same day in UTC


def test_a_ledger_export_holds_exactly_the_periods_postings(api):
    _workload(api)
    done = _export(api, {"kind": "points_ledger", "start": "2026-03-02", "end": "2026-03-02"})
    rows = _rows(done)
    expected = _on("2026-03-02", _postings(PostingItem))
    assert len(expected) == 8 and done["rows_done"] == 8            # an earn posts points and growth (one item)
    assert sorted(r["posting_id"] for r in rows) == sorted(p.posting_id for p in expected)
    assert [r["posted_at"] for r in rows] == sorted(r["posted_at"] for r in rows)         # in time order
    assert {int(r["points"]) for r in rows} == {int(p.amount) for p in expected}
    sv = _rows(_export(api, {"kind": "stored_value_ledger", "start": "2026-03-01", "end": "2026-03-03"}))
    assert sorted(r["posting_id"] for r in sv) == sorted(p.posting_id for p in _postings(SvPostingItem))
    assert len(sv) == 12


def test_a_merchants_export_holds_only_its_own_records(api):
    _workload(api)
    mine = _rows(_export(api, {"kind": "points_ledger", "start": "2026-03-01", "end": "2026-03-03"}, token=M1_ADMIN))
    assert len(mine) == 12 and {r["merchant_id"] for r in mine} == {"m1"}
    hq = _export(api, {"kind": "points_ledger", "start": "2026-03-01", "end": "2026-03-03", "merchant_id": "m2"})
    assert {r["merchant_id"] for r in _rows(hq)} == {"m2"}
    status, _ = api.call("GET", f"/v1/exports/{hq['export_id']}", token=M1_ADMIN)          # m2's: not found
    assert status == 404
    status, refused = api.call("POST", "/v1/exports", {"kind": "points_ledger", "start": "2026-03-01",
                                                       "end": "2026-03-03", "merchant_id": "m2"}, token=M1_ADMIN)
    assert status == 403, refused
    listed = api.ok("GET", "/v1/exports", token=M1_ADMIN)["exports"]
    assert listed and {e["merchant_id"] for e in listed} == {"m1"}
    assert len(api.ok("GET", "/v1/exports")["exports"]) == 2          # HQ: every export of the program


def test_members_are_masked_unless_the_caller_may_reveal_them(api):
    members = _workload(api, 2)
    asked = {"kind": "members", "start": "2026-03-01", "end": "2026-03-01", "merchant_id": "m1"}
    revealed = _rows(_export(api, asked))
    masked = _rows(_export(api, asked, token=FINANCE))
    assert "phone (masked)" in masked[0] and "phone" in revealed[0]
    assert sorted(r["member_id"] for r in revealed) == sorted(members) == sorted(r["member_id"] for r in masked)
    assert {r["phone"] for r in revealed} == {"+8613900000000", "+8613900000001"}
    assert all("*" in r["phone (masked)"] for r in masked)


def test_an_export_with_personal_data_revealed_is_only_for_those_who_may_see_it_and_names_are_masked(api):
    """Found from outside: finance, an auditor or a merchant could fetch the URL of a super
    admin's unmasked members export; and "masked" exports showed names and birthdays whole."""
    members = _workload(api, 2)
    for mid, name in zip(members, ("张三丰", "李四"), strict=True):
        api.ok("PATCH", f"/v1/members/{mid}", {"name": name, "birthday": "1990-05-17"})
    asked = {"kind": "members", "start": "2026-03-01", "end": "2026-03-01", "merchant_id": "m1"}
    revealed = _export(api, asked)
    assert revealed["personal_data"] == "revealed"
    auditor = mint_token("staff", "aud", 600, role="auditor")
    m1_key_holder = mint_token("staff", "m1-admin", 600, role="merchant_admin", merchant_id="m1")
    for token in (FINANCE, auditor, m1_key_holder):
        status, _ = api.call("GET", f"/v1/exports/{revealed['export_id']}", token=token)
        assert status == 404
        assert revealed["export_id"] not in str(api.ok("GET", "/v1/exports", token=token))
    masked = _rows(_export(api, asked, token=FINANCE))
    assert {r["name (masked)"] for r in masked} == {"张**", "李*"} and {r["birthday (masked)"] for r in masked} == {"1990-**-**"}
    assert {r["name"] for r in _rows(revealed)} == {"张三丰", "李四"}


@pytest.mark.parametrize("kill", ["before its record", "after its record"])
def test_an_export_killed_after_a_part_resumes_without_a_duplicate_row(api, small_parts, monkeypatch, kill):
    _workload(api, 6)
    created = api.ok("POST", "/v1/exports", {"kind": "stored_value_ledger", "start": "2026-03-01",
                                             "end": "2026-03-03"})
    record, records = exports_job._record, []

    def killed(*args, **kwargs):
        if len(records) == 2 and kill == "before its record":
            raise RuntimeError("killed: the part is stored, its record is not")
        records.append(record(*args, **kwargs))
        if len(records) == 2 and kill == "after its record":
            raise RuntimeError("killed after the part's record")
        return records[-1]
    monkeypatch.setattr(exports_job, "_record", killed)
    api.run_job("exports")
    stopped = api.ok("GET", f"/v1/exports/{created['export_id']}")
    assert stopped["status"] == "running" and 0 < stopped["rows_done"] < 18
    monkeypatch.setattr(exports_job, "_record", record)
    api.run_job("exports")
    done = api.ok("GET", f"/v1/exports/{created['export_id']}")
    assert done["status"] == "done" and done["rows_done"] == 18
    rows = _rows(done)
    ids = [r["posting_id"] for r in rows]
    assert Counter(ids).most_common(1)[0][1] == 1 and sorted(ids) == sorted(p.posting_id for p in _postings(SvPostingItem))
    assert small_parts.requests >= 4 and not small_parts.uploads            # several parts; none left open


def test_an_export_stopped_at_its_deadline_carries_on_in_the_next_run(api, small_parts):
    _workload(api, 6)
    created = api.ok("POST", "/v1/exports", {"kind": "points_ledger", "start": "2026-03-01", "end": "2026-03-03"})
    runs = 0
    while api.ok("GET", f"/v1/exports/{created['export_id']}")["status"] != "done":
        exports_job.progress("default", created["export_id"], deadline=0.0)       # out of time at once
        runs += 1
        assert runs < 40
    assert runs > 1
    assert len({r["posting_id"] for r in _rows(api.ok("GET", f"/v1/exports/{created['export_id']}"))}) == 36


def test_the_ceiling_fails_an_export_that_reaches_it(api, monkeypatch):
    _workload(api, 2)
    monkeypatch.setenv("EXPORT_MAX_ROWS", "3")
    created = api.ok("POST", "/v1/exports", {"kind": "points_ledger", "start": "2026-03-01", "end": "2026-03-03"})
    api.run_job("exports")
    failed = api.ok("GET", f"/v1/exports/{created['export_id']}")
    assert failed["status"] == "failed" and "3 rows" in failed["error"] and "url" not in failed


def test_an_xlsx_export_parses_back_with_openpyxl(api):
    import openpyxl
    _workload(api, 2)
    done = _export(api, {"kind": "points_ledger", "format": "xlsx", "start": "2026-03-01", "end": "2026-03-03"})
    body = storage.current().get(f"exports/reports/default/{done['export_id']}.xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(body), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:2] == ("posted_at", "posting_id") and len(rows) == 1 + 12
    assert sorted(r[1] for r in rows[1:]) == sorted(p.posting_id for p in _postings(PostingItem))



@pytest.mark.parametrize("seconds", [5.0, "60", True])
def test_a_url_lifetime_is_a_whole_number_not_a_text_a_float_or_a_boolean(api, seconds):
    status, problem = api.call("POST", "/v1/exports", {"kind": "points_ledger", "start": "2026-03-01",
                                                      "end": "2026-03-02", "url_expires_in_seconds": seconds})
    assert status == 422, problem
    assert api.ok("GET", "/v1/exports")["exports"] == []


@pytest.mark.parametrize("before", ["garbage", "9" * 100, "2026-03-10T04:00:00.000Z#not-an-id"])
def test_a_page_cursor_that_is_not_one_is_a_422(api, before):
    """Found from outside: a cursor that was not one answered the whole list."""
    from urllib.parse import quote
    status, problem = api.call("GET", f"/v1/exports?before={quote(before)}")
    assert status == 422, problem


def test_the_list_pages_with_its_own_cursor(api):
    for day in ("2026-03-01", "2026-03-02"):
        api.ok("POST", "/v1/exports", {"kind": "points_ledger", "start": day, "end": day})
    first = api.ok("GET", "/v1/exports?limit=1")
    assert len(first["exports"]) == 1 and first["next"]
    from urllib.parse import quote
    second = api.ok("GET", f"/v1/exports?limit=1&before={quote(first['next'])}")
    assert len(second["exports"]) == 1 and second["exports"][0]["export_id"] != first["exports"][0]["export_id"]
