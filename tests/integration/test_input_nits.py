"""Small input refusals found by a black-box attack (s48, finding 11), through the app on each
backend: each was accepted, and is now 422 with nothing changed."""

from __future__ import annotations

import pytest

from tests.integration.conftest import seed_merchants


@pytest.mark.parametrize("name", ["\u200b", "\u200b\u200d", " \u2060 ", "\ufeff"], ids=["zwsp", "zwsp-zwj", "wj", "bom"])
def test_a_name_with_nothing_visible_is_refused(api, name):
    member = api.member("13800470001")
    status, problem = api.call("PATCH", f"/v1/members/{member}", {"name": name})
    assert status == 422 and "visible" in problem["detail"] + str(problem.get("errors")), problem
    assert api.ok("GET", f"/v1/members/{member}")["name"] is None
    assert api.call("PATCH", f"/v1/members/{member}", {"name": "Mei\u200bLi"})[0] == 200   # inside a name: kept


def test_list_members_with_start_after_end_is_refused(api):
    seed_merchants()
    status, problem = api.call("GET", "/v1/members?merchant_id=m1&start=2026-12-05&end=2026-12-01")
    assert status == 422 and "end" in str(problem), problem
    assert api.call("GET", "/v1/members?merchant_id=m1&start=2026-12-01&end=2026-12-01")[0] == 200


def test_an_api_key_s_capabilities_are_named_once(api):
    seed_merchants()
    status, problem = api.call("POST", "/v1/merchants/m1/api-keys", {"store_id": "s1", "capabilities": ["pos", "pos"]})
    assert status == 422 and "unique" in str(problem), problem
    assert api.ok("GET", "/v1/merchants/m1/api-keys")["keys"] == []


@pytest.mark.parametrize("birthday", ["1990-05-01T00:00:00Z", "1990-05-01T00:00:00", "19900501", "1990-5-1"])
def test_a_birthday_is_a_date_not_a_date_time(api, birthday):
    """The document says ``format: date``; a date-time at midnight was taken as the date."""
    status, problem = api.call("POST", "/v1/members", {"phone": "13800470002", "birthday": birthday})
    assert status == 422 and "birthday" in str(problem), problem
    member = api.member("13800470003")
    assert api.call("PATCH", f"/v1/members/{member}", {"birthday": birthday})[0] == 422
    assert api.ok("GET", f"/v1/members/{member}")["birthday"] is None
    assert api.ok("PATCH", f"/v1/members/{member}", {"birthday": "1990-05-01"})["birthday"] == "1990-05-01"


def test_a_body_sent_without_a_content_type_is_415(api):
    """errors.md: a body not sent as ``Content-Type: application/json`` is 415. With no
    Content-Type at all it was taken as JSON (201)."""
    import json
    headers = {"Authorization": "Bearer " + api.token, "Idempotency-Key": "no-type"}
    r = api.client.http.post("/v1/members", headers=headers, body=json.dumps({"phone": "13800470004"}))
    assert r.status_code == 415 and json.loads(r.body)["type"].endswith("/unsupported-media-type"), r.body
    assert api.call("POST", "/v1/members/lookup", {"type": "phone", "value": "13800470004"})[0] == 404
    assert api.call("POST", "/v1/members", {"phone": "13800470004"}, key="no-type")[0] == 201   # the key unused
