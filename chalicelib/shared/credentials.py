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

from chalicelib.shared.config import settings

ISSUER = "loyalty"


def mint_token(kind: str, subject: str, minutes: int, **claims: Any) -> str:
    """A signed bearer token for a member or a staff user.

    Credentials live on wall-clock time, never on the business clock (which tests and local job
    runs may move): a token must not become valid or expire because someone moved ``as_of``.
    """
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": kind, "sub": subject, "iat": now, "exp": now + minutes * 60, **claims}
    return jwt.encode(payload, settings().jwt_secret, algorithm="HS256")


def key_secret(key_id: str) -> str:
    """The secret of an API key: derived from ``API_KEY_MASTER`` and the key id, never stored."""
    return hmac.new(settings().api_key_master.encode(), key_id.encode(), hashlib.sha256).hexdigest()
