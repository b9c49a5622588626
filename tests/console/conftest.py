"""The console tier: the local stack as the end-to-end tier starts it (its fixtures, imported), the
built console served by it at /console/, and Debian's Chromium driven by Playwright; each test
module's program (a merchant, a store, its till key, staff) made by ``make_world``."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from devstack.credentials import staff_token
from tests.e2e.conftest import api, fresh_phone, stack  # noqa: F401  (the end-to-end tier's stack, started the same way)

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
# as docs say for this machine: without the background-networking flags Chromium keeps dialling out
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists() or not (ROOT / "console" / "dist" / "index.html").exists():
        pytest.fail("the console tier needs /usr/bin/chromium and a built console: run `make test-console`")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


PASSWORD = "Lumen-Orchard-7731"


def ok(r, status=201):
    """The reply's JSON, asserting its status first (with the body in the failure)."""
    assert r.status_code == status, r.text
    return r.json()


@dataclass
class World:
    """A program of the console tier's own, made through the API: a merchant with a store, the
    store's till key, a super admin's token, and staff logins (with :data:`PASSWORD`) by role."""

    client: Any                          # the end-to-end tier's ``api``
    program: str
    merchant: str
    store: str
    prefix: str
    hq: dict[str, str]
    till: dict[str, str]
    logins: dict[str, str] = field(default_factory=dict)
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)   # login -> createStaff's reply

    def staff(self, role: str, suffix: str = "", merchant: str | None = None, store: str | None = None) -> str:
        """A new staff account of ``role`` (a merchant's or a store's: this world's merchant and store
        unless told), its login answered."""
        if role in ("merchant_admin", "store_manager", "clerk"):
            merchant = merchant or self.merchant
        if role in ("store_manager", "clerk"):
            store = store or self.store
        login = f"{role.replace('_', '-')}-{fresh_phone()}@{suffix or self.prefix}"
        self.accounts[login] = ok(self.client.call("POST", "/v1/staff", {"login": login, "display_name": f"测试{role}", "role": role, "merchant_id": merchant,
                                          "store_id": store, "password": PASSWORD}, headers=self.hq,
                    key=f"{self.prefix}-staff-{login}"))
        return login

    def member(self, name: str | None = None, earn_fen: int = 0, top_up_fen: int = 0) -> tuple[str, str]:
        """A member registered at the till (with points earned and stored value topped up there when
        asked): its id and phone."""
        phone = fresh_phone()
        member = ok(self.client.call("POST", "/v1/members", {"phone": phone, **({"name": name} if name else {})},
                             signed_by=self.till, key=f"{self.prefix}-reg-{phone}"))["member_id"]
        if earn_fen:
            ok(self.client.call("POST", f"/v1/members/{member}/points/earn", {"order_id": f"{self.prefix}-{phone}", "amount_fen": earn_fen},
                        signed_by=self.till, key=f"{self.prefix}-earn-{phone}"))
        if top_up_fen:
            ok(self.client.call("POST", f"/v1/members/{member}/stored-value/top-ups",
                        {"amount_fen": top_up_fen, "payment_ref": f"{self.prefix}-{phone}"},
                        signed_by=self.till, key=f"{self.prefix}-top-{phone}"))
        return member, phone

    def log_in(self, ui, login: str, then: str = "/members") -> None:
        """Log ``ui`` in to this program (:func:`log_in`)."""
        log_in(ui, self.program, login, then)


def log_in(ui, program: str, login: str, then: str = "/members") -> None:
    """Log ``ui`` in to ``program`` with :data:`PASSWORD` and land on ``then`` (not the dashboard:
    its charts are another test's and cost a second; "/": the role's first page)."""
    ui.page.goto(f"{ui.base}/login?next={then}" if then != "/" else f"{ui.base}/login")
    ui.page.fill("input[name=program_id]", program)
    ui.page.fill("input[name=login]", login)
    ui.page.fill("input[name=password]", PASSWORD)
    ui.page.click("[data-test=login-submit]")
    if then != "/":
        ui.page.wait_for_url(re.compile(re.escape(then) + "$"))
    ui.page.wait_for_selector(".el-menu-item")


@pytest.fixture(scope="session")
def make_world(api, stack) -> Callable[..., World]:  # noqa: F811
    """Makes a :class:`World`: ``make_world(program, name, prefix, roles=("ops_manager",))``; a
    program made by an earlier run (409) is used as it is."""
    def make(program: str, name: str, prefix: str, roles: tuple[str, ...] = ("ops_manager",),
             merchant: str = "tea-house", store: str = "tea-1") -> World:
        made = api.call("POST", "/v1/programs", {"program_id": program, "name": name}, headers=api.staff("platform_admin"),
                        key=f"{prefix}-program-{fresh_phone()}")
        assert made.status_code in (201, 409), made.text
        hq = api.bearer(staff_token("super_admin", f"{prefix}-hq", program_id=program))
        for path, body in (("/v1/merchants", {"merchant_id": merchant, "name": "一茶一坐"}),
                           (f"/v1/merchants/{merchant}/stores", {"store_id": store, "name": "静安店"})):
            r = api.call("POST", path, body, headers=hq, key=f"{prefix}-{path}-{fresh_phone()}")
            assert r.status_code in (201, 409), r.text
        key = ok(api.call("POST", f"/v1/merchants/{merchant}/api-keys", {"store_id": store}, headers=hq,
                          key=f"{prefix}-key-{fresh_phone()}"))
        world = World(api, program, merchant, store, prefix, hq, {"key_id": key["key_id"], "secret": key["secret"]})
        for role in roles:
            world.logins[role] = world.staff(role)
        return world
    return make
