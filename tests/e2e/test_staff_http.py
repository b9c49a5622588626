"""Staff accounts over HTTP, as the console and an administrator use them: log in, call, refresh,
log out; lockout; the end of a login on disable, role change and password change; resets;
TOTP; who may create whom."""

from __future__ import annotations

import uuid

import pyotp
import pytest

from chalicelib.staff import passwords
from tests.e2e.conftest import configured

PASSWORD = "Correct-horse-staple-42"


def _key() -> str:
    return uuid.uuid4().hex


def _login(api, login: str, password: str = PASSWORD, program: str = "default", **extra):
    return api.call("POST", "/v1/auth/staff/login", {"program_id": program, "login": login, "password": password,
                                                     **extra})


def _me(api, token: str):
    return api.call("GET", "/v1/staff/me", headers=api.bearer(token))


@pytest.fixture()
def admin(api, stack) -> dict:
    account = stack.credentials["staff_accounts"]["super_admin"]
    r = _login(api, account["login"], account["password"])
    assert r.status_code == 201, r.text
    return r.json()


def _new_staff(api, admin_token: str, role: str = "clerk", merchant: str | None = "demo-merchant",
               store: str | None = "demo-store", password: str | None = PASSWORD) -> dict:
    login = f"s-{uuid.uuid4().hex[:10]}"
    body = {"login": login, "display_name": "Test " + role, "role": role, "merchant_id": merchant, "store_id": store}
    if password:
        body["password"] = password
    r = api.call("POST", "/v1/staff", body, headers=api.bearer(admin_token), key=_key())
    assert r.status_code == 201, r.text
    return r.json()


def test_login_call_refresh_logout(api, admin):
    token, refresh = admin["token"], admin["refresh_token"]
    me = _me(api, token)
    assert me.status_code == 200 and me.json()["role"] == "super_admin" and "password_hash" not in me.text
    # the token's claims carry the login: a call works, a refresh hands out the next pair
    r = api.call("POST", "/v1/auth/staff/refresh", {"refresh_token": refresh})
    assert r.status_code == 201, r.text
    second = r.json()
    assert second["refresh_token"] != refresh and _me(api, second["token"]).status_code == 200
    out = api.call("POST", "/v1/auth/staff/logout", headers=api.bearer(second["token"]))
    assert out.status_code == 200 and out.json()["logged_out"] is True
    for t in (token, second["token"]):
        assert _me(api, t).status_code == 401
    assert api.call("POST", "/v1/auth/staff/refresh", {"refresh_token": second["refresh_token"]}).status_code == 401


def test_a_used_refresh_token_presented_again_ends_the_whole_login(api, admin):
    first = admin["refresh_token"]
    r = api.call("POST", "/v1/auth/staff/refresh", {"refresh_token": first})
    assert r.status_code == 201
    newer = r.json()
    stolen = api.call("POST", "/v1/auth/staff/refresh", {"refresh_token": first})
    assert stolen.status_code == 401 and "used already" in stolen.json()["detail"]
    # the family is revoked: the newer refresh token and every access token of the login too
    assert api.call("POST", "/v1/auth/staff/refresh", {"refresh_token": newer["refresh_token"]}).status_code == 401
    assert _me(api, newer["token"]).status_code == 401
    assert _me(api, admin["token"]).status_code == 401


def test_a_wrong_password_answers_the_same_with_the_same_work_whether_or_not_the_login_exists(api, admin):
    staff = _new_staff(api, admin["token"])
    answers = []
    for login in (staff["login"], f"nobody-{uuid.uuid4().hex[:8]}"):
        before = passwords.HASHES[0]
        r = _login(api, login, "Wrong-password-123")
        answers.append((r.status_code, r.json()["type"], r.json()["detail"], passwords.HASHES[0] - before))
    assert answers[0] == answers[1] == (401, answers[0][1], "the login name or the password is wrong", 1)


def test_five_wrong_passwords_lock_the_login_until_the_lock_ends(api, admin, stack):
    staff = _new_staff(api, admin["token"])
    for _ in range(5):
        assert _login(api, staff["login"], "Wrong-password-123").status_code == 401
    locked = _login(api, staff["login"])                   # even the right password, while locked
    assert locked.status_code == 429 and locked.json()["type"].endswith("/login-locked")
    assert 1 <= int(locked.headers["Retry-After"]) <= 60
    # the lock ends (moved into the past, as a minute passing would)
    from chalicelib.db.uow import UnitOfWork
    from chalicelib.staff.tables import StaffLockItem
    uow = UnitOfWork("test", program="default")
    lock = uow.get(StaffLockItem, StaffLockItem.key(staff["login"]), consistent=True)
    assert lock is not None and int(lock.locks) == 1 and int(lock.failures) == 0
    lock.locked_until = "2020-01-01T00:00:00Z"
    uow.put(lock)
    assert _login(api, staff["login"]).status_code == 201
    lock = uow.get(StaffLockItem, StaffLockItem.key(staff["login"]), consistent=True)
    assert lock is not None and int(lock.failures) == 0 and int(lock.locks) == 0


def test_an_administrator_sees_a_login_lock_and_releases_it_and_the_next_lock_lasts_longer(api, admin):
    staff = _new_staff(api, admin["token"])
    sid, auth = staff["staff_id"], api.bearer(admin["token"])
    assert _login(api, staff["login"], "Wrong-password-123").status_code == 401
    seen = api.call("GET", f"/v1/staff/{sid}", headers=auth).json()
    assert (seen["locked_until"], seen["failed_passwords"]) == (None, 1)
    for _ in range(4):
        _login(api, staff["login"], "Wrong-password-123")
    assert _login(api, staff["login"]).status_code == 429
    seen = api.call("GET", f"/v1/staff/{sid}", headers=auth).json()
    assert seen["locked_until"] and seen["failed_passwords"] == 5      # the run that locked it (attack B #7)
    # another merchant's administrator does not see it (the role table: a clerk may not either)
    other = _new_staff(api, admin["token"], role="merchant_admin", merchant="demo-merchant-b", store=None)
    other_token = _login(api, other["login"]).json()["token"]
    assert api.call("POST", f"/v1/staff/{sid}/unlock", headers=api.bearer(other_token), key=_key()).status_code == 404
    key = _key()
    released = api.call("POST", f"/v1/staff/{sid}/unlock", headers=auth, key=key)
    assert released.status_code == 200, released.text
    assert (released.json()["locked_until"], released.json()["failed_passwords"]) == (None, 0)
    again = api.call("POST", f"/v1/staff/{sid}/unlock", headers=auth, key=key)
    assert again.json() == released.json() and again.headers.get("Idempotent-Replayed") == "true"
    entries = api.call("GET", "/v1/audit-log", headers=auth,
                       params={"staff_id": sid, "action": "staff.unlocked"}).json()["entries"]
    assert any("was locked until" in (e.get("detail") or "") for e in entries)
    # the locks earned stay: five more wrong passwords lock it for twice the first minute
    from chalicelib.db.uow import UnitOfWork
    from chalicelib.shared import clock
    from chalicelib.staff.attempts import wall_now
    from chalicelib.staff.tables import StaffLockItem
    for _ in range(5):
        _login(api, staff["login"], "Wrong-password-123")
    lock = UnitOfWork("test", program="default").get(StaffLockItem, StaffLockItem.key(staff["login"]), consistent=True)
    assert lock is not None and int(lock.locks) == 2
    assert (clock.parse_iso(lock.locked_until) - wall_now()).total_seconds() > 60
    api.call("POST", f"/v1/staff/{sid}/unlock", headers=auth, key=_key())
    assert _login(api, staff["login"]).status_code == 201          # the person at the till logs in again


def test_releasing_a_login_never_locked_writes_no_lock_and_is_audited_as_not_locked(api, admin):
    staff = _new_staff(api, admin["token"])
    sid, auth = staff["staff_id"], api.bearer(admin["token"])
    released = api.call("POST", f"/v1/staff/{sid}/unlock", headers=auth, key=_key())
    assert released.status_code == 200 and (released.json()["locked_until"], released.json()["failed_passwords"]) == (None, 0)
    from chalicelib.db.uow import UnitOfWork
    from chalicelib.staff.tables import StaffLockItem
    assert UnitOfWork("test", program="default").get(StaffLockItem, StaffLockItem.key(staff["login"]),
                                                     consistent=True) is None
    entries = api.call("GET", "/v1/audit-log", headers=auth,
                       params={"staff_id": sid, "action": "staff.unlocked"}).json()["entries"]
    assert [e.get("detail") for e in entries] == ["was not locked"]


def test_a_lock_s_event_never_carries_the_typed_login_name(api, admin):
    """staff.locked goes to webhooks: its subject is the account's id, or (a name no account has) a
    digest of the name, never the name (a password is sometimes typed into it)."""
    from tests.outbox import outbox_events
    staff = _new_staff(api, admin["token"])
    nobody = f"Secret-{uuid.uuid4().hex[:10]}"
    for login in (staff["login"], nobody):
        for _ in range(5):
            _login(api, login, "Wrong-password-123")
    locked = [e for e in outbox_events(kind="staff.locked")
              if e.data.get("staff_id") == staff["staff_id"] or e.data.get("staff_id") is None]
    subjects = {e.subject for e in locked}
    assert f"staff:{staff['staff_id']}" in subjects
    assert all(nobody not in e.subject and nobody not in str(e.data) for e in locked)
    assert all(staff["login"] not in e.subject for e in locked)
    assert any(s.startswith("staff_login:") for s in subjects)


def test_disable_role_change_and_password_change_end_the_logins(api, admin):
    staff = _new_staff(api, admin["token"], role="store_manager")
    sid = staff["staff_id"]
    t1 = _login(api, staff["login"]).json()
    assert _me(api, t1["token"]).status_code == 200
    r = api.call("PATCH", f"/v1/staff/{sid}", {"role": "clerk", "version": staff["version"]},
                 headers=api.bearer(admin["token"]), key=_key())
    assert r.status_code == 200 and r.json()["role"] == "clerk", r.text
    assert _me(api, t1["token"]).status_code == 401
    assert api.call("POST", "/v1/auth/staff/refresh", {"refresh_token": t1["refresh_token"]}).status_code == 401
    t2 = _login(api, staff["login"]).json()
    assert _me(api, t2["token"]).json()["role"] == "clerk"
    t3 = _login(api, staff["login"]).json()
    changed = api.call("POST", "/v1/staff/me/password", {"current_password": PASSWORD,
                                                         "new_password": "Another-good-phrase-77"},
                       headers=api.bearer(t2["token"]))
    assert changed.status_code == 201, changed.text
    assert _me(api, t3["token"]).status_code == 401 and _me(api, t2["token"]).status_code == 401
    assert _me(api, changed.json()["token"]).status_code == 200
    assert _login(api, staff["login"]).status_code == 401
    t4 = _login(api, staff["login"], "Another-good-phrase-77").json()
    off = api.call("POST", f"/v1/staff/{sid}/disable", headers=api.bearer(admin["token"]), key=_key())
    assert off.status_code == 200 and off.json()["status"] == "disabled"
    assert _me(api, t4["token"]).status_code == 401
    assert api.call("POST", "/v1/auth/staff/refresh", {"refresh_token": t4["refresh_token"]}).status_code == 401
    refused = _login(api, staff["login"], "Another-good-phrase-77")
    assert refused.status_code == 403
    on = api.call("POST", f"/v1/staff/{sid}/enable", headers=api.bearer(admin["token"]), key=_key())
    assert on.status_code == 200 and _login(api, staff["login"], "Another-good-phrase-77").status_code == 201


def test_a_reset_code_sets_a_password_once(api, admin):
    staff = _new_staff(api, admin["token"], password=None)
    code = staff["reset_code"]
    assert code and _login(api, staff["login"]).status_code == 401      # no password yet
    bad = api.call("POST", "/v1/auth/staff/password", {"program_id": "default", "login": staff["login"],
                                                        "reset_code": code, "new_password": "password123"})
    assert bad.status_code == 422                      # a breached password: refused, the code still good
    ok = api.call("POST", "/v1/auth/staff/password", {"program_id": "default", "login": staff["login"],
                                                       "reset_code": code, "new_password": PASSWORD})
    assert ok.status_code == 200, ok.text
    again = api.call("POST", "/v1/auth/staff/password", {"program_id": "default", "login": staff["login"],
                                                          "reset_code": code, "new_password": "Yet-another-one-99"})
    assert again.status_code == 401
    assert _login(api, staff["login"]).status_code == 201
    reset = api.call("POST", f"/v1/staff/{staff['staff_id']}/password-reset", headers=api.bearer(admin["token"]),
                     key=_key())
    assert reset.status_code == 201 and reset.json()["reset_code"]
    assert _login(api, staff["login"]).status_code == 401


def test_a_merchant_admin_creates_only_its_own_merchants_staff_below_it(api, admin):
    ma = _new_staff(api, admin["token"], role="merchant_admin", store=None)
    token = _login(api, ma["login"]).json()["token"]
    before = api.call("GET", "/v1/staff", params={"limit": "200"}, headers=api.bearer(admin["token"])).json()
    for body, status in [
        ({"role": "super_admin", "merchant_id": None, "store_id": None}, 403),
        ({"role": "clerk", "merchant_id": "demo-merchant-b", "store_id": "b-store"}, 403),
        ({"role": "finance", "merchant_id": None, "store_id": None}, 403),
    ]:
        r = api.call("POST", "/v1/staff", {"login": f"x-{uuid.uuid4().hex[:8]}", "display_name": "x",
                                           "password": PASSWORD, **body}, headers=api.bearer(token), key=_key())
        assert r.status_code == status, (body, r.text)
        assert r.headers["Content-Type"] == "application/problem+json"
    after = api.call("GET", "/v1/staff", params={"limit": "200"}, headers=api.bearer(admin["token"])).json()
    assert len(after["staff"]) == len(before["staff"])
    made = api.call("POST", "/v1/staff", {"login": f"c-{uuid.uuid4().hex[:8]}", "display_name": "clerk",
                                          "role": "clerk", "merchant_id": "demo-merchant", "store_id": "demo-store",
                                          "password": PASSWORD}, headers=api.bearer(token), key=_key())
    assert made.status_code == 201
    mine = api.call("GET", "/v1/staff", headers=api.bearer(token)).json()["staff"]
    assert mine and {s["merchant_id"] for s in mine} == {"demo-merchant"}


def test_a_login_name_with_control_characters_is_refused_and_audited(api, admin):
    r = _login(api, "bad\x07name")
    assert r.status_code == 422 and r.headers["Content-Type"] == "application/problem+json"


def test_a_role_that_requires_totp_enrols_at_login_and_a_code_is_good_once(api, admin):
    staff = _new_staff(api, admin["token"], role="finance", merchant=None, store=None)
    with configured(api, "/v1/staff-policy", "policy", lambda _: {"totp_roles": ["finance"]},
                    headers=api.bearer(admin["token"]), key=_key()) as put:
        shown = api.call("GET", "/v1/staff-policy", headers=api.bearer(admin["token"])).json()
        assert shown["policy"] == {"totp_roles": ["finance"]} and shown["version"] == put["version"]
        first = _login(api, staff["login"])
        assert first.status_code == 403 and first.json()["type"].endswith("/totp-enrolment-required")
        secret = first.json()["enrolment"]["secret"]
        code = pyotp.TOTP(secret).now()
        ok = _login(api, staff["login"], totp_code=code)
        assert ok.status_code == 201, ok.text
        assert ok.json()["staff"]["totp_enrolled"] is True
        replay = _login(api, staff["login"], totp_code=code)
        assert replay.status_code == 401 and replay.json()["type"].endswith("/totp-required")
        assert _login(api, staff["login"]).status_code == 401         # no code at all


def test_the_readers_and_store_staff_cannot_manage_accounts(api, stack, admin):
    for role in ("finance", "auditor", "clerk", "ops_manager"):
        acc = stack.credentials["staff_accounts"][role]
        token = _login(api, acc["login"], acc["password"]).json()["token"]
        r = api.call("POST", "/v1/staff", {"login": f"z-{uuid.uuid4().hex[:8]}", "display_name": "z",
                                           "role": "clerk", "merchant_id": "demo-merchant", "store_id": "demo-store",
                                           "password": PASSWORD}, headers=api.bearer(token), key=_key())
        assert r.status_code == 403, (role, r.text)


def test_a_super_admin_runs_its_own_programs_reconciliation_and_nobody_else_may(api, stack, admin):
    r = api.call("POST", "/v1/reconciliations/points/runs", headers=api.bearer(admin["token"]))
    assert r.status_code == 200, r.text
    assert r.json()["job"] == "points-reconcile"
    ops = stack.credentials["staff_accounts"]["ops_manager"]
    token = _login(api, ops["login"], ops["password"]).json()["token"]
    assert api.call("POST", "/v1/reconciliations/points/runs", headers=api.bearer(token)).status_code == 403
    assert api.call("POST", "/v1/reconciliations/ledgers/runs", headers=api.bearer(admin["token"])).status_code == 404
    # and runJob, which acts for every program, stays the platform's
    assert api.call("POST", "/v1/jobs/points-reconcile/runs", {}, headers=api.bearer(admin["token"])).status_code == 403


def test_every_change_and_every_attempt_is_in_the_audit_log_without_a_secret(api, admin):
    staff = _new_staff(api, admin["token"], role="store_manager")
    sid = staff["staff_id"]
    assert _login(api, staff["login"], "Wrong-password-123").status_code == 401
    assert _login(api, staff["login"]).status_code == 201
    assert api.call("PATCH", f"/v1/staff/{sid}", {"role": "clerk", "version": staff["version"]},
                    headers=api.bearer(admin["token"]), key=_key()).status_code == 200
    assert api.call("POST", f"/v1/staff/{sid}/disable", headers=api.bearer(admin["token"]), key=_key()).status_code == 200
    r = api.call("GET", "/v1/audit-log", params={"staff_id": sid}, headers=api.bearer(admin["token"]))
    assert r.status_code == 200, r.text
    entries = r.json()["entries"]
    assert [e["action"] for e in entries] == ["staff.disabled", "staff.role_changed", "staff.login",
                                             "staff.login_failed", "staff.created"]
    changed = entries[1]
    assert changed["detail"] == "role: store_manager -> clerk" and changed["actor"] == f"staff:{admin['staff']['staff_id']}"
    assert entries[3]["actor"].startswith("anonymous:") and "wrong password" in entries[3]["detail"]
    assert PASSWORD not in r.text and "Wrong-password-123" not in r.text and "srt_" not in r.text


def test_a_suspended_merchant_s_keys_and_staff_stop_and_start_again_when_it_is_active(api, admin):
    from chalicelib.api import auth
    hq = api.bearer(admin["token"])
    merchant = f"susp-{uuid.uuid4().hex[:8]}"
    assert api.call("POST", "/v1/merchants", {"merchant_id": merchant, "name": "to suspend"}, headers=hq,
                    key=_key()).status_code == 201
    assert api.call("POST", f"/v1/merchants/{merchant}/stores", {"store_id": "s1", "name": "s1"}, headers=hq,
                    key=_key()).status_code == 201
    key = api.call("POST", f"/v1/merchants/{merchant}/api-keys", {"store_id": "s1"}, headers=hq, key=_key()).json()
    clerk = _new_staff(api, admin["token"], role="clerk", merchant=merchant, store="s1")
    token = _login(api, clerk["login"]).json()["token"]
    pos = {"key_id": key["key_id"], "secret": key["secret"]}

    def key_works() -> int:
        return api.call("GET", "/v1/tiers/ladder", signed_by=pos).status_code

    assert key_works() == 200 and _me(api, token).status_code == 200

    def set_status(status: str) -> None:
        got = api.call("GET", f"/v1/merchants/{merchant}", headers=hq).json()
        r = api.call("PATCH", f"/v1/merchants/{merchant}", {"version": got["version"], "status": status}, headers=hq,
                     key=_key())
        assert r.status_code == 200, r.text
        auth.forget_key(key["key_id"])          # (another container would see it within 5 seconds)
        auth.forget_staff()

    set_status("suspended")
    refused = api.call("GET", "/v1/tiers/ladder", signed_by=pos)
    assert refused.status_code == 403 and "suspended" in refused.json()["detail"]
    assert _me(api, token).status_code == 401
    assert _login(api, clerk["login"]).status_code == 403
    set_status("active")
    assert key_works() == 200 and _me(api, token).status_code == 200


def test_a_stolen_token_cannot_guess_the_password_freely(api, admin):
    """A password change or a TOTP enrolment checks the current password under the login's lock."""
    staff = _new_staff(api, admin["token"], role="store_manager")
    token = _login(api, staff["login"]).json()["token"]
    statuses = []
    for i in range(7):
        r = api.call("POST", "/v1/staff/me/password", {"current_password": f"Guess-number-{i:03d}",
                                                        "new_password": "Stolen-and-changed-77"},
                     headers=api.bearer(token))
        statuses.append(r.status_code)
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429], statuses
    enrol = api.call("POST", "/v1/staff/me/totp", {"password": PASSWORD}, headers=api.bearer(token))
    assert enrol.status_code == 429                        # locked: even the right password waits
    assert _login(api, staff["login"]).status_code == 429


def test_concurrent_wrong_passwords_check_at_most_five_before_the_lock(api, admin):
    from concurrent.futures import ThreadPoolExecutor
    staff = _new_staff(api, admin["token"])
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda i: _login(api, staff["login"], f"Wrong-guess-{i:03d}").status_code, range(8)))
    assert codes.count(401) <= 5 and set(codes) <= {401, 429}, codes
    assert _login(api, staff["login"]).status_code == 429


def test_wrong_reset_codes_are_limited_per_caller_and_answer_no_sooner_than_the_floor(api, admin):
    import time as clock
    staff = _new_staff(api, admin["token"], password=None)
    statuses, slowest_first = [], None
    for i in range(11):
        started = clock.perf_counter()
        r = api.call("POST", "/v1/auth/staff/password", {"program_id": "default", "login": staff["login"],
                                                          "reset_code": f"ZZZZZZZZZZZZZZZZZZ{i:02d}",
                                                          "new_password": PASSWORD})
        statuses.append(r.status_code)
        slowest_first = slowest_first or clock.perf_counter() - started
        if r.status_code == 429:
            break
    # at most 10 wrong codes in 15 minutes from one caller (earlier tests' count with these)
    assert statuses[-1] == 429 and set(statuses[:-1]) == {401} and len(statuses) <= 11, statuses
    assert slowest_first >= 0.25
    # the right code is refused too while the caller is held back
    ok = api.call("POST", "/v1/auth/staff/password", {"program_id": "default", "login": staff["login"],
                                                       "reset_code": staff["reset_code"], "new_password": PASSWORD})
    assert ok.status_code == 429


def test_an_account_enrols_its_own_totp_and_then_logs_in_with_it(api, admin):
    staff = _new_staff(api, admin["token"], role="merchant_admin", store=None)
    got = api.call("GET", f"/v1/staff/{staff['staff_id']}", headers=api.bearer(admin["token"]))
    assert got.status_code == 200 and got.json()["role"] == "merchant_admin" and got.json()["totp_enrolled"] is False
    token = _login(api, staff["login"]).json()["token"]
    started = api.call("POST", "/v1/staff/me/totp", {"password": PASSWORD}, headers=api.bearer(token))
    assert started.status_code == 200, started.text
    secret = started.json()["secret"]
    assert started.json()["otpauth_uri"].startswith("otpauth://totp/") and started.json()["enrolled"] is False
    code = pyotp.TOTP(secret).now()
    confirmed = api.call("POST", "/v1/staff/me/totp", {"code": code}, headers=api.bearer(token))
    assert confirmed.status_code == 200 and confirmed.json()["enrolled"] is True, confirmed.text
    me = _me(api, token).json()
    assert me["totp_enrolled"] is True
    assert _login(api, staff["login"]).status_code == 401                 # a code is needed now
    assert _login(api, staff["login"], totp_code=code).status_code == 401  # and the confirming one is used
    # (the program's points valuation: a read every HQ console makes beside the staff pages)
    assert api.call("GET", "/v1/points/valuation", headers=api.bearer(admin["token"])).status_code == 200
