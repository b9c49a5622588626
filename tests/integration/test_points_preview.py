"""The earn rules' dry run (``previewEarn``) through the app on every backend: it answers what
``earnPoints`` then earns for the same order (tier, benefit, steps, lines, caps), evaluates an
unsaved version or a scheduled one, and writes nothing."""

from datetime import UTC, datetime, timedelta

from chalicelib.shared import clock
from chalicelib.shared.credentials import mint_token
from tests.integration.test_benefits import RULES as BENEFITS
from tests.integration.test_tiers import LADDER, earn
from tests.outbox import outbox_events

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
POINTS = {"points_per_yuan": "1", "steps": [{"min_amount_fen": 10_000, "multiplier": "1.5"}],
          "category_multipliers": {"tea": "2"}, "store_multipliers": {"s1": "1.1"},
          "tier_multipliers": {"V2": "1.2"}, "caps": {"per_day": 500}, "pending_days": 3,
          "expiry": {"policy": "days", "days": 100}}


def preview(api, **order):
    return api.ok("POST", "/v1/points/rules/preview", {"merchant_id": "m1", **order})


def written(api, mid):
    """What a booking would change: the events, the member's accounts and postings."""
    return (len(outbox_events(None)), api.ok("GET", f"/v1/members/{mid}/points"),
            api.ok("GET", f"/v1/members/{mid}/points/ledger"))


def _program(api):              # (merchants m1 with store s1, and m2: the conftest's)
    clock.freeze(T0)
    api.ok("PUT", "/v1/tiers/ladder", {"ladder": LADDER, "effective_from": "2026-01-01T00:00:00Z"})
    api.ok("PUT", "/v1/benefits/rules", {"rules": BENEFITS, "effective_from": "2026-01-01T00:00:00Z"})
    api.ok("PUT", "/v1/points/rules", {"rules": POINTS, "effective_from": "2026-01-01T00:00:00Z"})


def test_the_preview_answers_what_earning_then_earns_and_writes_nothing(api):
    _program(api)
    mid = api.member("13800139301")
    earn(api, mid, "o0", 20)                                     # growth 20: V1, untiered multiplier
    orders = [dict(amount_fen=12_345), dict(amount_fen=12_000, store_id="s1"),
              dict(amount_fen=9_000, lines=[{"category": "tea", "amount_fen": 3_000}, {"sku": "x", "amount_fen": 6_000}]),
              dict(amount_fen=50_000, paid_with_points_fen=10_000)]   # the third meets the day cap
    for i, order in enumerate(orders):
        before = written(api, mid)
        seen = preview(api, member_id=mid, **order)
        assert written(api, mid) == before                               # no posting, no event, no account
        done = earn(api, mid, f"o{i + 1}", 0, **{**order, "amount_fen": order["amount_fen"]})
        assert (seen["points"], seen["growth"], seen["explanation"]) == \
            (done["points"], done["growth"], done["explanation"]), order
        assert seen["rules_version"] == done["rules_version"] == 1
        assert seen["pending"] is (done["points"] > 0) and seen["expires_on"] == done.get("expires_on")
    assert [line for line in seen["explanation"] if "capped" in line] == ["capped by day limit to 0"]
    assert done["points"] == 0          # the fourth: the day's cap (500) met by the third


def test_the_member_s_tier_and_benefit_apply_as_they_would_to_an_order(api):
    _program(api)
    mid = api.member("13800139302")
    earn(api, mid, "o1", 6_000)                                  # 6,000 growth: Gold (V3), benefit x1.5
    assert preview(api, member_id=mid, amount_fen=100)["explanation"][-1] == "capped by day limit to 0"
    clock.freeze(T0 + timedelta(days=1))                         # a new day: its cap unused
    seen = preview(api, member_id=mid, amount_fen=100)
    assert seen["tier"] == "V3" and seen["points"] == 1 and "benefit gold x1.5" in seen["explanation"]
    assert preview(api, amount_fen=100)["tier"] is None           # without a member: untiered


def test_an_unsaved_version_is_evaluated_and_not_saved(api):
    _program(api)
    saved = api.ok("GET", "/v1/points/rules")
    trial = {**POINTS, "points_per_yuan": "3", "steps": []}
    seen = preview(api, amount_fen=10_000, rules=trial)
    assert seen["rules_version"] is None and seen["points"] == 300 and seen["growth"] == 100
    assert preview(api, amount_fen=10_000)["points"] == 150      # the saved one: the step x1.5
    assert api.ok("GET", "/v1/points/rules")["versions"] == saved["versions"]


def test_a_scheduled_version_applies_from_its_start(api):
    _program(api)
    later = T0 + timedelta(days=10)
    api.ok("PUT", "/v1/points/rules", {"rules": {**POINTS, "points_per_yuan": "2"}, "effective_from": later.isoformat()})
    assert preview(api, amount_fen=1_000)["points"] == 10
    future = preview(api, amount_fen=1_000, occurred_at=(later + timedelta(hours=1)).isoformat())
    assert future["points"] == 20 and future["rules_version"] == 2


def test_bad_orders_and_other_merchants_are_refused(api):
    _program(api)
    status, problem = api.call("POST", "/v1/points/rules/preview", {"merchant_id": "m1", "amount_fen": 100,
                                                                     "lines": [{"amount_fen": 99}]})
    assert status == 422 and "add up" in str(problem)
    status, problem = api.call("POST", "/v1/points/rules/preview", {"merchant_id": "m1", "amount_fen": 100,
                                                                     "rules": {"points_per_yuan": "-1"}})
    assert status == 422 and problem["errors"][0]["field"].startswith("rules.points_per_yuan")
    clerk = mint_token("staff", "c1", 60, role="clerk", merchant_id="m1", store_id="s1")
    status, _ = api.call("POST", "/v1/points/rules/preview", {"merchant_id": "m2", "amount_fen": 100}, token=clerk)
    assert status == 403
    assert api.ok("POST", "/v1/points/rules/preview", {"amount_fen": 100}, token=clerk)["points"] == 1
    status, _ = api.call("POST", "/v1/points/rules/preview", {"amount_fen": 100, "member_id": "01J0000000000000000000NOPE"})
    assert status == 404
