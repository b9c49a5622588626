"""The console's configuration pages in a real Chromium (issue #30, second part): the earn rules
page's "this order would earn…" equals previewEarn's figure, and saving it makes the version in
force that previewEarn then evaluates; the guided "top-up bonus with a coupon" campaign (seed 001)
is completed in three steps, each a real write (a double-clicked step writes once), and a top-up
through the API then grants the bonus and the coupon; the coupons page shows the template's figures
as getCouponStats has them. A program of its own, so the other console tests' figures stay theirs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from tests.console.conftest import PASSWORD, log_in, ok
from tests.console.test_console_browser import Page
from tests.e2e.conftest import fresh_phone

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
PROGRAM, MERCHANT, STORE = "console-cfg", "tea-house", "tea-1"


_ok = ok


@pytest.fixture(scope="module")
def cfg(make_world):
    world = make_world(PROGRAM, "配置", "cfg")
    return {"hq": world.hq, "login": world.logins["ops_manager"], "till": world.till, "world": world}


@pytest.fixture(scope="module")
def ops(browser, api, cfg):
    """One operations manager's tab, logged in once for the tests that act as HQ (a login and the
    dashboard behind it cost about 3 s each). The browser's clocks are London's, not the program's
    (Shanghai): what the pages work out of dates must be on the program's."""
    ui = Page(browser, api, 1280, zone="Europe/London")
    _login(ui, cfg["login"])
    yield ui
    ui.close()


def _login(ui, login, then="/members"):
    log_in(ui, PROGRAM, login, then)


def test_the_earn_rules_preview_shows_previewEarn_s_figure_and_a_save_puts_it_in_force(ops, api, cfg):
    ui = ops
    page = ui.page
    page.click("[data-page=earn-rules]")
    page.wait_for_selector("[data-test=in-force]")
    assert "默认" in page.locator("[data-test=in-force]").inner_text()        # nothing saved yet: the defaults
    page.click("[data-test=add-categories]")
    page.fill("input[name=categories-0-key]", "tea")
    page.fill("input[name=categories-0-multiplier]", "2")
    page.fill("input[name=preview-amount]", "123.45")
    page.fill("input[name=preview-category]", "tea")
    page.click("[data-test=run-preview]")
    page.wait_for_selector("[data-test=preview-points]")
    shown = page.locator("[data-test=preview-points]").inner_text()
    token = json.loads(page.evaluate("sessionStorage.getItem('loyalty.console.session')"))["token"]
    staff = api.bearer(token)
    # the same order under the same unsaved version: the rules in force with the form's one change
    draft = {**_ok(api.call("GET", "/v1/points/rules", headers=staff), 200)["rules"], "category_multipliers": {"tea": "2"}}
    body = {"amount_fen": 12_345, "lines": [{"category": "tea", "amount_fen": 12_345}]}
    answer = _ok(api.call("POST", "/v1/points/rules/preview", {**body, "rules": draft}, headers=staff), 200)
    assert shown == f"{answer['points']:,}" and answer["points"] == 246               # 12,345 fen x2 / 100, floored
    assert answer["rules_version"] is None
    assert page.locator("[data-test=preview-explanation] li").all_inner_texts() == answer["explanation"]

    page.fill("input[name=preview-amount]", "12.345")                          # not money: beside its field
    page.click("[data-test=run-preview]")
    assert ui.error_beside("preview-amount")
    page.fill("input[name=categories-0-multiplier]", "-1")                     # the API's refusal, shown
    page.fill("input[name=preview-amount]", "123.45")
    page.click("[data-test=run-preview]")
    page.locator(".field-error", has_text="multiplier").wait_for()
    page.fill("input[name=categories-0-multiplier]", "2")
    page.click("[data-test=run-preview]")
    page.locator("[data-test=preview-points]", has_text="246").wait_for()
    page.screenshot(path=str(SHOTS / "console-earn-rules.png"), full_page=True)
    page.click("[data-test=save]")
    page.locator("[data-test=in-force]", has_text="v1").wait_for()
    in_force = _ok(api.call("GET", "/v1/points/rules", headers=staff), 200)
    assert in_force["version"] == 1 and in_force["rules"]["category_multipliers"] == {"tea": "2"}
    saved = _ok(api.call("POST", "/v1/points/rules/preview", body, headers=staff), 200)
    assert saved["points"] == 246 and saved["rules_version"] == 1


def test_the_top_up_campaign_is_set_up_in_three_steps_and_a_top_up_then_grants_the_coupon(ops, api, stack, cfg):
    ui = ops
    page = ui.page
    page.click("[data-page=campaign]")
    page.wait_for_selector("[data-test=step-template]")
    ui.sent.clear()
    page.dblclick("[data-test=next]")                                       # a double click: one template
    page.wait_for_selector("[data-test=step-pack]")
    assert [s for s in ui.sent if s.startswith("POST") and s.endswith("/v1/coupon-templates")] == \
        [f"POST {api.url}/v1/coupon-templates"]
    page.click("[data-test=next]")
    page.wait_for_selector("[data-test=step-rule]")
    page.click("[data-test=next]")
    page.wait_for_selector("[data-test=campaign-done]")
    page.screenshot(path=str(SHOTS / "console-campaign.png"), full_page=True)
    hq = cfg["hq"]
    templates = _ok(api.call("GET", "/v1/coupon-templates", headers=hq), 200)["templates"]
    assert [t["terms"]["title"] for t in templates] == ["5元奶茶券"]
    template = templates[0]["template_id"]
    packs = _ok(api.call("GET", "/v1/coupon-packs", headers=hq), 200)["packs"]["packs"]
    assert packs == [{"id": "topup-200-tea", "name": "储值赠券", "items": [{"template_id": template, "count": 1}]}]
    rules = _ok(api.call("GET", "/v1/stored-value/rules", headers=hq), 200)["rules"]["bonus_rules"]
    assert [(r["id"], r["min_fen"], r["bonus_fen"], r["coupon_pack"]) for r in rules] == \
        [("topup-200", 20_000, 3_000, "topup-200-tea")]

    # a member tops up ¥200 at the till: ¥30 bonus and the coupon, in the top-up's transaction
    phone = fresh_phone()
    member = _ok(api.call("POST", "/v1/members", {"phone": phone}, signed_by=cfg["till"], key=f"cfg-reg-{phone}"))["member_id"]
    top = _ok(api.call("POST", f"/v1/members/{member}/stored-value/top-ups", {"amount_fen": 20_000, "payment_ref": f"cfg-{phone}"},
                       signed_by=cfg["till"], key=f"cfg-top-{phone}"))
    assert top["bonus_fen"] == 3_000 and top["bonus_rule"] == "topup-200" and len(top["coupon_pack"]["coupons"]) == 1
    coupons = _ok(api.call("GET", f"/v1/members/{member}/coupons", headers=hq), 200)["coupons"]
    assert [(c["template_id"], c["terms"]["title"], c["source"]) for c in coupons] == [(template, "5元奶茶券", "pack")]

    # the coupons page: the template's figures as getCouponStats has them
    stack.drain()
    page.click("[data-page=coupons]")
    page.click(f"[data-template='{template}']")
    page.wait_for_selector("[data-figure=issued] .value")
    stats = _ok(api.call("GET", f"/v1/coupon-templates/{template}/stats", headers=hq), 200)
    assert stats["issued"] == 1
    for figure in ("claimed", "issued", "used"):
        assert page.locator(f"[data-figure={figure}] .value").inner_text() == f"{stats[figure]:,}", figure
    assert page.locator("[data-figure=stock] .value").inner_text() == f"{stats['stock']['left']:,}"
    page.screenshot(path=str(SHOTS / "console-coupons.png"), full_page=True)


def test_a_clerk_s_menu_has_no_configuration_and_the_pages_save_nothing_for_it(browser, api, cfg):
    login = f"clerk-{fresh_phone()}@cfg"
    _ok(api.call("POST", "/v1/staff", {"login": login, "display_name": "店员", "role": "clerk", "merchant_id": MERCHANT,
                                       "store_id": STORE, "password": PASSWORD}, headers=cfg["hq"], key=f"cfg-staff-{login}"))
    ui = Page(browser, api, 390, 844)
    _login(ui, login)
    menu = sorted(ui.page.locator(".el-menu-item").evaluate_all("items => items.map(i => i.dataset.page)"))
    assert menu == ["dashboard", "members", "till"]           # the till's pages: configuration is not a clerk's
    ui.page.goto(ui.base + "/config/earn-rules")               # by its address: it reads and previews, saves nothing
    ui.page.wait_for_selector("[data-test=in-force]")
    assert ui.page.locator("[data-test=save]").count() == 0
    ui.page.goto(ui.base + "/config/campaign")
    ui.page.wait_for_selector("text=putCouponPacks")              # the page says what the role lacks
    ui.close()


def test_a_member_s_page_reveals_with_a_reason_adjusts_points_and_grants_a_pack_once(ops, api, cfg):
    hq, till = cfg["hq"], cfg["till"]
    template = _ok(api.call("POST", "/v1/coupon-templates", {"terms": {"kind": "no_threshold", "title": "欢迎券",
                                                                      "amount_off_fen": 300, "validity": {"days_after_claim": 7}},
                                                            "stock": 100, "state": "active"}, headers=hq,
                            key=f"cfg-tpl-{fresh_phone()}"))["template_id"]
    packs = _ok(api.call("GET", "/v1/coupon-packs", headers=hq), 200)["packs"]["packs"]
    _ok(api.call("PUT", "/v1/coupon-packs", {"packs": {"packs": [*packs, {"id": "welcome", "name": "欢迎礼包",
                                                                         "items": [{"template_id": template, "count": 2}]}]}},
                 headers=hq, key=f"cfg-packs-{fresh_phone()}"))
    phone = fresh_phone()
    member = _ok(api.call("POST", "/v1/members", {"phone": phone}, signed_by=till, key=f"cfg-m-{phone}"))["member_id"]
    ui = ops
    page = ui.page
    page.goto(f"{ui.base}/members/{member}")
    page.wait_for_selector("[data-test=member-actions]")
    assert "****" in page.locator("[data-test=phone]").inner_text()

    page.fill("input[name=reveal-reason]", "核")                                  # too short: beside its field
    page.click("[data-test=reveal]")
    assert ui.error_beside("reveal-reason")
    page.fill("input[name=reveal-reason]", "会员来电核实身份")
    page.click("[data-test=reveal]")
    page.locator("[data-test=phone]", has_text=phone[-8:]).wait_for()
    assert "****" not in page.locator("[data-test=phone]").inner_text()
    trail = _ok(api.call("GET", f"/v1/members/{member}/audit", headers=hq), 200)["entries"]
    assert [e["detail"] for e in trail if e["action"] == "pii.revealed"] == ["phone,email; reason: 会员来电核实身份"]

    page.locator("[data-test=member-actions] .el-input-number input").fill("50")
    page.fill("input[name=adjust-reason]", "补偿")                                 # the API's 422, beside its field
    page.click("[data-test=adjust]")
    assert "3" in ui.error_beside("adjust-reason")
    page.fill("input[name=adjust-reason]", "客诉补偿")
    page.click("[data-test=adjust]")
    page.locator("[data-test=action-done]").wait_for()
    account = _ok(api.call("GET", f"/v1/members/{member}/points", headers=hq), 200)["accounts"]["points"]
    assert account["balance"] == 50
    page.locator("[data-test=points] .value", has_text="50").wait_for()

    page.click("[data-test=grant-pack]")
    page.click(".el-select-dropdown__item:has-text('欢迎礼包')")
    ui.sent.clear()
    page.dblclick("[data-test=grant]")
    page.locator("[data-test=action-done]", has_text="welcome").wait_for()
    assert len([s for s in ui.sent if s.startswith("POST") and s.endswith("/coupon-packs")]) == 1
    coupons = _ok(api.call("GET", f"/v1/members/{member}/coupons", headers=hq), 200)["coupons"]
    assert [c["template_id"] for c in coupons] == [template, template]
    page.screenshot(path=str(SHOTS / "console-member-actions.png"), full_page=True)


def test_an_export_is_asked_for_followed_and_downloaded_from_the_page(ops, api, cfg):
    import csv
    import io

    phone = fresh_phone()
    member = _ok(api.call("POST", "/v1/members", {"phone": phone}, signed_by=cfg["till"], key=f"cfg-xm-{phone}"))["member_id"]
    _ok(api.call("POST", f"/v1/members/{member}/points/earn", {"order_id": f"cfg-x-{phone}", "amount_fen": 4_200},
                 signed_by=cfg["till"], key=f"cfg-xe-{phone}"))
    ui = ops
    page = ui.page
    page.click("[data-page=exports]")
    page.wait_for_selector("[data-test=exports]")
    ui.sent.clear()
    page.dblclick("[data-test=create-export]")                            # a double click: one export
    page.wait_for_selector("[data-test=exports] [data-status=queued]")
    assert len([s for s in ui.sent if s == f"POST {api.url}/v1/exports"]) == 1
    exports = _ok(api.call("GET", "/v1/exports", headers=cfg["hq"]), 200)["exports"]
    assert [(e["kind"], e["status"]) for e in exports] == [("points_ledger", "queued")]
    _ok(api.call("POST", "/v1/jobs/exports/runs", {"program_id": PROGRAM}, headers=api.staff("platform_admin"),
                 key=f"cfg-xr-{fresh_phone()}"), 200)
    page.wait_for_selector("[data-test=exports] [data-status=done]", timeout=15_000)     # read again by the page
    page.click(f"[data-export='{exports[0]['export_id']}']")
    link = page.locator("[data-test=download-link]")
    link.wait_for()
    page.screenshot(path=str(SHOTS / "console-exports.png"), full_page=True)
    download = requests.get(link.get_attribute("href"), timeout=30)
    rows = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert download.status_code == 200 and any(r.get("member_id") == member for r in rows), rows[:3]


def test_a_super_admin_makes_and_disables_a_staff_account_and_a_till_key(browser, api, cfg):
    login = f"admin-{fresh_phone()}@cfg"
    _ok(api.call("POST", "/v1/staff", {"login": login, "display_name": "管理员", "role": "super_admin", "password": PASSWORD},
                 headers=cfg["hq"], key=f"cfg-sa-{login}"))
    ui = Page(browser, api, 1280)
    page = ui.page
    _login(ui, login)
    page.click("[data-page=staff]")
    clerk = f"clerk-{fresh_phone()}@cfg"
    page.fill("input[name=staff-login]", clerk)
    page.fill("input[name=staff-name]", "新店员")
    page.click("[data-test=create-staff]")                               # a clerk without a store: refused
    page.locator(".field-error, .el-form-item__error").first.wait_for()
    assert _ok(api.call("GET", "/v1/staff", headers=cfg["hq"]), 200)["staff"] == \
        [s for s in _ok(api.call("GET", "/v1/staff", headers=cfg["hq"]), 200)["staff"] if s["login"] != clerk]
    page.locator(".el-select").nth(1).click()                           # the merchant, then its store
    page.click(".el-select-dropdown__item:visible:has-text('一茶一坐')")
    page.locator(".el-select").nth(2).click()
    page.click(".el-select-dropdown__item:visible:has-text('静安店')")
    page.click("[data-test=create-staff]")
    assert clerk in page.locator("[data-test=reset-code]").inner_text()
    made = [s for s in _ok(api.call("GET", "/v1/staff", headers=cfg["hq"]), 200)["staff"] if s["login"] == clerk]
    assert [(s["role"], s["merchant_id"], s["store_id"], s["status"]) for s in made] == [("clerk", MERCHANT, STORE, "active")]
    page.click(f"[data-staff='{clerk}']")
    page.locator("[data-test=staff] .el-table__row", has_text=clerk).locator("text=已停用").wait_for()
    assert _ok(api.call("GET", f"/v1/staff/{made[0]['staff_id']}", headers=cfg["hq"]), 200)["status"] == "disabled"
    page.screenshot(path=str(SHOTS / "console-staff.png"), full_page=True)

    page.click("[data-page=api-keys]")
    page.wait_for_selector("[data-test=keys] .el-table__row")
    before = {k["key_id"] for k in _ok(api.call("GET", f"/v1/merchants/{MERCHANT}/api-keys", headers=cfg["hq"]), 200)["keys"]}
    page.click("[data-test=create-key]")
    secret = page.locator("[data-test=key-secret]")
    secret.wait_for()
    keys = _ok(api.call("GET", f"/v1/merchants/{MERCHANT}/api-keys", headers=cfg["hq"]), 200)["keys"]
    (new,) = [k for k in keys if k["key_id"] not in before]
    assert new["key_id"] in secret.inner_text() and new["status"] == "active"
    page.click(f"[data-key='{new['key_id']}']")
    page.locator("[data-test=keys] .el-table__row", has_text=new["key_id"]).locator("text=revoked").wait_for()
    ui.close()


def test_finance_reads_the_month_s_statements_and_a_close_of_a_month_not_ended_is_refused(browser, api, cfg):
    login = f"finance-{fresh_phone()}@cfg"
    _ok(api.call("POST", "/v1/staff", {"login": login, "display_name": "财务", "role": "finance", "password": PASSWORD},
                 headers=cfg["hq"], key=f"cfg-fin-{login}"))
    ui = Page(browser, api, 1280)
    page = ui.page
    _login(ui, login)
    menu = page.locator(".el-menu-item").evaluate_all("items => items.map(i => i.dataset.page)")
    assert "settlement" in menu and "campaign" not in menu and "staff" in menu    # finance reads staff, writes none
    page.click("[data-page=settlement]")
    page.wait_for_selector("[data-test=statements]")
    assert page.locator("[data-test=period-state]").inner_text().strip() == "未关账"
    page.click("[data-test=close-period]")                                  # this month has not ended: 409
    assert page.locator("[data-test=close-error]").inner_text()
    listed = _ok(api.call("GET", "/v1/settlement/statements", headers=cfg["hq"]), 200)
    assert listed["closed"] is False
    ui.close()


def test_hq_sees_a_subscription_s_health_and_sends_it_a_test(ops, api, cfg):
    hook = _ok(api.call("POST", "/v1/webhooks/subscriptions", {"url": "http://127.0.0.1:9/cfg", "filters": ["webhook.test"]},
                        headers=cfg["hq"], key=f"cfg-wh-{fresh_phone()}"))
    ui = ops
    page = ui.page
    page.click("[data-page=webhooks]")
    row = page.locator("[data-test=subscriptions] .el-table__row", has_text="127.0.0.1:9/cfg")
    row.locator("button").click()                                         # nobody listens on port 9
    page.locator("[data-test=webhook-outcome]").wait_for()
    page.wait_for_selector("[data-test=deliveries] .el-table__row")
    shown = _ok(api.call("GET", f"/v1/webhooks/subscriptions/{hook['subscription_id']}/deliveries", headers=cfg["hq"]), 200)
    assert len(shown["deliveries"]) == page.locator("[data-test=deliveries] .el-table__row").count() >= 1
    assert "webhook.test" in page.locator("[data-test=deliveries]").inner_text()


def _versions(body) -> list[tuple[int, datetime]]:
    return [(v["version"], datetime.fromisoformat(v["effective_from"].replace("Z", "+00:00"))) for v in body["versions"]]


def test_a_paid_plan_saved_from_a_time_on_the_program_s_clocks_is_scheduled_then_the_valuation_in_force(ops, api, cfg):
    """Issue #30's configuration pages, third part: a new page on ConfigPage checks its table before
    sending (nothing sent), then saves a version from a time picked on the program's clocks (Shanghai,
    shown beside the picker) in a browser whose clocks are London's: the API holds it scheduled from
    that instant in UTC. The points valuation saved from now is in force as the API reads it."""
    ui = ops
    page = ui.page
    page.click("[data-page=plans]")
    page.wait_for_selector("[data-test=in-force]")
    page.click("[data-test=add-plan]")
    page.fill("input[name=plan-0-name]", "PLUS 年卡")
    ui.sent.clear()
    page.click("[data-test=save]")                                              # no price: refused before sending
    page.locator("[data-test=plans] .field-error", has_text="金额").wait_for()
    assert not [s for s in ui.sent if s.startswith("PUT")]
    page.fill("input[name=plan-0-price]", "199.00")
    assert page.locator("[data-test=zone]").inner_text() == "Asia/Shanghai"
    picker = page.locator("[data-test=effective-from] input")
    picker.fill("2030-01-01 08:00:00")
    picker.press("Enter")
    page.screenshot(path=str(SHOTS / "console-plans.png"), full_page=True)
    page.click("[data-test=save]")
    page.locator("[data-test=versions] [data-state=scheduled]").wait_for()
    hq = cfg["hq"]
    plans = _ok(api.call("GET", "/v1/memberships/plans", headers=hq), 200)
    assert plans["version"] == 0 and _versions(plans) == [(1, datetime(2030, 1, 1, 0, 0, tzinfo=UTC))]
    later = _ok(api.call("GET", "/v1/memberships/plans", headers=hq, params={"at": "2030-01-02T00:00:00Z"}), 200)
    assert [(p["code"], p["name"], p["price_fen"], p["period"]) for p in later["plans"]["plans"]] == \
        [("PLUS", "PLUS 年卡", 19_900, "year")]

    page.click("[data-page=points-valuation]")
    page.wait_for_selector("[data-test=in-force]")
    page.fill("input[name=fen_per_point]", "0.5")
    assert page.locator("[data-test=valuation-example]").inner_text().endswith("¥50.00")
    page.click("[data-test=save]")
    page.locator("[data-test=in-force]", has_text="v1").wait_for()
    valuation = _ok(api.call("GET", "/v1/points/valuation", headers=hq), 200)
    assert valuation["version"] == 1 and valuation["valuation"]["fen_per_point"] == "0.5"


def test_hq_sets_a_member_s_tier_by_hand_with_a_reason_and_the_history_shows_it(ops, api, cfg):
    hq, till = cfg["hq"], cfg["till"]
    ladder = _ok(api.call("GET", "/v1/tiers/ladder", headers=hq), 200)["ladder"]
    if len(ladder["tiers"]) < 2:
        ladder["tiers"].append({"code": "V2", "name": "金卡", "threshold": 1_000, "validity_months": 12})
        _ok(api.call("PUT", "/v1/tiers/ladder", {"ladder": ladder}, headers=hq, key=f"cfg-ladder-{fresh_phone()}"))
    phone = fresh_phone()
    member = _ok(api.call("POST", "/v1/members", {"phone": phone}, signed_by=till, key=f"cfg-t-{phone}"))["member_id"]
    ui = ops
    page = ui.page
    page.goto(f"{ui.base}/members/{member}")
    page.wait_for_selector("[data-test=set-tier]")
    assert page.locator("[data-test=tier] [data-tier]").get_attribute("data-tier") == "V1"
    page.click("[data-test=set-tier-tier]")
    page.click(".el-select-dropdown__item:visible:has-text('V2')")
    page.click("[data-test=set-tier-submit]")                                 # no reason: refused before sending
    assert ui.error_beside("tier-reason")
    page.fill("input[name=tier-reason]", "大客户补级")
    ui.sent.clear()
    page.dblclick("[data-test=set-tier-submit]")                              # a double click: one write
    page.locator("[data-test=tier-set]").wait_for()
    assert [s for s in ui.sent if s.startswith("PUT")] == [f"PUT {api.url}/v1/members/{member}/tier"]
    tier = _ok(api.call("GET", f"/v1/members/{member}/tier", headers=hq), 200)
    assert (tier["tier"]["code"], tier["manual"]["tier"], tier["manual"]["reason"]) == ("V2", "V2", "大客户补级")
    page.locator("[data-test=tier] [data-tier=V2]").wait_for()
    page.locator("[data-test=tier-history] [data-cause=manual]").wait_for()
    history = _ok(api.call("GET", f"/v1/members/{member}/tier/history", headers=hq), 200)["changes"]
    assert [(c["from"], c["to"], c["cause"]) for c in history][:1] == [("V1", "V2", "manual")]


def test_the_export_form_offers_every_kind_the_api_has_and_a_coupon_uses_export_completes(ops, api, cfg):
    # the app's document as the build wrote it from the app (the served one costs seconds to make on a first call)
    doc = json.loads((ROOT / "console" / "generated" / "openapi.json").read_text())
    kinds = doc["components"]["schemas"]["CreateExport"]["properties"]["kind"]["enum"]
    ui = ops
    page = ui.page
    page.click("[data-page=exports]")
    page.wait_for_selector("[data-test=exports]")
    page.click("[data-test=export-kind]")
    offered = page.locator(".el-select-dropdown__item:visible")
    offered.first.wait_for()
    assert offered.count() == len(kinds) >= 7
    page.click(".el-select-dropdown__item:visible:has-text('核销记录')")     # coupon_uses
    page.click("[data-test=create-export]")
    page.locator("[data-test=exports] .el-table__row", has_text="核销记录").wait_for()
    hq = cfg["hq"]
    (mine,) = [e for e in _ok(api.call("GET", "/v1/exports", headers=hq), 200)["exports"] if e["kind"] == "coupon_uses"]
    assert mine["status"] == "queued"
    _ok(api.call("POST", "/v1/jobs/exports/runs", {"program_id": PROGRAM}, headers=api.staff("platform_admin"),
                 key=f"cfg-xr-{fresh_phone()}"), 200)
    page.get_by_role("button", name="刷新").click()                          # not the 3 s poll's wait
    page.locator(f"[data-test=exports] [data-export='{mine['export_id']}']").wait_for(timeout=15_000)
    done = _ok(api.call("GET", f"/v1/exports/{mine['export_id']}", headers=hq), 200)
    assert done["status"] == "done" and done["kind"] == "coupon_uses"
