"""A tier period's growth reset at its edges (attack H, 2026-12-06): a tier move between a period's
end and its review no longer skips the review and its reset (the stream reviews first), a grace's
reset runs when the grace begins, every reset is a cut for the refunds of the orders recorded
before it (even one that expired nothing), and growth is no liability. Each test failed before
its fix. Through the app on every backend, figures by hand."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.db.uow import UnitOfWork
from chalicelib.points import repository
from chalicelib.shared import clock
from tests.integration.test_growth_balance import NEXT_PERIOD, _adjust, _refund
from tests.integration.test_tiers import T0, deliver, earn, tier
from tests.outbox import outbox_events

LADDER = {"tiers": [{"code": "V1", "name": "Member", "threshold": 0},
                    {"code": "V2", "name": "Silver", "threshold": 1_000, "validity_months": 12, "retain": 1_000},
                    {"code": "V3", "name": "Gold", "threshold": 5_000, "validity_months": 12, "retain": 3_000}],
          "growth_at_period_end": "reset"}
FIRST_DAY_1AM = datetime(2027, 2, 28, 17, 0, tzinfo=UTC)     # 01:00 in Shanghai on 2027-03-01


def _program(api, **policy) -> None:
    clock.freeze(T0)
    api.ok("PUT", "/v1/tiers/ladder", {"ladder": {**LADDER, **policy}, "effective_from": "2026-01-01T00:00:00Z"})


def _growth(mid: str) -> dict:
    return repository.of(UnitOfWork("test")).account(mid, "growth").view()


def test_an_order_after_the_period_ended_before_the_review_does_not_keep_the_growth_it_reset(api):
    _program(api)
    mid = api.member("13800505001")
    earn(api, mid, "o1", 4_500)                                  # Silver until 2027-02-28
    clock.freeze(FIRST_DAY_1AM)
    earn(api, mid, "o2", 600)                                    # 5,100 would be Gold: the stream reviews first
    now = tier(api, mid)
    assert (now["tier"]["code"], now["growth"]) == ("V1", 600)   # 600 < retain 1,000: down; 4,500 reset
    assert (_growth(mid)["expired"], _growth(mid)["available"]) == (4_500, 600)
    assert api.run_job("tier-review").get("growth_reset", 0) == 0                # nothing left to do


def test_a_crossing_during_a_grace_counts_only_the_growth_since_the_period_ended(api):
    _program(api, grace_days=30)
    mid = api.member("13800505002")
    earn(api, mid, "o1", 4_500)
    clock.freeze(NEXT_PERIOD)
    assert api.run_job("tier-review")["grace"] == 1              # the grace begins: the 4,500 resets now
    assert _growth(mid)["expired"] == 4_500
    clock.freeze(datetime(2027, 3, 10, 4, tzinfo=UTC))
    earn(api, mid, "o2", 600)                                    # 600, not 5,100: no Gold
    assert (tier(api, mid)["tier"]["code"], tier(api, mid)["growth"]) == ("V2", 600)
    clock.freeze(datetime(2027, 3, 31, 4, tzinfo=UTC))
    result = api.run_job("tier-review")                          # 600 in the period: below retain, down
    assert result["downgraded"] == 1 and result.get("growth_reset", 0) == 0    # the grace's reset ran once
    assert _growth(mid)["available"] == 600                      # what the grace recorded stays, however long


def test_a_refund_downgrade_after_the_period_ended_leaves_the_review_its_reset(api):
    _program(api, downgrade_on_refund=True)
    mid = api.member("13800505003")
    earn(api, mid, "o1", 6_000)                                  # Gold until 2027-02-28
    clock.freeze(FIRST_DAY_1AM)
    _refund(api, "o1", 200_000, "r1")                            # 2,000 back on the first day, before the job
    deliver()
    assert _growth(mid)["available"] == 0                        # the 4,000 left was recorded before the cut
    assert _growth(mid)["expired"] == 4_000
    assert tier(api, mid)["tier"]["code"] == "V2"                # the review's step down (it counted the refund)


def test_a_reset_that_expired_nothing_is_still_the_cut_for_older_orders(api):
    _program(api)
    owing = {}
    for phone, removal in (("13800505004", -7_000), ("13800505005", -6_999)):
        clock.freeze(T0)
        mid = api.member(phone)
        earn(api, mid, f"{phone}-1", 6_000)
        earn(api, mid, f"{phone}-2", 1_000)
        assert _adjust(api, mid, removal)[0] == 201
        clock.freeze(NEXT_PERIOD)
        api.run_job("tier-review")
        reply = _refund(api, f"{phone}-2", 100_000, f"r{phone}")
        owing[phone] = (reply["clawed_back"].get("growth", 0), reply["debt_added"], _growth(mid)["debt"])
    assert owing == {"13800505004": (0, 0, 0), "13800505005": (0, 0, 0)}     # both reset: nothing owed


def test_the_reset_event_names_the_period_s_last_day(api):
    _program(api)
    mid = api.member("13800505006")
    earn(api, mid, "o1", 1_200)
    clock.freeze(NEXT_PERIOD)
    api.run_job("tier-review")
    resets = [e for e in outbox_events(subject=f"member:{mid}")
              if e.type == "points.expired" and e.data.get("point_type") == "growth"]
    assert [(e.data["amount"], e.data["tier_period_end"]) for e in resets] == [(1_200, "2027-02-28")]


def test_growth_is_no_liability(api):
    _program(api)
    mid = api.member("13800505007")
    earn(api, mid, "o1", 1_000)
    status, problem = api.call("GET", "/v1/points/liability?point_type=growth")
    assert status == 422 and "not a liability" in problem["detail"]
    points = api.ok("GET", "/v1/points/liability?point_type=points")
    assert points["outstanding_points"] == 1_000 and points["last_30_days"]["issued"] == 1_000
