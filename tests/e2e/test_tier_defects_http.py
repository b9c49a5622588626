"""Issue #20 over HTTP, as the outside integrator called it (items 2, 3, 4, 5 and 15 in part):
each test sends what they sent and checks the answer and the data left behind. Tiers, benefits
and tasks run in a program of their own, so their configuration touches nobody else's."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest

from chalicelib.shared.credentials import mint_token
from tests.e2e.conftest import fresh_phone
from tests.e2e.test_tenancy_http import A, pos, register_at, staff

PROGRAM = "tier-defects-e2e"
LADDER = {"tiers": [{"code": "V1", "name": "普通", "threshold": 0},
                    {"code": "V2", "name": "白银", "threshold": 1_000, "validity_months": 12},
                    {"code": "V3", "name": "黄金", "threshold": 5_000, "validity_months": 12, "retain": 3_000}],
          "downgrade": "one_step", "growth_at_period_end": "carry_over"}


@pytest.fixture(scope="module")
def hq(api, stack):
    platform = api.bearer(stack.credentials["staff_tokens"]["platform_admin"])
    assert api.call("POST", "/v1/programs", {"program_id": PROGRAM, "name": "Tier defects"}, headers=platform,
                    key=f"prog-{PROGRAM}").status_code in (201, 409)
    headers = api.bearer(mint_token("staff", "defects-admin", 60, role="super_admin", program_id=PROGRAM))
    assert api.call("POST", "/v1/merchants", {"merchant_id": "shop", "name": "Shop"}, headers=headers,
                    key="shop").status_code in (201, 409)
    put(api, headers, "/v1/tiers/ladder", {"ladder": LADDER})
    return headers


def put(api, headers, path, body, status=201):
    r = api.call("PUT", path, body, headers=headers, key=f"{path}-{fresh_phone()}")
    assert r.status_code == status, r.text
    return r.json()


def version(api, headers, path):
    return api.call("GET", path, headers=headers).json()["version"]


def test_a_purchase_without_a_payment_is_a_422_and_a_trial_is_once(api, stack):
    """Item 2: a POS sent ``{"plan", "amount_fen": 1}`` with no payment_ref: a free full period."""
    hq = staff(api, stack, A, "super_admin")
    plans = {"plans": [{"code": "PLUSY", "name": "PLUS 年卡", "period": "year", "price_fen": 25_600,
                        "trial_days": 7}], "refund_policy": "prorated"}
    put(api, hq, "/v1/memberships/plans", {"plans": plans})
    bob, _ = register_at(api, stack, A)
    url = f"/v1/members/{bob}/membership/purchase"
    for n, body in enumerate(({"plan": "PLUSY", "amount_fen": 1}, {"plan": "PLUSY", "amount_fen": 25_600},
                              {"plan": "PLUSY", "payment_ref": f"WX-{bob}"}, {"plan": "PLUSY"})):
        r = api.call("POST", url, body, signed_by=pos(stack, A), key=f"free-{n}-{bob}")
        assert r.status_code == 422 and r.headers["Content-Type"] == "application/problem+json", r.text
    shown = api.call("GET", f"/v1/members/{bob}/membership", headers=hq).json()
    assert (shown["status"], shown["history"]) == ("none", [])
    trial = api.call("POST", url, {"plan": "PLUSY", "trial": True}, signed_by=pos(stack, A), key=f"t1-{bob}")
    assert trial.status_code == 201 and trial.json()["periods"][0]["price_fen"] == 0
    again = api.call("POST", url, {"plan": "PLUSY", "trial": True}, signed_by=pos(stack, A), key=f"t2-{bob}")
    assert again.status_code == 409
    done = api.call("POST", f"/v1/members/{bob}/membership/cancel", {"reason": "trial over"}, headers=hq,
                    key=f"c-{bob}")
    assert done.status_code == 200 and done.json()["refund_fen"] == 0


def test_a_downgrade_is_not_undone_by_a_one_yuan_order(api, hq):
    """Item 3: reviewed down from V3 to V2 with 7,999 growth, a ¥1 order (7,999 -> 8,000) put the
    member back at V3 with a new validity, though no threshold was crossed."""
    r = api.call("POST", "/v1/members", {"phone": fresh_phone(), "merchant_id": "shop"}, headers=hq,
                 key=fresh_phone())
    mid = r.json()["member_id"]

    def earn(yuan):
        r = api.call("POST", f"/v1/members/{mid}/points/earn", {"order_id": f"o-{fresh_phone()}",
                     "merchant_id": "shop", "amount_fen": yuan * 100}, headers=hq, key=fresh_phone())
        assert r.status_code == 201, r.text

    def tier(until=lambda seen: True):
        deadline = time.time() + 10
        while True:
            seen = api.call("GET", f"/v1/members/{mid}/tier", headers=hq).json()
            if until(seen) or time.time() > deadline:
                return seen
            time.sleep(0.05)

    earn(5_000)
    earn(2_999)                                                   # one short of the retention of 3,000
    seen = tier(lambda s: s["growth"] == 7_999 and s["period_growth"] == 2_999)
    assert seen["tier"]["code"] == "V3"
    after = date.fromisoformat(seen["valid_until"]) + timedelta(days=1)
    r = api.call("POST", "/v1/jobs/tier-review/runs", {"as_of": f"{after.isoformat()}T02:00:00Z",
                                                       "program_id": PROGRAM}, headers=api.staff("platform_admin"), key=fresh_phone())
    assert r.status_code in (200, 201) and r.json()["result"]["downgraded"] >= 1, r.text   # other programs' too
    down = tier()
    assert (down["tier"]["code"], down["growth"]) == ("V2", 7_999)
    earn(1)
    now = tier(lambda s: s["growth"] == 8_000)
    time.sleep(0.5)                                               # the stream's tier consumer has run too
    now = tier()
    assert (now["tier"]["code"], now["growth"], now["valid_until"]) == ("V2", 8_000, down["valid_until"])
    changes = api.call("GET", f"/v1/members/{mid}/tier/history", headers=hq).json()["changes"]
    assert [(c["from"], c["to"], c["cause"]) for c in changes] == [("V3", "V2", "downgrade"),
                                                                    ("V1", "V3", "crossing")]


@pytest.mark.parametrize(("path", "field", "body"), [
    ("/v1/tasks", "tasks", {"tasks": [{"id": "three", "name": "三单", "kind": "orders", "target": 3,
                                       "reward": {"tier": "V9", "validity_months": 3}}]}),
    ("/v1/benefits/rules", "rules", {"rules": [{"id": "x", "name": "x", "when": {"min_tier": "V9"},
                                                "give": [{"kind": "free_shipping"}]}]}),
    ("/v1/benefits/rules", "rules", {"rules": [{"id": "x", "name": "x", "when": {"tiers": ["V9"]},
                                                "give": [{"kind": "free_shipping"}]}]}),
    ("/v1/benefits/rules", "rules", {"rules": [{"id": "x", "name": "x", "when": {"plans": ["NOPE"]},
                                                "give": [{"kind": "free_shipping"}]}]}),
    ("/v1/benefits/rules", "rules", {"rules": [{"id": "x", "name": "x", "when": {},
                                                "give": [{"kind": "points_multiplier", "multiplier": "NaN"}]}]}),
    ("/v1/benefits/rules", "rules", {"rules": [{"id": "x", "name": "x", "when": {},
                                                "give": [{"kind": "points_multiplier", "multiplier": "sNaN"}]}]}),
    ("/v1/points/rules", "rules", {"tier_multipliers": {"V9": "2"}}),
])
def test_configuration_naming_nothing_or_not_a_number_is_a_422_and_saves_nothing(api, hq, path, field, body):
    """Items 4 and 15: these were a 201 that never matched, or (NaN, sNaN) a 500."""
    before = version(api, hq, path)
    r = api.call("PUT", path, {field: body}, headers=hq, key=f"bad-{fresh_phone()}")
    assert r.status_code == 422 and r.headers["Content-Type"] == "application/problem+json", r.text
    assert version(api, hq, path) == before


def test_a_ladder_that_would_orphan_a_task_reward_is_refused(api, hq):
    task = {"id": "three", "name": "三单", "kind": "orders", "target": 3, "reward": {"tier": "V3",
                                                                                  "validity_months": 3}}
    put(api, hq, "/v1/tasks", {"tasks": {"tasks": [task]}})
    ladder = version(api, hq, "/v1/tiers/ladder")
    problem = put(api, hq, "/v1/tiers/ladder", {"ladder": {**LADDER, "tiers": LADDER["tiers"][:2]}}, status=422)
    assert "V3" in problem["detail"] and "tasks" in problem["detail"]
    assert version(api, hq, "/v1/tiers/ladder") == ladder
    put(api, hq, "/v1/tasks", {"tasks": {"tasks": []}})


def test_a_member_sets_their_birthday_once(api):
    """Item 5: a member PATCHed their birthday to today before every order."""
    phone = fresh_phone()
    r = api.call("POST", "/v1/members", {"phone": phone}, pos=True, key="bd-" + phone)
    mid = r.json()["member_id"]
    minted = api.call("POST", "/v1/auth/member-tokens", {"identity": {"type": "phone", "value": phone},
                                                         "verified_by": "sms_otp"}, login=True)
    me = api.bearer(minted.json()["token"])
    first = api.call("PATCH", "/v1/members/me", {"birthday": "1990-05-01"}, headers=me, key="b1-" + mid)
    assert first.status_code == 200 and first.json()["birthday"] == "1990-05-01"
    today = date.today().isoformat()
    again = api.call("PATCH", "/v1/members/me", {"birthday": today}, headers=me, key="b2-" + mid)
    assert again.status_code == 409 and again.json()["type"].endswith("/birthday-locked")
    assert api.call("PATCH", f"/v1/members/{mid}", {"birthday": today}, login=True,
                    key="b3-" + mid).status_code == 409
    assert api.call("GET", "/v1/members/me", headers=me).json()["birthday"] == "1990-05-01"
    fixed = api.call("PATCH", f"/v1/members/{mid}", {"birthday": "1990-06-01", "reason": "ID card"},
                     headers=api.staff(), key="b4-" + mid)
    assert fixed.status_code == 200 and fixed.json()["birthday"] == "1990-06-01"
    trail = api.call("GET", f"/v1/members/{mid}/audit", headers=api.staff()).json()
    assert any(e["action"] == "birthday_changed" for e in trail["entries"]), trail
