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
