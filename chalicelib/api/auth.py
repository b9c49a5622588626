"""Who is calling: members (JWT), merchants and their POS (signed API keys), staff (JWT with roles).

Merchant requests are signed as :mod:`chalicelib.api.signing` describes. The secret of a key is
HMAC-SHA256(API_KEY_MASTER, key id): the server derives it and never stores it, so a table dump
reveals no secret; revoking a key is a status change on its item.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt

from chalicelib.api.signing import TIMESTAMP, canonical_request, sign, signed_headers, verify
from chalicelib.shared import secrets
from chalicelib.shared.cache import TtlCache
from chalicelib.shared.config import settings
from chalicelib.shared.credentials import ISSUER, key_secret, mint_token
from chalicelib.shared.errors import Forbidden, Unauthenticated
from chalicelib.shared.lazy import Hook
from chalicelib.shared.principal import (
    DEFAULT_PROGRAM,
    HQ_ROLES,
    MERCHANT_ROLES,
    PLATFORM_ROLE,
    PROGRAM_ROLES,
    READ_ONLY_ROLES,
    STAFF_ROLES,
    Principal,
)

__all__ = ["Allow", "ApiKey", "Principal", "STAFF_ROLES", "HQ_ROLES", "HQ", "TILL", "PROGRAM_ROLES", "PLATFORM_ROLE", "MEMBER",
           "MERCHANT", "ANY_STAFF", "PLATFORM", "staff", "key_with", "with_readers", "MERCHANT_ROLES", "READ_ONLY_ROLES",
           "check", "authenticate", "mint_token", "forget_key", "forget_staff", "forget_logins", "use_staff_check",
           "use_member_check", "sign", "signed_headers", "canonical_request", "use_key_finder"]


@dataclass(frozen=True)
class Allow:
    """One kind of caller a route accepts; for staff, the roles among them."""

    kind: str
    roles: tuple[str, ...] = field(default_factory=tuple)
    capability: str | None = None        # merchant keys: the capability the key needs

    def admits(self, p: Principal) -> bool:
        """Whether this rule admits the principal."""
        return (p.kind == self.kind and (not self.roles or p.role in self.roles)
                and (self.capability is None or p.can(self.capability)))

    def describe(self) -> str:
        """The rule as the OpenAPI document and error messages show it."""
        if self.capability:
            return f"{self.kind}[{self.capability}]"
        return self.kind + (f"({','.join(self.roles)})" if self.roles else "")


MEMBER = Allow("member")
MERCHANT = Allow("merchant", capability="pos")


def key_with(capability: str) -> Allow:
    """Merchant API keys created with ``capability``."""
    return Allow("merchant", capability=capability)


OPERATOR_ROLES = (*HQ_ROLES, *MERCHANT_ROLES)     # every program role that may change something


def staff(*roles: str) -> Allow:
    """Staff callers with one of ``roles`` (every operator role of a program when none are named:
    the read-only roles are added to reads by :func:`with_readers`, never to writes)."""
    return Allow("staff", tuple(roles or OPERATOR_ROLES))


def with_readers(allow: Iterable[Allow]) -> tuple[Allow, ...]:
    """A read's rules: every staff rule naming a program role also admits finance and auditors,
    who see what staff see (program-wide, personal data masked) and change nothing."""
    return tuple(Allow(a.kind, a.roles + tuple(r for r in READ_ONLY_ROLES if r not in a.roles), a.capability)
                 if a.kind == "staff" and set(a.roles) & set(PROGRAM_ROLES) else a for a in allow)


ANY_STAFF = staff()
PLATFORM = staff(PLATFORM_ROLE)
HQ = staff(*HQ_ROLES)
TILL = (MERCHANT, staff(*OPERATOR_ROLES))     # who takes payment at a checkout


def check(principal: Principal | None, allowed: Iterable[Allow]) -> Principal:
    """The principal, if one of ``allowed`` admits it; 401 without one, 403 otherwise."""
    if principal is None:
        raise Unauthenticated("send a member or staff bearer token, or a signed merchant request")
    if not any(a.admits(principal) for a in allowed):
        raise Forbidden(f"a {principal.kind}{'/' + principal.role if principal.role else ''} "
                        "may not call this operation")
    return principal


# --- tokens -------------------------------------------------------------------------------

def _claims(token: str) -> dict[str, Any]:
    """The claims of a token signed by one of our keys and not expired; 401 otherwise."""
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != "HS256":
            raise Unauthenticated("unsupported token algorithm")
        kid = header.get("kid")
        key = secrets.current().jwt_key(kid)
        # Perhaps signed after a rotation this process has not read yet; bounded, since a forged
        # token can name any kid (secrets.reload_for_unknown).
        if key is None and isinstance(kid, str) and secrets.reload_for_unknown(kid):
            key = secrets.current().jwt_key(kid)
        if key is None:
            raise Unauthenticated("token signed with an unknown key")
        claims = jwt.decode(token, key, algorithms=["HS256"], issuer=ISSUER,
                            audience=["member", "staff"], options={"require": ["exp", "sub", "aud"]},
                            leeway=0)      # minted and checked by this service's clock: no skew to allow
    except jwt.ExpiredSignatureError as error:
        raise Unauthenticated("token expired") from error
    except jwt.PyJWTError as error:
        raise Unauthenticated("token not valid") from error
    return claims


def _from_token(token: str) -> Principal:
    claims = _claims(token)
    program = claims.get("program_id") or DEFAULT_PROGRAM
    session = claims.get("sid")
    if claims["aud"] == "member":
        if session is None:
            if settings().stage not in MINTED_STAFF_STAGES:     # minted by devstack or a test, not a login
                raise Unauthenticated("member tokens come from a login on this stage")
        elif not isinstance(session, str) or not _member_login_holds(program, claims["sub"], session):
            raise Unauthenticated("this login has ended (logged out, or its refresh token presented twice): "
                                  "log in again")
        return Principal("member", claims["sub"], program_id=program, session=session)
    role = claims.get("role")
    if role not in STAFF_ROLES:
        raise Unauthenticated("staff token without a known role")
    if session is None:
        # minted with the stage's signing key by whoever holds it (devstack, the platform's
        # operators), not by a login: no account to check
        if role != PLATFORM_ROLE and settings().stage not in MINTED_STAFF_STAGES:
            raise Unauthenticated("staff tokens come from a login on this stage")
    elif not isinstance(session, str) or not _staff_login_holds(program, claims["sub"], claims.get("ep"), session,
                                                                 claims.get("merchant_id"), claims.get("store_id")):
        raise Unauthenticated("this login no longer holds (logged out; the account disabled, its role or password "
                              "changed; or its merchant or store suspended): log in again")
    return Principal("staff", claims["sub"], role, claims.get("merchant_id"), claims.get("store_id"), program,
                     session=session)


# --- logins (staff and members) ------------------------------------------------------------

# Stages that accept staff and member tokens no login issued (``python -m devstack token``, tests)
MINTED_STAFF_STAGES = ("local", "test")
StaffCheck = Callable[[str, str, int, str, str | None, str | None], bool]
MemberCheck = Callable[[str, str, str], bool]           # program, member id, login: still active?
STAFF_CHECK: Hook[StaffCheck] = Hook()
MEMBER_CHECK: Hook[MemberCheck] = Hook()
# A disabled account, a changed role or password, or a logout (staff or member, or a refresh
# token presented twice) stops the tokens issued before within this many seconds in every
# container (the process that made the change at once); a login costs one read per container
# per interval.
LOGIN_CACHE_SECONDS = STAFF_CACHE_SECONDS = 5.0
_LOGINS: TtlCache[bool] = TtlCache(LOGIN_CACHE_SECONDS, max_entries=4096)


def use_staff_check(check_login: StaffCheck) -> None:
    """Set how a staff token's login is checked (the staff capability owns accounts)."""
    STAFF_CHECK.use(check_login)
    _LOGINS.clear()


def use_member_check(check_login: MemberCheck) -> None:
    """Set how a member token's login is checked (the members capability owns member logins)."""
    MEMBER_CHECK.use(check_login)
    _LOGINS.clear()


def forget_logins() -> None:
    """Drop what this process knows of logins (after changing an account or ending a login:
    rare enough to forget them all)."""
    _LOGINS.clear()


forget_staff = forget_logins


def _staff_login_holds(program: str, staff_id: str, epoch: Any, session: str, merchant_id: Any,
                       store_id: Any) -> bool:
    check_login = STAFF_CHECK.get()
    if check_login is None or not isinstance(epoch, int) or len(session) > 40:
        return False
    merchant = merchant_id if isinstance(merchant_id, str) else None
    store = store_id if isinstance(store_id, str) else None
    return _LOGINS.get(("staff", program, staff_id, epoch, session),
                       lambda: check_login(program, staff_id, epoch, session, merchant, store))


def _member_login_holds(program: str, member_id: str, session: str) -> bool:
    check_login = MEMBER_CHECK.get()
    if check_login is None or len(session) > 40:
        return False
    return _LOGINS.get(("member", program, member_id, session), lambda: check_login(program, member_id, session))


# --- merchant API keys ------------------------------------------------------------------------

@dataclass(frozen=True)
class ApiKey:
    """What authentication needs to know of a merchant API key."""

    key_id: str
    merchant_id: str
    store_id: str | None
    status: str
    program_id: str = DEFAULT_PROGRAM
    capabilities: tuple[str, ...] = ("pos",)
    master: str | None = None            # the API key master its secret derives from (None: the first)
    retires_at: float | None = None      # a rotated key: refused from this instant (epoch seconds, wall clock)


KeyFinder = Callable[[str], "ApiKey | None"]
KeyUsed = Callable[[ApiKey], None]
KEY_FINDER: Hook[KeyFinder] = Hook()
_KEY_USED: list[KeyUsed] = []           # told of every request a key signed (it records "last used")
# A revoked key stops working within this many seconds in every container (the process that
# revokes it forgets it at once); a key costs one read per container per interval.
KEY_CACHE_SECONDS = 5.0
_KEYS: TtlCache[ApiKey | None] = TtlCache(KEY_CACHE_SECONDS, max_entries=4096)


def use_key_finder(finder: KeyFinder, used: KeyUsed | None = None) -> None:
    """Set where API keys are looked up (the merchants capability owns them), and what is told
    of each request a key has signed (``used``: it must be cheap and never raise)."""
    KEY_FINDER.use(finder)
    _KEY_USED[:] = [used] if used else []
    _KEYS.clear()


def forget_key(key_id: str) -> None:
    """Drop a key from this process's cache (after revoking it)."""
    _KEYS.invalidate(key_id)


def _api_key(key_id: str) -> ApiKey | None:
    finder = KEY_FINDER.get()
    if finder is None:
        return None
    return _KEYS.get(key_id, lambda: finder(key_id))


def _from_signature(headers: Mapping[str, str], method: str, path: str,
                    query: Mapping[str, str] | None, body: bytes) -> Principal:
    key_id = headers.get("x-api-key", "")
    timestamp = headers.get("x-timestamp", "")
    signature = headers.get("x-signature", "")
    if not (key_id and timestamp and signature):
        raise Unauthenticated("a signed request needs X-Api-Key, X-Timestamp and X-Signature")
    if not TIMESTAMP.fullmatch(timestamp) or abs(int(timestamp) - time.time()) > settings().signature_skew_seconds:
        raise Unauthenticated("X-Timestamp is missing or too far from the server clock")
    if len(key_id) > 64:
        raise Unauthenticated("unknown API key")
    key = _api_key(key_id)
    if key is None or key.status not in ("active", "retiring", "suspended"):
        raise Unauthenticated("unknown or revoked API key")
    try:
        secret = key_secret(key_id, key.master or secrets.LEGACY)
    except LookupError:
        raise Unauthenticated("this API key's master was retired: rotate the key") from None
    verify(headers, secret, method, path, query, body)
    if key.retires_at is not None and time.time() >= key.retires_at:     # told only to the key's holder
        raise Unauthenticated("rotated: use the new key")
    if key.status == "suspended":                                         # likewise
        raise Forbidden("the merchant or store of this key is suspended")
    for used in _KEY_USED:
        used(key)
    return Principal("merchant", key_id, None, key.merchant_id, key.store_id, key.program_id, key.capabilities)


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
