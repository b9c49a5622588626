"""Every route declares its callers; an unauthenticated or wrong-role call is refused."""

import re

import pytest

import app  # noqa: F401  (declares every route)
from chalicelib.api.auth import STAFF_ROLES, Principal, mint_token
from chalicelib.api.operation import REGISTRY

CALLERS = [Principal("member", "01J00000000000000000000000")] + \
          [Principal("staff", f"s-{r}", r, "demo-merchant") for r in STAFF_ROLES] + \
          [Principal("merchant", "ak_local_demo_pos", None, "demo-merchant", "demo-store", capabilities=("pos",))]
PROTECTED = [op for op in REGISTRY if not op.public]


def _path(op):
    return re.sub(r"{\w+}", "01J00000000000000000000000", op.path)


def _as(api, principal, op):
    path = _path(op)
    if principal.kind == "merchant":
        return api.call(op.method, path, {} if op.body else None, key="k", pos=True)
    claims = {"role": principal.role, "merchant_id": principal.merchant_id} if principal.kind == "staff" else {}
    if principal.role == "platform_admin":
        claims.pop("merchant_id")
    token = mint_token(principal.kind, principal.id, 5, **claims)
    return api.call(op.method, path, {} if op.body else None, headers=api.bearer(token), key="k")


def test_the_route_table_is_covered():
    assert len(PROTECTED) >= 9 and {"registerMember", "getMember", "lookupMember", "updateMember",
                                     "bindIdentity"} <= {op.operation_id for op in PROTECTED}


@pytest.mark.parametrize("op", PROTECTED, ids=lambda op: op.operation_id)
def test_unauthenticated_calls_get_401(api, op):
    r = api.call(op.method, _path(op), {} if op.body else None, key="k")
    assert r.status_code == 401 and r.headers["Content-Type"] == "application/problem+json"
    bad = api.call(op.method, _path(op), {} if op.body else None, key="k", headers={"Authorization": "Bearer x.y.z"})
    assert bad.status_code == 401


@pytest.mark.parametrize("op", PROTECTED, ids=lambda op: op.operation_id)
def test_callers_the_route_does_not_admit_get_403(api, op):
    refused = [p for p in CALLERS if not any(a.admits(p) for a in op.allow)]
    for principal in refused:
        r = _as(api, principal, op)
        assert r.status_code == 403, (principal, r.text)
        assert r.json()["type"].endswith("/forbidden")


def test_public_routes_are_only_health_the_document_and_refresh_tokens():
    # a refresh token is its own credential: presenting it is the proof
    assert sorted(op.operation_id for op in REGISTRY if op.public) == [
        "getOpenApi", "healthCheck", "loginStaff", "refreshMemberToken", "refreshStaffToken", "revokeMemberToken",
        "setStaffPassword"]
