"""Exports of gift cards, coupon uses and checkouts (#29 item 3) on the store: a known data set
exported parses back (csv, and openpyxl for xlsx) to exactly the expected rows; a merchant's export
holds none of another merchant's rows; an export killed after a part resumes without a duplicate
row; refused requests (unbounded, future, another merchant's, too many rows) change nothing but
the audit log, which records them. Runs on moto and the fake."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import UTC, datetime

import pytest

from chalicelib.coupons.tables import CouponUseItem
from chalicelib.gift_cards import keys
from chalicelib.reports import exports_job
from chalicelib.shared import clock, storage
from chalicelib.shared.credentials import mint_token
from tests.integration.conftest import scan
from tests.integration.test_checkout_refund import _completed, _refund
from tests.integration.test_exports import small_parts  # noqa: F401  (the fixture)
from tests.integration.test_gift_cards import cards, make_batch, pay, secrets_of, sell  # noqa: F401

DAY = "2026-03-02"                       # test_checkout_quote's T0, a Monday noon in Shanghai
M1_ADMIN = mint_token("staff", "m1-admin", 600, role="merchant_admin", merchant_id="m1")
M2_ADMIN = mint_token("staff", "m2-admin", 600, role="merchant_admin", merchant_id="m2")


def _export(api, body: dict, token: str | None = None) -> dict:
    created = api.ok("POST", "/v1/exports", body, token=token)
    api.run_job("exports")
    done = api.ok("GET", f"/v1/exports/{created['export_id']}", token=token)
    assert done["status"] == "done", done
    return done


def _rows(export: dict) -> list[dict]:
    body = storage.current().get(f"exports/reports/default/{export['export_id']}.{export['format']}")
    assert body is not None
    if export["format"] == "xlsx":
        import openpyxl
        sheet = openpyxl.load_workbook(io.BytesIO(body), read_only=True).active
        cells = list(sheet.iter_rows(values_only=True))
        return [{h: ("" if v is None else str(v)) for h, v in zip(cells[0], row, strict=True)} for row in cells[1:]]
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


@pytest.fixture
def sales(api):
    """At m1/s1: a checkout with two coupons refunded in full (two write-offs, two undos) and one
    completed (two write-offs); an open checkout at m1; nothing at m2 yet."""
    from tests.integration.test_checkout_quote import T0
    clock.freeze(T0)
    _, refunded, (a, b) = _completed(api, "13800290001", "ex-1")
    status, reply = _refund(api, refunded, {"refund_id": "R-all", "amount_fen": 20_700, "reason": "all back"}, "ex-r")
    assert status == 201, reply
    _, kept, (c, d) = _completed(api, "13800290002", "ex-2")
    return {"refunded": refunded["checkout_id"], "kept": kept["checkout_id"], "coupons": (a, b, c, d)}


def test_coupon_uses_export_every_write_off_and_undo_exactly(api, sales):
    rows = _rows(_export(api, {"kind": "coupon_uses", "start": DAY, "end": DAY}))
    stored = sorted((u for u in scan(CouponUseItem) if u.pk.startswith("COUPONUSE#")), key=lambda u: u.gsi1sk)
    assert [r["use_id"] for r in rows] == [u.use_id for u in stored]              # in time order
    assert Counter(r["kind"] for r in rows) == {"use": 4, "undo": 2}
    a, b, c, d = sales["coupons"]
    by = {(r["coupon_id"], r["kind"]): r for r in rows}
    # test_checkout_commit's figures: coupon A 20.00 off, B 10 % = 23.00; the undo gives them back
    assert [int(by[(x, "use")]["discount_fen"]) for x in (a, b, c, d)] == [2_000, 2_300, 2_000, 2_300]
    assert [int(by[(x, "undo")]["discount_fen"]) for x in (a, b)] == [-2_000, -2_300]
    assert {r["merchant_id"] for r in rows} == {"m1"} and {r["store_id"] for r in rows} == {"s1"}
    assert json.loads(by[(a, "use")]["cost_bearers"]) == {"brand": 2_000}     # the template's default bearer
    assert json.loads(by[(a, "undo")]["cost_bearers"]) == {"brand": -2_000}
    assert by[(a, "use")]["order_id"] == by[(a, "undo")]["order_id"] != ""
    assert "code" not in rows[0] and all(set(r) == set(rows[0]) for r in rows)
    # m2's admin: none of m1's
    assert _rows(_export(api, {"kind": "coupon_uses", "start": DAY, "end": DAY}, token=M2_ADMIN)) == []
    assert len(_rows(_export(api, {"kind": "coupon_uses", "start": DAY, "end": DAY}, token=M1_ADMIN))) == 6


def test_checkouts_export_their_state_tenders_and_refunds(api, sales):
    from tests.integration.test_checkout_commit import _quote
    from tests.integration.test_checkout_quote import CART, _member, _till
    opened = api.ok("POST", "/v1/checkouts", {"quote_id": _quote(api, _member(api, "13800290003"))["quote_id"],
                                              "lines": CART}, key="ex-open", token=_till())
    rows = _rows(_export(api, {"kind": "checkouts", "format": "xlsx", "start": DAY, "end": DAY}))
    assert sorted(r["checkout_id"] for r in rows) == sorted([sales["refunded"], sales["kept"], opened["checkout_id"]])
    assert [(r["created_at"], r["checkout_id"]) for r in rows] == sorted((r["created_at"], r["checkout_id"])
                                                                         for r in rows)       # in time order
    by = {r["checkout_id"]: r for r in rows}
    refunded, kept, still = by[sales["refunded"]], by[sales["kept"]], by[opened["checkout_id"]]
    assert (refunded["status"], refunded["refunds"], refunded["refunded_fen"]) == ("refunded", "1", "20700")
    assert (kept["status"], kept["refunds"], kept["refunded_fen"], kept["completed_at"] != "") == (
        "completed", "0", "0", True)
    # test_checkout_commit's figures: coupons 43.00, points 50.00, stored value 30.00, cash 127.00 of 207.00
    assert [kept[k] for k in ("list_total_fen", "coupons_fen", "points_fen", "stored_value_fen", "gift_cards_fen",
                              "cash_fen", "order_amount_fen")] == ["25000", "4300", "5000", "3000", "0", "12700",
                                                                   "20700"]
    assert still["status"] == "committed" and still["completed_at"] == ""
    assert {r["merchant_id"] for r in rows} == {"m1"}
    assert _rows(_export(api, {"kind": "checkouts", "start": DAY, "end": DAY}, token=M2_ADMIN)) == []
    assert _rows(_export(api, {"kind": "checkouts", "start": "2026-03-01", "end": "2026-03-01"})) == []


def test_gift_cards_export_the_periods_batches_cards_masked(cards):  # noqa: F811
    api = cards
    batch = make_batch(api, count=6)                       # the program's, made 2026-03-01
    theirs = make_batch(api, count=3, issuer_merchant_id="m2")
    s = secrets_of(batch)
    n = {i: keys.card_number(1, i) for i in range(1, 7)}
    assert sell(api, batch, 1, 3, "INV-1", activate=True)[0] == 201
    assert pay(api, n[2], s[n[2]], 3_000, "O-1")[0] == 201
    api.ok("POST", f"/v1/gift-cards/{n[5]}/void", {"reason": "damaged"})
    clock.freeze(datetime(2026, 3, 3, 4, 0, tzinfo=UTC))
    done = _export(api, {"kind": "gift_cards", "start": "2026-03-01", "end": "2026-03-01"})
    assert done["rows_estimated"] == 9 and done["rows_done"] == 9
    rows = _rows(done)
    assert [(r["batch_id"], int(r["serial"])) for r in rows] == [
        *((batch["batch_id"], i) for i in range(1, 7)), *((theirs["batch_id"], i) for i in range(1, 4))]
    mine = {int(r["serial"]): r for r in rows if r["batch_id"] == batch["batch_id"]}
    assert [mine[i]["state"] for i in range(1, 7)] == ["activated", "partially_used", "activated", "issued", "voided",
                                                       "issued"]
    assert [int(mine[i]["balance_fen"]) for i in (1, 2, 4)] == [10_000, 7_000, 10_000]
    assert mine[2]["sold_invoice"] == "INV-1" and mine[2]["sold_at"].startswith("2026-03-01")
    assert mine[1]["activated_at"].startswith("2026-03-01") and mine[4]["sold_at"] == ""
    text = json.dumps(rows)
    assert not any(number in text or secret in text for number, secret in s.items())
    assert mine[1]["card"] == n[1][:4] + "*" * (len(n[1]) - 8) + n[1][-4:]
    # m2's admin: the batch m2 issued only; another day: nothing
    m2 = _rows(_export(api, {"kind": "gift_cards", "start": "2026-03-01", "end": "2026-03-01"}, token=M2_ADMIN))
    assert {r["batch_id"] for r in m2} == {theirs["batch_id"]} and len(m2) == 3
    assert _rows(_export(api, {"kind": "gift_cards", "start": "2026-03-02", "end": "2026-03-03"})) == []


@pytest.mark.parametrize("kind", ["coupon_uses", "checkouts"])
def test_an_export_killed_after_a_part_resumes_without_a_duplicate_row(api, sales, small_parts, monkeypatch, kind):  # noqa: F811
    for i in range(3):
        _completed(api, f"1380029010{i}", f"ex-more-{i}")
    created = api.ok("POST", "/v1/exports", {"kind": kind, "start": DAY, "end": DAY})
    record, records = exports_job._record, []

    def killed(*args, **kwargs):
        records.append(record(*args, **kwargs))
        if len(records) == 2:
            raise RuntimeError("killed after the part's record")
        return records[-1]
    monkeypatch.setattr(exports_job, "_record", killed)
    api.run_job("exports")
    stopped = api.ok("GET", f"/v1/exports/{created['export_id']}")
    assert stopped["status"] == "running" and stopped["rows_done"] > 0
    monkeypatch.setattr(exports_job, "_record", record)
    api.run_job("exports")
    done = api.ok("GET", f"/v1/exports/{created['export_id']}")
    column = "use_id" if kind == "coupon_uses" else "checkout_id"
    ids = [r[column] for r in _rows(done)]
    assert Counter(ids).most_common(1)[0][1] == 1
    assert len(ids) == (6 + 3 * 2 if kind == "coupon_uses" else 5) == done["rows_done"]


def _exports(api) -> list:
    return api.ok("GET", "/v1/exports")["exports"]


def _audited(api, action: str) -> list[dict]:
    return api.ok("GET", f"/v1/audit-log?action={action}")["entries"]


@pytest.mark.parametrize("body, token, status", [
    ({"kind": "checkouts", "start": DAY}, None, 422),                                           # unbounded
    ({"kind": "checkouts", "end": DAY}, None, 422),
    ({"kind": "checkouts", "start": "2025-01-01", "end": DAY}, None, 422),                     # over 366 days
    ({"kind": "coupon_uses", "start": DAY, "end": "2026-03-03"}, None, 422),                    # the future
    ({"kind": "coupon_uses", "start": DAY, "end": DAY, "merchant_id": "m2"}, M1_ADMIN, 403),    # another's filter
    ({"kind": "gift_cards", "start": DAY, "end": DAY, "store_id": "s1", "merchant_id": "m1"}, None, 422),
], ids=["no-end", "no-start", "over-366-days", "future", "another-merchant", "gift-cards-of-a-store"])
def test_a_refused_export_changes_nothing_and_is_audited(api, body, token, status):
    from tests.integration.test_checkout_quote import T0
    clock.freeze(T0)
    got, problem = api.call("POST", "/v1/exports", body, token=token)
    assert got == status and problem["status"] == status, problem
    assert _exports(api) == []
    refused = _audited(api, "export.refused")
    assert len(refused) == 1 and f"createExport {body['kind']}" in refused[0]["detail"]
    assert str(status) in refused[0]["detail"] and not _audited(api, "export.created")


def test_too_many_gift_cards_are_refused_at_once_and_audited(cards, monkeypatch):  # noqa: F811
    api = cards
    make_batch(api, count=5)
    monkeypatch.setenv("EXPORT_MAX_ROWS", "4")
    got, problem = api.call("POST", "/v1/exports", {"kind": "gift_cards", "start": "2026-03-01", "end": "2026-03-01"})
    assert got == 422 and problem["type"].endswith("/export-too-large") and _exports(api) == []
    assert "export-too-large" in _audited(api, "export.refused")[0]["detail"]


def test_another_merchants_export_is_not_found_and_the_attempt_audited(api, sales):
    made = _export(api, {"kind": "checkouts", "start": DAY, "end": DAY}, token=M1_ADMIN)
    got, _ = api.call("GET", f"/v1/exports/{made['export_id']}", token=M2_ADMIN)
    assert got == 404
    refused = _audited(api, "export.refused")
    assert len(refused) == 1 and refused[0]["detail"].startswith(f"getExport {made['export_id']}")
    assert refused[0]["actor"] == "staff:m2-admin"


def test_an_export_failing_at_the_ceiling_is_audited(api, sales, monkeypatch):
    monkeypatch.setenv("EXPORT_MAX_ROWS", "2")
    created = api.ok("POST", "/v1/exports", {"kind": "coupon_uses", "start": DAY, "end": DAY})
    api.run_job("exports")
    assert api.ok("GET", f"/v1/exports/{created['export_id']}")["status"] == "failed"
    failed = _audited(api, "export.failed")
    assert len(failed) == 1 and created["export_id"] in failed[0]["detail"] and "2 rows" in failed[0]["detail"]


def test_gift_cards_read_a_page_at_a_time_and_resume_without_a_duplicate_row(cards, small_parts, monkeypatch):  # noqa: F811
    from chalicelib.gift_cards import listing
    api = cards
    batch = make_batch(api, count=9)
    for first, last, invoice in ((1, 2, "INV-A"), (3, 3, "INV-B"), (5, 8, "INV-C")):     # ranges across pages
        assert sell(api, batch, first, last, invoice, activate=False)[0] == 201
    monkeypatch.setattr(listing, "PAGE", 2)
    created = api.ok("POST", "/v1/exports", {"kind": "gift_cards", "start": "2026-03-01", "end": "2026-03-01"})
    record, records = exports_job._record, []

    def killed(*args, **kwargs):
        records.append(record(*args, **kwargs))
        if len(records) == 2:
            raise RuntimeError("killed after the part's record")
        return records[-1]
    monkeypatch.setattr(exports_job, "_record", killed)
    api.run_job("exports")
    assert 0 < api.ok("GET", f"/v1/exports/{created['export_id']}")["rows_done"] < 9
    monkeypatch.setattr(exports_job, "_record", record)
    api.run_job("exports")
    rows = _rows(api.ok("GET", f"/v1/exports/{created['export_id']}"))
    assert [int(r["serial"]) for r in rows] == list(range(1, 10))
    assert [r["sold_invoice"] for r in rows] == ["INV-A", "INV-A", "INV-B", "", "INV-C", "INV-C", "INV-C", "INV-C", ""]
    assert [r["state"] for r in rows] == ["sold"] * 3 + ["issued"] + ["sold"] * 4 + ["issued"]


def test_a_replayed_create_makes_one_export_and_each_refused_attempt_is_audited(api, sales):
    body = {"kind": "coupon_uses", "start": DAY, "end": DAY}
    first = api.ok("POST", "/v1/exports", body, key="ex-same")
    assert api.ok("POST", "/v1/exports", body, key="ex-same") == first
    assert [e["export_id"] for e in _exports(api)] == [first["export_id"]]
    assert len(_audited(api, "export.created")) == 1
    future = {**body, "end": "2026-03-03"}
    assert [api.call("POST", "/v1/exports", future, key="ex-bad")[0] for _ in range(2)] == [422, 422]
    # the retry under the same key is answered from the refusal's record, before anything runs:
    # one attempt, one entry; under a new key it is a new attempt
    assert len(_audited(api, "export.refused")) == 1 and len(_exports(api)) == 1
    assert api.call("POST", "/v1/exports", future, key="ex-bad-2")[0] == 422
    assert len(_audited(api, "export.refused")) == 2 and len(_exports(api)) == 1
