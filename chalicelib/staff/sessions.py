"""Staff logins: a password (and a TOTP code where required) for a short-lived access token and a
single-use refresh token; refresh, logout, and the checks every staff request makes.

**Access token**: the staff JWT (``kid``-rotated like every token), :data:`ACCESS_MINUTES` long,
carrying the role and scope, the account's ``epoch`` (``ep``) and the login's family (``sid``).
Every request checks that the account is active at that epoch and the family not revoked
(:func:`login_holds`, cached :data:`chalicelib.api.auth.STAFF_CACHE_SECONDS` per container).

**Refresh token** ``srt_<program>.<id>.<secret>``: only a hash of the secret is stored; each
refresh uses it up and hands out the next of its family. Presenting a used one again revokes the
whole family (someone else has a copy): every token of that login stops working.

**Wrong passwords**: the same 401 and the same work (one Argon2id hash) whether or not the login
exists, each admitted first under the login name's lock and the caller's
(:mod:`chalicelib.staff.attempts`). Every attempt is audited; no password, code or token is.
"""

from __future__ import annotations

import hmac
import time
from datetime import datetime, timedelta
from typing import Any

import pyotp

from chalicelib.api import auth
from chalicelib.db import audit
from chalicelib.db.refresh import RefreshFamilyItem, RefreshTokens, family_id_of
from chalicelib.db.uow import UnitOfWork
from chalicelib.shared import clock, lazy, sealing
from chalicelib.shared.credentials import mint_token
from chalicelib.shared.errors import ConcurrentUpdate, Forbidden, Problem, Unauthenticated, ValidationProblem
from chalicelib.shared.principal import Principal
from chalicelib.staff import attempts, passwords, policy
from chalicelib.staff.accounts import normal_login, view
from chalicelib.staff.attempts import wall_now
from chalicelib.staff.check import login_holds_item
from chalicelib.staff.tables import StaffItem, StaffLoginItem

merchants = lazy.module("chalicelib.merchants.service")

ACCESS_MINUTES = 15
REFRESH_DAYS = 7
TOTP_INFO = b"staff-totp"
WRONG = "the login name or the password is wrong"


class TotpRequired(Problem):
    status, slug, title = 401, "totp-required", "This account needs its TOTP code"
    remembered = False


class TotpEnrolmentRequired(Problem):
    status, slug, title = 403, "totp-enrolment-required", "This role needs a TOTP second factor: enrol it"
    remembered = False


def _revoked(uow: UnitOfWork, family: RefreshFamilyItem, why: str) -> None:
    audit.record(uow, "staff.login_revoked", f"staff:{family.owner}", staff_id=family.owner,
                 detail=f"login {family_id_of(family)}: {why}")
    uow.after_commit(auth.forget_staff)


TOKENS = RefreshTokens("srt_", "staff", REFRESH_DAYS, _revoked)


def _totp_context(program: str, staff_id: str) -> bytes:
    return f"{program}/{staff_id}".encode()


def totp_of(uow: UnitOfWork, item: StaffItem) -> pyotp.TOTP:
    """The account's TOTP, its secret unsealed."""
    secret = sealing.unseal(item.totp, TOTP_INFO, _totp_context(uow.program, item.staff_id)).decode()
    return pyotp.TOTP(secret)


def step_of(totp: pyotp.TOTP, code: str | None, after: int) -> int | None:
    """The time step of a right ``code`` (this one or either neighbour), if later than ``after``:
    a code is good once."""
    if not code or not code.isdigit() or len(code) != 6:
        return None
    now = int(time.time())
    for offset in (0, -1, 1):
        step = now // totp.interval + offset
        if step > after and hmac.compare_digest(totp.at(step * totp.interval), code):
            return step
    return None


def pending_enrolment(uow: UnitOfWork, item: StaffItem) -> dict[str, Any]:
    """A new TOTP secret for the account (sealed on it, not yet in force): what to scan."""
    secret = pyotp.random_base32(32)
    item.totp = dict(sealing.seal(secret.encode(), TOTP_INFO, _totp_context(uow.program, item.staff_id)))
    item.totp_enrolled = False
    uri = pyotp.TOTP(secret).provisioning_uri(name=item.login, issuer_name=f"loyalty {uow.program}")
    return {"secret": secret, "otpauth_uri": uri}


# --- login ---------------------------------------------------------------------------------

def login(uow: UnitOfWork, login_name: str, password: str, totp_code: str | None, source: str) -> dict[str, Any]:
    """Tokens for a right login name and password (and TOTP code where the account has one or its
    role requires one); 401 for anything wrong, counted towards the locks first
    (:mod:`chalicelib.staff.attempts`)."""
    try:
        name = normal_login(login_name)
    except ValidationProblem:
        attempts.refused(uow, None, source, "login name not valid")
        raise
    attempt = attempts.begin(uow, name, source)
    now = attempt.now
    pointer = uow.get(StaffLoginItem, StaffLoginItem.key(name), consistent=True)
    item = uow.get(StaffItem, StaffItem.key(pointer.staff_id), consistent=True) if pointer else None
    if not passwords.verify(item.password_hash if item is not None else None, password) or item is None:
        attempts.wrong(uow, attempt, item, "wrong password")
        raise Unauthenticated(WRONG)
    if item.status != "active":
        attempts.uncounted(uow, attempt, item, "account disabled")
        raise Forbidden("this account is disabled: ask your administrator")
    standing = merchants.standing_keys(item.merchant_id, item.store_id)
    uow.prefetch(standing)
    if merchants.suspended([uow.get(model, key) for model, key in standing]):
        attempts.uncounted(uow, attempt, item, "merchant or store suspended")
        raise Forbidden("your merchant or store is suspended: ask the program's administrator")
    # a login changes no administrative field: it leaves the account's version alone, and holds
    # only while the account is as read (active, same epoch)
    holds = (StaffItem.epoch == int(item.epoch)) & (StaffItem.status == "active")
    actions: list[Any] = [StaffItem.last_login_at.set(clock.iso(now))]
    step = None
    if item.totp_enrolled or policy.requires_totp(uow, item.role):
        step, enrolment = _second_factor(uow, item, totp_code)
        if step is None:
            if totp_code:
                attempts.wrong(uow, attempt, item, "wrong or used TOTP code")
            else:
                attempts.uncounted(uow, attempt, item, "TOTP code " + ("to enrol" if enrolment else "not sent"))
            if enrolment is not None:
                uow.update(item, [StaffItem.totp.set(item.totp), StaffItem.totp_enrolled.set(False)],
                           holds & StaffItem.totp.does_not_exist(),
                           on_conflict=lambda: ConcurrentUpdate("the account changed meanwhile"))
                uow.commit()
                raise TotpEnrolmentRequired("scan the secret into an authenticator app and log in again with its "
                                            "code", enrolment=enrolment)
            raise TotpRequired("send the code of your authenticator app as totp_code" if not totp_code
                               else "the TOTP code is wrong or was used already")
        # a code is good once, even for two logins sent with it at the same moment
        holds &= StaffItem.totp_last_step < step
        actions += [StaffItem.totp_enrolled.set(True), StaffItem.totp_last_step.set(step)]
    attempts.right(uow, attempt)
    if passwords.needs_rehash(item.password_hash or ""):
        actions.append(StaffItem.password_hash.set(passwords.hash_password(password)))
    item.last_login_at, item.totp_enrolled = clock.iso(now), bool(item.totp_enrolled or step)
    uow.update(item, actions, holds, on_conflict=lambda: Unauthenticated(
        "the account changed while logging in, or the TOTP code was used already; log in again"))
    reply = new_login(uow, item)
    audit.record(uow, "staff.login", f"staff:{item.staff_id}", staff_id=item.staff_id, merchant_id=item.merchant_id,
                 detail=f"from {source[:64]}" + (" with TOTP" if step else ""))
    return reply


def _second_factor(uow: UnitOfWork, item: StaffItem, code: str | None) -> tuple[int | None, dict[str, Any] | None]:
    """The step of a right TOTP code, or None; with a new enrolment when the account has no secret."""
    if item.totp is None:
        return None, pending_enrolment(uow, item)
    return step_of(totp_of(uow, item), code, int(item.totp_last_step or 0)), None


def new_login(uow: UnitOfWork, item: StaffItem) -> dict[str, Any]:
    """A new login (a family) of the account, and its first tokens (staged)."""
    now = wall_now()
    family = TOKENS.begin(uow, item.staff_id, epoch=int(item.epoch), now=now)
    return _pair(uow, item, family_id_of(family), now)


def _pair(uow: UnitOfWork, item: StaffItem, family_id: str, now: datetime) -> dict[str, Any]:
    """A new access token and the family's next refresh token (staged)."""
    claims = {"role": item.role, "program_id": uow.program, "ep": int(item.epoch), "sid": family_id,
              **{k: v for k, v in (("merchant_id", item.merchant_id), ("store_id", item.store_id)) if v}}
    token = mint_token("staff", item.staff_id, ACCESS_MINUTES, **claims)
    return {"token": token, "expires_at": clock.iso(now + timedelta(minutes=ACCESS_MINUTES)),
            **TOKENS.issue(uow, family_id, now), "staff": view(item)}


# --- refresh and logout -------------------------------------------------------------------

def program_of(refresh_token: str) -> str:
    """The program a refresh token belongs to (the unit of work must be opened there)."""
    return TOKENS.program_of(refresh_token)


def refresh(uow: UnitOfWork, refresh_token: str) -> dict[str, Any]:
    """The next access token and refresh token of a login; the one presented is used up. A used
    one presented again ends the whole login (401)."""
    used = TOKENS.use(uow, refresh_token)
    item = uow.get(StaffItem, StaffItem.key(used.family.owner), consistent=True)
    if item is None or not login_holds_item(item, used.family, None):
        raise Unauthenticated("this login has ended (disabled, role or password changed); log in again")
    return _pair(uow, item, used.token.family_id, wall_now())


def logout(uow: UnitOfWork, by: Principal) -> dict[str, Any]:
    """End the caller's login: its refresh tokens at once, its access tokens within seconds."""
    if by.session is None:
        raise ValidationProblem("this token came from no login (minted): nothing to log out of")
    family = TOKENS.family(uow, by.session)
    if family is not None and family.status == "active":
        TOKENS.revoke(uow, family, "logged out")
    return {"logged_out": True, "staff_id": by.id, "effective_within_seconds": auth.STAFF_CACHE_SECONDS}
