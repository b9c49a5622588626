"""Hardening (issue #10) over HTTP: signed requests are good once, the query is signed
unambiguously."""

from __future__ import annotations

import json
import re
import time

import requests

from chalicelib.api.signing import signed_headers
from tests.e2e.conftest import fresh_phone, readable, stored_items


def _member_with_points(api, points_fen=10_000):
    mid = api.call("POST", "/v1/members", {"phone": fresh_phone()}, pos=True, key=fresh_phone()).json()["member_id"]
    assert api.call("POST", f"/v1/members/{mid}/points/earn", {"order_id": f"{mid}-h", "amount_fen": points_fen},
                    pos=True, key=fresh_phone()).status_code == 201
    return mid


def _available(api, mid):
    r = api.call("GET", f"/v1/members/{mid}/points", pos=True)
    assert r.status_code == 200, r.text
    return r.json()["accounts"]["points"]["available"]


def _send(api, method, path, body: bytes, headers, params=None):
    return requests.request(method, api.url + path, data=body or None, params=params, timeout=30,
                            headers={"Content-Type": "application/json", **headers})


def test_a_captured_signed_write_cannot_be_sent_again_under_new_keys(api, stack):
    mid = _member_with_points(api)
    key = stack.credentials["pos_api_key"]
    path, body = f"/v1/members/{mid}/points/redeem", json.dumps({"points": 10, "reward": "sticker"}).encode()
    captured = signed_headers(key["key_id"], key["secret"], "POST", path, body, idempotency_key=f"cap-{mid}")
    assert _send(api, "POST", path, body, captured).status_code == 200
    for n in range(3):                                     # the attacker's replays, each with a fresh key
        rekeyed = {**captured, "Idempotency-Key": f"evil-{mid}-{n}"}
        r = _send(api, "POST", path, body, rekeyed)
        assert r.status_code == 401 and r.headers["Content-Type"] == "application/problem+json"
    resent = _send(api, "POST", path, body, captured)       # the identical request: its first answer
    assert resent.status_code == 200 and resent.headers.get("Idempotent-Replayed") == "true"
    assert _available(api, mid) == 100 - 10


def test_a_signed_read_is_good_once(api, stack):
    mid = _member_with_points(api)
    key = stack.credentials["pos_api_key"]
    path = f"/v1/members/{mid}/points"
    captured = signed_headers(key["key_id"], key["secret"], "GET", path)
    assert _send(api, "GET", path, b"", captured).status_code == 200
    again = _send(api, "GET", path, b"", captured)
    assert again.status_code == 401 and again.json()["type"].endswith("/signature-reused")
    assert _send(api, "GET", path, b"", signed_headers(key["key_id"], key["secret"], "GET", path)).status_code == 200


def test_the_query_is_signed_unambiguously_and_a_repeated_key_is_refused(api, stack):
    card = f"C{fresh_phone()}"
    api.call("POST", "/v1/members", {"phone": fresh_phone(), "identities": [{"type": "card_no", "value": card}]},
             pos=True, key=fresh_phone())
    key = stack.credentials["pos_api_key"]
    path = "/v1/members/lookup"
    meant = {"type": "card_no", "value": card}
    smuggled = signed_headers(key["key_id"], key["secret"], "GET", path, b"", meant)
    r = requests.get(f"{api.url}{path}?type=card_no%26value%3D{card}", headers=smuggled, timeout=30)
    assert r.status_code == 401
    twice = signed_headers(key["key_id"], key["secret"], "GET", path, b"", meant)
    r = requests.get(f"{api.url}{path}?type=card_no&value={card}&value=C13800000000", headers=twice, timeout=30)
    assert r.status_code == 400 and "more than once" in r.json()["detail"]
    ok = signed_headers(key["key_id"], key["secret"], "GET", path, b"", meant)
    assert requests.get(api.url + path, params=meant, headers=ok, timeout=30).status_code == 200


def test_a_revoked_key_is_refused_and_another_merchants_key_cannot_be_revoked(api, stack):
    created = api.call("POST", "/v1/merchants/demo-merchant/api-keys", {"store_id": "demo-store"},
                       headers=api.staff(), key=f"revoke-me-{time.time_ns()}")
    assert created.status_code == 201
    key = {"key_id": created.json()["key_id"], "secret": created.json()["secret"]}
    mid = _member_with_points(api)
    assert api.call("GET", f"/v1/members/{mid}/points", signed_by=key).status_code == 200
    wrong = api.call("POST", f"/v1/merchants/demo-merchant-b/api-keys/{key['key_id']}/revoke", {},
                     headers=api.staff(), key=fresh_phone())
    assert wrong.status_code == 404
    assert api.call("GET", f"/v1/members/{mid}/points", signed_by=key).status_code == 200
    revoked = api.call("POST", f"/v1/merchants/demo-merchant/api-keys/{key['key_id']}/revoke", {},
                       headers=api.staff(), key=fresh_phone())
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    refused = api.call("GET", f"/v1/members/{mid}/points", signed_by=key)
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]


def test_a_retried_key_creation_answers_the_same_key_and_its_record_keeps_no_secret(api, stack):
    """A retry of createApiKey (a lost reply) must not leave a second live key behind, and the
    idempotency record that answers it must not hold the secret in clear."""
    idem = f"key-retry-{time.time_ns()}"
    first = api.call("POST", "/v1/merchants/demo-merchant/api-keys", {"capabilities": ["pos"]},
                     headers=api.staff(), key=idem)
    again = api.call("POST", "/v1/merchants/demo-merchant/api-keys", {"capabilities": ["pos"]},
                     headers=api.staff(), key=idem)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    key = {"key_id": first.json()["key_id"], "secret": again.json()["secret"]}
    assert api.call("GET", f"/v1/members/{_member_with_points(api)}/points", signed_by=key).status_code == 200
    other = api.call("POST", "/v1/merchants/demo-merchant/api-keys", {"capabilities": ["reports"]},
                     headers=api.staff(), key=idem)                 # the same key, another body
    assert other.status_code == 422
    stored = list(stored_items(stack, lambda pk, i: key["key_id"] in readable(i)).values())
    assert {i["sk"]["S"] for i in stored} >= {"APIKEY"} and len(stored) >= 2     # the key and the record
    assert not any(key["secret"] in readable(i) for i in stored)


def test_personal_identities_stay_out_of_urls_and_logs(api):
    phone = fresh_phone()
    mid = api.call("POST", "/v1/members", {"phone": phone}, pos=True, key=fresh_phone()).json()["member_id"]
    in_url = api.call("GET", "/v1/members/lookup", params={"type": "phone", "value": phone}, pos=True)
    assert in_url.status_code == 422 and "POST /v1/members/lookup" in in_url.json()["detail"]
    in_body = api.call("POST", "/v1/members/lookup", {"type": "phone", "value": phone}, pos=True)
    assert in_body.status_code == 200 and in_body.json()["member_id"] == mid
    from devstack.stack import _log_without_query
    written = []

    class Handler:
        command, path = "GET", f"/v1/members/lookup?type=phone&value={phone}"

        def log_message(self, fmt, *args):
            written.append(fmt % args)
    _log_without_query(Handler(), 422, 100)
    assert written == ['"GET /v1/members/lookup" 422 100']


def test_a_members_own_profile_reply_is_remembered_for_a_day_not_ninety(api, stack):
    import time

    from chalicelib.api.idempotency import IdempotencyRecord
    from chalicelib.db.uow import UnitOfWork
    phone = fresh_phone()
    mid = api.call("POST", "/v1/members", {"phone": phone}, pos=True, key=fresh_phone()).json()["member_id"]
    token = api.call("POST", "/v1/auth/member-tokens", {"member_id": mid, "verified_by": "sms_otp"},
                     login=True).json()["token"]
    own = api.call("PATCH", "/v1/members/me", {"name": "Li"}, headers=api.bearer(token), key=f"own-{mid}")
    assert own.status_code == 200 and own.json()["phone"] == f"+86{phone}"          # revealed to its owner
    earned = api.call("POST", f"/v1/members/{mid}/points/earn", {"order_id": f"{mid}-p", "amount_fen": 100},
                      pos=True, key=f"earn-{mid}")
    assert earned.status_code == 201
    uow = UnitOfWork()
    member_record = IdempotencyRecord.find(uow, f"member:-:-:{mid}", f"own-{mid}")
    assert member_record is not None and "+86" + phone in member_record.body
    assert int(member_record.expires_at) <= time.time() + 24 * 3600 + 60
    pos_record = IdempotencyRecord.find(uow, "merchant:demo-merchant:demo-store:ak_local_demo_pos", f"earn-{mid}")
    assert pos_record is not None and int(pos_record.expires_at) > time.time() + 80 * 86400


def test_a_callers_correlation_id_is_taken_only_when_plain(api):
    """Issue #20 item 13: a 4,000-character X-Correlation-Id was echoed and logged. A caller's id is
    taken when it is 1-64 of [A-Za-z0-9._-]; anything else gets a new one, echoed and logged instead."""
    from tests.e2e.conftest import captured_logs
    plain = re.compile(r"[A-Za-z0-9._-]{1,64}")
    good = "till-7.order_42-" + "x" * 48
    r = api.call("GET", "/health", headers={"X-Correlation-Id": good})
    assert r.status_code == 200 and r.headers["X-Correlation-Id"] == good
    for bad in ("A" * 4000, "x" * 65, "<script>alert(1)</script>", "id with spaces", "ok;evil=1", "caf\xe9", "a/b", ""):
        with captured_logs() as logs:
            r = api.call("GET", "/health", headers={"X-Correlation-Id": bad})
        echoed = r.headers["X-Correlation-Id"]
        assert r.status_code == 200 and plain.fullmatch(echoed) and echoed != bad, (bad, echoed)
        assert (bad not in logs.getvalue()) if bad else True
        assert echoed in logs.getvalue()
    # a refused write too: the problem's reply carries the new id, and nothing of the header
    with captured_logs() as logs:
        r = api.call("POST", "/v1/members", {"phone": "nope"}, headers={"X-Correlation-Id": "Z" * 4000}, pos=True,
                     key=fresh_phone())
    assert r.status_code == 422 and len(r.headers["X-Correlation-Id"]) <= 64 and "Z" * 65 not in r.text
    assert "Z" * 65 not in logs.getvalue()


def test_a_signed_requests_timestamp_is_ascii_digits_of_sane_length(api, stack):
    """Same class (a header taken from the caller): X-Timestamp of 5,000 digits was a 500 (int()'s
    digit limit), and non-ASCII digits passed isdigit(). Both are 401, like any bad timestamp."""
    key = stack.credentials["pos_api_key"]
    for bad in ("9" * 5000, "-1", "1e9", "0x65"):
        headers = signed_headers(key["key_id"], key["secret"], "GET", "/v1/members", b"", {"start": "2026-01-01"})
        headers["X-Timestamp"] = bad
        r = _send(api, "GET", "/v1/members", b"", headers, params={"start": "2026-01-01"})
        assert r.status_code == 401, (bad, r.status_code, r.text)
        assert r.json()["type"].endswith("/unauthenticated") and bad not in r.text


def test_an_unknown_route_never_echoes_a_credential(api):
    r = requests.get(api.url + "/v1/no-such-thing", headers={"Authorization": "Bearer sekrit-token-value"}, timeout=30)
    assert r.status_code in (403, 404) and "sekrit" not in r.text
