"""Exports over real HTTP on the local stack (#29 item 3), as a merchant's reporting key and HQ use
them: create, run the job, poll, download through the presigned URL from the emulator's S3, parse
(csv, openpyxl) to exactly the expected rows; the URL refused once expired; another merchant's
export not found and not creatable; bad input 422 with nothing created; each export and each URL
audited."""

from __future__ import annotations

import csv
import io
import time

import pytest
import requests

from tests.e2e.conftest import fresh_phone
from tests.e2e.test_tenancy_http import A, staff

EXPORTS = "/v1/exports"


def _merchant(api, hq, tag: str) -> dict[str, str]:
    """A new merchant of the default program with a store and a key that takes payments and reads reports."""
    merchant = f"exp-{tag}-{fresh_phone()[-6:]}"
    for path, body in (("/v1/merchants", {"merchant_id": merchant, "name": f"导出{tag}"}),
                       (f"/v1/merchants/{merchant}/stores", {"store_id": f"{merchant}-s", "name": "一号店"})):
        r = api.call("POST", path, body, headers=hq, key=f"{path}-{merchant}")
        assert r.status_code == 201, r.text
    key = api.call("POST", f"/v1/merchants/{merchant}/api-keys", {"capabilities": ["pos", "reports"]}, headers=hq,
                   key=f"exp-key-{merchant}")
    assert key.status_code == 201, key.text
    return {"merchant_id": merchant, "key_id": key.json()["key_id"], "secret": key.json()["secret"]}


def _earn(api, till: dict[str, str], members: int) -> set[str]:
    """``members`` new members earning once each at the till's merchant; their postings' ids."""
    postings = set()
    for _ in range(members):
        phone = fresh_phone()
        mid = api.call("POST", "/v1/members", {"phone": phone}, signed_by=till, key=f"exp-reg-{phone}").json()["member_id"]
        earned = api.call("POST", f"/v1/members/{mid}/points/earn", {"order_id": f"exp-{phone}", "amount_fen": 12_300},
                          signed_by=till, key=f"exp-earn-{phone}")
        assert earned.status_code == 201, earned.text
        for kind in ("points", "growth"):          # an earn posts both
            ledger = api.call("GET", f"/v1/members/{mid}/points/ledger", signed_by=till,
                              params={"point_type": kind}).json()
            postings |= {p["posting_id"] for p in ledger["postings"]}
    return postings


def _done(api, export_id: str, **auth) -> dict:
    for _ in range(5):
        run = api.call("POST", "/v1/jobs/exports/runs", {"program_id": A[0]}, headers=api.staff("platform_admin"),
                       key=f"exp-run-{fresh_phone()}")
        assert run.status_code in (200, 201), run.text
        got = api.call("GET", f"{EXPORTS}/{export_id}", **auth)
        assert got.status_code == 200, got.text
        if got.json()["status"] in ("done", "failed"):
            return got.json()
    pytest.fail(f"export {export_id} not done")


@pytest.fixture(scope="module")
def shops(api, stack):
    hq = staff(api, stack, A, "super_admin")
    one, two = _merchant(api, hq, "a"), _merchant(api, hq, "b")
    return hq, one, two, _earn(api, one, 3), _earn(api, two, 2)


def test_a_merchants_reporting_key_exports_exactly_its_postings_and_downloads_them(api, shops):
    hq, one, two, mine, theirs = shops
    today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))      # the program's day (Shanghai)
    created = api.call("POST", EXPORTS, {"kind": "points_ledger", "start": today, "end": today}, signed_by=one,
                       key=f"exp-c-{fresh_phone()}")
    assert created.status_code == 202 and created.json()["merchant_id"] == one["merchant_id"], created.text
    done = _done(api, created.json()["export_id"], signed_by=one)
    assert done["status"] == "done" and done["rows_done"] == len(mine) and done["url_expires_at"], done
    download = requests.get(done["url"], timeout=30)
    assert download.status_code == 200 and download.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert sorted(r["posting_id"] for r in rows) == sorted(mine) and not {r["posting_id"] for r in rows} & theirs
    assert {r["merchant_id"] for r in rows} == {one["merchant_id"]}
    # each getExport of a done export presigns afresh (and audits it)
    again = api.call("GET", f"{EXPORTS}/{done['export_id']}", signed_by=one).json()
    assert again["url"] != done["url"] or again["url_expires_at"] >= done["url_expires_at"]
    # the other merchant's key: not found, and it may not ask for this merchant's records
    assert api.call("GET", f"{EXPORTS}/{done['export_id']}", signed_by=two).status_code == 404
    assert done["export_id"] not in {e["export_id"] for e in api.call("GET", EXPORTS, signed_by=two).json()["exports"]}
    refused = api.call("POST", EXPORTS, {"kind": "points_ledger", "start": today, "end": today,
                                         "merchant_id": one["merchant_id"]}, signed_by=two, key=f"exp-x-{fresh_phone()}")
    assert refused.status_code == 403 and refused.headers["Content-Type"].startswith("application/problem+json")
    # HQ's export of the other merchant, as XLSX: exactly its postings
    import openpyxl
    made = api.call("POST", EXPORTS, {"kind": "points_ledger", "format": "xlsx", "start": today, "end": today,
                                      "merchant_id": two["merchant_id"]}, headers=hq, key=f"exp-h-{fresh_phone()}")
    assert made.status_code == 202, made.text
    book = _done(api, made.json()["export_id"], headers=hq)
    sheet = openpyxl.load_workbook(io.BytesIO(requests.get(book["url"], timeout=30).content), read_only=True).active
    cells = list(sheet.iter_rows(values_only=True))
    assert cells[0][1] == "posting_id" and sorted(c[1] for c in cells[1:]) == sorted(theirs)
    audited = api.call("GET", "/v1/audit-log", headers=hq, params={"action": "export."}).json()["entries"]
    kinds = {(e["action"], e["detail"].split(":")[0]) for e in audited}
    assert ("export.created", f"export {done['export_id']}") in kinds
    assert ("export.url_issued", f"export {done['export_id']}") in kinds


def test_the_download_url_stops_working_when_it_expires(api, shops):
    hq, one, *_ = shops
    today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))
    created = api.call("POST", EXPORTS, {"kind": "points_ledger", "start": today, "end": today,
                                         "url_expires_in_seconds": 2}, signed_by=one, key=f"exp-e-{fresh_phone()}")
    assert created.status_code == 202, created.text
    done = _done(api, created.json()["export_id"], signed_by=one)
    assert requests.get(done["url"], timeout=30).status_code == 200
    # as S3: a URL changed in any way no longer works (found from outside: the emulator took them)
    url = done["url"]
    signature = url.split("X-Amz-Signature=")[1].split("&")[0]
    other = done["export_id"][:-1] + ("A" if done["export_id"][-1] != "A" else "B")
    for tampered in (url.replace(done["export_id"], other),
                     url.replace(signature, "0" * len(signature)),
                     url.replace("X-Amz-Expires=2", "X-Amz-Expires=3600")):
        refused = requests.get(tampered, timeout=30)
        assert refused.status_code == 403 and b"SignatureDoesNotMatch" in refused.content, refused.content[:300]
    time.sleep(3.5)
    expired = requests.get(done["url"], timeout=30)
    assert expired.status_code == 403 and b"expired" in expired.content


@pytest.mark.parametrize("body", [
    {"kind": "points_ledger", "start": "2025-01-01", "end": "2026-01-02"},           # 367 days
    {"kind": "points_ledger", "start": "2026-03-02", "end": "2026-03-01"},           # end before start
    {"kind": "points_ledger", "start": "2098-01-01", "end": "2098-01-02"},           # the future
    {"kind": "receipts", "start": "2026-03-01", "end": "2026-03-02"},                # no such kind
    {"kind": "members", "start": "2026-03-01", "end": "2026-03-02", "format": "pdf"},
], ids=["over-366-days", "end-before-start", "future", "unknown-kind", "unknown-format"])
def test_bad_input_is_422_and_creates_nothing(api, shops, body):
    _, one, *_ = shops
    before = api.call("GET", EXPORTS, signed_by=one).json()["exports"]
    r = api.call("POST", EXPORTS, body, signed_by=one, key=f"exp-bad-{fresh_phone()}")
    assert r.status_code == 422 and r.headers["Content-Type"].startswith("application/problem+json"), r.text
    assert api.call("GET", EXPORTS, signed_by=one).json()["exports"] == before
