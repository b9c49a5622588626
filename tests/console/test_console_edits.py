"""The console's configuration gaps in a real Chromium (issue #30, sixth part): a coupon template
changed on its form is what getCouponTemplate then answers (new terms a new version, the stock and
limits as set; the server's field error beside its field; the coupons issued keep their terms),
and paused from it; a
scheduled tier ladder version opens into the form with its start on the program's clocks, and a
save from then replaces it, as getTierLadder lists it; a task rewarding a tier the ladder lacks is
refused beside its row; the gift card check shows getGiftCardReconciliation's typed figures. A
program of its own, so the other console tests' figures stay theirs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.console.conftest import log_in, ok
from tests.console.test_console_browser import Page
from tests.e2e.conftest import fresh_phone

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
PROGRAM = "console-edit"
LATER = "2030-01-01T00:00:00+08:00"            # midnight on the program's (Shanghai's) clocks
LADDER = [{"code": "V1", "name": "会员", "threshold": 0},
          {"code": "V2", "name": "白银", "threshold": 1_000, "validity_months": 12}]


@pytest.fixture(scope="module")
def world(make_world):
    made = make_world(PROGRAM, "配置修改", "ced")
    hq = made.hq
    ok(made.client.call("PUT", "/v1/tiers/ladder", {"ladder": {"tiers": LADDER}}, headers=hq, key=f"ced-l1-{fresh_phone()}"))
    later = [*LADDER, {"code": "V3", "name": "黄金", "threshold": 5_000, "validity_months": 12}]
    made.scheduled = ok(made.client.call("PUT", "/v1/tiers/ladder", {"ladder": {"tiers": later}, "effective_from": LATER},
                                         headers=hq, key=f"ced-l2-{fresh_phone()}"))["version"]
    tasks = [{"id": "vip", "name": "三单升白银", "kind": "orders", "target": 3, "reward": {"tier": "V2", "validity_months": 3}}]
    ok(made.client.call("PUT", "/v1/tasks", {"tasks": {"tasks": tasks}}, headers=hq, key=f"ced-t-{fresh_phone()}"))
    return made


@pytest.fixture(scope="module")
def ops(browser, api, world):
    """One operations manager's tab for the module (the browser's clocks London's, not the program's)."""
    ui = Page(browser, api, 1280, zone="Europe/London")
    log_in(ui, PROGRAM, world.logins["ops_manager"])
    yield ui
    ui.close()


def test_a_coupon_template_changed_on_its_form_is_what_getCouponTemplate_answers(ops, api, world):
    hq = world.hq
    terms = {"kind": "no_threshold", "title": "5元奶茶券", "amount_off_fen": 500, "validity": {"days_after_claim": 7}}
    template = ok(api.call("POST", "/v1/coupon-templates", {"terms": terms, "stock": 100, "state": "active", "per_member_limit": 2},
                           headers=hq, key=f"ced-tpl-{fresh_phone()}"))["template_id"]
    member, _ = world.member()
    issued = ok(api.call("POST", f"/v1/members/{member}/coupons", {"template_id": template}, headers=hq, key=f"ced-claim-{member}"))
    ui = ops
    page = ui.page
    page.goto(f"{ui.base}/coupons")
    page.click(f"[data-template='{template}']")
    page.wait_for_selector("[data-test=template-edit] input[name=tpl-title]")
    assert "1" in page.locator("[data-test=template-issued]").inner_text()          # one issued: it keeps its terms
    assert page.input_value("input[name=tpl-amount-off]") == "5.00"
    page.fill("input[name=tpl-title]", "8元奶茶券")
    page.fill("input[name=tpl-amount-off]", "0")                                    # the form's own check
    page.click("[data-test=template-save]")
    assert ui.error_beside("tpl-amount-off")
    page.fill("input[name=tpl-amount-off]", "8.00")
    page.fill("input[name=tpl-per-member]", "5000")                                 # the API's 422, beside its field
    page.click("[data-test=template-save]")
    assert "1000" in ui.error_beside("tpl-per-member").replace(",", "")
    assert ok(api.call("GET", f"/v1/coupon-templates/{template}", headers=hq), 200)["terms_version"] == 1   # nothing saved
    page.fill("input[name=tpl-per-member]", "")                                     # no limit
    page.locator("[data-test=template-edit] .el-input-number input").fill("50")
    page.dblclick("[data-test=template-save]")                                      # a double click: one write
    page.wait_for_selector("[data-test=template-saved]")
    page.screenshot(path=str(SHOTS / "console-coupon-template.png"), full_page=True)
    shown = ok(api.call("GET", f"/v1/coupon-templates/{template}", headers=hq), 200)
    assert shown["terms_version"] == 2 and shown["terms"]["title"] == "8元奶茶券" and shown["terms"]["amount_off_fen"] == 800
    assert shown["stock"] == {"total": 150, "left": 149, "taken": 1} and shown["per_member_limit"] is None
    coupon = ok(api.call("GET", f"/v1/members/{member}/coupons/{issued['coupon_id']}", headers=hq), 200)
    assert coupon["terms"]["amount_off_fen"] == 500                                  # issued before: its own terms
    page.click("[data-move=ended]")                                                 # ending asks twice
    assert page.locator("[data-move=ended]").inner_text().startswith("确认结束")
    page.click("[data-move=paused]")
    page.wait_for_selector("[data-test=template-state] [data-state=paused]")
    assert ok(api.call("GET", f"/v1/coupon-templates/{template}", headers=hq), 200)["state"] == "paused"


def test_a_coupon_template_made_with_its_rarer_terms_is_what_getCouponTemplate_answers(ops, api, world):
    """Steps, fixed dates on the program's clocks, stores and SKUs, a weekend window, stacking and
    who bears the cost, on the creation form: checked before sending, the API's field errors beside
    their fields, a double click one template, read back over the API as typed."""
    ui = ops
    page = ui.page
    page.goto(f"{ui.base}/coupons")
    page.click("[data-test=template-new]")
    form = page.locator("[data-test=template-create]")
    form.locator("[data-kind=threshold]").click()
    title = f"周末阶梯满减{fresh_phone()[-4:]}"
    page.fill("input[name=new-title]", title)
    page.fill("input[name=new-step-0-threshold]", "100")
    page.fill("input[name=new-step-0-off]", "10")
    form.locator("[data-test=add-step]").click()
    page.fill("input[name=new-step-1-threshold]", "200")
    page.fill("input[name=new-step-1-off]", "5")                                    # not ascending: the form's own check
    page.fill("input[name=new-share-brand]", "60")                                  # 60 % alone: not 100
    ui.sent.clear()
    page.click("[data-test=template-create-submit]")
    assert "递增" in ui.error_beside("new-step-1-off")
    assert "100" in ui.error_beside("new-share-brand")
    assert not [s for s in ui.sent if s.startswith("POST")]
    page.fill("input[name=new-step-1-off]", "30")
    page.fill("input[name=new-share-merchant]", "40")
    form.locator("[data-test=validity-dates]").click()
    for picker, wall in (("new-starts", "2030-02-01 00:00:00"), ("new-ends", "2030-03-31 23:59:00")):
        box = form.locator(f"[data-test={picker}] input")
        box.fill(wall)
        box.press("Enter")
    page.fill("input[name=new-stores]", world.store)
    page.fill("input[name=new-skus]", "SKU-1, SKU-2")
    page.fill("input[name=new-exclude-skus]", "SKU-9")
    page.fill("input[name=new-weekdays]", "6,7")
    page.fill("input[name=new-from]", "10:00")
    page.fill("input[name=new-to]", "22:00")
    form.locator("[data-test=stack-joint]").click()
    form.locator("[data-test=on-original]").click()
    page.fill("input[name=new-group]", "mall")
    page.fill("input[name=new-group-max]", "2")
    page.fill("input[name=new-stock]", "500")
    page.fill("input[name=new-per-member]", "5000")                                 # the API's 422, beside its field
    form.locator("[data-test=state-active]").click()
    page.click("[data-test=template-create-submit]")
    assert "1000" in ui.error_beside("new-per-member").replace(",", "")
    page.fill("input[name=new-per-member]", "2")
    page.dblclick("[data-test=template-create-submit]")                             # a double click: one template
    created = form.locator("[data-test=template-created]")
    created.wait_for()
    mine = [x for x in ok(api.call("GET", "/v1/coupon-templates", headers=world.hq, params={"limit": "100"}), 200)["templates"]
            if x["terms"]["title"] == title]
    assert len(mine) == 1 and mine[0]["template_id"] in created.inner_text()
    shown = ok(api.call("GET", f"/v1/coupon-templates/{mine[0]['template_id']}", headers=world.hq), 200)
    terms = shown["terms"]
    assert (shown["state"], shown["stock"]["total"], shown["per_member_limit"]) == ("active", 500, 2)
    assert terms["kind"] == "threshold" and terms["steps"] == [{"threshold_fen": 10_000, "off_fen": 1_000},
                                                               {"threshold_fen": 20_000, "off_fen": 3_000}]
    # the dates as the program's (Shanghai's) clocks show them, whatever the browser's (London's)
    assert (terms["validity"]["starts_at"], terms["validity"]["ends_at"]) == ("2030-01-31T16:00:00Z", "2030-03-31T15:59:00Z")
    assert terms["validity"].get("days_after_claim") is None
    a = terms["applicability"]
    assert (a["stores"], a["skus"], a["exclude_skus"], a.get("merchants")) == ([world.store], ["SKU-1", "SKU-2"], ["SKU-9"], None)
    assert terms["window"] == {"weekdays": [6, 7], "from_time": "10:00", "to_time": "22:00"}
    assert terms["stacking"] == {"category": "joint", "group": "mall", "group_max": 2, "on": "original"}
    assert terms["cost_bearer"] == {"shares": {"brand": 60, "merchant": 40}}
    row = page.locator("[data-test=templates] tr", has_text=title)              # the list says its steps
    assert "¥100.00−¥10.00 / ¥200.00−¥30.00" in row.inner_text()
    # opened below with its figures and its change form, which reads the same terms back
    edit = page.locator("[data-test=template-edit]")
    edit.locator("input[name=tpl-step-1-off]").wait_for()
    assert edit.locator("input[name=tpl-step-1-off]").input_value() == "30.00"
    assert edit.locator("input[name=tpl-skus]").input_value() == "SKU-1, SKU-2"
    assert edit.locator("[data-test=tpl-ends] input").input_value() == "2030-03-31 23:59:00"
    page.screenshot(path=str(SHOTS / "console-coupon-create.png"), full_page=True)
    edit.locator("input[name=tpl-to]").fill("23:00")                                # a change of the window: terms v2
    edit.locator("[data-test=template-save]").click()
    edit.locator("[data-test=template-saved]").wait_for()
    again = ok(api.call("GET", f"/v1/coupon-templates/{mine[0]['template_id']}", headers=world.hq), 200)
    assert again["terms_version"] == 2 and again["terms"]["window"]["to_time"] == "23:00"
    assert again["terms"]["steps"] == terms["steps"] and again["terms"]["validity"] == terms["validity"]


def test_a_scheduled_ladder_version_opens_into_the_form_and_a_save_from_its_start_replaces_it(ops, api, world):
    hq = world.hq
    ui = ops
    page = ui.page
    page.goto(f"{ui.base}/config/tier-ladder")
    page.wait_for_selector(f"[data-open='{world.scheduled}']")
    assert page.locator("input[name=tier-2-code]").count() == 0                     # the form holds the version in force
    page.click(f"[data-open='{world.scheduled}']")
    page.wait_for_selector("[data-test=opened-note]")
    assert "2030-01-01 00:00" in page.locator("[data-test=opened-note]").inner_text()      # on the program's clocks
    assert page.input_value("[data-test=effective-from] input") == "2030-01-01 00:00:00"
    assert page.input_value("input[name=tier-2-name]") == "黄金"
    page.fill("input[name=tier-2-name]", "黄金PLUS")
    page.screenshot(path=str(SHOTS / "console-scheduled-version.png"), full_page=True)
    page.click("[data-test=save]")
    page.wait_for_selector(f"[data-open='{world.scheduled + 1}']")              # the new version: scheduled, not in the form
    old = page.locator("[data-test=versions] .el-table__row", has_text=f"v{world.scheduled}")
    assert old.locator("[data-state]").get_attribute("data-state") == "replaced"
    listed = ok(api.call("GET", "/v1/tiers/ladder", headers=hq), 200)
    newest = max(listed["versions"], key=lambda v: v["version"])
    assert newest["version"] == world.scheduled + 1 and newest["effective_from"].startswith("2029-12-31T16:00:00")
    then = ok(api.call("GET", "/v1/tiers/ladder", headers=hq, params={"at": "2029-12-31T16:00:00Z"}), 200)
    assert then["version"] == newest["version"] and [t["name"] for t in then["ladder"]["tiers"]] == ["会员", "白银", "黄金PLUS"]
    assert listed["version"] == world.scheduled - 1                                 # in force now: unchanged


def test_a_task_rewarding_a_tier_the_ladder_lacks_is_refused_beside_its_row(ops, api, world):
    ui = ops
    page = ui.page
    page.goto(f"{ui.base}/config/tasks")
    page.wait_for_selector("input[name=task-0-tier]")
    before = ok(api.call("GET", "/v1/tasks", headers=world.hq), 200)["version"]
    page.fill("input[name=task-0-tier]", "V9")
    page.click("[data-test=save]")
    row = page.locator("[data-test=tasks] .el-table__row").nth(0)
    row.locator(".field-error", has_text="V9").wait_for()
    assert page.locator("[data-test=form-error]").count() == 0                      # beside the row, not above the form
    assert ok(api.call("GET", "/v1/tasks", headers=world.hq), 200)["version"] == before


def test_the_gift_card_check_shows_getGiftCardReconciliation_s_figures(ops, api, world):
    ui = ops
    page = ui.page
    page.goto(f"{ui.base}/gift-cards")
    page.click("[data-test=gc-reconcile]")
    page.wait_for_selector("[data-test=gc-check]")
    found = ok(api.call("GET", "/v1/gift-cards/reconciliation", headers=world.hq), 200)
    for figure in ("batches_checked", "cards_checked", "cards_mismatched"):
        assert page.locator(f"[data-figure={figure}]").inner_text() == f"{found[figure]:,}", figure
    assert page.locator("[data-figure=balanced]").inner_text() == ("是" if found["balanced"] else "否")
