"""HQ at the till (issue #30): an operations manager has no merchant or store of its own, so the
till's coupon form asks where the order is (the API refuses a write-off without a merchant and
records where a coupon was used); without a choice the form says so beside the field and sends
nothing; with one, the write-off is recorded at that merchant and store (getCoupon). A merchant's
clerk is not asked (the clerk's till test, test_console_operations.py)."""

from __future__ import annotations

from tests.console.conftest import log_in, ok
from tests.console.test_console_browser import Page
from tests.e2e.conftest import fresh_phone

PROGRAM, MERCHANT = "console-till-hq", "tea-house"


def test_hq_at_the_till_picks_the_merchant_and_store_and_the_write_off_is_recorded_there(browser, api, make_world):
    world = make_world(PROGRAM, "总部收银", "cth", roles=("ops_manager",), merchant=MERCHANT, store="tea-1")
    second = api.call("POST", f"/v1/merchants/{MERCHANT}/stores", {"store_id": "tea-2", "name": "二号店"},
                      headers=world.hq, key=f"cth-store-{fresh_phone()}")
    assert second.status_code in (201, 409), second.text
    member, phone = world.member("李四")
    template = ok(api.call("POST", "/v1/coupon-templates", {"terms": {"kind": "no_threshold", "title": "5元奶茶券",
                                                                     "amount_off_fen": 500, "validity": {"days_after_claim": 7}},
                                                           "stock": 10, "state": "active"}, headers=world.hq,
                           key=f"cth-tpl-{fresh_phone()}"))["template_id"]
    claimed = ok(api.call("POST", f"/v1/members/{member}/coupons", {"template_id": template}, headers=world.hq,
                          key=f"cth-claim-{member}"))
    coupon = ok(api.call("GET", f"/v1/members/{member}/coupons/{claimed['coupon_id']}", headers=world.hq), 200)

    ui = Page(browser, api, 1280)
    page = ui.page
    world.log_in(ui, world.logins["ops_manager"], then="/till")
    page.locator("[data-test=till-scope]").wait_for()
    page.fill("input[name=till-lookup]", phone)
    page.click("[data-test=till-find]")
    page.wait_for_selector("[data-test=till-member]")
    page.fill("input[name=coupon-code]", coupon["code"])
    page.fill("input[name=coupon-order]", "HQ-TILL-1")
    page.fill("input[name=coupon-amount]", "20.00")
    # the picker chose the program's one merchant (require-merchant); the store is picked
    page.click("[data-test=till-scope] [data-test=store]")
    page.click(".el-select-dropdown__item:visible:has-text('二号店')")
    ui.sent.clear()
    page.dblclick("[data-test=coupon-write-off]")
    page.wait_for_selector("[data-test=coupon-done]")
    assert [s for s in ui.sent if s.startswith("POST") and s.endswith("/v1/coupons/write-offs")] == \
        [f"POST {api.url}/v1/coupons/write-offs"]
    used = ok(api.call("GET", f"/v1/members/{member}/coupons/{coupon['coupon_id']}", headers=world.hq), 200)
    assert (used["state"], used["used_order_id"], used["used_merchant_id"], used["used_store_id"]) == \
        ("used", "HQ-TILL-1", MERCHANT, "tea-2")
    ui.close()


def test_a_clerk_at_the_till_is_not_asked_where(browser, api, make_world):
    world = make_world(PROGRAM, "总部收银", "cth", roles=("clerk",), merchant=MERCHANT, store="tea-1")
    ui = Page(browser, api, 390, 844)
    log_in(ui, PROGRAM, world.logins["clerk"], then="/till")
    ui.page.locator("[data-test=till-coupon]").wait_for()
    assert ui.page.locator("[data-test=till-scope]").count() == 0
    ui.close()
