"""The benefits engine through the app on every backend: rules by tier, paid plan, birthday and
member day; the best of each kind with its reason; what the next tier would add; the multiplier
inside earning; coupon packs granted on upgrade (once, from the stream) and claimed once a period."""

from datetime import UTC, datetime

import pytest

from chalicelib.shared import clock
from tests.integration.test_tiers import LADDER, deliver, earn

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)          # 2026-03-01, noon in Shanghai
RULES = {"rules": [
    {"id": "silver-welcome", "name": "Silver welcome pack", "when": {"tiers": ["V2"]},
     "give": [{"kind": "coupon_pack", "ref": "PACK-SILVER", "grant": "on_upgrade"}]},
    {"id": "gold", "name": "Gold and above", "when": {"min_tier": "V3"},
     "give": [{"kind": "points_multiplier", "multiplier": "1.5"}, {"kind": "discount_percent", "percent": 5},
              {"kind": "free_shipping"}]},
    {"id": "plus", "name": "PLUS members", "when": {"paid": True},
     "give": [{"kind": "points_multiplier", "multiplier": "2"},
              {"kind": "coupon_pack", "ref": "PACK-PLUS", "grant": "monthly"}]},
    {"id": "birthday", "name": "Birthday month", "when": {"birthday": "month"},
     "give": [{"kind": "coupon_pack", "ref": "PACK-BDAY", "grant": "on_birthday"}]},
    {"id": "member-day", "name": "Member day", "when": {"member_day": 18, "min_tier": "V2"},
     "give": [{"kind": "discount_percent", "percent": 10}]},
]}


@pytest.fixture
def program(api):
    clock.freeze(T0)
    api.ok("PUT", "/v1/tiers/ladder", {"ladder": LADDER, "effective_from": "2026-01-01T00:00:00Z"})
    api.ok("PUT", "/v1/benefits/rules", {"rules": RULES, "effective_from": "2026-01-01T00:00:00Z"})
    api.ok("PUT", "/v1/memberships/plans", {"plans": {"plans": [
        {"code": "PLUS-Y", "name": "PLUS", "period": "year", "price_fen": 12_800}]},
        "effective_from": "2026-01-01T00:00:00Z"})


def benefits(api, mid):
    return api.ok("GET", f"/v1/members/{mid}/benefits")


def test_benefits_follow_the_tier_and_the_next_tier_says_what_it_adds(api, program):
    mid = api.ok("POST", "/v1/members", {"phone": "13800139201", "birthday": "1990-07-09"})["member_id"]
    now = benefits(api, mid)
    assert now["tier"] == "V1" and now["benefits"] == []
    assert [g["rule"] for g in now["next_tier"]["would_gain"]] == ["silver-welcome"]
    earn(api, mid, "o1", 6_000)                                   # to Gold (past Silver)
    now = benefits(api, mid)
    assert now["tier"] == "V3"
    assert now["best"]["points_multiplier"] == "1.5" and now["best"]["discount_percent"] == 5
    assert now["best"]["free_shipping"] is True and now["best"]["dedicated_service"] is False
    gold = [g for g in now["benefits"] if g["rule"] == "gold"]
    assert gold[0]["because"] == ["tier V3 >= V3"]
    assert now["next_tier"]["tier"] == "V4" and now["next_tier"]["would_gain"] == []
    later = earn(api, mid, "o2", 100)                             # the multiplier inside earning
    assert later["points"] == 150 and "benefit gold x1.5" in later["explanation"]


def test_the_best_multiplier_wins_and_a_member_day_discount_applies_on_its_day(api, program):
    mid = api.member("13800139202")
    earn(api, mid, "o1", 6_000)
    api.ok("POST", f"/v1/members/{mid}/membership/purchase", {"plan": "PLUS-Y", "payment_ref": "W1",
                                                               "amount_fen": 12_800})
    best = benefits(api, mid)["best"]
    assert (best["points_multiplier"], best["points_multiplier_rule"]) == ("2", "plus")
    assert earn(api, mid, "o2", 100)["points"] == 200
    clock.freeze(datetime(2026, 3, 18, 4, tzinfo=UTC))
    best = benefits(api, mid)["best"]
    assert (best["discount_percent"], best["discount_rule"]) == (10, "member-day")


def test_packs_are_granted_on_upgrade_once_and_claimed_once_a_period(api, program):
    mid = api.ok("POST", "/v1/members", {"phone": "13800139203", "birthday": "1990-03-09"})["member_id"]
    earn(api, mid, "o1", 1_200)                                   # to Silver: its welcome pack
    deliver()                                                     # the stream again
    packs = api.ok("GET", f"/v1/members/{mid}/entitlements")["entitlements"]
    assert [(p["rule"], p["ref"], p["period"]) for p in packs] == [("silver-welcome", "PACK-SILVER", "upgrade:V2:2026-03-01")]
    claim = {"rule": "birthday", "ref": "PACK-BDAY"}
    assert api.ok("POST", f"/v1/members/{mid}/benefits/claim", claim)["period"] == "birthday:2026"
    status, problem = api.call("POST", f"/v1/members/{mid}/benefits/claim", claim)
    assert status == 409 and problem["type"].endswith("/already-granted")
    status, _ = api.call("POST", f"/v1/members/{mid}/benefits/claim", {"rule": "plus", "ref": "PACK-PLUS"})
    assert status == 422                                          # not a PLUS member
    api.ok("POST", f"/v1/members/{mid}/membership/purchase", {"plan": "PLUS-Y", "payment_ref": "W2",
                                                               "amount_fen": 12_800})
    assert api.ok("POST", f"/v1/members/{mid}/benefits/claim", {"rule": "plus", "ref": "PACK-PLUS"})["period"] == "2026-03"
    assert api.call("POST", f"/v1/members/{mid}/benefits/claim", {"rule": "plus", "ref": "PACK-PLUS"})[0] == 409
    clock.freeze(datetime(2026, 4, 1, 4, tzinfo=UTC))
    assert api.ok("POST", f"/v1/members/{mid}/benefits/claim", {"rule": "plus", "ref": "PACK-PLUS"})["period"] == "2026-04"
    assert api.call("POST", f"/v1/members/{mid}/benefits/claim", claim)[0] == 422      # April: not the birthday month
    assert len(api.ok("GET", f"/v1/members/{mid}/entitlements")["entitlements"]) == 4


@pytest.mark.parametrize("bad", [
    {"rules": [{"id": "x", "name": "x", "give": [{"kind": "points_multiplier", "multiplier": "0.5"}]}]},
    {"rules": [{"id": "x", "name": "x", "give": [{"kind": "coupon_pack", "ref": "P"}]}]},
    {"rules": [{"id": "x", "name": "x", "give": [{"kind": "free_shipping"}]},
               {"id": "x", "name": "y", "give": [{"kind": "free_shipping"}]}]},
    {"rules": [{"id": "x", "name": "x", "give": []}]},
    {"rules": [{"id": "x", "name": "x", "when": {"member_day": 32}, "give": [{"kind": "free_shipping"}]}]},
])
def test_bad_rules_are_refused_and_change_nothing(api, program, bad):
    before = api.ok("GET", "/v1/benefits/rules")
    status, problem = api.call("PUT", "/v1/benefits/rules", {"rules": bad})
    assert status == 422 and problem["type"].endswith("/validation-failed")
    assert api.ok("GET", "/v1/benefits/rules") == before


def test_getting_benefits_is_one_request(memory):
    from tests.integration.conftest import AppClient
    api = AppClient()
    clock.freeze(T0)
    api.ok("PUT", "/v1/tiers/ladder", {"ladder": LADDER, "effective_from": "2026-01-01T00:00:00Z"})
    api.ok("PUT", "/v1/benefits/rules", {"rules": RULES, "effective_from": "2026-01-01T00:00:00Z"})
    mid = api.member("13800139204")
    earn(api, mid, "o1", 6_000)
    benefits(api, mid)                                           # rules, ladder and plans are cached after this
    before = memory.requests
    assert benefits(api, mid)["tier"] == "V3"
    assert memory.requests - before == 1
    clock.freeze(None)
