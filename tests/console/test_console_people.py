"""The people-and-integrations pages in a real Chromium (issue #30, fifth part): a super admin
subscribes a URL with a double click that writes once (listWebhookSubscriptions), sees the signing
secret once (a reload does not show it again; getWebhookSubscription has the URL typed) and rotates
it (the new secret once, the old one's retire_at said), changes its description and deletes it
after a confirmation; moves a clerk to another store
(getStaff has it) and resets the clerk's password, whose one-time code sets a new password on the
login page, with which the clerk logs in; finance opens the job runs page and reads the same
finished_at as listProgramJobs. A program of its own, so the other console tests' figures stay
theirs. A merchant admin is offered its merchant's roles only, and its merchant's staff only, and rotates
its merchant's till key (the new secret once, the old key retiring)."""

from __future__ import annotations

import re

import pytest

from devstack.credentials import staff_token
from tests.console.test_console_browser import PASSWORD, Page
from tests.e2e.conftest import fresh_phone

PROGRAM, MERCHANT = "console-people", "tea-house"
STORES = (("tea-1", "一号店"), ("tea-2", "二号店"))


def _close_dropdowns(page) -> None:
    """Escape until no select's dropdown is open (on a loaded machine an Escape pressed as one
    opened was lost, and the open list took a double click meant for the button under it)."""
    for _ in range(20):
        if page.locator(".el-select-dropdown:visible").count() == 0:
            return
        page.keyboard.press("Escape")
        page.wait_for_timeout(100)
    assert page.locator(".el-select-dropdown:visible").count() == 0


def _ok(r, status=201):
    assert r.status_code == status, r.text
    return r.json()


@pytest.fixture(scope="module")
def people(api, make_world):
    world = make_world(PROGRAM, "人员", "cpp", roles=(), merchant=MERCHANT, store=STORES[0][0])
    second = api.call("POST", f"/v1/merchants/{MERCHANT}/stores", {"store_id": STORES[1][0], "name": STORES[1][1]},
                      headers=world.hq, key=f"cpp-store-{fresh_phone()}")
    assert second.status_code in (201, 409), second.text
    logins = {role: world.accounts[world.staff(role)] for role in ("super_admin", "finance", "clerk", "merchant_admin")}
    return {"hq": world.hq, "staff": logins}


def _login(ui, login, password=PASSWORD, then="/members"):
    ui.page.goto(f"{ui.base}/login?next={then}")
    ui.page.fill("input[name=program_id]", PROGRAM)
    ui.page.fill("input[name=login]", login)
    ui.page.fill("input[name=password]", password)
    ui.page.click("[data-test=login-submit]")
    ui.page.wait_for_selector(".el-menu-item")


@pytest.fixture(scope="module")
def admin(browser, api, people):
    """The super admin's tab, logged in once."""
    ui = Page(browser, api, 1280)
    _login(ui, people["staff"]["super_admin"]["login"])
    yield ui
    ui.close()


def test_a_subscription_made_with_a_double_click_writes_once_shows_its_secret_once_and_rotates(admin, api, people):
    page, hq = admin.page, people["hq"]
    url = f"http://127.0.0.1:9/people-{fresh_phone()}"
    before = len(_ok(api.call("GET", "/v1/webhooks/subscriptions", headers=hq), 200)["subscriptions"])
    page.click("[data-page=webhooks]")
    page.fill("input[name=hook-url]", url)
    page.locator("[data-test=hook-filters] input").fill("points.earned")
    page.locator(".el-select-dropdown__item:visible", has_text="points.earned").first.wait_for()
    page.keyboard.press("Enter")
    _close_dropdowns(page)
    page.dblclick("[data-test=create-hook]")
    secret = page.locator("[data-test=hook-secret] [data-test=secret-value]")
    secret.wait_for()
    shown = secret.inner_text().strip()
    listed = _ok(api.call("GET", "/v1/webhooks/subscriptions", headers=hq), 200)["subscriptions"]
    mine = [s for s in listed if s["url"] == url]
    assert len(listed) == before + 1 and len(mine) == 1, listed
    one = _ok(api.call("GET", f"/v1/webhooks/subscriptions/{mine[0]['subscription_id']}", headers=hq), 200)
    assert one["url"] == url and one["filters"] == ["points.earned"] and shown.startswith("whsec_")
    assert mine[0]["subscription_id"] in page.locator("[data-test=hook-secret]").inner_text()
    page.reload()                                                    # shown once: gone after a reload
    page.wait_for_selector("[data-test=subscriptions] .el-table__row")
    assert page.locator("[data-test=secret-value]").count() == 0 and shown not in page.content()

    page.locator("[data-test=subscriptions] .el-table__row", has_text=url).locator("td").first.click()
    page.wait_for_selector("[data-test=hook-edit]")
    page.click("[data-test=rotate-hook]")
    rotated = page.locator("[data-test=rotated-secret]")
    rotated.wait_for()
    new = rotated.locator("[data-test=secret-value]").inner_text().strip()
    after = _ok(api.call("GET", f"/v1/webhooks/subscriptions/{one['subscription_id']}", headers=hq), 200)
    old = [s for s in after["secrets"] if s["retire_at"]]
    assert new.startswith("whsec_") and new != shown and len(after["secrets"]) == 2 and len(old) == 1
    assert re.search(r"\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}", rotated.inner_text())          # until when the old one signs

    page.fill("input[name=edit-description]", "收银系统")                # a change: the description only
    page.click("[data-test=save-hook]")
    page.locator("[data-test=hook-saved]").wait_for()
    changed = _ok(api.call("GET", f"/v1/webhooks/subscriptions/{one['subscription_id']}", headers=hq), 200)
    assert (changed["description"], changed["url"], changed["filters"]) == ("收银系统", url, ["points.earned"])
    page.click("[data-test=delete-hook]")                               # asked first, then deleted
    page.click("[data-test=confirm-delete]")
    page.locator("[data-test=subscriptions] .el-table__row", has_text=url).wait_for(state="detached")
    left = _ok(api.call("GET", "/v1/webhooks/subscriptions", headers=hq), 200)["subscriptions"]
    assert len(left) == before and url not in [s["url"] for s in left]


def test_a_clerk_moved_to_another_store_and_reset_logs_in_with_a_new_password(browser, admin, api, people):
    page, hq = admin.page, people["hq"]
    clerk = people["staff"]["clerk"]
    page.click("[data-page=staff]")
    page.click(f"[data-edit='{clerk['login']}']")
    edit = page.locator("[data-test=staff-edit]")
    edit.wait_for()
    edit.locator(".el-select").nth(2).click()                          # role, merchant, then the store
    page.click(f".el-select-dropdown__item:visible:has-text('{STORES[1][1]}')")
    page.click("[data-test=save-staff]")
    page.locator("[data-test=staff-changed]").wait_for()
    got = _ok(api.call("GET", f"/v1/staff/{clerk['staff_id']}", headers=hq), 200)
    assert (got["role"], got["merchant_id"], got["store_id"]) == ("clerk", MERCHANT, STORES[1][0])

    page.click(f"[data-reset='{clerk['login']}']")
    note = page.locator("[data-test=reset-password-code]")
    note.wait_for()
    code = note.locator("[data-test=one-time-code]").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-9]{20}", code), note.inner_text()
    ui = Page(browser, api, 390, 844)
    ui.page.goto(f"{ui.base}/login")
    ui.page.click("[data-test=have-code]")
    new_password = "Quiet-Harbour-5528"
    ui.page.fill("input[name=program_id]", PROGRAM)
    ui.page.fill("input[name=login]", clerk["login"])
    ui.page.fill("input[name=reset_code]", code)
    ui.page.fill("input[name=new_password]", new_password)
    ui.page.click("[data-test=set-password-submit]")
    ui.page.locator("[data-test=password-set]").wait_for()
    ui.page.fill("input[name=password]", new_password)
    ui.page.click("[data-test=login-submit]")
    ui.page.wait_for_url(re.compile(r"/console/till"))                  # a clerk lands on the till
    assert _ok(api.call("GET", f"/v1/staff/{clerk['staff_id']}", headers=hq), 200)["last_login_at"]
    ui.close()


def test_finance_reads_the_job_runs_as_listProgramJobs_has_them(browser, api, people):
    ran = api.call("POST", "/v1/jobs/points-holds/runs", {"program_id": PROGRAM}, headers=api.staff("platform_admin"))
    assert ran.status_code == 200, ran.text
    finance = api.bearer(staff_token("finance", "cpp-fin", program_id=PROGRAM))
    before = _ok(api.call("GET", "/v1/program/jobs", headers=finance), 200)["jobs"]
    ui = Page(browser, api, 1280)
    _login(ui, people["staff"]["finance"]["login"])
    ui.page.click("[data-page=job-runs]")
    cell = ui.page.locator("[data-finished=points-holds]")
    cell.wait_for()
    after = _ok(api.call("GET", "/v1/program/jobs", headers=finance), 200)["jobs"]
    finished = {row["job"]: row["finished_at"] for row in before}
    moments = {finished["points-holds"], next(r["finished_at"] for r in after if r["job"] == "points-holds")}
    assert cell.get_attribute("data-at") in moments                  # (the stack's scheduler may run it meanwhile)
    assert ui.page.locator("[data-test=job-runs] .el-table__row").count() == len(before)
    assert "result" not in ui.page.content() and "items_read" not in ui.page.content()
    ui.close()


def test_a_merchant_admin_is_offered_only_what_the_api_lets_it_do(browser, api, people):
    ui = Page(browser, api, 1280)
    page = ui.page
    _login(ui, people["staff"]["merchant_admin"]["login"])
    page.click("[data-page=staff]")
    page.wait_for_selector("[data-test=staff] .el-table__row")
    listed = _ok(api.call("GET", "/v1/staff", headers=people["hq"], params={"merchant_id": MERCHANT}), 200)["staff"]
    rows = page.locator("[data-test=staff] .el-table__row")
    assert rows.count() == len(listed) and all(s["merchant_id"] == MERCHANT for s in listed)
    for hq in ("super_admin", "finance"):
        assert people["staff"][hq]["login"] not in page.locator("[data-test=staff]").inner_text()
    page.click("[data-test=create-role]")
    page.locator(".el-select-dropdown__item:visible").first.wait_for()
    offered = page.locator(".el-select-dropdown__item:visible").all_inner_texts()
    assert offered == ["商户管理员", "店长", "店员"], offered
    _close_dropdowns(page)
    clerk = people["staff"]["clerk"]["login"]
    assert page.locator(f"[data-edit='{clerk}']").count() == page.locator(f"[data-reset='{clerk}']").count() == 1

    # its merchant's till key rotated: the new secret once, the old key retiring until the overlap ends
    key = _ok(api.call("POST", f"/v1/merchants/{MERCHANT}/api-keys", {"store_id": STORES[0][0]}, headers=people["hq"],
                       key=f"cpp-key-{fresh_phone()}"))["key_id"]
    page.click("[data-page=api-keys]")
    page.click(f"[data-rotate='{key}']")
    shown = page.locator("[data-test=rotated-key]")
    shown.wait_for()
    keys = {k["key_id"]: k for k in _ok(api.call("GET", f"/v1/merchants/{MERCHANT}/api-keys", headers=people["hq"]), 200)["keys"]}
    [new] = [k for k in keys.values() if k["rotated_from"] == key]
    assert keys[key]["status"] == "retiring" and keys[key]["retires_at"] and new["status"] == "active"
    assert new["key_id"] in shown.inner_text() and len(shown.locator("[data-test=rotated-key-secret]").inner_text().strip()) >= 32
    ui.close()


def test_a_locked_clerk_is_shown_locked_and_released_from_the_staff_page(admin, api, people):
    """A clerk's five wrong passwords lock the login; the super admin opens the clerk's card, sees
    the lock (getStaff's locked_until) and releases it (unlockStaff, audited)."""
    hq = people["hq"]
    login = f"locked-{fresh_phone()}@people"
    clerk = _ok(api.call("POST", "/v1/staff", {"login": login, "display_name": "锁定店员", "role": "clerk",
                                               "merchant_id": MERCHANT, "store_id": STORES[0][0], "password": PASSWORD},
                         headers=hq, key=f"cpp-locked-{login}"))
    for _ in range(5):
        api.call("POST", "/v1/auth/staff/login", {"program_id": PROGRAM, "login": login, "password": "Wrong-pass-123"})
    assert _ok(api.call("GET", f"/v1/staff/{clerk['staff_id']}", headers=hq), 200)["locked_until"]
    page = admin.page
    page.click("[data-page=staff]")
    page.reload()                                   # the list as it is now (the tab may be on it already)
    page.click(f"[data-edit='{login}']")
    shown = page.locator("[data-test=staff-lock]")
    shown.wait_for()
    assert "锁定" in shown.inner_text()
    page.click("[data-test=unlock-staff]")
    page.locator("[data-test=staff-not-locked]").wait_for()
    got = _ok(api.call("GET", f"/v1/staff/{clerk['staff_id']}", headers=hq), 200)
    assert (got["locked_until"], got["failed_passwords"]) == (None, 0)
    assert _ok(api.call("POST", "/v1/auth/staff/login", {"program_id": PROGRAM, "login": login, "password": PASSWORD}))
