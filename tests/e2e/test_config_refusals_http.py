"""Refusals a console places beside their field, over real HTTP (issue #30, sixth part): a
configuration naming what does not exist (a task rewarding a tier the ladder lacks) answers 422
with ``errors[]`` at the request's field path and saves nothing; the gift card reconciliation's
reply has the fields its model declares in the document, and no other."""

from __future__ import annotations

from chalicelib.api import openapi
from tests.e2e.conftest import fresh_phone
from tests.e2e.test_tenancy_http import A, staff


def test_a_task_rewarding_a_tier_the_ladder_lacks_is_refused_at_its_row_and_saves_nothing(api, stack):
    hq = staff(api, stack, A, "super_admin")
    before = api.call("GET", "/v1/tasks", headers=hq).json()
    ladder = {t["code"] for t in api.call("GET", "/v1/tiers/ladder", headers=hq).json()["ladder"]["tiers"]}
    assert "V9" not in ladder
    tasks = {"tasks": [{"id": "orders", "name": "下单", "kind": "orders", "target": 1, "reward": {"points": 5}},
                       {"id": "vip", "name": "升级", "kind": "orders", "target": 3, "reward": {"tier": "V9", "validity_months": 3}}]}
    r = api.call("PUT", "/v1/tasks", {"tasks": tasks}, headers=hq, key=f"v9-{fresh_phone()}")
    assert r.status_code == 422 and r.headers["Content-Type"].startswith("application/problem+json"), r.text
    problem = r.json()
    assert [e["field"] for e in problem["errors"]] == ["tasks.tasks.1.reward.tier"], problem
    assert "V9" in problem["errors"][0]["message"]
    after = api.call("GET", "/v1/tasks", headers=hq).json()
    assert after["version"] == before["version"] and after["versions"] == before["versions"]


def test_the_gift_card_reconciliation_answers_the_fields_its_model_declares(api, stack):
    reply = api.call("GET", "/v1/gift-cards/reconciliation", headers=staff(api, stack, A, "super_admin"))
    assert reply.status_code == 200, reply.text
    schemas = openapi.document()["components"]["schemas"]
    declared = schemas["GiftCardReconciliationTotal"]
    body = reply.json()
    assert set(declared["required"]) <= set(body) <= set(declared["properties"]), sorted(body)
    assert isinstance(body["cards_checked"], int) and isinstance(body["balanced"], bool)
    progress = schemas["ReconciliationProgress"]["properties"]
    assert set(body["progress"]) <= set(progress)
