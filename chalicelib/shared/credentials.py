"""Issuing credentials: bearer tokens for members and staff, secrets of merchant API keys.

Verification lives in ``api.auth``; services that hand out credentials (member login, key
creation) use this module, so they never depend on the HTTP layer.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import jwt

from chalicelib.shared import secrets

ISSUER = "loyalty"


def mint_token(kind: str, subject: str, minutes: int, **claims: Any) -> str:
    """A signed bearer token for a member or a staff user.

    Credentials live on wall-clock time, never on the business clock (which tests and local job
    runs may move): a token must not become valid or expire because someone moved ``as_of``.
    """
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": kind, "sub": subject, "iat": now, "exp": now + minutes * 60, **claims}
    keys = secrets.current()
    return jwt.encode(payload, keys.jwt_keys[keys.jwt_active], algorithm="HS256", headers={"kid": keys.jwt_active})


def active_master() -> str:
    """The version of the API key master new keys are derived from."""
    return secrets.current().api_key_active


def key_secret(key_id: str, master: str | None = None) -> str:
    """The secret of an API key: derived from the master it was created under (``master``; the
    active one for a new key) and the key id, never stored."""
    keys = secrets.current()
    value = keys.master(master) if master else keys.api_key_masters[keys.api_key_active]
    if value is None:
        raise LookupError(f"API key master {master} is no longer configured")
    return hmac.new(value.encode(), key_id.encode(), hashlib.sha256).hexdigest()
