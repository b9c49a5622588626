"""The console's till and operations pages in a real Chromium (issue #30, fourth part): a clerk at a
phone's width (390 px, nothing wider) lands on the till, resolves a member's code of the minute and
sees the balances the API has, writes a coupon off with a double tap that writes once (getCoupon:
used, on that order) and undoes it; HQ creates a gift card batch on its page and watches the
generation's progress as getGiftCardBatch has it, then sells it; HQ refunds part of a checkout from
the member's page and getCheckout has the refund. A program of its own, so the other console
tests' figures stay theirs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.console.conftest import log_in, ok
from tests.console.test_console_browser import Page
from tests.e2e.conftest import fresh_phone

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
PROGRAM, MERCHANT, STORE = "console-ops", "tea-house", "tea-1"


_ok = ok


@pytest.fixture(scope="module")
def shop(make_world):
    world = make_world(PROGRAM, "运营", "cop", roles=("ops_manager", "clerk"))
    return {"hq": world.hq, "logins": world.logins, "till": world.till, "world": world}


def _login(ui, login, then="/members"):
    log_in(ui, PROGRAM, login, then)


@pytest.fixture(scope="module")
def ops(browser, api, shop):
    """One operations manager's tab, logged in once for the HQ tests."""
    ui = Page(browser, api, 1280)
    _login(ui, shop["logins"]["ops_manager"])
    yield ui
    ui.close()


def _member(api, shop, earn_fen=0, top_up_fen=0):
    return shop["world"].member("王小二", earn_fen=earn_fen, top_up_fen=top_up_fen)


def test_a_clerk_at_390_px_resolves_a_member_code_sees_the_balances_and_writes_a_coupon_off_once(browser, api, stack, shop):
    hq = shop["hq"]
    member, phone = _member(api, shop, earn_fen=12_345, top_up_fen=20_000)
    template = _ok(api.call("POST", "/v1/coupon-templates", {"terms": {"kind": "no_threshold", "title": "5元奶茶券",
                                                                      "amount_off_fen": 500, "validity": {"days_after_claim": 7}},
                                                            "stock": 100, "state": "active"}, headers=hq,
                            key=f"cop-tpl-{fresh_phone()}"))["template_id"]
    claimed = _ok(api.call("POST", f"/v1/members/{member}/coupons", {"template_id": template}, headers=hq,
                           key=f"cop-claim-{member}"))
    coupon = _ok(api.call("GET", f"/v1/members/{member}/coupons/{claimed['coupon_id']}", headers=hq), 200)   # HQ sees its code
    ui = Page(browser, api, 390, 844)
    page = ui.page
    _login(ui, shop["logins"]["clerk"], then="/")
    page.wait_for_url(re.compile(r"/console/till$"))                     # where a clerk lands
    menu = page.locator(".el-menu-item").evaluate_all("items => items.map(i => i.dataset.page)")
    assert menu[0] == "till"                                             # the till first in a clerk's menu

    code = _ok(api.call("GET", f"/v1/members/{member}/member-code", headers=hq), 200)["code"]
    page.fill("input[name=till-lookup]", code)
    assert page.locator("[data-kind=member_code].is-active").count() == 1     # told apart from a phone by its form
    page.click("[data-test=till-find]")
    page.wait_for_selector("[data-test=till-member]")
    assert "王小二" in page.locator("[data-test=till-member]").inner_text()        # the name the code does not carry
    points = _ok(api.call("GET", f"/v1/members/{member}/points", headers=hq), 200)["accounts"]["points"]
    sv = _ok(api.call("GET", f"/v1/members/{member}/stored-value", headers=hq), 200)
    coupons = _ok(api.call("GET", f"/v1/members/{member}/coupons", headers=hq), 200)
    assert page.locator("[data-test=till-points] [data-test=value]").inner_text() == f"{points['available']:,}"
    assert points["available"] == 123
    assert page.locator("[data-test=till-stored-value] [data-test=value]").inner_text() == "¥200.00" == \
        f"¥{sv['balance_fen'] // 100:,}.{sv['balance_fen'] % 100:02d}"
    assert page.locator("[data-test=till-stored-value] [data-test=principal]").inner_text() == f"¥{sv['principal'] // 100}.00"
    assert page.locator("[data-test=till-coupons] [data-test=value]").inner_text() == str(coupons["usable"]) == "1"

    page.fill("input[name=coupon-code]", coupon["code"])
    page.fill("input[name=coupon-order]", "POS-390-1")
    page.fill("input[name=coupon-amount]", "12.3x")                      # not money: beside its field
    page.click("[data-test=coupon-check]")
    assert ui.error_beside("coupon-amount")
    page.fill("input[name=coupon-amount]", "38.00")
    page.click("[data-test=coupon-check]")
    page.locator("[data-test=coupon-checked]", has_text="¥5.00").wait_for()
    assert _ok(api.call("GET", f"/v1/members/{member}/coupons/{coupon['coupon_id']}", headers=hq), 200)["state"] == "unused"
    ui.sent.clear()
    page.dblclick("[data-test=coupon-write-off]")                        # a double tap: one write-off
    page.wait_for_selector("[data-test=coupon-done]")
    assert [s for s in ui.sent if s.startswith("POST") and s.endswith("/v1/coupons/write-offs")] == \
        [f"POST {api.url}/v1/coupons/write-offs"]
    used = _ok(api.call("GET", f"/v1/members/{member}/coupons/{coupon['coupon_id']}", headers=hq), 200)
    assert (used["state"], used["used_order_id"], used["used_store_id"], used["saving_fen"]) == ("used", "POS-390-1", STORE, 500)
    page.locator("[data-test=till-coupons] [data-test=value]", has_text="0").wait_for()     # the balances read again
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390, "the till scrolls sideways at 390 px"
    page.screenshot(path=str(SHOTS / "console-till.png"), full_page=True)

    page.click("[data-test=coupon-undo]")
    page.wait_for_selector("[data-test=coupon-undone]")
    undone = _ok(api.call("GET", f"/v1/members/{member}/coupons/{coupon['coupon_id']}", headers=hq), 200)
    assert undone["state"] in page.locator("[data-test=coupon-undone]").inner_text() and undone["state"] != "used"

    # the next customer: a phone typed finds the same member, told apart from a code by its form
    page.click("[data-test=till-next]")
    page.fill("input[name=till-lookup]", phone)
    assert page.locator("[data-kind=phone].is-active").count() == 1
    page.click("[data-test=till-find]")
    page.locator("[data-test=till-coupons] [data-test=value]").wait_for()
    assert page.locator("[data-test=till-stored-value] [data-test=value]").inner_text() == "¥200.00"
    page.click("[data-test=till-next]")
    page.fill("input[name=till-lookup]", fresh_phone())                  # nobody's phone: beside the field
    page.click("[data-test=till-find]")
    assert ui.error_beside("till-lookup")
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
    ui.close()


def test_a_gift_card_batch_s_page_shows_its_progress_as_getGiftCardBatch_has_it_and_sells_it(ops, api, shop):
    ui = ops
    page = ui.page
    page.click("[data-page=gift-cards]")
    page.wait_for_selector("[data-test=gc-batches]")
    name = f"中秋礼品卡{fresh_phone()[-4:]}"
    page.fill("input[name=gc-name]", name)
    page.fill("input[name=gc-face]", "1000.01")                          # over the anonymous card's cap: the API's 422
    page.click("[data-test=gc-create]")
    assert "100000" in ui.error_beside("gc-face")
    page.fill("input[name=gc-face]", "200")
    page.locator("[data-test=gc-create]").click()
    page.wait_for_url(re.compile(r"/console/gift-cards/batches/\w+$"))
    batch_id = page.url.rsplit("/", 1)[1]
    page.wait_for_selector("[data-test=gc-progress]")
    shown = _ok(api.call("GET", f"/v1/gift-cards/batches/{batch_id}", headers=shop["hq"]), 200)
    assert (shown["name"], shown["count"], shown["face_value_fen"], shown["status"]) == (name, 100, 20_000, "generating")
    assert page.locator("[data-test=gc-progress]").inner_text() == f"{shown['chunks_done']} / {shown['chunks']} 段"

    _ok(api.call("POST", "/v1/jobs/gift-card-batches/runs", {"program_id": PROGRAM}, headers=api.staff("platform_admin")), 200)
    page.wait_for_selector("[data-test=gc-batch] [data-status=ready]", timeout=15_000)   # read again by the page
    ready = _ok(api.call("GET", f"/v1/gift-cards/batches/{batch_id}", headers=shop["hq"], params={"counts": "true"}), 200)
    assert page.locator("[data-test=gc-progress]").inner_text() == f"{ready['chunks_done']} / {ready['chunks']} 段" == "1 / 1 段"
    assert page.locator("[data-state=issued]").inner_text() == f"issued: {ready['cards']['by_state']['issued']}"

    page.fill("input[name=gc-invoice]", f"INV-{batch_id}")
    page.fill("input[name=gc-purchaser]", "上海某某有限公司")
    page.fill("input[name=gc-price]", "19000")
    page.click("[data-test=gc-sell]")
    page.wait_for_selector("[data-test=gc-sold]")
    sold = _ok(api.call("GET", f"/v1/gift-cards/batches/{batch_id}", headers=shop["hq"]), 200)
    assert (sold["sold_count"], sold["sold_fen"], len(sold["sales"])) == (100, 2_000_000, 1)     # face value sold
    assert "¥19,000.00" in page.locator("[data-test=gc-sold]").inner_text()                         # the price paid
    assert f"INV-{batch_id}" in page.locator("[data-test=gc-sales]").inner_text()
    page.screenshot(path=str(SHOTS / "console-gift-card-batch.png"), full_page=True)

    page.goto(f"{ui.base}/gift-cards/cards/{sold['first_number']}")       # a card: its number masked, never a secret
    page.wait_for_selector("[data-test=gc-card]")
    card = _ok(api.call("GET", f"/v1/gift-cards/{sold['first_number']}", headers=shop["hq"]), 200)
    assert page.locator("[data-test=gc-card-number]").inner_text() == f"{card['card_number'][:4]} **** **** {card['card_number'][-4:]}"
    assert page.locator("[data-test=gc-card-balance]").inner_text() == "¥200.00" and card["balance_fen"] == 20_000
    assert card["card_number"] not in page.content()


def test_a_checkout_refund_from_the_member_s_page_is_on_getCheckout(ops, api, shop):
    member, _ = _member(api, shop)
    till = shop["till"]
    lines = [{"sku": "TEA-500G", "category": "tea", "quantity": 2, "unit_price_fen": 5_000}]
    quote = _ok(api.call("POST", "/v1/checkouts/quotes", {"member_id": member, "channel": "pos", "lines": lines},
                         signed_by=till, key=f"cop-q-{member}"))
    order_id = f"POS-{member[-8:]}"
    c = _ok(api.call("POST", "/v1/checkouts", {"quote_id": quote["quote_id"], "lines": lines, "order_id": order_id},
                     signed_by=till, key=f"cop-c-{member}"))
    _ok(api.call("POST", f"/v1/checkouts/{c['checkout_id']}/complete", {"payment_ref": f"wxpay-{member[-8:]}"},
                 signed_by=till, key=f"cop-done-{member}"), 200)
    ui = ops
    page = ui.page
    page.goto(f"{ui.base}/members/{member}")
    page.click(f"[data-checkout='{c['checkout_id']}']")
    page.wait_for_selector("[data-test=checkout] [data-status=completed]")
    page.fill("input[name=refund-amount]", "10.00")
    page.fill("input[name=refund-reason]", "")                            # the API's 422 beside its field
    page.click("[data-test=refund]")
    assert ui.error_beside("refund-reason")
    assert _ok(api.call("GET", f"/v1/checkouts/{c['checkout_id']}", headers=shop["hq"]), 200)["refunded"] is None
    page.fill("input[name=refund-reason]", "少找零")
    ui.sent.clear()
    page.dblclick("[data-test=refund]")
    page.wait_for_selector("[data-test=refund-done]")
    assert len([s for s in ui.sent if s.startswith("POST") and s.endswith("/refunds")]) == 1
    seen = _ok(api.call("GET", f"/v1/checkouts/{c['checkout_id']}", headers=shop["hq"]), 200)
    assert (seen["status"], seen["refunded"]["fen"], seen["refunded"]["refunds"]) == ("partially_refunded", 1_000, 1)
    assert page.locator("[data-test=checkout-status]").inner_text() == "partially_refunded"
    assert "¥10.00" in page.locator("[data-test=checkout-refunded]").inner_text()
    order = _ok(api.call("GET", f"/v1/orders/{order_id}", headers=shop["hq"], params={"merchant_id": MERCHANT}), 200)
    assert order["refunded_fen"] == 1_000
    # the points ledger: the checkout's earn and the refund's clawback, each with its lot and last day
    ledger = _ok(api.call("GET", f"/v1/members/{member}/points/ledger", headers=shop["hq"]), 200)["postings"]
    assert [p["kind"] for p in ledger] == ["refund", "earn"]
    rows = page.locator("[data-test=points-ledger] .el-table__row")
    rows.nth(1).wait_for()
    for row, posting in zip(rows.all(), ledger, strict=True):
        lot = posting["lots"][0]
        assert posting["kind"] in row.inner_text() and f"{lot['delta']:+,}".replace("+-", "-") in row.inner_text()
        assert lot["expires_on"] is None or lot["expires_on"] in row.inner_text()
    page.wait_for_selector("[data-test=orders] .el-table__row")
    page.screenshot(path=str(SHOTS / "console-checkout-refund.png"), full_page=True)


def test_the_stored_value_and_settlement_checks_show_what_the_api_answers(ops, api, stack, shop):
    _member(api, shop, top_up_fen=30_000)
    stack.drain()                                  # the liability's figures follow the top-up's events
    hq = shop["hq"]
    page = ops.page
    page.click("[data-page=stored-value]")
    page.wait_for_selector("[data-test=sv-liability]")
    owed = _ok(api.call("GET", "/v1/stored-value/liability", headers=hq), 200)["members"]
    assert page.locator("[data-figure=principal_fen] .value").inner_text() == \
        f"¥{owed['principal_fen'] // 100:,}.{owed['principal_fen'] % 100:02d}"
    statement = _ok(api.call("GET", "/v1/stored-value/supervision", headers=hq), 200)
    page.locator("[data-test=sv-supervision] .el-table__row").first.wait_for()
    assert page.locator("[data-test=sv-supervision] .el-table__row").count() == len(statement["issuers"]) >= 1
    page.click("[data-test=sv-reconcile]")
    page.wait_for_selector("[data-test=sv-balanced]")
    checked = _ok(api.call("GET", "/v1/stored-value/reconciliation", headers=hq), 200)
    assert page.locator("[data-test=sv-balanced]").inner_text() == ("一致" if checked["balanced"] else "不一致")

    page.click("[data-page=settlement-reconciliation]")
    page.wait_for_selector("[data-test=recon-balanced]")
    recon = _ok(api.call("GET", "/v1/settlement/reconciliation", headers=hq), 200)
    assert page.locator("[data-test=recon-balanced]").inner_text() == ("一致" if recon["balanced"] else "不一致")
    assert page.locator("[data-test=recon-merchants] .el-table__row").count() == len(recon["merchants"])
    # HQ reads its jobs' last runs (listProgramJobs, #30 fifth part): tests/console/test_console_people.py
    assert "job-runs" in page.locator(".el-menu-item").evaluate_all("items => items.map(i => i.dataset.page)")
