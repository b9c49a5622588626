"""The operations console in a real Chromium against the local stack, driven as its users would:
HQ logs in (an account made through the API), reads the dashboard (its figures equal the API's),
finds a member registered through the API; a clerk at a phone's width sees the till's pages only
and registers a member with a double click that writes once; a field error shows beside its field;
an expired login goes back to login and then back; a locked login says so; no page breaks the
Content-Security-Policy it is served with. Screenshots go to docs/screenshots/ (the README's)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.console.conftest import PASSWORD, ok
from tests.e2e.conftest import fresh_phone

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
PROGRAM, MERCHANT, STORE = "console-ui", "tea-house", "tea-1"
CARDS = ("new_members", "active_members", "buyers", "checkouts", "gmv_fen", "points_issued", "points_redeemed",
         "sv_topped_up_fen", "coupons_used")


_ok = ok


def shown(name: str, value: float | None) -> str:
    """A figure as the console shows it: money from integer fen, counts grouped."""
    if value is None:
        return "—"
    n = int(value)
    if name.endswith("_fen"):
        return f"{'-' if n < 0 else ''}¥{abs(n) // 100:,}.{abs(n) % 100:02d}"
    return f"{n:,}"


@pytest.fixture(scope="module")
def world(make_world, stack):
    """A program with a merchant and store, an HQ operator and a clerk created through the API, and
    some activity: members registered, points earned, stored value topped up."""
    made = make_world(PROGRAM, "茶饮会员", "cui", roles=("ops_manager", "clerk"))
    members, phones = zip(*(made.member(f"会员{i}", earn_fen=12_345 * (i + 1), top_up_fen=20_000) for i in range(3)),
                          strict=True)
    stack.drain()
    return {"hq": made.hq, "logins": made.logins, "phones": list(phones), "members": list(members)}


class Page:
    """One browser page that records what would make a test fail silently: CSP violations, page
    errors, and the requests it sent."""

    def __init__(self, browser, api, width: int, height: int = 900, zone: str = "Asia/Shanghai") -> None:
        self.context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN",
                                           timezone_id=zone)
        self.page = self.context.new_page()
        self.base = api.url + "/console"
        self.problems: list[str] = []
        self.sent: list[str] = []
        self.page.on("console", lambda m: self.problems.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.problems.append(str(e)))
        self.page.on("request", lambda r: self.sent.append(f"{r.method} {r.url.split('?')[0]}"))

    def login(self, login: str, password: str = PASSWORD) -> None:
        self.page.fill("input[name=program_id]", PROGRAM)
        self.page.fill("input[name=login]", login)
        self.page.fill("input[name=password]", password)
        self.page.click("[data-test=login-submit]")

    def error_beside(self, field: str) -> str:
        """The error Element Plus shows under the form item holding input ``field``."""
        item = self.page.locator(f".el-form-item:has(input[name={field}]) .el-form-item__error")
        item.wait_for(timeout=10_000)
        return item.inner_text()

    def close(self) -> None:
        assert not [p for p in self.problems if "Content Security Policy" in p], self.problems
        self.context.close()


def test_hq_reads_the_dashboard_as_the_api_has_it_and_finds_a_member(browser, api, stack, world):
    ui = Page(browser, api, 1280)
    page = ui.page
    page.goto(ui.base + "/")
    page.wait_for_url(re.compile(r"/console/login"))
    ui.login(world["logins"]["ops_manager"])
    page.wait_for_selector("[data-test=cards]")
    page.wait_for_selector("[data-test=balance-sheet]")
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    # the token the page holds reads what the page shows
    token = json.loads(page.evaluate("sessionStorage.getItem('loyalty.console.session')"))["token"]
    figures = _ok(api.call("GET", "/v1/dashboard", headers=api.bearer(token), params={"period": "month", "start": today}),
                  200)["metrics"]
    assert figures["new_members"]["value"] == 3 and figures["points_issued"]["value"] == 123 + 246 + 370
    for name in CARDS:
        card = page.locator(f"[data-metric={name}] [data-test=value]")
        assert card.inner_text() == shown(name, figures[name]["value"]), name
    sheet = _ok(api.call("GET", "/v1/balance-sheet", headers=api.bearer(token)), 200)
    assert page.locator("[data-test=total]").inner_text() == shown("total_fen", sheet["total_fen"])
    assert page.locator("[data-line=stored_value]").inner_text() == shown("x_fen", sheet["stored_value"]["liability_fen"])
    assert sheet["stored_value"]["liability_fen"] == 3 * 20_000
    page.wait_for_timeout(300)                           # the chart's animation
    page.screenshot(path=str(SHOTS / "console-dashboard.png"), full_page=True)

    # a member registered through the API, found by phone; the page shows the API's masked phone
    page.click("[data-page=members]")
    page.fill("input[name=search]", world["phones"][1])
    page.click("[data-test=find]")
    page.wait_for_url(re.compile(r"/console/members/" + world["members"][1]))
    page.wait_for_selector("[data-test=stored-value]")
    member = _ok(api.call("GET", f"/v1/members/{world['members'][1]}", headers=api.bearer(token)), 200)
    assert page.locator("[data-test=phone]").inner_text() == member["phone"] and "****" in member["phone"]
    assert "¥200.00" in page.locator("[data-test=stored-value]").inner_text()
    assert "246" in page.locator("[data-test=points]").inner_text()
    page.screenshot(path=str(SHOTS / "console-member.png"), full_page=True)

    # the login ends (its refresh token refused): back to login, then back to the page
    page.evaluate("""() => { const k = 'loyalty.console.session'; const s = JSON.parse(sessionStorage.getItem(k));
        s.expires_at = '2000-01-01T00:00:00Z'; s.refresh_token = 'srt_console-ui.nope.nope';
        sessionStorage.setItem(k, JSON.stringify(s)); }""")
    page.goto(ui.base + "/members")
    page.wait_for_url(re.compile(r"/console/login\?next=(/|%2F)members"))
    ui.login(world["logins"]["ops_manager"])
    page.wait_for_url(re.compile(r"/console/members$"))
    page.wait_for_selector("[data-test=members]")
    assert not [p for p in ui.problems if "Content Security Policy" in p], ui.problems   # the pages kept to it
    # and it is in force: an inline script is refused
    refused = page.evaluate("""() => new Promise((done) => {
        document.addEventListener("securitypolicyviolation", (e) => done(e.effectiveDirective));
        const s = document.createElement("script"); s.textContent = "window.injected = 1"; document.body.appendChild(s);
        setTimeout(() => done(null), 2000); })""")
    assert refused == "script-src-elem" and page.evaluate("window.injected") is None
    ui.problems.clear()
    ui.close()


def test_a_clerk_at_a_phone_s_width_registers_once_with_a_double_click(browser, api, stack, world):
    ui = Page(browser, api, 390, 844)
    page = ui.page
    page.goto(ui.base + "/login")
    ui.login(world["logins"]["clerk"])
    page.wait_for_url(re.compile(r"/console/till$"))                      # a clerk lands on the till
    menu = page.locator(".el-menu-item").evaluate_all("items => items.map(i => i.dataset.page)")
    assert menu == ["till", "dashboard", "members"]
    page.click("[data-page=dashboard]")
    page.wait_for_selector("[data-test=cards]")
    assert page.locator("[data-test=balance-sheet]").count() == 0
    assert page.locator("[data-test=merchant] input").is_disabled()      # held to its merchant
    page.click("[data-page=members]")

    page.fill("input[name=register-phone]", "12345")                     # refused: beside its field
    page.click("[data-test=register]")
    assert "not a valid number" in ui.error_beside("register-phone")      # the API's errors[] for the field
    phone = fresh_phone()
    page.fill("input[name=register-phone]", phone)
    page.fill("input[name=register-name]", "名" * 65)                     # a field error of the problem's list
    page.click("[data-test=register]")
    assert "64" in ui.error_beside("register-name")
    lookup = {"type": "phone", "value": phone}
    assert api.call("POST", "/v1/members/lookup", lookup, headers=world["hq"]).status_code == 404   # nothing written
    page.fill("input[name=register-name]", "双击")
    ui.sent.clear()
    page.dblclick("[data-test=register]")
    page.wait_for_url(re.compile(r"/console/members/[0-9A-Z]+$"))
    page.wait_for_selector("[data-test=stored-value]")
    assert [s for s in ui.sent if s.startswith("POST") and s.endswith("/v1/members")] == [f"POST {api.url}/v1/members"]
    found = _ok(api.call("POST", "/v1/members/lookup", lookup, headers=world["hq"]), 200)
    assert page.url.endswith("/members/" + found["member_id"])
    assert found["merchant_id"] == MERCHANT and found["store_id"] == STORE and found["name"] == "双击"
    page.click("[data-page=members]")
    page.wait_for_selector("[data-test=members] .el-table__row")
    page.screenshot(path=str(SHOTS / "console-clerk-members.png"), full_page=True)
    ui.close()


def test_a_locked_login_says_so(browser, api, world):
    login = world["logins"]["clerk"]
    for _ in range(6):
        r = api.call("POST", "/v1/auth/staff/login", {"program_id": PROGRAM, "login": login, "password": "Wrong-password-000"})
        assert r.status_code in (401, 429), r.text
    ui = Page(browser, api, 1280)
    ui.page.goto(ui.base + "/login")
    ui.login(login)
    alert = ui.page.locator("[data-test=form-error]")
    alert.wait_for()
    assert "锁定" in alert.inner_text()
    ui.close()


def test_a_role_that_needs_totp_enrols_and_logs_in_with_its_code(browser, api, world):
    import pyotp
    hq = world["hq"]
    r = api.call("PUT", "/v1/staff-policy", {"policy": {"totp_roles": ["store_manager"]}}, headers=hq,
                 key=f"cui-policy-{fresh_phone()}")
    assert r.status_code == 201, r.text
    login = f"manager-{fresh_phone()}@tea"
    _ok(api.call("POST", "/v1/staff", {"login": login, "display_name": "店长", "role": "store_manager",
                                       "merchant_id": MERCHANT, "store_id": STORE, "password": PASSWORD},
                 headers=hq, key=f"cui-staff-{login}"))
    ui = Page(browser, api, 1280)
    ui.page.goto(ui.base + "/login")
    ui.login(login)
    secret = ui.page.locator("[data-test=totp-secret]")
    secret.wait_for()
    assert ui.error_beside("totp_code")
    ui.page.fill("input[name=totp_code]", pyotp.TOTP(secret.inner_text().strip()).now())
    ui.page.click("[data-test=login-submit]")
    ui.page.wait_for_selector("[data-test=till-find]")                    # a store manager lands on the till
    assert "店长" in ui.page.locator("[data-test=who]").inner_text()
    ui.close()
