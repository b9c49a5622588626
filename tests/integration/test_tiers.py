"""Tiers through the app on every backend: the ladder, upgrades from the event stream (several
tiers at once, exactly once under redelivery), validity reviews (retention, downgrade, grace,
growth reset), manual floors, and the tier inside earning (multiplier, tier_validity expiry)."""

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.events import dispatch
from chalicelib.shared import clock
from tests.integration.test_points_features import balanced
from tests.outbox import outbox_events

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)          # 12:00 in Shanghai
LADDER = {"tiers": [
    {"code": "V1", "name": "Member", "threshold": 0},
    {"code": "V2", "name": "Silver", "threshold": 1_000, "validity_months": 12},
    {"code": "V3", "name": "Gold", "threshold": 5_000, "validity_months": 12, "retain": 3_000},
    {"code": "V4", "name": "Platinum", "threshold": 20_000, "validity_months": 12},
]}


def deliver():
    """Hand every stored event to its subscribers, oldest first, as the stream would (again and
    again: each subscriber applies an event once)."""
    events = outbox_events(None)
    for event in sorted(events, key=lambda e: (e.occurred_at, e.id)):
        dispatch.dispatch(event)


def earn(api, mid, order, yuan, **extra):
    reply = api.ok("POST", f"/v1/members/{mid}/points/earn",
                   {"order_id": order, "amount_fen": yuan * 100, "merchant_id": "m1", **extra})
    deliver()
    return reply


def tier(api, mid):
    return api.ok("GET", f"/v1/members/{mid}/tier")


def history(api, mid):
    return api.ok("GET", f"/v1/members/{mid}/tier/history")["changes"]


@pytest.fixture
def ladder(api):
    clock.freeze(T0)

    def put(**policy):
        return api.ok("PUT", "/v1/tiers/ladder", {"ladder": {**LADDER, **policy},
                                                  "effective_from": "2026-01-01T00:00:00Z"})
    put()
    return put


def test_an_order_that_crosses_two_thresholds_upgrades_once_to_the_higher_tier(api, ladder):
    mid = api.member("13800139001")
    assert tier(api, mid)["tier"] == {"code": "V1", "name": "Member"}
    earn(api, mid, "o1", 6_000)                                  # growth 1 per ¥1: past Silver and Gold
    now = tier(api, mid)
    assert now["tier"]["code"] == "V3" and now["source"] == "growth"
    assert now["valid_until"] == "2027-02-28" and now["growth"] == 6_000
    assert now["next"] == {"code": "V4", "name": "Platinum", "threshold": 20_000, "growth_needed": 14_000}
    assert now["retain"] == {"needed": 3_000, "growth_needed": 3_000, "by": "2027-02-28"}
    changes = history(api, mid)
    assert [(c["from"], c["to"], c["cause"]) for c in changes] == [("V1", "V3", "crossing")]
    deliver()                                                    # the whole stream again
    assert len(history(api, mid)) == 1
    types = [e.type for e in outbox_events(None)]
    assert types.count("tier.upgraded") == 1


def test_growth_in_the_period_keeps_the_tier_and_too_little_lowers_it_one_step(api, ladder):
    keeper, loser = api.member("13800139002"), api.member("13800139003")
    earn(api, keeper, "k1", 5_000)
    earn(api, loser, "l1", 5_000)
    clock.freeze(T0 + timedelta(days=200))
    earn(api, keeper, "k2", 3_000)                               # meets the retention of 3,000
    earn(api, loser, "l2", 2_999)
    clock.freeze(datetime(2027, 2, 28, 20, tzinfo=UTC))          # 2027-03-01 04:00 in Shanghai
    result = api.run_job("tier-review")
    assert (result["retained"], result["downgraded"], result["items_read"]) == (1, 1, 2)
    kept, lost = tier(api, keeper), tier(api, loser)
    assert (kept["tier"]["code"], kept["valid_until"], kept["period_growth"]) == ("V3", "2028-02-29", 0)
    assert (lost["tier"]["code"], lost["valid_until"]) == ("V2", "2028-02-29")
    assert [c["cause"] for c in history(api, loser)] == ["downgrade", "crossing"]
    assert api.run_job("tier-review")["items_read"] == 0         # nothing due until the next period ends


def test_a_downgrade_is_not_undone_by_the_next_small_order(api, ladder):
    """Issue #20: V3 5,000 (retain 3,000), one_step, carry_over. Reviewed down to V2 with 7,999
    growth, a ¥1 order (7,999 -> 8,000) put the member back at V3: no threshold was crossed. The
    rule: up to the tier left, growth earned since the downgrade must meet the tier's retention."""
    mid, other = api.member("13800139021"), api.member("13800139022")
    for m in (mid, other):
        earn(api, m, f"{m}-a", 5_000)                             # V3 from 2026-03-01, valid to 2027-02-28
        clock.freeze(T0 + timedelta(days=200))
        earn(api, m, f"{m}-b", 2_999)                             # one short of the retention of 3,000
        clock.freeze(T0)
    clock.freeze(datetime(2027, 3, 1, 4, tzinfo=UTC))
    assert api.run_job("tier-review")["downgraded"] == 2
    down = tier(api, mid)
    assert (down["tier"]["code"], down["growth"], down["period_growth"]) == ("V2", 7_999, 0)
    earn(api, mid, "c1", 1)                                       # 7,999 -> 8,000: nothing crossed
    now = tier(api, mid)
    assert (now["tier"]["code"], now["growth"], now["period_growth"], now["valid_until"]) == (
        "V2", 8_000, 1, "2028-02-29")
    assert now["next"]["growth_needed"] == 2_999                  # V3's retention less the period's 1, not 0
    earn(api, mid, "c2", 2_998)                                   # 2,999 since the downgrade: still short
    assert tier(api, mid)["tier"]["code"] == "V2"
    assert [c["cause"] for c in history(api, mid)] == ["downgrade", "crossing"]
    clock.freeze(datetime(2027, 3, 10, 4, tzinfo=UTC))
    earn(api, mid, "c3", 1)                                       # 3,000 since the downgrade: V3 again
    back = tier(api, mid)
    assert (back["tier"]["code"], back["growth"], back["valid_until"], back["period_growth"]) == (
        "V3", 10_999, "2028-03-09", 0)
    assert [(c["from"], c["to"], c["cause"]) for c in history(api, mid)][0] == ("V2", "V3", "crossing")
    # a tier above the one left needs only its threshold, as for anyone: 7,999 + 12,001 = V4's 20,000
    earn(api, other, "d1", 12_001)
    assert tier(api, other)["tier"]["code"] == "V4"


def test_by_growth_downgrade_grace_and_growth_reset(api, ladder):
    ladder(downgrade="by_growth", grace_days=30, growth_at_period_end="reset")
    mid = api.member("13800139004")
    earn(api, mid, "o1", 20_000)                                 # Platinum
    clock.freeze(datetime(2027, 3, 1, 4, tzinfo=UTC))
    api.ok("POST", f"/v1/members/{mid}/points/earn",            # after the period (2027-03-01), before the job
           {"order_id": "o2", "amount_fen": 50_000, "merchant_id": "m1"})
    result = api.run_job("tier-review")
    assert result["grace"] == 1 and tier(api, mid)["tier"]["code"] == "V4"      # kept through the grace
    assert result["growth_reset"] == 20_000                      # reset when the grace begins: o2's 500 stays
    deliver()
    assert tier(api, mid)["grace_until"] == "2027-03-30" and tier(api, mid)["growth"] == 500
    clock.freeze(datetime(2027, 3, 31, 4, tzinfo=UTC))
    result = api.run_job("tier-review")
    assert result["downgraded"] == 1 and result["growth_reset"] == 0
    now = tier(api, mid)
    assert now["tier"]["code"] == "V1"                           # 500 in the period supports no paid tier
    assert now["growth"] == 500                                  # earned after the period: kept
    assert balanced(mid, "growth")["expired"] == 20_000


def test_a_manual_floor_holds_until_its_end_then_the_earned_tier_returns(api, ladder):
    mid = api.member("13800139005")
    earn(api, mid, "o1", 1_500)
    status, problem = api.call("PUT", f"/v1/members/{mid}/tier", {"tier": "V9", "until": "2026-06-30",
                                                                  "reason": "VIP guest"})
    assert status == 422 and "V9" in problem["detail"]
    set_ = api.ok("PUT", f"/v1/members/{mid}/tier", {"tier": "V4", "until": "2026-06-30", "reason": "VIP guest"})
    assert (set_["tier"], set_["source"], set_["earned_tier"]) == ("V4", "manual", "V2")
    assert tier(api, mid)["next"] is None         # found from outside: "next" named V3, below the tier held
    earned = earn(api, mid, "o2", 100)
    assert earned["growth"] == 100
    clock.freeze(datetime(2026, 7, 1, 4, tzinfo=UTC))
    assert api.run_job("tier-review")["manual_ended"] == 1
    now = tier(api, mid)
    assert (now["tier"]["code"], now["source"], now["manual"]) == ("V2", "growth", None)
    assert [c["cause"] for c in history(api, mid)] == ["manual_end", "manual", "crossing"]


def test_the_tier_feeds_the_earn_multiplier_and_tier_validity_expiry(api, ladder):
    api.ok("PUT", "/v1/points/rules", {"rules": {"tier_multipliers": {"V3": "2"},
                                                 "expiry": {"policy": "tier_validity"}},
                                       "effective_from": "2026-01-01T00:00:00Z"})
    mid = api.member("13800139006")
    first = earn(api, mid, "o1", 5_000)                          # the order that reaches Gold earns as V1
    assert first["points"] == 5_000 and first["expires_on"] is None
    second = earn(api, mid, "o2", 100)
    assert second["points"] == 200 and "tier V3 x2" in second["explanation"]
    assert second["expires_on"] == "2027-02-28"                  # the tier's validity end


def test_refunds_do_not_downgrade_mid_period_unless_the_ladder_says_so(api, ladder):
    mid = api.member("13800139007")
    earn(api, mid, "o1", 1_200)
    api.ok("POST", "/v1/orders/o1/refunds", {"refund_id": "r1", "amount_fen": 60_000, "merchant_id": "m1"})
    deliver()
    assert tier(api, mid)["tier"]["code"] == "V2" and tier(api, mid)["growth"] == 600
    ladder(downgrade_on_refund=True)
    other = api.member("13800139008")
    earn(api, other, "p1", 1_200)
    api.ok("POST", "/v1/orders/p1/refunds", {"refund_id": "r1", "amount_fen": 60_000, "merchant_id": "m1"})
    deliver()
    assert tier(api, other)["tier"]["code"] == "V1"
    assert history(api, other)[0]["cause"] == "refund"


@pytest.mark.parametrize("bad", [
    {"tiers": [{"code": "V1", "name": "a", "threshold": 0}, {"code": "V2", "name": "b", "threshold": 0}]},
    {"tiers": [{"code": "V1", "name": "a", "threshold": 10}]},
    {"tiers": [{"code": "V1", "name": "a", "threshold": 0}, {"code": "V1", "name": "b", "threshold": 5}]},
    {"tiers": [{"code": "V1", "name": "a", "threshold": 0, "validity_months": 12}]},
    {"tiers": []},
])
def test_a_bad_ladder_is_refused_and_changes_nothing(api, ladder, bad):
    before = api.ok("GET", "/v1/tiers/ladder")
    status, problem = api.call("PUT", "/v1/tiers/ladder", {"ladder": bad})
    assert status == 422 and problem["type"].endswith("/validation-failed")
    assert api.ok("GET", "/v1/tiers/ladder") == before


def test_a_tier_dropped_from_the_ladder_ends_with_its_period(api, ladder):
    mid = api.member("13800139009")
    earn(api, mid, "o1", 1_200)                                  # Silver
    api.ok("PUT", "/v1/tiers/ladder", {"ladder": {"tiers": [LADDER["tiers"][0], *LADDER["tiers"][2:]]}})
    assert tier(api, mid)["tier"]["code"] == "V1"                # not on the ladder: counts as the base
    clock.freeze(datetime(2027, 3, 1, 4, tzinfo=UTC))
    assert api.run_job("tier-review")["downgraded"] == 1
    assert (history(api, mid)[0]["from"], history(api, mid)[0]["to"]) == ("V2", "V1")
    assert tier(api, mid)["valid_until"] is None


def test_reading_a_tier_is_one_request(memory):
    from tests.integration.conftest import AppClient
    api = AppClient()
    clock.freeze(T0)
    api.ok("PUT", "/v1/tiers/ladder", {"ladder": LADDER, "effective_from": "2026-01-01T00:00:00Z"})
    mid = api.member("13800139010")
    earn(api, mid, "o1", 1_200)
    tier(api, mid)                                              # the ladder is cached after this
    before = memory.requests
    assert tier(api, mid)["tier"]["code"] == "V2"
    assert memory.requests - before == 1                        # member, tier and growth account in one batch
    clock.freeze(None)


def test_reminders_come_30_and_7_days_before_the_validity_end_once_each(api, ladder):
    mid = api.member("13800139011")
    earn(api, mid, "o1", 1_200)                                  # Silver until 2027-02-28
    sent = []
    # a week at a time until a week before the first reminder, then every day: the job sends all
    # that is due by its day, so a reminder due early would still be sent before its day, and seen
    days = [*range(0, 330, 7), *range(330, 400)]
    for day in days:
        clock.freeze(T0 + timedelta(days=day))
        result = api.run_job("tier-reminders")
        sent += [clock.program_date().isoformat()] * result["reminders_sent"]
        if clock.program_date().isoformat() == "2027-01-29":
            earn(api, mid, "o2", 10)                             # a change after a reminder re-sends nothing
        if clock.program_date().isoformat() >= "2027-03-01":
            break
    assert sent == ["2027-01-29", "2027-02-21"]
    events = [e.data for e in outbox_events(None, kind="tier.expiring")]
    assert [(e["days_left"], e["tier"], e["retain_needed"]) for e in events] == [(30, "V2", 1_000), (7, "V2", 1_000)]
    assert events[1]["growth_needed"] == 1_000 - 10
