"""Member operations over HTTP: parse, delegate to the service, shape the reply."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib.api.auth import ANY_STAFF, HQ_ROLES, MEMBER, MERCHANT, key_with, staff
from chalicelib.api.configs import config_endpoints
from chalicelib.api.endpoint import Call, endpoint
from chalicelib.members.settings import MEMBER_SETTINGS, MemberSettings
from chalicelib.shared import lazy

if TYPE_CHECKING:
    from chalicelib.members import service
else:
    service = lazy.module("chalicelib.members.service")

bp = Blueprint(__name__)
TAGS = ("members",)
LOGIN = key_with("member_login")          # the brand's login server
HQ = staff(*HQ_ROLES)


@endpoint(bp, "/v1/members", "POST", "registerMember", personal=True, status=201, tags=TAGS, errors=(404, 409),
          summary="Register a member with one or more identities",
          allow=(MERCHANT, LOGIN, ANY_STAFF), body="chalicelib.members.schemas:RegisterMember", response="chalicelib.members.schemas:MemberOut")
def register_member(call: Call):
    member = service.register(call.body, call.caller, call.uow)
    return member.view(reveal=False)


@endpoint(bp, "/v1/members/lookup", "GET", "lookupMember", tags=TAGS, errors=(404,),
          summary="Find the member an OpenID, UnionID or card number belongs to (phones and emails: POST)",
          allow=(MERCHANT, LOGIN, ANY_STAFF), query="chalicelib.members.schemas:LookupQuery", response="chalicelib.members.schemas:MemberOut")
def lookup_member(call: Call):
    return service.lookup(call.uow, call.query.type, call.query.value, call.caller)


@endpoint(bp, "/v1/members/lookup", "POST", "findMember", tags=TAGS, errors=(404,), idempotent=False, reads=True,
          summary="Find the member any identity belongs to, named in the body (personal data stays out of URLs)",
          allow=(MERCHANT, LOGIN, ANY_STAFF), body="chalicelib.members.schemas:IdentityIn", response="chalicelib.members.schemas:MemberOut")
def find_member(call: Call):
    return service.lookup(call.uow, call.body.type, call.body.value, call.caller)


@endpoint(bp, "/v1/members/{member_id}", "GET", "getMember", tags=TAGS, errors=(404,),
          summary="Read a member ('me' for the calling member); reveal=true shows personal data to HQ roles, audited",
          allow=(MEMBER, MERCHANT, LOGIN, ANY_STAFF), query="chalicelib.members.schemas:GetMemberQuery",
          response="chalicelib.members.schemas:MemberOut")
def get_member(call: Call):
    return service.get(call.uow, call.params["member_id"], call.caller, reveal=call.query.reveal == "true",
                       reason=call.query.reason)


@endpoint(bp, "/v1/members/{member_id}", "PATCH", "updateMember", personal=True, tags=TAGS, errors=(404, 409),
          summary="Change profile fields; custom_fields merge key by key (null removes a key)",
          allow=(MEMBER, LOGIN, HQ), body="chalicelib.members.schemas:UpdateMember", response="chalicelib.members.schemas:MemberOut")
def update_member(call: Call):
    member = service.update(call.params["member_id"], call.body, call.caller, call.uow)
    return member.view(reveal=call.caller.kind == "member")


@endpoint(bp, "/v1/members/{member_id}/identities", "POST", "bindIdentity", personal=True, status=201, tags=TAGS,
          errors=(404, 409), also=(200,),
          summary="Bind one more identity to a member (201; 200 when the member holds it already: nothing changes)",
          allow=(MEMBER, LOGIN, HQ), body="chalicelib.members.schemas:IdentityIn", response="chalicelib.members.schemas:MemberOut")
def bind_identity(call: Call):
    member, added = service.bind(call.params["member_id"], call.body.type, call.body.value,
                                 call.caller, call.uow)
    if not added:
        call.status = 200
    return member.view(reveal=call.caller.kind == "member")


@endpoint(bp, "/v1/members/{member_id}/audit", "GET", "listMemberAudit", tags=TAGS, errors=(404,),
          summary="The member's audit trail: unmasked reads, logins, logouts (HQ)", allow=(HQ,),
          response="chalicelib.members.replies:MemberAudit")
def list_member_audit(call: Call):
    return service.audit_trail(call.uow, call.params["member_id"], call.caller)


@endpoint(bp, "/v1/auth/member-tokens", "POST", "issueMemberToken", status=201, idempotent=False,
          tags=("auth",), errors=(404,),
          summary="Issue member tokens after the caller verified the login (a member_login key or HQ; audited)",
          allow=(LOGIN, HQ), body="chalicelib.members.schemas:MemberTokenRequest", response="chalicelib.members.schemas:MemberTokenOut")
def issue_member_token(call: Call):
    return service.member_token(call.uow, call.body, call.caller)


@endpoint(bp, "/v1/auth/member-tokens/refresh", "POST", "refreshMemberToken", status=201, idempotent=False,
          tags=("auth",), errors=(401,), allow=(), body="chalicelib.members.schemas:RefreshTokenRequest",
          response="chalicelib.members.schemas:MemberTokenOut",
          summary="Trade a refresh token for a new access token and refresh token (the old one is used up)")
def refresh_member_token(call: Call):
    call.enter_program(service.token_program(call.body.refresh_token))
    return service.refresh_member_token(call.uow, call.body.refresh_token)


@endpoint(bp, "/v1/auth/member-tokens/revoke", "POST", "revokeMemberToken", idempotent=False, tags=("auth",),
          errors=(401,), allow=(), body="chalicelib.members.schemas:RefreshTokenRequest",
          summary="End a login: its refresh token stops working (a member logging out)",
          response="chalicelib.members.replies:MemberTokenRevoked")
def revoke_member_token(call: Call):
    call.enter_program(service.token_program(call.body.refresh_token))
    return service.revoke_member_token(call.uow, call.body.refresh_token)


@endpoint(bp, "/v1/members/{member_id}/phone", "PUT", "changeMemberPhone", personal=True, tags=TAGS, errors=(404, 409),
          summary="Move a member to a new phone number the caller verified; the old number is released",
          allow=(LOGIN, HQ), body="chalicelib.members.schemas:ChangePhone", response="chalicelib.members.schemas:MemberOut")
def change_phone(call: Call):
    member, _ = service.change_phone(call.params["member_id"], call.body.phone, call.caller, call.uow)
    return member.view(reveal=False)


@endpoint(bp, "/v1/members/{member_id}/identities/unbind", "POST", "unbindIdentity", personal=True, tags=TAGS, errors=(404, 409),
          summary="Release one of a member's identities (in the body: no personal data in URLs); never the last",
          allow=(MEMBER, LOGIN, HQ), body="chalicelib.members.schemas:IdentityIn", response="chalicelib.members.schemas:MemberOut")
def unbind_identity(call: Call):
    member = service.unbind(call.params["member_id"], call.body.type, call.body.value, call.caller, call.uow)
    return member.view(reveal=call.caller.kind == "member")


config_endpoints(bp, "/v1/member-settings", MEMBER_SETTINGS, "settings", MemberSettings, put_id="putMemberSettings",
                 get_id="getMemberSettings", noun="the program's member settings (pay-as-member)", tags=TAGS,
                 put_allow=(HQ,), get_allow=(MERCHANT, ANY_STAFF))
