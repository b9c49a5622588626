"""The documentation's shell examples run as they are written, against the suite's stack: the
README's first session and the signed request of docs/integrators/signing.md."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from devstack.credentials import staff_token
from tests.e2e.conftest import fresh_phone

ROOT = Path(__file__).resolve().parents[2]


def _block(page: str, after: str) -> str:
    """The first ```sh block of ``page`` after the text ``after``."""
    return re.search(re.escape(after) + r".*?```sh\n(.*?)```", (ROOT / page).read_text(), re.S).group(1)


def _run(script: str, stack, tmp_path, credentials: dict | None = None) -> subprocess.CompletedProcess:
    creds = tmp_path / "creds.json"
    creds.write_text(json.dumps(credentials or stack.credentials))
    script = script.replace("CREDS=.local/dev-credentials.json", f"CREDS={creds}")
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "CREDS": str(creds)})


def _own_program(api, stack, program: str) -> dict:
    """A program of its own with a demo merchant (what a block saves stays out of other tests):
    the stack's credentials with its HQ admin's token."""
    made = api.call("POST", "/v1/programs", {"program_id": program, "name": program},
                    headers=api.staff("platform_admin"), key=f"{program}-program")
    assert made.status_code in (201, 409), made.text
    admin = staff_token("super_admin", f"{program}-admin", program_id=program)
    assert api.call("POST", "/v1/merchants", {"merchant_id": "demo-merchant", "name": "Demo"}, headers=api.bearer(admin),
                    key=f"{program}-merchant").status_code in (201, 409)
    return {**stack.credentials, "staff_tokens": {"super_admin": admin}}


def test_the_readmes_first_session_runs_as_written(api, stack, tmp_path):
    """In a program of its own, with a demo merchant: the rules it saves stay out of other tests."""
    credentials = _own_program(api, stack, "first-session")
    script = _block("README.md", "## A first session").replace("http://127.0.0.1:8000", api.url)
    out = _run(script, stack, tmp_path, credentials)
    lines = out.stdout.splitlines()
    assert lines[0].startswith("rules version ") and lines[1:3] == ["earned 299", "balance 299"], out.stdout + out.stderr
    operations = int(lines[3].split()[0])
    documented = api.call("GET", "/openapi.json").json()["paths"]
    assert operations == sum(len(methods) for methods in documented.values()) > 90


def test_the_signing_pages_shell_example_signs_a_request_that_is_accepted(api, stack, tmp_path):
    phone = fresh_phone()
    script = _block("docs/integrators/signing.md", "## In the shell").replace(
        "http://127.0.0.1:8000", api.url).replace("13800138000", phone)
    out = _run(script, stack, tmp_path)
    reply = json.loads(out.stdout)
    assert reply["phone"] == f"{phone[:3]}****{phone[-4:]}" and reply["channel"] == "pos", out.stdout + out.stderr


def test_the_readmes_checkout_at_a_till_runs_as_written(api, stack, tmp_path):
    """In a program of its own, with a demo merchant."""
    credentials = _own_program(api, stack, "till-session")
    script = _block("README.md", "## Checkout at a till").replace("http://127.0.0.1:8000", api.url)
    out = _run(script, stack, tmp_path, credentials)
    assert out.stdout.splitlines() == ["committed cash 6000", "completed earned 110"], out.stdout + out.stderr


def test_the_readmes_staff_login_runs_as_written(api, stack, tmp_path):
    script = _block("README.md", "## Staff login").replace("http://127.0.0.1:8000", api.url)
    out = _run(script, stack, tmp_path)
    assert out.stdout.splitlines() == ["super_admin active", "401", "401"], out.stdout + out.stderr
