"""An issue to a tier over real HTTP on the local stack (#26 item 2), in a program of its own (its
ladder cannot leak into other tests): HQ issues a template to the Silver tier; the coupon-issues
job gives each Silver member one coupon, and only them (not Gold, not the base tier); the
progress reads done of a total that became final; a replay of the request is the same issue."""

from __future__ import annotations

import pytest

from devstack.credentials import staff_token
from tests.e2e.conftest import fresh_phone

PROGRAM, SHOP = "coupon-tier-issue", "cti-shop"
TPL = "/v1/coupon-templates"
LADDER = {"tiers": [{"code": "V1", "name": "普通会员", "threshold": 0},
                    {"code": "V2", "name": "白银会员", "threshold": 1_000, "validity_months": 12},
                    {"code": "V3", "name": "黄金会员", "threshold": 5_000, "validity_months": 12}]}


@pytest.fixture(scope="module")
def hq(api, stack):
    platform = api.staff("platform_admin")
    made = api.call("POST", "/v1/programs", {"program_id": PROGRAM, "name": "等级发券"}, headers=platform,
                    key="cti-program")
    assert made.status_code in (201, 409), made.text
    head = api.bearer(staff_token("super_admin", "cti-hq", program_id=PROGRAM))
    assert api.call("POST", "/v1/merchants", {"merchant_id": SHOP, "name": "一号店"}, headers=head,
                    key="cti-shop").status_code in (201, 409)
    saved = api.call("PUT", "/v1/tiers/ladder", {"ladder": LADDER}, headers=head, key=f"cti-ladder-{fresh_phone()}")
    assert saved.status_code == 201, saved.text
    return head


def _member(api, hq, yuan):
    phone = fresh_phone()
    made = api.call("POST", "/v1/members", {"phone": phone, "merchant_id": SHOP}, headers=hq, key=f"cti-{phone}")
    assert made.status_code == 201, made.text
    mid = made.json()["member_id"]
    if yuan:
        earned = api.call("POST", f"/v1/members/{mid}/points/earn", {"order_id": f"cti-{phone}", "merchant_id": SHOP,
                                                                    "amount_fen": yuan * 100}, headers=hq,
                          key=f"cti-e-{phone}")
        assert earned.status_code == 201, earned.text
    return mid


def test_hq_issues_a_template_to_a_tier_and_only_its_members_get_the_coupon(api, stack, hq):
    silver = [_member(api, hq, 1_200) for _ in range(4)]
    gold, base = _member(api, hq, 6_000), _member(api, hq, 0)
    stack.drain(30)                                               # the upgrades, then the listing, from the stream
    tiers = {m: api.call("GET", f"/v1/members/{m}/tier", headers=hq).json()["tier"]["code"] for m in [*silver, gold]}
    assert tiers == {**{m: "V2" for m in silver}, gold: "V3"}
    tag = fresh_phone()
    made = api.call("POST", TPL, {"terms": {"kind": "no_threshold", "title": f"白银专享 {tag}", "amount_off_fen": 800,
                                            "validity": {"days_after_claim": 30}},
                                  "stock": 10, "state": "active", "claimable": False}, headers=hq, key=f"cti-t-{tag}")
    assert made.status_code == 201, made.text
    template = made.json()["template_id"]
    started = api.call("POST", f"{TPL}/{template}/issues", {"tier": "V2"}, headers=hq, key=f"cti-i-{tag}")
    assert started.status_code == 202, started.text
    issue = started.json()
    assert (issue["tier"], issue["status"], issue["total"], issue["total_final"]) == ("V2", "issuing", 0, False)
    replay = api.call("POST", f"{TPL}/{template}/issues", {"tier": "V2"}, headers=hq, key=f"cti-i-{tag}")
    assert replay.json()["issue_id"] == issue["issue_id"]        # the same issue, not a second one
    run = api.call("POST", "/v1/jobs/coupon-issues/runs", {"program_id": PROGRAM}, headers=api.staff("platform_admin"),
                   key=f"cti-job-{tag}")
    assert run.status_code in (200, 201), run.text
    shown = api.call("GET", f"/v1/coupon-issues/{issue['issue_id']}", headers=hq).json()
    assert (shown["status"], shown["total"], shown["total_final"], shown["done"], shown["issued"]) == (
        "done", 4, True, 4, 4)
    held = {m: [c["template_id"] for c in api.call("GET", f"/v1/members/{m}/coupons", headers=hq).json()["coupons"]]
            for m in [*silver, gold, base]}
    assert held == {**{m: [template] for m in silver}, gold: [], base: []}
    assert api.call("GET", f"{TPL}/{template}", headers=hq).json()["stock"] == {"total": 10, "left": 6, "taken": 4}
    refused = api.call("POST", f"{TPL}/{template}/issues", {"tier": "V1"}, headers=hq, key=f"cti-b-{tag}")
    assert refused.status_code == 422 and "base tier" in refused.text
