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
from tests.integration.test_growth_balance import NEXT_PERIOD, _adjust, _earn_undelivered, _refund
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


def test_what_the_first_days_record_before_a_review_is_netted_by_day(api):
    """Removals and what a refund owes count in the growth recorded since the cut, and the 7th day
    back is one of the days kept (a write that day keeps it)."""
    _program(api)
    mid = api.member("13800505008")
    earn(api, mid, "o1", 1_200)                                  # before the cut
    clock.freeze(NEXT_PERIOD)
    _earn_undelivered(api, mid, "o2", 300)
    assert _adjust(api, mid, -340)[0] == 201                     # 1,160
    _refund(api, "o2", 30_000, "r2")                             # 300 back: 860
    clock.freeze(datetime(2027, 3, 8, 4, tzinfo=UTC))            # the 7th day after the cut
    _earn_undelivered(api, mid, "o3", 400)                       # 1,260; recorded since the cut: 300 - 340 - 300 + 400
    assert api.run_job("tier-review")["growth_reset"] == 1_200   # = 1,260 - 60: what o1 left
    assert (_growth(mid)["available"], _growth(mid)["debt"]) == (60, 0)


def test_what_a_refund_owes_after_the_cut_counts_as_recorded_since(api):
    _program(api)
    mid = api.member("13800505009")
    earn(api, mid, "o1", 1_100)                                  # Silver; 100 of it left before the cut
    assert _adjust(api, mid, -1_000)[0] == 201
    clock.freeze(NEXT_PERIOD)
    _earn_undelivered(api, mid, "o2", 300)                       # 400
    assert _adjust(api, mid, -390)[0] == 201                     # 10
    reply = _refund(api, "o2", 30_000, "r2")                     # 300: 10 taken, 290 owed
    assert (reply["clawed_back"]["growth"], reply["debt_added"]) == (300, 290)
    _earn_undelivered(api, mid, "o3", 1_000)                     # repays the 290: 710
    # recorded since the cut: 300 - 390 - 300 (10 taken, 290 owed) + 1,000 = 610; 710 - 610 = 100
    assert api.run_job("tier-review")["growth_reset"] == 100
    assert (_growth(mid)["available"], _growth(mid)["debt"]) == (610, 0)


def test_growth_events_fold_no_liability_rows(api):
    _program(api)
    mid = api.member("13800505010")
    earn(api, mid, "o1", 1_000)
    _adjust(api, mid, -100)
    _refund(api, "o1", 50_000, "r1")
    deliver()
    uow = UnitOfWork("test")
    assert repository.of(uow).liability("growth") == [] and repository.of(uow).liability("points")
