"""Bad input: a clear problem+json 4xx, and nothing changed."""

import json

import pytest

from tests.e2e.conftest import fresh_phone


def events_count(stack):
    from chalicelib.db.outbox import EventItem
    return EventItem.count()


@pytest.mark.parametrize("body,status,field", [
    ({"phone": "12345"}, 422, "phone"),
    ({"phone": "13800138000", "gender": "robot"}, 422, "gender"),
    ({"phone": "13800138000", "unknown_field": 1}, 422, "unknown_field"),
    ({"phone": "13800138000", "birthday": "2999-01-01"}, 422, "birthday"),
    ({"phone": "13800138000", "custom_fields": {"bad key!": 1}}, 422, "custom_fields"),
    ({"phone": 13800138000}, 422, "phone"),
    ({}, 422, "identity"),
    ({"identities": [{"type": "qq", "value": "123456"}]}, 422, "identities"),
    ({"phone": "13800138000", "email": "nope"}, 422, "email"),
])
def test_invalid_registrations(api, stack, body, status, field):
    before = events_count(stack)
    r = api.call("POST", "/v1/members", body, headers=api.staff(), key="bad-" + fresh_phone())
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"] == "application/problem+json"
    problem = r.json()
    assert problem["status"] == status and problem["type"].startswith("https://") and field in r.text
    assert events_count(stack) == before


def test_malformed_json_and_missing_key(api, stack):
    before = events_count(stack)
    r = api.call("POST", "/v1/members", raw=b"{not json", headers=api.staff(), key="k-malformed")
    assert r.status_code == 400 and r.json()["type"].endswith("/malformed-request")
    r = api.call("POST", "/v1/members", {"phone": fresh_phone()}, headers=api.staff())
    assert r.status_code == 400 and r.json()["type"].endswith("/idempotency-key-required")
    r = api.call("POST", "/v1/members", raw=b"[1,2]", headers=api.staff(), key="k-array")
    assert r.status_code == 422
    r = api.call("POST", "/v1/members", raw=json.dumps({"phone": "x" * 300}).encode(), headers=api.staff(), key="k-long")
    assert r.status_code == 422
    assert events_count(stack) == before


def test_oversized_body_and_bad_paths(api, stack):
    r = api.call("POST", "/v1/members", raw=b'{"name":"' + b"x" * 300_000 + b'"}', headers=api.staff(), key="k-big")
    assert r.status_code == 413
    r = api.call("GET", "/v1/members/" + "x" * 200, headers=api.staff())
    assert r.status_code == 404 and r.headers["Content-Type"] == "application/problem+json"
    r = api.call("GET", "/v1/members/lookup", params={"type": "card_no"}, headers=api.staff())
    assert r.status_code == 422 and "value" in r.text
    r = api.call("GET", "/v1/stats/daily", params={"start": "2026-02-01", "end": "2026-01-01"}, headers=api.staff())
    assert r.status_code == 422


def test_patch_with_nothing_to_change(api):
    mid = api.call("POST", "/v1/members", {"phone": fresh_phone()}, headers=api.staff(), key=fresh_phone()).json()["member_id"]
    r = api.call("PATCH", f"/v1/members/{mid}", {}, headers=api.staff(), key="empty-" + mid)
    assert r.status_code == 422
    r = api.call("PATCH", f"/v1/members/{mid}", {"name": ""}, headers=api.staff(), key="blank-" + mid)
    assert r.status_code == 422
    assert api.call("GET", f"/v1/members/{mid}", headers=api.staff()).json()["version"] == 1


@pytest.mark.parametrize("body,field", [({"phone": "12345"}, "phone"), ({"phone": "not a phone"}, "phone"),
                                        ({"phone": "13800138000", "email": "nope"}, "email")])
def test_a_refused_identity_names_its_field(api, body, field):
    """Found by the console: a form shows a refusal beside its field only from ``errors[]``."""
    r = api.call("POST", "/v1/members", body, headers=api.staff(), key="bad-" + fresh_phone())
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == [field], r.text
