"""The earn rules' dry run over real HTTP, as a configuration page and a till call it: the till
asks what an order would earn, then books it and earns exactly that; staff try an unsaved
version; nothing of the member's changes until the order is booked."""

from __future__ import annotations

from devstack.credentials import staff_token
from tests.e2e.conftest import fresh_phone
from tests.e2e.test_tenancy_http import A, pos, register_at, staff

PREVIEW = "/v1/points/rules/preview"


def test_a_till_previews_an_order_then_earns_exactly_that_and_staff_try_an_unsaved_version(api, stack):
    bob, _ = register_at(api, stack, A)
    till = pos(stack, A)
    order = {"amount_fen": 23_456, "lines": [{"category": "tea", "amount_fen": 20_000}, {"sku": "cup", "amount_fen": 3_456}]}
    before = api.call("GET", f"/v1/members/{bob}/points/ledger", signed_by=till).json()
    seen = api.call("POST", PREVIEW, {**order, "member_id": bob}, signed_by=till)
    assert seen.status_code == 200, seen.text
    assert api.call("GET", f"/v1/members/{bob}/points/ledger", signed_by=till).json() == before    # nothing booked
    again = api.call("POST", PREVIEW, {**order, "member_id": bob}, signed_by=till)
    assert again.json() == seen.json()                 # no idempotency record: each call evaluates anew
    earned = api.call("POST", f"/v1/members/{bob}/points/earn", {**order, "order_id": f"pv-{fresh_phone()}"},
                      signed_by=till, key=f"pv-{fresh_phone()}")
    assert earned.status_code == 201, earned.text
    figures = ("points", "growth", "explanation", "rules_version")
    assert {k: seen.json()[k] for k in figures} == {k: earned.json()[k] for k in figures}
    assert seen.json()["points"] > 0 and seen.json()["explanation"][0] == "eligible 23456 fen"

    hq = staff(api, stack, A, "super_admin")
    trial = {"points_per_yuan": "2", "category_multipliers": {"tea": "3"}}
    tried = api.call("POST", PREVIEW, {**order, "merchant_id": A[1], "rules": trial}, headers=hq)
    assert tried.status_code == 200, tried.text
    # (20,000 x 3 + 3,456) x 2 / 100 = 1,269.12: floored
    assert tried.json()["points"] == 1_269 and tried.json()["rules_version"] is None
    refused = api.call("POST", PREVIEW, {**order, "merchant_id": A[1], "rules": {"rounding": "up"}}, headers=hq)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "rules.rounding"
    auditor = api.bearer(staff_token("auditor", "pv-auditor", program_id=A[0]))   # a read sent as a POST
    assert api.call("POST", PREVIEW, {**order, "merchant_id": A[1]}, headers=auditor).status_code == 200
