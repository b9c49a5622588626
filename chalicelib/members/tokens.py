"""Member login tokens: short-lived access tokens and revocable refresh tokens.

Only a brand's login server (an API key with the ``member_login`` capability) or HQ staff mint
them, after verifying the member themselves (an SMS code, a WeChat login code...); the request
names how (``verified_by``), and every mint is audited on the member. An access token lives at
most two hours; the refresh token that comes with it is an opaque, random, single-use string
(``rt_<program>.<id>.<secret>``): only a hash of its secret is stored, each refresh replaces it,
and revoking it ends the login.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.db import audit
from chalicelib.db.uow import UnitOfWork
from chalicelib.members import repository
from chalicelib.members.domain import normalise
from chalicelib.members.schemas import MemberTokenRequest
from chalicelib.members.tables import RefreshTokenItem
from chalicelib.shared import clock
from chalicelib.shared.config import settings
from chalicelib.shared.credentials import mint_token
from chalicelib.shared.errors import NotFound, Unauthenticated, ValidationProblem
from chalicelib.shared.ids import new_id
from chalicelib.shared.principal import PROGRAM_ID, Principal

ACCESS_MINUTES_MAX = 120
REFRESH_DAYS = 30


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _pair(uow: UnitOfWork, member_id: str, verified_by: str, issued_by: str) -> dict[str, Any]:
    """A new access token and a new refresh token (staged) for ``member_id``."""
    minutes = min(settings().member_token_minutes, ACCESS_MINUTES_MAX)
    token = mint_token("member", member_id, minutes, program_id=uow.program)
    now = datetime.now(UTC)                    # credentials live on wall-clock time
    token_id, secret = new_id(), secrets.token_urlsafe(32)
    refresh_expires = now + timedelta(days=REFRESH_DAYS)
    uow.create(RefreshTokenItem(*RefreshTokenItem.key(token_id), member_id=member_id, secret_hash=_hash(secret),
                                status="active", verified_by=verified_by, issued_by=issued_by,
                                refresh_expires_at=clock.iso(refresh_expires),
                                expires_at=int(refresh_expires.timestamp()) + 86_400))
    return {"token": token, "member_id": member_id, "expires_at": clock.iso(now + timedelta(minutes=minutes)),
            "refresh_token": f"rt_{uow.program}.{token_id}.{secret}",
            "refresh_expires_at": clock.iso(refresh_expires)}


def issue(uow: UnitOfWork, cmd: MemberTokenRequest, by: Principal, active_member: Any) -> dict[str, Any]:
    """Tokens for a member whose login the caller has verified, audited with how it was verified."""
    if bool(cmd.member_id) == bool(cmd.identity):
        raise ValidationProblem("send exactly one of member_id or identity")
    if cmd.identity:
        found = repository.of(uow).resolve(normalise(cmd.identity.type, cmd.identity.value, settings().phone_region))
        if found is None:
            raise NotFound("no member has that identity")
        member_id = found
    else:
        member_id = cmd.member_id or ""
    member_id = active_member(uow, member_id).member_id
    reply = _pair(uow, member_id, cmd.verified_by, by.ref)
    audit.record(uow, "token.issued", by.ref, member_id=member_id, merchant_id=by.merchant_id,
                 detail=f"verified_by={cmd.verified_by}")
    return reply


def _parse(refresh_token: str) -> tuple[str, str, str]:
    parts = refresh_token.removeprefix("rt_").split(".")
    if not refresh_token.startswith("rt_") or len(parts) != 3 or not PROGRAM_ID.match(parts[0]) \
            or not parts[1].isalnum() or len(parts[1]) > 32:
        raise Unauthenticated("not a refresh token")
    return parts[0], parts[1], parts[2]


def _current(uow: UnitOfWork, token_id: str, secret: str) -> RefreshTokenItem:
    item = uow.get(RefreshTokenItem, RefreshTokenItem.key(token_id), consistent=True)
    if item is None or not hmac.compare_digest(item.secret_hash, _hash(secret)):
        raise Unauthenticated("refresh token not valid")
    if item.status != "active" or item.refresh_expires_at <= clock.iso(datetime.fromtimestamp(time.time(), UTC)):
        raise Unauthenticated(f"refresh token {'expired' if item.status == 'active' else item.status}")
    return item


def program_of(refresh_token: str) -> str:
    """The program a refresh token belongs to (the unit of work must be opened there)."""
    return _parse(refresh_token)[0]


def _use_up(uow: UnitOfWork, refresh_token: str, status: str, action: str) -> RefreshTokenItem:
    """Stage an active refresh token as ``status`` (once: a concurrent use loses), audited."""
    _, token_id, secret = _parse(refresh_token)
    item = _current(uow, token_id, secret)
    item.status = status
    uow.save(item, RefreshTokenItem.status == "active",
             on_conflict=lambda: Unauthenticated("refresh token already used"))
    audit.record(uow, action, "refresh-token", member_id=item.member_id, detail=f"refresh token {token_id}")
    return item


def refresh(uow: UnitOfWork, refresh_token: str) -> dict[str, Any]:
    """A new access token and refresh token for an active one; the old refresh token is used up."""
    item = _use_up(uow, refresh_token, "used", "token.refreshed")
    return _pair(uow, item.member_id, item.verified_by, item.issued_by)


def revoke(uow: UnitOfWork, refresh_token: str) -> dict[str, Any]:
    """End a login: its refresh token can no longer be used."""
    item = _use_up(uow, refresh_token, "revoked", "token.revoked")
    return {"revoked": True, "member_id": item.member_id}
