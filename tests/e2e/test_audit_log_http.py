"""#28 item 6 over HTTP: a reveal and an API key's creation land in the one audit store and are
listed by listAuditLog for the super admin and the auditor (nobody else); another program's
entries never appear; bad queries are 422 problem+json."""

from __future__ import annotations

import pytest

from chalicelib.shared.credentials import mint_token
from tests.e2e.conftest import fresh_phone, stored_items
from tests.e2e.test_tenancy_http import P2, A, register_at, staff

PATH = "/v1/audit-log"


def token(role: str, subject: str, program: str = "default", **claims: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + mint_token("staff", subject, 10, role=role, program_id=program, **claims)}


@pytest.fixture(scope="module")
def audited(api, stack):
    """A member revealed and an API key created by a known super admin, in program 1."""
    bob, phone = register_at(api, stack, A)
    sa = token("super_admin", f"audit-sa-{fresh_phone()}")
    shown = api.call("GET", f"/v1/members/{bob}", params={"reveal": "true"}, headers=sa)
    assert shown.status_code == 200 and not shown.json()["pii_masked"], shown.text
    made = api.call("POST", f"/v1/merchants/{A[1]}/api-keys", {"store_id": "demo-store"}, headers=sa,
                    key=f"audit-key-{bob}")
    assert made.status_code == 201, made.text
    return {"bob": bob, "phone": phone, "actor": "staff:" + _subject(sa), "key": made.json(), "sa": sa}


def _subject(headers: dict[str, str]) -> str:
    import jwt
    return jwt.decode(headers["Authorization"].split()[1], options={"verify_signature": False})["sub"]


def listing(api, headers, **query) -> dict:
    r = api.call("GET", PATH, headers=headers, params={k: str(v) for k, v in query.items()})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("role", ["super_admin", "auditor"])
def test_a_reveal_and_a_key_creation_are_listed_for_the_super_admin_and_the_auditor(api, audited, role):
    reader = token(role, f"audit-reader-{role}")
    bob, actor, key = audited["bob"], audited["actor"], audited["key"]
    mine = listing(api, reader, member_id=bob)["entries"]
    assert [(e["action"], e["actor"], e["member_id"], e["detail"]) for e in mine
            if e["action"] == "pii.revealed"] == [("pii.revealed", actor, bob, "phone,email")]
    keys = listing(api, reader, action="api_key.created")["entries"]
    made = [e for e in keys if e["detail"].startswith(key["key_id"])]
    assert [(e["actor"], e["merchant_id"]) for e in made] == [(actor, A[1])]
    assert key["secret"] not in made[0]["detail"]
    by_actor = listing(api, reader, staff_id=_subject(audited["sa"]))["entries"]
    assert {e["action"] for e in by_actor} >= {"pii.revealed", "api_key.created"}
    family = listing(api, reader, action="api_key.")["entries"]
    assert made[0] in family
    everything = listing(api, reader, limit=200)["entries"]
    assert {e["entry_id"] for e in made + mine} <= {e["entry_id"] for e in everything}
    assert [e["at"] for e in everything] == sorted((e["at"] for e in everything), reverse=True)


def test_pages_follow_the_cursor_newest_first(api, audited):
    reader = token("auditor", "audit-pager")
    bob = audited["bob"]
    # the member's trail so far: registration-time none; a reveal; a token issued now
    assert api.call("POST", "/v1/auth/member-tokens", {"member_id": bob, "verified_by": "sms_otp"},
                    headers=audited["sa"]).status_code == 201
    whole = listing(api, reader, member_id=bob)["entries"]
    assert [e["action"] for e in whole] == ["token.issued", "pii.revealed"]
    paged, cursor = [], None
    while True:
        page = listing(api, reader, member_id=bob, limit=1, **({"cursor": cursor} if cursor else {}))
        paged += page["entries"]
        cursor = page["next"]
        if cursor is None:
            break
    assert paged == whole
    # listMemberAudit reads the same store (the member's copy), oldest first
    trail = api.call("GET", f"/v1/members/{bob}/audit", headers=audited["sa"]).json()["entries"]
    assert [e["action"] for e in trail] == ["pii.revealed", "token.issued"]


@pytest.mark.parametrize("role", ["ops_manager", "finance", "clerk", "merchant_admin"])
def test_nobody_else_reads_the_log(api, audited, role):
    claims = {"merchant_id": A[1], "store_id": "demo-store"} if role == "clerk" else \
        {"merchant_id": A[1]} if role == "merchant_admin" else {}
    r = api.call("GET", PATH, headers=token(role, f"audit-{role}", **claims), params={"member_id": audited["bob"]})
    assert r.status_code == 403 and r.headers["Content-Type"] == "application/problem+json", r.text


def test_another_programs_entries_never_appear(api, stack, audited):
    p2 = staff(api, stack, P2, "super_admin")
    assert listing(api, p2, member_id=audited["bob"])["entries"] == []
    everything = listing(api, p2, limit=200)["entries"]
    assert all(e["member_id"] != audited["bob"] and audited["key"]["key_id"] not in e["detail"] for e in everything)
    keys = listing(api, token("auditor", "p2-auditor", program=P2[0]), action="api_key.", limit=200)["entries"]
    assert all(audited["key"]["key_id"] not in e["detail"] for e in keys)


@pytest.mark.parametrize("query", [
    {"start": "2026-03-02", "end": "2026-03-01"},                    # start after end
    {"start": "2026-01-01", "end": "2026-04-03"},                    # 93 days
    {"cursor": "not-a-cursor"},
    {"cursor": "eyJwIjoiMjAyNi0wMy0wMVQwMDowMDowMC4wMDBaIiwiZiI6IngifQ"},   # a position, other filters
    {"limit": "201"},
    {"action": "Staff Login"},
    {"member_id": "a#b"},
    {"colour": "red"},
])
def test_a_bad_query_is_a_422_problem(api, audited, query):
    r = api.call("GET", PATH, headers=audited["sa"], params=query)
    assert r.status_code == 422 and r.headers["Content-Type"] == "application/problem+json", (query, r.text)


def test_a_cursor_is_only_good_for_its_own_filters(api, audited):
    reader = token("auditor", "audit-cursor")
    first = listing(api, reader, member_id=audited["bob"], limit=1)
    assert first["next"]
    other = api.call("GET", PATH, headers=reader, params={"member_id": audited["bob"], "action": "pii.revealed",
                                                        "cursor": first["next"]})
    assert other.status_code == 422, other.text


def test_what_the_store_keeps_holds_no_secret(api, stack, audited):
    bob, key = audited["bob"], audited["key"]
    kept = stored_items(stack, lambda pk, item: pk.startswith("default/AUDIT"))
    mine = [item for item in kept.values() if item.get("member_id", {}).get("S") == bob
            or key["key_id"] in item.get("detail", {}).get("S", "")]
    assert {pk.split("#")[0] for (_, pk, sk), item in kept.items() if item in mine} >= {
        "default/AUDITLOG", "default/AUDITFAM", "default/AUDIT", "default/AUDITSTAFF"}
    text = repr(list(kept.values()))
    assert key["secret"] not in text and audited["phone"] not in text and "whsec_" not in text
    assert all(int(item["expires_at"]["N"]) > 0 for item in mine)


def test_staff_logins_failures_and_account_changes_are_listed_by_staff_member(api, stack):
    from tests.e2e.test_staff_http import PASSWORD, _login, _new_staff
    account = stack.credentials["staff_accounts"]["super_admin"]
    admin = _login(api, account["login"], account["password"]).json()
    clerk = _new_staff(api, admin["token"])
    assert _login(api, clerk["login"], "Wrong-horse-staple-42").status_code == 401
    assert _login(api, clerk["login"], PASSWORD).status_code == 201
    reader = token("auditor", "audit-staff-reader")
    mine = listing(api, reader, staff_id=clerk["staff_id"])["entries"]
    assert [e["action"] for e in mine][:3] == ["staff.login", "staff.login_failed", "staff.created"]
    assert all(PASSWORD not in e["detail"] and "Wrong-horse" not in e["detail"] for e in mine)
    failed = listing(api, reader, action="staff.login_failed", limit=200)["entries"]
    assert any(e["staff_id"] == clerk["staff_id"] for e in failed)
    assert {e["action"] for e in listing(api, reader, action="staff.", limit=200)["entries"]} >= {
        "staff.login", "staff.login_failed", "staff.created"}


@pytest.mark.parametrize("login", ["rt_default.probe", "Bearer-x", "rt_ops", "a" * 64])
def test_a_login_name_that_looks_like_a_secret_is_refused_like_any_other(api, login):
    """The typed login name goes into the failed login's entry: text nobody controls must be
    cleaned with audit.redact, or the store refuses the entry (and the login answers 500)."""
    from tests.e2e.test_staff_http import _login
    r = _login(api, login, "Wrong-horse-staple-42")
    assert r.status_code in (401, 422), r.text


def test_free_text_that_looks_like_a_credential_is_masked_in_the_entry_never_a_500(api, stack):
    """Attack B #1: a reveal's reason or a display name that the store took for a credential made the
    change answer 500 (and a name like "Bearer of the keys" could never be renamed again). Plain
    phrases are kept as typed; what does look like a token is masked; the change is made."""
    from tests.e2e.test_staff_http import _key, _login
    account = stack.credentials["staff_accounts"]["super_admin"]
    admin = _login(api, account["login"], account["password"]).json()
    hq = api.bearer(admin["token"])
    made = api.call("POST", "/v1/staff", {"login": f"s-{fresh_phone()}", "display_name": "Bearer of the keys",
                                          "role": "clerk", "merchant_id": "demo-merchant", "store_id": "demo-store",
                                          "password": "Correct-horse-staple-42"}, headers=hq, key=_key())
    assert made.status_code == 201, made.text
    sid, version = made.json()["staff_id"], made.json()["version"]
    for name in ("Anna", "Bearer abcdefghijklmnop9"):
        r = api.call("PATCH", f"/v1/staff/{sid}", {"display_name": name, "version": version}, headers=hq, key=_key())
        assert r.status_code == 200 and r.json()["display_name"] == name, r.text
        version = r.json()["version"]
    reader = token("auditor", "audit-free-text")
    renames = [e["detail"] for e in listing(api, reader, staff_id=sid)["entries"] if e["action"] == "staff.updated"]
    assert renames == ["display_name: Anna -> [redacted]", "display_name: Bearer of the keys -> Anna"]

    bob, _ = register_at(api, stack, A)
    for reason in ("bearer of the card asked for it", "Bearer abcdefghijklmnop", "ticket whsec_ref", "a1" * 32):
        r = api.call("GET", f"/v1/members/{bob}", params={"reveal": "true", "reason": reason}, headers=hq)
        assert r.status_code == 200 and not r.json()["pii_masked"], r.text
    reveals = [e["detail"] for e in listing(api, reader, member_id=bob)["entries"] if e["action"] == "pii.revealed"]
    assert reveals == ["phone,email; reason: [redacted]", "phone,email; reason: ticket [redacted]",
                       "phone,email; reason: [redacted]", "phone,email; reason: bearer of the card asked for it"]
    kept = repr(list(stored_items(stack, lambda pk, item: pk.startswith("default/AUDIT")).values()))
    assert "abcdefghijklmnop" not in kept and "whsec_ref" not in kept and "a1" * 32 not in kept
