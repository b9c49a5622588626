"""Access tokens end when they should, through the whole app (its test client) on each backend: a
staff token at its ``exp`` (15 minutes after the login), and a member's tokens as soon as the
login they belong to has ended (a logout, or a used refresh token presented again)."""

from __future__ import annotations

import time
import types

import pytest

from chalicelib.shared import credentials

PASSWORD = "Correct-horse-staple-42"


def _minted_at(monkeypatch, seconds_ago: float) -> None:
    """Tokens minted from now on are minted as if the wall clock read ``seconds_ago`` earlier:
    the clock moved, instead of waiting for a token to age."""
    monkeypatch.setattr(credentials, "time", types.SimpleNamespace(time=lambda: time.time() - seconds_ago))


def _staff_login(api, login: str) -> dict:
    api.ok("POST", "/v1/staff", {"login": login, "display_name": "x", "role": "ops_manager", "password": PASSWORD})
    return api.ok("POST", "/v1/auth/staff/login", {"program_id": "default", "login": login, "password": PASSWORD})


@pytest.mark.parametrize("age, status", [(15 * 60 - 20, 200), (15 * 60 + 2, 401), (15 * 60 + 20, 401)],
                         ids=["20s-before-exp", "2s-after-exp", "20s-after-exp"])
def test_a_staff_access_token_is_refused_from_its_exp(api, monkeypatch, age, status):
    """staff.md: the access token lives 15 minutes. It was accepted 30 s past its ``exp`` (a leeway
    meant for clocks that differ, where the server that mints is the one that checks)."""
    member = api.member("13800460001")
    _minted_at(monkeypatch, age)
    login = _staff_login(api, f"late-{age}")
    monkeypatch.undo()
    assert api.call("GET", f"/v1/members/{member}", token=login["token"])[0] == status
    assert api.call("PATCH", f"/v1/members/{member}", {"name": "late"}, token=login["token"])[0] == status
    assert api.ok("GET", f"/v1/members/{member}")["name"] == ("late" if status == 200 else None)
    # the login itself holds: its refresh token trades for a token that works
    fresh = api.ok("POST", "/v1/auth/staff/refresh", {"refresh_token": login["refresh_token"]})
    assert api.call("GET", f"/v1/members/{member}", token=fresh["token"])[0] == 200


def _member_pair(api, member: str) -> dict:
    return api.ok("POST", "/v1/auth/member-tokens", {"member_id": member, "verified_by": "sms_otp"})


def test_a_member_login_ended_by_a_reused_refresh_token_stops_its_access_tokens(api):
    """audit.md: a used refresh token presented again ends that login. Its access tokens went on
    working for their two hours (the thief whose copy gave the reuse away included)."""
    member = api.member("13800460002")
    first = _member_pair(api, member)
    second = api.ok("POST", "/v1/auth/member-tokens/refresh", {"refresh_token": first["refresh_token"]})
    assert api.call("GET", "/v1/members/me", token=second["token"])[0] == 200
    assert api.call("POST", "/v1/auth/member-tokens/refresh", {"refresh_token": first["refresh_token"]})[0] == 401
    assert api.call("GET", "/v1/members/me", token=second["token"])[0] == 401
    assert api.call("PATCH", "/v1/members/me", {"name": "thief"}, token=first["token"])[0] == 401
    assert api.ok("GET", f"/v1/members/{member}")["name"] is None
    # another login of the member is untouched
    other = _member_pair(api, member)
    assert api.call("PATCH", "/v1/members/me", {"name": "Mei"}, token=other["token"])[0] == 200
    assert api.ok("GET", f"/v1/members/{member}")["name"] == "Mei"


def test_a_member_logout_stops_its_access_token(api):
    member = api.member("13800460003")
    pair = _member_pair(api, member)
    assert api.call("GET", "/v1/members/me", token=pair["token"])[0] == 200       # the login's check now cached
    api.ok("POST", "/v1/auth/member-tokens/revoke", {"refresh_token": pair["refresh_token"]})
    assert api.call("GET", "/v1/members/me", token=pair["token"])[0] == 401
    status, problem = api.call("PATCH", "/v1/members/me", {"name": "gone"}, token=pair["token"])
    assert status == 401 and "login has ended" in problem["detail"]
    assert api.ok("GET", f"/v1/members/{member}")["name"] is None


def test_a_member_token_naming_another_member_s_login_is_refused(api):
    """The login named by ``sid`` must be the subject's own (a token is signed, but the check
    reads the login by the claim)."""
    from chalicelib.shared.credentials import mint_token
    mine, theirs = api.member("13800460004"), api.member("13800460005")
    login = _member_pair(api, theirs)
    import jwt
    sid = jwt.decode(login["token"], options={"verify_signature": False})["sid"]
    assert api.call("GET", "/v1/members/me", token=mint_token("member", theirs, 5, sid=sid))[0] == 200
    assert api.call("GET", "/v1/members/me", token=mint_token("member", mine, 5, sid=sid))[0] == 401
    assert api.call("GET", "/v1/members/me", token=mint_token("member", mine, 5, sid="nosuchlogin"))[0] == 401
