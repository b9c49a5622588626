"""Staff accounts and their logins (docs/operators/staff.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib.api.auth import HQ_ROLES, PROGRAM_ROLES, staff
from chalicelib.api.configs import config_endpoints
from chalicelib.api.endpoint import Call, endpoint
from chalicelib.shared import lazy
from chalicelib.staff.policy import POLICY, StaffPolicy

if TYPE_CHECKING:
    from chalicelib.staff import accounts, lockouts, own, sessions
else:
    accounts = lazy.module("chalicelib.staff.accounts")
    lockouts = lazy.module("chalicelib.staff.lockouts")
    own = lazy.module("chalicelib.staff.own")
    sessions = lazy.module("chalicelib.staff.sessions")

bp = Blueprint(__name__)
TAGS = ("staff",)
S, R = "chalicelib.staff.schemas:", "chalicelib.staff.replies:"
ADMINS = staff("super_admin", "merchant_admin")          # create and change accounts (a merchant admin: its own)
VIEWERS = staff(*HQ_ROLES, "merchant_admin")
ANYONE = staff(*PROGRAM_ROLES)                            # every program role, about its own account
ITEM = "/v1/staff/{staff_id}"


def _without_code(reply: dict) -> dict:
    return {k: v for k, v in reply.items() if k not in ("reset_code", "reset_expires_at")}


def _code_not_kept(uow, kept: dict) -> dict:
    # the one-time code is never stored: a retry answers the account without it (reset it again)
    return {**kept, "reset_code": None, "reset_expires_at": None}


@endpoint(bp, "/v1/staff", "POST", "createStaff", status=201, tags=TAGS, errors=(403, 404, 409),
          summary="Create a staff account (a super admin any; a merchant admin its own merchant's, no higher "
          "than its own role)", allow=(ADMINS,), body=S + "CreateStaff", response=R + "StaffCreatedOut",
          secret=(_without_code, _code_not_kept))
def create_staff(call: Call):
    b = call.body
    return accounts.create(call.uow, call.caller, b.login, b.display_name, b.role, b.merchant_id, b.store_id,
                           b.password)


@endpoint(bp, "/v1/staff", "GET", "listStaff", tags=TAGS, summary="The program's staff accounts (a merchant's "
          "admin: its own merchant's)", allow=(VIEWERS,), query=S + "StaffQuery", response=R + "StaffPage")
def list_staff(call: Call):
    q = call.query
    return accounts.listing(call.uow, call.caller, q.merchant_id, q.limit, q.cursor)


@endpoint(bp, "/v1/staff/me", "GET", "getMyStaffAccount", tags=TAGS, errors=(404, 422),
          summary="The caller's own account", allow=(ANYONE,), response=R + "StaffOut")
def get_me(call: Call):
    return accounts.get(call.uow, call.caller, call.caller.id)


@endpoint(bp, ITEM, "GET", "getStaff", tags=TAGS, errors=(404,), summary="A staff account, with its login lock",
          allow=(VIEWERS,), response=R + "StaffDetailOut")
def get_staff(call: Call):
    return lockouts.get(call.uow, call.caller, call.params["staff_id"])


@endpoint(bp, ITEM + "/unlock", "POST", "unlockStaff", tags=TAGS, errors=(403, 404),
          summary="Release a staff account's login lock and its count of wrong passwords (the locks it earned "
          "stay: the next lasts longer); audited", allow=(ADMINS,), response=R + "StaffDetailOut")
def unlock_staff(call: Call):
    return lockouts.unlock(call.uow, call.caller, call.params["staff_id"])


@endpoint(bp, ITEM, "PATCH", "updateStaff", tags=TAGS, errors=(403, 404, 409),
          summary="Change a staff account's name, role or scope (a role or scope change ends its logins)",
          allow=(ADMINS,), body=S + "UpdateStaff", response=R + "StaffOut")
def update_staff(call: Call):
    changes = call.body.model_dump(exclude_unset=True)
    version = changes.pop("version")
    return accounts.update(call.uow, call.caller, call.params["staff_id"], version, changes)


@endpoint(bp, ITEM + "/disable", "POST", "disableStaff", tags=TAGS, errors=(403, 404, 409),
          summary="Disable a staff account: its tokens stop working within seconds", allow=(ADMINS,),
          response=R + "StaffOut")
def disable_staff(call: Call):
    return accounts.set_status(call.uow, call.caller, call.params["staff_id"], "disabled")


@endpoint(bp, ITEM + "/enable", "POST", "enableStaff", tags=TAGS, errors=(403, 404, 409),
          summary="Enable a disabled staff account again (it logs in anew)", allow=(ADMINS,), response=R + "StaffOut")
def enable_staff(call: Call):
    return accounts.set_status(call.uow, call.caller, call.params["staff_id"], "active")


@endpoint(bp, ITEM + "/password-reset", "POST", "resetStaffPassword", status=201, tags=TAGS, errors=(403, 404, 409),
          summary="Clear a staff account's password and end its logins; the reply's one-time code sets a new one",
          allow=(ADMINS,), response=R + "StaffResetOut", secret=(_without_code, _code_not_kept))
def reset_password(call: Call):
    return accounts.issue_reset(call.uow, call.caller, call.params["staff_id"])


@endpoint(bp, "/v1/auth/staff/login", "POST", "loginStaff", status=201, idempotent=False, tags=("auth",),
          errors=(401, 403, 429), allow=(), body=S + "Login", response=R + "StaffTokensOut",
          summary="Log in with a login name and password (and TOTP code where required): an access token "
          "and a single-use refresh token")
def login(call: Call):
    call.enter_program(call.body.program_id)
    b = call.body
    return sessions.login(call.uow, b.login, b.password, b.totp_code, call.source)


@endpoint(bp, "/v1/auth/staff/refresh", "POST", "refreshStaffToken", status=201, idempotent=False, tags=("auth",),
          errors=(401,), allow=(), body=S + "RefreshStaff", response=R + "StaffTokensOut",
          summary="Trade a refresh token for the next pair (a used one presented again ends the login)")
def refresh(call: Call):
    call.enter_program(sessions.program_of(call.body.refresh_token))
    return sessions.refresh(call.uow, call.body.refresh_token)


@endpoint(bp, "/v1/auth/staff/logout", "POST", "logoutStaff", idempotent=False, tags=("auth",), errors=(422,),
          allow=(ANYONE,), response=R + "LoggedOutOut", summary="End the caller's login")
def logout(call: Call):
    return sessions.logout(call.uow, call.caller)


@endpoint(bp, "/v1/auth/staff/password", "POST", "setStaffPassword", idempotent=False, tags=("auth",),
          errors=(401, 429), allow=(), body=S + "SetPassword", response=R + "StaffOut",
          summary="Set a password with the one-time reset code an administrator issued")
def set_password(call: Call):
    call.enter_program(call.body.program_id)
    b = call.body
    return own.set_password(call.uow, b.login, b.reset_code, b.new_password, call.source)


# Neither is kept for replay (their replies hold tokens and secrets): a retry of a change that
# went through is refused (the current password changed), and a new enrolment replaces the last.
@endpoint(bp, "/v1/staff/me/password", "POST", "changeStaffPassword", status=201, idempotent=False, tags=TAGS,
          errors=(401, 422, 429), allow=(ANYONE,), body=S + "ChangePassword", response=R + "StaffTokensOut",
          summary="Change the caller's password: every other login ends; the reply is a new login's tokens")
def change_password(call: Call):
    return own.change_password(call.uow, call.caller, call.body.current_password, call.body.new_password,
                               call.source)


@endpoint(bp, "/v1/staff/me/totp", "POST", "enrollStaffTotp", idempotent=False, tags=TAGS, errors=(401, 422, 429),
          allow=(ANYONE,), body=S + "EnrolTotp", response=R + "TotpEnrolmentOut",
          summary="Start a TOTP enrolment (with the password: a secret to scan) or confirm it (with a code)")
def enrol_totp(call: Call):
    return own.enrol_totp(call.uow, call.caller, call.body.password, call.body.code, call.source)


config_endpoints(bp, "/v1/staff-policy", POLICY, "policy", StaffPolicy, put_id="putStaffPolicy",
                 get_id="getStaffPolicy", noun="the staff security policy (the roles that must log in with TOTP)",
                 tags=TAGS, put_allow=(staff("super_admin"),), get_allow=(staff(*HQ_ROLES),))
