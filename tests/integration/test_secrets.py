"""Secrets (issue #10 item 4): deployed stages read them from Secrets Manager, refuse to start
without strong ones, and rotate the JWT key and the API key master without breaking callers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
from moto import mock_aws

from chalicelib.api import auth
from chalicelib.shared import secrets
from chalicelib.shared.config import settings
from chalicelib.shared.credentials import ISSUER, key_secret, mint_token
from chalicelib.shared.errors import Unauthenticated
from tests.aws import client as aws_client

ROOT = Path(__file__).resolve().parents[2]
STRONG = {"k1": "a" * 40, "k2": "b" * 40}
MASTERS = {"m1": "c" * 40, "m2": "d" * 40}


@pytest.fixture
def prod(monkeypatch):
    monkeypatch.setenv("STAGE", "prod")
    settings.cache_clear()
    secrets.reload()
    yield monkeypatch
    monkeypatch.setenv("STAGE", "test")
    monkeypatch.delenv("SECRETS_NAME", raising=False)
    settings.cache_clear()
    secrets.reload()


def _store(value: dict) -> str:
    client = aws_client("secretsmanager")
    name = f"loyalty/prod-{time.monotonic_ns()}"
    client.create_secret(Name=name, SecretString=json.dumps(value))
    return name


def test_a_deployed_stage_without_secrets_refuses_to_start(prod):
    with pytest.raises(secrets.InsecureConfiguration, match="refuses to start"):
        secrets.current()
    prod.setenv("JWT_SECRET", "x" * 64)            # the environment is not a source outside local/test
    with pytest.raises(secrets.InsecureConfiguration):
        secrets.current()
    # ...so a token signed with the repository's published value is never accepted
    forged = jwt.encode({"iss": ISSUER, "aud": "member", "sub": "eve",
                         "exp": int(time.time()) + 60}, secrets.DEV_JWT, algorithm="HS256")
    with pytest.raises(secrets.InsecureConfiguration):
        auth.authenticate({"authorization": f"Bearer {forged}"}, "GET", "/", None, b"")


def test_the_api_process_does_not_start_with_weak_secrets():
    env = {**os.environ, "STAGE": "prod", "REQUIRE_SECRETS": "true"}
    env.pop("SECRETS_NAME", None)
    run = subprocess.run([sys.executable, "-c", "import app"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode != 0 and "InsecureConfiguration" in run.stderr


@mock_aws
def test_short_or_published_secrets_are_refused(prod):
    prod.setenv("SECRETS_NAME", _store({"jwt_secret": "short", "api_key_master": secrets.DEV_MASTER}))
    with pytest.raises(secrets.InsecureConfiguration) as refused:
        secrets.current()
    assert "shorter than 32 bytes" in str(refused.value) and "development value" in str(refused.value)


@mock_aws
def test_secrets_come_from_secrets_manager_and_the_jwt_key_rotates(prod):
    prod.setenv("SECRETS_NAME", _store({"jwt_keys": {"k1": STRONG["k1"]}, "jwt_active": "k1",
                                        "api_key_masters": MASTERS, "api_key_active": "m1"}))
    prod.setattr(auth, "_member_login_holds", lambda program, member, login: login == "l1")   # the login holds
    old_token = mint_token("member", "alice", 5, sid="l1")
    assert jwt.get_unverified_header(old_token)["kid"] == "k1"
    # Rotation: k2 becomes active, k1 stays listed until its tokens expire.
    prod.setenv("SECRETS_NAME", _store({"jwt_keys": STRONG, "jwt_active": "k2",
                                        "api_key_masters": MASTERS, "api_key_active": "m1"}))
    secrets.reload()
    new_token = mint_token("member", "bob", 5, sid="l1")
    assert jwt.get_unverified_header(new_token)["kid"] == "k2"
    for token, who in ((old_token, "alice"), (new_token, "bob")):
        assert auth.authenticate({"authorization": f"Bearer {token}"}, "GET", "/", None, b"").id == who
    # outside the local and test stages a member token comes from a login, and stops with it
    for token, why in ((mint_token("member", "bob", 5), "from a login"), (mint_token("member", "bob", 5, sid="l2"), "ended")):
        with pytest.raises(Unauthenticated, match=why):
            auth.authenticate({"authorization": f"Bearer {token}"}, "GET", "/", None, b"")
    unknown = jwt.encode({"iss": ISSUER, "aud": "member", "sub": "eve",
                          "exp": int(time.time()) + 60}, "e" * 40, algorithm="HS256", headers={"kid": "k9"})
    with pytest.raises(Unauthenticated, match="unknown key"):
        auth.authenticate({"authorization": f"Bearer {unknown}"}, "GET", "/", None, b"")


@mock_aws
def test_api_keys_keep_working_across_a_master_rotation_until_their_master_is_retired(prod):
    prod.setenv("SECRETS_NAME", _store({"jwt_keys": STRONG, "jwt_active": "k2",
                                        "api_key_masters": {"m1": MASTERS["m1"]}, "api_key_active": "m1"}))
    old_secret = key_secret("ak_old", "m1")
    prod.setenv("SECRETS_NAME", _store({"jwt_keys": STRONG, "jwt_active": "k2",
                                        "api_key_masters": MASTERS, "api_key_active": "m2"}))
    secrets.reload()
    keys = {"ak_old": auth.ApiKey("ak_old", "m", None, "active", master="m1"),
            "ak_new": auth.ApiKey("ak_new", "m", None, "active", master="m2")}
    auth.use_key_finder(keys.get)
    try:
        for key_id, secret in (("ak_old", old_secret), ("ak_new", key_secret("ak_new"))):
            headers = {k.lower(): v for k, v in auth.signed_headers(key_id, secret, "GET", "/x").items()}
            assert auth.authenticate(headers, "GET", "/x", None, b"").id == key_id
        assert key_secret("ak_new") == key_secret("ak_new", "m2") != key_secret("ak_new", "m1")
        prod.setenv("SECRETS_NAME", _store({"jwt_keys": STRONG, "jwt_active": "k2",
                                            "api_key_masters": {"m2": MASTERS["m2"]}, "api_key_active": "m2"}))
        secrets.reload()
        auth.use_key_finder(keys.get)
        headers = {k.lower(): v for k, v in auth.signed_headers("ak_old", old_secret, "GET", "/x").items()}
        with pytest.raises(Unauthenticated, match="rotate the key"):
            auth.authenticate(headers, "GET", "/x", None, b"")
    finally:
        from chalicelib.merchants import keys as merchant_keys
        auth.use_key_finder(merchant_keys.find_api_key, merchant_keys.note_use)


@mock_aws
def test_forged_kids_cannot_drive_secrets_manager_reads(prod):
    """Issue #20 item 12: a token with an unknown kid re-read the secret on every request. Now one
    re-read per RELOAD_MIN_SECONDS per container, and none for a kid that is not of our shape; a
    rotation's new key is still picked up by the first token that names it."""
    prod.setenv("SECRETS_NAME", _store({"jwt_keys": {"k1": STRONG["k1"]}, "jwt_active": "k1",
                                        "api_key_masters": MASTERS, "api_key_active": "m1"}))
    reads = []
    real = secrets._from_secrets_manager
    prod.setattr(secrets, "_from_secrets_manager", lambda name: reads.append(name) or real(name))
    prod.setattr(secrets, "_reloaded_at", [float("-inf")])
    mint_token("member", "alice", 5)
    assert len(reads) == 1                                      # the cold start's read

    def forged(kid, key="e" * 40):
        return jwt.encode({"iss": ISSUER, "aud": "member", "sub": "eve", "sid": "l1",
                           "exp": int(time.time()) + 60}, key, algorithm="HS256", headers={"kid": kid})

    prod.setattr(auth, "_member_login_holds", lambda program, member, login: True)

    for kid in ("x" * 4000, "k/../1", "ké", "k1 "):
        with pytest.raises(Unauthenticated):
            auth.authenticate({"authorization": f"Bearer {forged(kid)}"}, "GET", "/", None, b"")
    assert len(reads) == 1                                      # not our shape: no read at all
    # a rotation this container has not read: the first token naming the new kid re-reads once
    prod.setenv("SECRETS_NAME", _store({"jwt_keys": STRONG, "jwt_active": "k1",
                                        "api_key_masters": MASTERS, "api_key_active": "m1"}))
    rotated = forged("k2", STRONG["k2"])
    assert auth.authenticate({"authorization": f"Bearer {rotated}"}, "GET", "/", None, b"").id == "eve"
    assert len(reads) == 2
    for n in range(200):                                        # a flood of fresh kids
        with pytest.raises(Unauthenticated, match="unknown key"):
            auth.authenticate({"authorization": f"Bearer {forged(f'f{n}')}"}, "GET", "/", None, b"")
    assert len(reads) == 2                                      # within the interval: none
    prod.setattr(secrets, "_reloaded_at", [time.monotonic() - secrets.RELOAD_MIN_SECONDS - 1])
    for n in range(50):
        with pytest.raises(Unauthenticated):
            auth.authenticate({"authorization": f"Bearer {forged(f'g{n}')}"}, "GET", "/", None, b"")
    assert len(reads) == 3                                      # the interval passed: one more, only


def test_a_deployed_stage_refuses_key_ids_of_another_shape():
    found = secrets.Secrets({"k 1": "a" * 40}, "k 1", {"m1": "c" * 40}, "m1")
    with pytest.raises(secrets.InsecureConfiguration, match="is not 1-32 letters"):
        secrets.check(found, "prod")


@mock_aws
def test_with_the_extension_the_secret_is_read_over_local_http_not_by_a_second_client(prod):
    """A function with the AWS Parameters and Secrets Extension reads its secret from the
    extension (the local stand-in here), with its session token, and creates no Secrets Manager
    client; the extension refuses a call without the token; an unknown secret stops the start."""
    import requests

    from devstack.secrets_extension import SecretsExtension
    name = _store({"jwt_keys": STRONG, "jwt_active": "k2", "api_key_masters": MASTERS, "api_key_active": "m1"})
    extension = SecretsExtension(aws_client("secretsmanager"))
    try:
        prod.setenv("SECRETS_NAME", name)
        prod.setenv("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", str(extension.port))
        prod.setenv("AWS_SESSION_TOKEN", "the-functions-session")
        prod.setattr(secrets.aws, "client", lambda *a, **k: pytest.fail("a Secrets Manager client was created"))
        secrets.reload()
        found = secrets.current()
        assert (found.jwt_keys, found.jwt_active, found.api_key_masters) == (STRONG, "k2", MASTERS)
        assert key_secret("ak_1") == key_secret("ak_1", "m1")
        url = f"http://127.0.0.1:{extension.port}/secretsmanager/get"
        assert requests.get(url, params={"secretId": name}, timeout=5).status_code == 401
        prod.setenv("SECRETS_NAME", "loyalty/no-such-secret")
        secrets.reload()
        with pytest.raises(RuntimeError, match="answered 404"):
            secrets.current()
    finally:
        extension.stop()


@mock_aws
def test_a_deployed_stage_takes_program_staff_tokens_from_logins_only(prod):
    prod.setenv("SECRETS_NAME", _store({"jwt_keys": {"k1": STRONG["k1"]}, "jwt_active": "k1",
                                        "api_key_masters": MASTERS, "api_key_active": "m1"}))
    minted = mint_token("staff", "mallory", 5, role="super_admin")          # no login behind it
    with pytest.raises(Unauthenticated, match="from a login"):
        auth.authenticate({"authorization": f"Bearer {minted}"}, "GET", "/", None, b"")
    # the platform's operators mint their own (they hold the signing key); a login's token names
    # its login, which the staff capability checks
    platform = mint_token("staff", "ops", 5, role="platform_admin")
    assert auth.authenticate({"authorization": f"Bearer {platform}"}, "GET", "/", None, b"").role == "platform_admin"
    checked = []
    auth.use_staff_check(lambda program, staff_id, epoch, sid, merchant, store: checked.append((staff_id, epoch, sid))
                         or True)
    try:
        login = mint_token("staff", "anna", 5, role="clerk", merchant_id="m1", store_id="s1", ep=3, sid="F1")
        who = auth.authenticate({"authorization": f"Bearer {login}"}, "GET", "/", None, b"")
        assert (who.id, who.session) == ("anna", "F1") and checked == [("anna", 3, "F1")]
        auth.use_staff_check(lambda *a: False)
        with pytest.raises(Unauthenticated, match="login no longer holds"):
            auth.authenticate({"authorization": f"Bearer {login}"}, "GET", "/", None, b"")
    finally:
        from chalicelib.staff import check
        auth.use_staff_check(check.login_holds)
