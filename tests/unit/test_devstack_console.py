"""The local server's console files: what a path under /console/ answers, and its headers."""

from __future__ import annotations

from pathlib import Path

from devstack.console import resolve
from infra.console import content_security_policy, headers


def _dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html>")
    (tmp_path / "assets" / "app-1.js").write_text("")
    (tmp_path.parent / "secret.txt").write_text("no")
    return tmp_path


def test_files_assets_and_the_app_s_own_routes(tmp_path):
    dist = _dist(tmp_path)
    assert resolve(dist, "/console/") == dist / "index.html"
    assert resolve(dist, "/console") == dist / "index.html"
    assert resolve(dist, "/console/assets/app-1.js?v=1") == dist / "assets" / "app-1.js"
    assert resolve(dist, "/console/members/01ABC") == dist / "index.html"       # the app routes it
    assert resolve(dist, "/console/assets/gone.js") is None                      # a missing asset: 404


def test_nothing_outside_the_built_console(tmp_path):
    dist = _dist(tmp_path)
    assert resolve(dist, "/console/../secret.txt") is None
    assert resolve(dist, "/console/%2e%2e/secret.txt") in (None, dist / "index.html")
    assert resolve(tmp_path / "not-built", "/console/") is None


def test_the_policy_admits_no_inline_script_nor_another_origin():
    csp = content_security_policy()
    assert "script-src 'self';" in csp and "unsafe" not in csp and "default-src 'none'" in csp
    assert "connect-src 'self';" in csp and "frame-ancestors 'none'" in csp
    assert "connect-src 'self' https://api.example" in content_security_policy("https://api.example")
    assert headers()["X-Content-Type-Options"] == "nosniff"


def test_a_nul_byte_or_an_over_long_name_is_no_file(tmp_path):
    """Found from outside: the local server dropped the connection without an answer."""
    dist = _dist(tmp_path)
    assert resolve(dist, "/console/a\x00b.js") is None
    assert resolve(dist, "/console/assets/" + "x" * 5000 + ".js") is None
