"""Exports of checkouts, coupon uses and gift cards over real HTTP on the local stack (#29 item 3),
driven as a till and HQ drive them: a gold member's checkout (two coupons, points, stored value,
cash) completed then refunded in full at one merchant, a walk-in's at another, a batch of gift
cards made and sold; then createExport, the exports job, getExport and the download through the
presigned URL, parsed (csv, openpyxl) to exactly the rows the API shows for the same records; a
merchant's reporting key gets its own records only; a refused export is audited."""

from __future__ import annotations

import csv
import io
import json

import pytest
import requests

from chalicelib.gift_cards import keys
from tests.e2e.conftest import fresh_phone
from tests.e2e.test_checkout_commit_http import CHECKOUTS, _quote
from tests.e2e.test_checkout_quote_http import (  # noqa: F401  (shop: the module's fixture)
    CART,
    PROGRAM,
    QUOTES,
    SHOP,
    _gold_member_with_coupons_points_and_stored_value,
    _ok,
    shop,
)

EXPORTS = "/v1/exports"


def _today() -> str:
    import time
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))      # the program's day (Shanghai)


def _download(api, export_id: str, **auth) -> list[dict]:
    for _ in range(5):
        run = api.call("POST", "/v1/jobs/exports/runs", {"program_id": PROGRAM}, headers=api.staff("platform_admin"),
                       key=f"exk-run-{fresh_phone()}")
        assert run.status_code in (200, 201), run.text
        got = _ok(api.call("GET", f"{EXPORTS}/{export_id}", **auth))
        if got["status"] in ("done", "failed"):
            break
    assert got["status"] == "done", got
    body = requests.get(got["url"], timeout=30)
    assert body.status_code == 200
    if got["format"] == "xlsx":
        import openpyxl
        cells = list(openpyxl.load_workbook(io.BytesIO(body.content), read_only=True).active.iter_rows(values_only=True))
        rows = [{h: ("" if v is None else str(v)) for h, v in zip(cells[0], row, strict=True)} for row in cells[1:]]
    else:
        assert body.content.startswith("\ufeff".encode())
        rows = list(csv.DictReader(io.StringIO(body.content.decode("utf-8-sig"))))
    assert got["rows_done"] == len(rows)
    return rows


def _export(api, body: dict, **auth) -> list[dict]:
    made = api.call("POST", EXPORTS, {"start": _today(), "end": _today(), **body}, key=f"exk-{fresh_phone()}", **auth)
    assert made.status_code == 202, made.text
    return _download(api, made.json()["export_id"], **auth)


@pytest.fixture(scope="module")
def sold(api, stack, shop):  # noqa: F811
    """The data, driven in as the tills and HQ would: (hq, reporting key of SHOP, the two checkouts,
    the coupons used, the batch)."""
    hq, till, other_till = shop
    member_id, _ = _gold_member_with_coupons_points_and_stored_value(api, hq, till)
    q = _quote(api, till, member_id)
    c = _ok(api.call("POST", CHECKOUTS, {"quote_id": q["quote_id"], "lines": CART, "stored_value_fen": 5_000},
                     signed_by=till, key=f"exk-commit-{member_id}"), 201)
    _ok(api.call("POST", f"{CHECKOUTS}/{c['checkout_id']}/complete", {"payment_ref": "wxpay-exk"}, signed_by=till,
                 key=f"exk-complete-{member_id}"))
    _ok(api.call("POST", f"{CHECKOUTS}/{c['checkout_id']}/refunds",
                 {"refund_id": "EXK-ALL", "amount_fen": c["totals"]["order_amount_fen"], "reason": "整单退货"},
                 signed_by=till, key=f"exk-refund-{member_id}"), 201)
    walk_in = _ok(api.call("POST", QUOTES, {"lines": CART}, signed_by=other_till, key=f"exk-wq-{fresh_phone()}"), 201)
    w = _ok(api.call("POST", CHECKOUTS, {"quote_id": walk_in["quote_id"], "lines": CART}, signed_by=other_till,
                     key=f"exk-wc-{fresh_phone()}"), 201)
    _ok(api.call("POST", f"{CHECKOUTS}/{w['checkout_id']}/complete", {"payment_ref": "cash-exk"},
                 signed_by=other_till, key=f"exk-wd-{fresh_phone()}"))
    batch = _ok(api.call("POST", "/v1/gift-cards/batches", {"name": "导出卡", "face_value_fen": 20_000, "count": 3,
                                                            "valid_until": "2099-12-31"}, headers=hq,
                         key=f"exk-batch-{fresh_phone()}"), 202)
    run = api.call("POST", "/v1/jobs/gift-card-batches/runs", {"program_id": PROGRAM},
                   headers=api.staff("platform_admin"), key=f"exk-gc-run-{fresh_phone()}")
    assert run.status_code in (200, 201), run.text
    batch = _ok(api.call("GET", f"/v1/gift-cards/batches/{batch['batch_id']}", headers=hq))
    _ok(api.call("POST", f"/v1/gift-cards/batches/{batch['batch_id']}/sales",
                 {"invoice_ref": f"INV-{batch['batch_id']}", "purchaser": "上海某某有限公司",
                  "first_number": batch["first_number"], "last_number": batch["first_number"]}, headers=hq,
                 key=f"exk-sale-{fresh_phone()}"), 201)
    key = _ok(api.call("POST", f"/v1/merchants/{SHOP}/api-keys", {"capabilities": ["reports"]}, headers=hq,
                       key=f"exk-key-{fresh_phone()}"), 201)
    reports = {"key_id": key["key_id"], "secret": key["secret"]}
    used = [x["coupon_id"] for x in q["coupons"]["chosen"]]
    return hq, reports, c["checkout_id"], w["checkout_id"], used, batch


def test_checkouts_export_as_the_api_shows_them_and_a_merchant_gets_its_own(api, sold):
    hq, reports, mine, walk_in, _, _ = sold
    rows = {r["checkout_id"]: r for r in _export(api, {"kind": "checkouts", "format": "xlsx"}, headers=hq)}
    assert {mine, walk_in} <= set(rows)
    for checkout_id in (mine, walk_in):
        shown = _ok(api.call("GET", f"{CHECKOUTS}/{checkout_id}", headers=hq))
        row = rows[checkout_id]
        assert (row["status"], row["merchant_id"], row["order_id"]) == (shown["status"], shown["merchant_id"],
                                                                        shown["order_id"])
        assert {k: int(row[k]) for k in shown["totals"] if k in row} == {
            k: v for k, v in shown["totals"].items() if k in row}
        assert int(row["refunded_fen"]) == ((shown["refunded"] or {}).get("fen") or 0)
    assert rows[mine]["status"] == "refunded" and rows[walk_in]["member_id"] == ""
    own = _export(api, {"kind": "checkouts"}, signed_by=reports)
    assert mine in {r["checkout_id"] for r in own} and walk_in not in {r["checkout_id"] for r in own}
    assert {r["merchant_id"] for r in own} == {SHOP}


def test_coupon_uses_export_each_write_off_and_its_undo(api, sold):
    hq, reports, mine, _, used, _ = sold
    order = _ok(api.call("GET", f"{CHECKOUTS}/{mine}", headers=hq))["order_id"]
    rows = [r for r in _export(api, {"kind": "coupon_uses"}, signed_by=reports) if r["order_id"] == order]
    assert sorted((r["coupon_id"], r["kind"]) for r in rows) == sorted(
        [(c, k) for c in used for k in ("use", "undo")])
    for coupon in used:
        use, undo = ([r for r in rows if r["coupon_id"] == coupon and r["kind"] == k][0] for k in ("use", "undo"))
        assert int(use["discount_fen"]) == -int(undo["discount_fen"]) > 0 and use["at"] <= undo["at"]
        assert sum(json.loads(use["cost_bearers"]).values()) == int(use["discount_fen"])
    assert {r["merchant_id"] for r in rows} == {SHOP}


def test_gift_cards_export_the_days_batches_masked_and_a_refused_export_is_audited(api, sold):
    hq, reports, _, _, _, batch = sold
    rows = [r for r in _export(api, {"kind": "gift_cards"}, headers=hq) if r["batch_id"] == batch["batch_id"]]
    assert [(int(r["serial"]), r["state"]) for r in rows] == [(1, "activated"), (2, "issued"), (3, "issued")]
    for r in rows:                                  # as getGiftCard shows each card
        number = keys.card_number(keys.batch_no_of(batch["first_number"]), int(r["serial"]))
        card = _ok(api.call("GET", f"/v1/gift-cards/{number}", headers=hq))
        assert (r["state"], int(r["balance_fen"]), r["valid_until"]) == (card["state"], card["balance_fen"],
                                                                         card["valid_until"])
    assert rows[0]["sold_invoice"] == f"INV-{batch['batch_id']}" and rows[0]["sold_at"][:4] == _today()[:4]
    first = batch["first_number"]
    assert rows[0]["card"] == first[:4] + "*" * (len(first) - 8) + first[-4:] and first not in json.dumps(rows)
    # a merchant's reporting key: no gift cards of a store, none of another merchant's, no future: audited
    refused = api.call("POST", EXPORTS, {"kind": "gift_cards", "start": _today(), "end": "2099-01-01"},
                       signed_by=reports, key=f"exk-bad-{fresh_phone()}")
    assert refused.status_code == 422 and refused.headers["Content-Type"].startswith("application/problem+json")
    other = api.call("POST", EXPORTS, {"kind": "checkouts", "start": _today(), "end": _today(),
                                       "merchant_id": "quote-other"}, signed_by=reports, key=f"exk-o-{fresh_phone()}")
    assert other.status_code == 403
    audited = _ok(api.call("GET", "/v1/audit-log", headers=hq, params={"action": "export.refused"}))["entries"]
    details = [e["detail"] for e in audited if e["actor"].endswith(reports["key_id"])]
    assert any("createExport gift_cards" in d and "422" in d for d in details), details
    assert any("createExport checkouts" in d and "403" in d for d in details), details
