"""Members over HTTP, as the POS, the mini-program and the console call them."""


from chalicelib.members import repository as members_repository
from tests.e2e.conftest import captured_logs, fresh_phone


def register(api, body, **kw):
    kw.setdefault("headers", api.staff())
    return api.call("POST", "/v1/members", body, key=kw.pop("key", None) or fresh_phone(), **kw)


def test_register_then_read_lookup_update_bind(api, stack):
    phone = fresh_phone()
    r = register(api, {"phone": phone, "name": "王雅静", "gender": "female", "birthday": "1992-03-04",
                       "custom_fields": {"size": "M"}, "channel": "mini_program"})
    assert r.status_code == 201, r.text
    member = r.json()
    assert member["phone"] == f"{phone[:3]}****{phone[-4:]}" and member["pii_masked"]
    mid = member["member_id"]

    got = api.call("GET", f"/v1/members/{mid}", headers=api.staff("clerk")).json()
    assert got["name"] == "王雅静" and got["birthday"] == "1992-03-04" and got["phone"] == member["phone"]

    found = api.call("POST", "/v1/members/lookup", {"type": "phone", "value": f"+86 {phone}"}, pos=True)
    assert found.status_code == 200 and found.json()["member_id"] == mid

    patched = api.call("PATCH", f"/v1/members/{mid}", {"custom_fields": {"size": None, "shoe": 38}},
                       headers=api.staff("ops_manager"), key="patch-" + mid)
    assert patched.status_code == 200 and patched.json()["custom_fields"] == {"shoe": 38}

    bound = api.call("POST", f"/v1/members/{mid}/identities", {"type": "wechat_openid", "value": "oWX" + phone},
                     login=True, key="bind-" + mid)
    assert bound.status_code == 201
    # the same identity again changes nothing: 200 with the member, a status the document lists
    again = api.call("POST", f"/v1/members/{mid}/identities", {"type": "wechat_openid", "value": "oWX" + phone},
                     login=True, key="bind-again-" + mid)
    assert again.status_code == 200 and again.json()["version"] == bound.json()["version"]
    responses = api.call("GET", "/openapi.json").json()["paths"]["/v1/members/{member_id}/identities"]["post"]["responses"]
    assert {"200", "201"} <= responses.keys() and responses["200"]["content"] == responses["201"]["content"]
    by_openid = api.call("GET", "/v1/members/lookup", params={"type": "wechat_openid", "value": "oWX" + phone},
                         headers=api.staff("ops_manager"))
    assert by_openid.json()["member_id"] == mid and by_openid.json()["version"] == 3


def test_member_token_reads_own_record_unmasked_and_no_one_elses(api):
    phone = fresh_phone()
    mid = register(api, {"phone": phone}).json()["member_id"]
    other = register(api, {"phone": fresh_phone()}).json()["member_id"]
    minted = api.call("POST", "/v1/auth/member-tokens", {"identity": {"type": "phone", "value": phone},
                                                         "verified_by": "sms_otp"}, login=True)
    assert minted.status_code == 201 and minted.json()["member_id"] == mid
    me = api.bearer(minted.json()["token"])
    mine = api.call("GET", "/v1/members/me", headers=me).json()
    assert mine["member_id"] == mid and mine["phone"] == "+86" + phone and not mine["pii_masked"]
    assert api.call("GET", f"/v1/members/{other}", headers=me).status_code == 403
    assert api.call("PATCH", f"/v1/members/{other}", {"name": "x"}, headers=me, key="k-" + other).status_code == 403
    changed = api.call("PATCH", "/v1/members/me", {"name": "Me"}, headers=me, key="me-" + mid)
    assert changed.status_code == 200 and changed.json()["name"] == "Me"


def test_reveal_is_for_hq_roles_and_audited(api, stack):
    phone = fresh_phone()
    mid = register(api, {"phone": phone}).json()["member_id"]
    refused = api.call("GET", f"/v1/members/{mid}", params={"reveal": "true"}, headers=api.staff("store_manager"))
    assert refused.status_code == 403
    shown = api.call("GET", f"/v1/members/{mid}", params={"reveal": "true"}, headers=api.staff("ops_manager"))
    assert shown.json()["phone"] == "+86" + phone and not shown.json()["pii_masked"]
    from chalicelib.db.uow import UnitOfWork
    audits = list(members_repository.of(UnitOfWork()).audit_trail(mid))
    assert [(a.actor, a.action) for a in audits] == [("staff:local-ops_manager", "pii.revealed")]


def test_second_registration_with_a_taken_identity_is_a_409_naming_it(api):
    phone = fresh_phone()
    register(api, {"phone": phone})
    again = register(api, {"phone": "+86" + phone, "email": f"x{phone}@example.com"})
    assert again.status_code == 409
    assert again.headers["Content-Type"] == "application/problem+json"
    body = again.json()
    assert body["type"].endswith("/identity-taken")
    assert body["conflicts"] == [{"type": "phone", "value": f"{phone[:3]}****{phone[-4:]}"}]
    lookup = api.call("POST", "/v1/members/lookup", {"type": "email", "value": f"x{phone}@example.com"},
                      headers=api.staff())
    assert lookup.status_code == 404


def test_pos_key_is_scoped_to_its_store(api):
    r = register(api, {"phone": fresh_phone()}, headers={}, pos=True)
    assert r.status_code == 201 and r.json()["store_id"] == "demo-store" and r.json()["merchant_id"] == "demo-merchant"
    wrong = register(api, {"phone": fresh_phone(), "store_id": "someone-elses"}, headers={}, pos=True)
    assert wrong.status_code == 403
    other_merchants = register(api, {"phone": fresh_phone(), "store_id": "b-store"}, headers={}, pos=True)
    assert other_merchants.status_code == 403


def test_logs_never_carry_the_raw_phone(api):
    with captured_logs() as buffer:
        phone = fresh_phone()
        mid = register(api, {"phone": phone}).json()["member_id"]
        register(api, {"phone": phone})                      # a 409 is logged too
        api.call("GET", f"/v1/members/{mid}", params={"reveal": "true"}, headers=api.staff())
    out = buffer.getvalue()
    assert "request" in out and phone not in out
