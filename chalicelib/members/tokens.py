"""Member login tokens: short-lived access tokens and revocable refresh tokens.

Only a brand's login server (an API key with the ``member_login`` capability) or HQ staff mint
them, after verifying the member themselves (an SMS code, a WeChat login code...); the request
names how (``verified_by``), and every mint is audited on the member. An access token lives at
most two hours; the refresh token that comes with it is an opaque, random, single-use string
(``rt_<program>.<id>.<secret>``, :mod:`chalicelib.db.refresh`): only a hash of its secret is
stored, each refresh replaces it, revoking it ends the login, and a used one presented again
ends the login too (someone else has a copy). An access token names its login (``sid``) and stops
with it, as a staff token does (:data:`chalicelib.api.auth.LOGIN_CACHE_SECONDS`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.api import auth
from chalicelib.db import audit
from chalicelib.db.refresh import RefreshFamilyItem, RefreshTokens, family_id_of
from chalicelib.db.uow import UnitOfWork
from chalicelib.members import repository
from chalicelib.members.domain import normalise
from chalicelib.members.schemas import MemberTokenRequest
from chalicelib.shared import clock
from chalicelib.shared.config import settings
from chalicelib.shared.credentials import mint_token
from chalicelib.shared.errors import NotFound, ValidationProblem
from chalicelib.shared.principal import Principal

ACCESS_MINUTES_MAX = 120
REFRESH_DAYS = 30


def _revoked(uow: UnitOfWork, family: RefreshFamilyItem, why: str) -> None:
    audit.record(uow, "token.revoked", "refresh-token", member_id=family.owner,
                 detail=f"login {family_id_of(family)}: {why}")
    uow.after_commit(auth.forget_logins)


TOKENS = RefreshTokens("rt_", "member", REFRESH_DAYS, _revoked)


def _pair(uow: UnitOfWork, member_id: str, family_id: str, now: datetime) -> dict[str, Any]:
    """A new access token and the login's next refresh token (staged) for ``member_id``."""
    minutes = min(settings().member_token_minutes, ACCESS_MINUTES_MAX)
    token = mint_token("member", member_id, minutes, program_id=uow.program, sid=family_id)
    return {"token": token, "member_id": member_id, "expires_at": clock.iso(now + timedelta(minutes=minutes)),
            **TOKENS.issue(uow, family_id, now)}


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
    now = datetime.now(UTC)                    # credentials live on wall-clock time
    family = TOKENS.begin(uow, member_id, now=now,
                          data=json.dumps({"verified_by": cmd.verified_by, "issued_by": by.ref}))
    reply = _pair(uow, member_id, family_id_of(family), now)
    audit.record(uow, "token.issued", by.ref, member_id=member_id, merchant_id=by.merchant_id,
                 detail=f"verified_by={cmd.verified_by}")
    return reply


def program_of(refresh_token: str) -> str:
    """The program a refresh token belongs to (the unit of work must be opened there)."""
    return TOKENS.program_of(refresh_token)


def refresh(uow: UnitOfWork, refresh_token: str) -> dict[str, Any]:
    """A new access token and refresh token for an active one; the old refresh token is used up."""
    used = TOKENS.use(uow, refresh_token)
    audit.record(uow, "token.refreshed", "refresh-token", member_id=used.family.owner,
                 detail=f"login {used.token.family_id}")
    return _pair(uow, used.family.owner, used.token.family_id, used.now)


def revoke(uow: UnitOfWork, refresh_token: str) -> dict[str, Any]:
    """End a login: its refresh token can no longer be used."""
    family = TOKENS.end(uow, refresh_token, "revoked by its holder")
    return {"revoked": True, "member_id": family.owner}


auth.use_member_check(TOKENS.holds)
