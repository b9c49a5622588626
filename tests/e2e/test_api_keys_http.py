"""A merchant's API keys over HTTP, as a console and a till use them: create, list, rotate with an
overlap (the till signs with the old key and the new one, then only the new one works), replay
of a rotation, a merchant admin's own keys, and what is left in the table."""

from __future__ import annotations

from chalicelib.api import auth
from chalicelib.shared.credentials import mint_token
from tests.e2e.conftest import fresh_phone, readable, stored_items
from tests.e2e.test_tenancy_http import A, staff

KEYS = f"/v1/merchants/{A[1]}/api-keys"


def _admin(api, merchant=A[1]):
    return api.bearer(mint_token("staff", f"ma-{merchant}", 5, role="merchant_admin", merchant_id=merchant,
                                 program_id=A[0]))


def _register(api, key):
    phone = fresh_phone()
    return api.call("POST", "/v1/members", {"phone": phone}, signed_by=key, key="reg-" + phone)


def _item(stack, key_id):
    return stored_items(stack, lambda pk, item: pk == f"APIKEY#{key_id}")


def test_a_till_signs_with_both_keys_during_the_overlap_then_only_with_the_new_one(api, stack):
    hq = staff(api, stack, A, "super_admin")
    made = api.call("POST", KEYS, {"store_id": "demo-store"}, headers=hq, key=f"k-{fresh_phone()}")
    assert made.status_code == 201, made.text
    old = made.json()
    assert _register(api, old).status_code == 201

    rotation = f"rot-{fresh_phone()}"
    rotated = api.call("POST", f"{KEYS}/{old['key_id']}/rotate", {"overlap_hours": 1}, headers=hq, key=rotation)
    assert rotated.status_code == 201, rotated.text
    new = rotated.json()
    assert (new["rotated_from"], new["store_id"], new["capabilities"]) == (old["key_id"], "demo-store", ["pos"])
    # a lost reply, sent again: the same new key and secret, and nothing more made
    again = api.call("POST", f"{KEYS}/{old['key_id']}/rotate", {"overlap_hours": 1}, headers=hq, key=rotation)
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == new
    listed = api.call("GET", KEYS, headers=hq, params={"limit": "100"})
    assert listed.status_code == 200, listed.text
    mine = [k for k in listed.json()["keys"] if old["key_id"] in (k["key_id"], k["rotated_from"])]
    assert [(k["key_id"], k["status"]) for k in mine] == [(old["key_id"], "retiring"), (new["key_id"], "active")]
    assert "secret" not in listed.text

    assert _register(api, old).status_code == 201           # both keys work during the overlap
    assert _register(api, new).status_code == 201
    # the overlap ends (the emulator's item moved past its retires_at; this process reads it again)
    stack.client("dynamodb").update_item(
        TableName=stack.table_names["main"], Key={"pk": {"S": f"APIKEY#{old['key_id']}"}, "sk": {"S": "APIKEY"}},
        UpdateExpression="SET retires_at = :past", ExpressionAttributeValues={":past": {"S": "2026-01-01T00:00:00.000Z"}})
    auth.forget_key(old["key_id"])
    refused = _register(api, old)
    assert refused.status_code == 401 and "rotated: use the new key" in refused.json()["detail"]
    assert _register(api, new).status_code == 201

    stored_old, stored_new = (next(iter(_item(stack, k).values())) for k in (old["key_id"], new["key_id"]))
    assert (stored_old["status"]["S"], stored_old["replaced_by"]["S"]) == ("retiring", new["key_id"])
    assert stored_new["rotated_from"]["S"] == old["key_id"] and stored_new["status"]["S"] == "active"
    assert "last_used_at" in stored_old and "last_used_at" in stored_new
    # no secret anywhere in the table (keys, idempotency records, events)
    everything = readable(list(stored_items(stack, lambda pk, item: True).values()))
    assert old["secret"] not in everything and new["secret"] not in everything
    # rotating it again: 409, nothing changed
    before = _item(stack, old["key_id"])
    twice = api.call("POST", f"{KEYS}/{old['key_id']}/rotate", {}, headers=hq, key=f"rot2-{fresh_phone()}")
    assert twice.status_code == 409 and twice.headers["Content-Type"].startswith("application/problem+json")
    assert _item(stack, old["key_id"]) == before


def test_a_merchant_admin_manages_its_own_keys_but_gives_no_member_login(api, stack):
    admin = _admin(api)
    made = api.call("POST", KEYS, {"capabilities": ["reports"]}, headers=admin, key=f"ma-{fresh_phone()}")
    assert made.status_code == 201, made.text
    assert made.json()["created_by"] == f"staff:ma-{A[1]}"
    listed = api.call("GET", KEYS, headers=admin, params={"limit": "100"}).json()
    assert made.json()["key_id"] in [k["key_id"] for k in listed["keys"]]
    login = api.call("POST", KEYS, {"capabilities": ["member_login"]}, headers=admin, key=f"ml-{fresh_phone()}")
    assert login.status_code == 403
    rotated = api.call("POST", f"{KEYS}/{made.json()['key_id']}/rotate", {}, headers=admin, key=f"mr-{fresh_phone()}")
    assert rotated.status_code == 201, rotated.text
    revoked = api.call("POST", f"{KEYS}/{rotated.json()['key_id']}/revoke", {}, headers=admin, key=f"mv-{fresh_phone()}")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    bad = api.call("POST", f"{KEYS}/{made.json()['key_id']}/rotate", {"overlap_hours": 169}, headers=admin,
                   key=f"mb-{fresh_phone()}")
    assert bad.status_code == 422
