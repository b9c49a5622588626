"""Secrets (issue #10 item 4): deployed stages read them from Secrets Manager, refuse to start
without strong ones, and rotate the JWT key and the API key master without breaking callers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import jwt
import pytest
from moto import mock_aws

from chalicelib.api import auth
from chalicelib.shared import secrets
from chalicelib.shared.config import settings
from chalicelib.shared.credentials import ISSUER, key_secret, mint_token
from chalicelib.shared.errors import Unauthenticated

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
    client = boto3.client("secretsmanager")
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
    forged = jwt.encode({"iss": ISSUER, "aud": "staff", "sub": "eve", "role": "super_admin",
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
    old_token = mint_token("staff", "alice", 5, role="clerk")
    assert jwt.get_unverified_header(old_token)["kid"] == "k1"
    # Rotation: k2 becomes active, k1 stays listed until its tokens expire.
    prod.setenv("SECRETS_NAME", _store({"jwt_keys": STRONG, "jwt_active": "k2",
                                        "api_key_masters": MASTERS, "api_key_active": "m1"}))
    secrets.reload()
    new_token = mint_token("staff", "bob", 5, role="clerk")
    assert jwt.get_unverified_header(new_token)["kid"] == "k2"
    for token, who in ((old_token, "alice"), (new_token, "bob")):
        assert auth.authenticate({"authorization": f"Bearer {token}"}, "GET", "/", None, b"").id == who
    unknown = jwt.encode({"iss": ISSUER, "aud": "staff", "sub": "eve", "role": "clerk",
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
        from chalicelib.merchants import service
        auth.use_key_finder(service.find_api_key)
