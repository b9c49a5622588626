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
