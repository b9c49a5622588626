"""Cross-origin calls over HTTP (issue #30): the deployed console on its own origin calls the API,
which answers preflights and replies for that one origin (``CONSOLE_ORIGIN``, the stack's
``ConsoleOrigin``) and for no other, never ``*`` and never with credentials (chalicelib/api/cors.py).
The stack runs in this process, so the variable is read by the very next request."""

from __future__ import annotations

import pytest

CONSOLE = "https://console.example.test"
OTHER = "https://evil.example.test"


def preflight(api, path: str, origin: str | None, method: str = "POST"):
    headers = {"Access-Control-Request-Method": method,
               "Access-Control-Request-Headers": "authorization,content-type,idempotency-key"}
    if origin:
        headers["Origin"] = origin
    return api.session.options(api.url + path, headers=headers, timeout=30)


@pytest.fixture
def console_origin(monkeypatch):
    monkeypatch.setenv("CONSOLE_ORIGIN", CONSOLE)
    return CONSOLE


def test_a_preflight_from_the_consoles_origin_is_answered_with_what_the_path_allows(api, console_origin):
    reply = preflight(api, "/v1/members", CONSOLE)
    assert reply.status_code == 204
    h = reply.headers
    assert h["Access-Control-Allow-Origin"] == CONSOLE
    assert set(h["Access-Control-Allow-Methods"].split(", ")) >= {"POST"} and "OPTIONS" not in h["Access-Control-Allow-Methods"]
    assert {"authorization", "content-type", "idempotency-key"} <= {
        x.strip().lower() for x in h["Access-Control-Allow-Headers"].split(",")}
    assert int(h["Access-Control-Max-Age"]) == 7200 and "Origin" in h["Vary"]
    assert "Access-Control-Allow-Credentials" not in h
    # a path with a value in it: its route's methods
    member = preflight(api, "/v1/members/01ANYMEMBER/points", CONSOLE, "GET")
    assert member.status_code == 204 and member.headers["Access-Control-Allow-Origin"] == CONSOLE
    assert "GET" in member.headers["Access-Control-Allow-Methods"].split(", ")


def test_a_preflight_from_another_origin_is_refused_without_cors_headers(api, console_origin):
    for origin in (OTHER, CONSOLE + ".evil.test", "http://console.example.test", "null"):
        reply = preflight(api, "/v1/members", origin)
        assert reply.status_code == 403, origin
        assert reply.headers["Content-Type"].startswith("application/problem+json")
        assert not [k for k in reply.headers if k.lower().startswith("access-control-")], origin


def test_with_no_console_origin_configured_no_preflight_is_answered(api, monkeypatch):
    monkeypatch.delenv("CONSOLE_ORIGIN", raising=False)
    reply = preflight(api, "/v1/members", CONSOLE)
    assert reply.status_code == 403 and "Access-Control-Allow-Origin" not in reply.headers
    monkeypatch.setenv("CONSOLE_ORIGIN", "")
    assert preflight(api, "/v1/members", CONSOLE).status_code == 403
    # no Origin at all: not a browser's preflight, the path's methods
    plain = preflight(api, "/v1/members", None)
    assert plain.status_code == 204 and "POST" in plain.headers["Allow"]


def test_replies_name_the_consoles_origin_only_for_it_errors_included(api, console_origin):
    me = api.call("GET", "/v1/merchants", headers={**api.staff(), "Origin": CONSOLE})
    assert me.status_code == 200 and me.headers["Access-Control-Allow-Origin"] == CONSOLE
    assert "X-Correlation-Id" in me.headers["Access-Control-Expose-Headers"]
    assert "Origin" in me.headers["Vary"] and "Access-Control-Allow-Credentials" not in me.headers
    # a refusal is readable by the console too (its problem shown beside the field)
    refused = api.call("POST", "/v1/members", {"phone": "not a phone"}, key="cors-refused",
                       headers={**api.staff(), "Origin": CONSOLE})
    assert refused.status_code == 422 and refused.headers["Access-Control-Allow-Origin"] == CONSOLE
    unauthenticated = api.call("GET", "/v1/merchants", headers={"Origin": CONSOLE})
    assert unauthenticated.status_code == 401 and unauthenticated.headers["Access-Control-Allow-Origin"] == CONSOLE
    other = api.call("GET", "/v1/merchants", headers={**api.staff(), "Origin": OTHER})
    assert other.status_code == 200 and "Access-Control-Allow-Origin" not in other.headers
    assert "Origin" in other.headers["Vary"]


def test_beside_the_api_nothing_changes(api, monkeypatch):
    """Locally (and with no console origin deployed) replies carry no CORS header at all."""
    monkeypatch.delenv("CONSOLE_ORIGIN", raising=False)
    me = api.call("GET", "/v1/merchants", headers={**api.staff(), "Origin": CONSOLE})
    assert me.status_code == 200
    assert not [k for k in me.headers if k.lower().startswith("access-control-")] and "Vary" not in me.headers
