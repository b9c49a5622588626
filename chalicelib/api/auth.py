"""Who is calling: members (JWT), merchants and their POS (signed API keys), staff (JWT with roles).

Merchant request signing (``v1``)::

    X-Api-Key:   <key id>
    X-Timestamp: <unix seconds>           (within SIGNATURE_SKEW_SECONDS of the server clock)
    X-Signature: v1=<hex HMAC-SHA256(secret, canonical)>

    canonical = "v1\\n" + timestamp + "\\n" + METHOD + "\\n" + path + "\\n"
                + query (k=v pairs, sorted, &-joined) + "\\n" + hex SHA-256 of the raw body

The secret of a key is HMAC-SHA256(API_KEY_MASTER, key id): the server derives it and never
stores it, so a table dump reveals no secret; revoking a key is a status change on its item.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import jwt

from chalicelib.shared.config import settings
from chalicelib.shared.errors import Forbidden, Unauthenticated

STAFF_ROLES = ("super_admin", "ops_manager", "store_manager", "clerk")
HQ_ROLES = ("super_admin", "ops_manager")
ISSUER = "loyalty"


@dataclass(frozen=True)
class Principal:
    kind: str                          # "member" | "merchant" | "staff"
    id: str
    role: str | None = None
    merchant_id: str | None = None
    store_id: str | None = None

    @property
    def ref(self) -> str:
        """How this caller is named in events, audits and idempotency scopes."""
        return f"{self.kind}:{self.id}"

    def may_reveal_pii(self) -> bool:
        return self.kind == "staff" and self.role in HQ_ROLES


@dataclass(frozen=True)
class Allow:
    """One kind of caller a route accepts; for staff, the roles among them."""

    kind: str
    roles: tuple[str, ...] = field(default_factory=tuple)

    def admits(self, p: Principal) -> bool:
        return p.kind == self.kind and (not self.roles or p.role in self.roles)

    def describe(self) -> str:
        return self.kind + (f"({','.join(self.roles)})" if self.roles else "")


MEMBER = Allow("member")
MERCHANT = Allow("merchant")


def staff(*roles: str) -> Allow:
    return Allow("staff", tuple(roles or STAFF_ROLES))


ANY_STAFF = staff()


def check(principal: Principal | None, allowed: Iterable[Allow]) -> Principal:
    if principal is None:
        raise Unauthenticated("send a member or staff bearer token, or a signed merchant request")
    if not any(a.admits(principal) for a in allowed):
        raise Forbidden(f"a {principal.kind}{'/' + principal.role if principal.role else ''} "
                        "may not call this operation")
    return principal


# --- tokens -------------------------------------------------------------------------------

def mint_token(kind: str, subject: str, minutes: int, **claims: Any) -> str:
    """A signed bearer token for a member or a staff user.

    Credentials live on wall-clock time, never on the business clock (which tests and local job
    runs may move): a token must not become valid or expire because someone moved ``as_of``.
    """
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": kind, "sub": subject, "iat": now, "exp": now + minutes * 60, **claims}
    return jwt.encode(payload, settings().jwt_secret, algorithm="HS256")


def _from_token(token: str) -> Principal:
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != "HS256":
            raise Unauthenticated("unsupported token algorithm")
        claims = jwt.decode(token, settings().jwt_secret, algorithms=["HS256"], issuer=ISSUER,
                            audience=["member", "staff"], options={"require": ["exp", "sub", "aud"]},
                            leeway=30)
    except jwt.ExpiredSignatureError as error:
        raise Unauthenticated("token expired") from error
    except jwt.PyJWTError as error:
        raise Unauthenticated("token not valid") from error
    if claims["aud"] == "member":
        return Principal("member", claims["sub"])
    role = claims.get("role")
    if role not in STAFF_ROLES:
        raise Unauthenticated("staff token without a known role")
    return Principal("staff", claims["sub"], role, claims.get("merchant_id"), claims.get("store_id"))


# --- merchant API keys ------------------------------------------------------------------------

def key_secret(key_id: str) -> str:
    return hmac.new(settings().api_key_master.encode(), key_id.encode(), hashlib.sha256).hexdigest()


def canonical_request(timestamp: str, method: str, path: str, query: Mapping[str, str] | None,
                      body: bytes) -> str:
    q = "&".join(f"{k}={v}" for k, v in sorted((query or {}).items()))
    return "\n".join(["v1", timestamp, method.upper(), path, q, hashlib.sha256(body).hexdigest()])


def sign(secret: str, timestamp: str, method: str, path: str, query: Mapping[str, str] | None,
         body: bytes) -> str:
    message = canonical_request(timestamp, method, path, query, body).encode()
    return "v1=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(key_id: str, secret: str, method: str, path: str, body: bytes = b"",
                   query: Mapping[str, str] | None = None, at: float | None = None) -> dict[str, str]:
    """Headers for a signed merchant request (used by tests, the bench and the README example)."""
    timestamp = str(int(at if at is not None else time.time()))
    return {"X-Api-Key": key_id, "X-Timestamp": timestamp,
            "X-Signature": sign(secret, timestamp, method, path, query, body)}


_KEY_CACHE: dict[str, tuple[float, Any]] = {}
_KEY_TTL = 60.0


def _api_key(key_id: str):
    from chalicelib.merchants.store import ApiKeyItem  # local: keeps auth free of store imports

    cached = _KEY_CACHE.get(key_id)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    item = ApiKeyItem.find(key_id)
    _KEY_CACHE[key_id] = (time.monotonic() + _KEY_TTL, item)
    return item


def _from_signature(headers: Mapping[str, str], method: str, path: str,
                    query: Mapping[str, str] | None, body: bytes) -> Principal:
    key_id = headers.get("x-api-key", "")
    timestamp = headers.get("x-timestamp", "")
    signature = headers.get("x-signature", "")
    if not (key_id and timestamp and signature):
        raise Unauthenticated("a signed request needs X-Api-Key, X-Timestamp and X-Signature")
    if not timestamp.isdigit() or abs(int(timestamp) - time.time()) > settings().signature_skew_seconds:
        raise Unauthenticated("X-Timestamp is missing or too far from the server clock")
    if len(key_id) > 64:
        raise Unauthenticated("unknown API key")
    key = _api_key(key_id)
    if key is None or key.status != "active":
        raise Unauthenticated("unknown or revoked API key")
    expected = sign(key_secret(key_id), timestamp, method, path, query, body)
    if not hmac.compare_digest(expected, signature):
        raise Unauthenticated("signature does not match the request")
    return Principal("merchant", key.merchant_id, None, key.merchant_id, key.store_id)


def authenticate(headers: Mapping[str, str], method: str, path: str,
                 query: Mapping[str, str] | None, body: bytes) -> Principal | None:
    """The caller of a request, or None when it carries no credentials at all."""
    authorization = headers.get("authorization", "")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("Authorization must be 'Bearer <token>'")
        return _from_token(token.strip())
    if headers.get("x-api-key") or headers.get("x-signature"):
        return _from_signature(headers, method, path, query, body)
    return None
