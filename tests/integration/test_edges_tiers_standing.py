"""Edges of a member's tier through the app on every backend: a manual floor on its last day and
one no higher than the tier earned, the history's numbering, the review on a tier's last valid
day and on a floor's end, the regain ceiling a downgrade leaves, and growth exactly at a
threshold and at the keep amount."""

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.db.uow import UnitOfWork
from chalicelib.shared import clock
from chalicelib.tiers import repository as tiers_repository
from tests.integration.test_tiers import LADDER, deliver, earn, history, tier
from tests.outbox import outbox_events

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)          # 2026-03-01, noon in Shanghai


def day(month, d, year=2026):
    """Noon in Shanghai on that day."""
    return datetime(year, month, d, 4, 0, tzinfo=UTC)


def floor(api, mid, code, until):
    return api.ok("PUT", f"/v1/members/{mid}/tier", {"tier": code, "until": until, "reason": "VIP guest"})


@pytest.fixture
def ladder(api):
    clock.freeze(T0)

    def put(tiers=LADDER["tiers"], **policy):
        return api.ok("PUT", "/v1/tiers/ladder", {"ladder": {"tiers": tiers, **policy},
                                                  "effective_from": "2026-01-01T00:00:00Z"})
    put()
    return put


def test_a_members_tier_changes_are_numbered_from_one(api, ladder):
    mid = api.member("13800139401")
    earn(api, mid, "o1", 1_000)                                   # exactly Silver's threshold
    floor(api, mid, "V4", "2026-06-30")
    earn(api, mid, "o2", 4_000)                                   # exactly Gold's
    assert [(c["number"], c["from"], c["to"], c["cause"]) for c in history(api, mid)] == [
        (3, "V2", "V3", "crossing"), (2, "V2", "V4", "manual"), (1, "V1", "V2", "crossing")]


def test_a_manual_floor_holds_on_its_last_day_and_not_the_day_after(api, ladder):
    mid = api.member("13800139402")
    earn(api, mid, "o1", 1_500)                                   # Silver earned
    floor(api, mid, "V4", "2026-06-30")
    clock.freeze(day(6, 30))
    now = tier(api, mid)
    assert (now["tier"]["code"], now["source"], now["earned_tier"]) == ("V4", "manual", "V2")
    clock.freeze(day(7, 1))                                       # before any review: the floor is over
    now = tier(api, mid)
    assert (now["tier"]["code"], now["source"]) == ("V2", "growth")


def test_a_floor_no_higher_than_the_tier_earned_leaves_the_tier_to_growth(api, ladder):
    mid = api.member("13800139403")
    earn(api, mid, "o1", 1_500)                                   # Silver earned
    reply = floor(api, mid, "V2", "2026-06-30")                   # the tier already held
    assert (reply["tier"], reply["source"]) == ("V2", "growth")
    now = tier(api, mid)
    assert (now["tier"]["code"], now["source"], now["manual"]["tier"]) == ("V2", "growth", "V2")
    reply = floor(api, mid, "V1", "2026-06-30")                   # below it
    assert (reply["tier"], reply["source"]) == ("V2", "growth")


def test_the_review_leaves_a_tier_alone_on_its_last_valid_day_and_lowers_it_the_day_after(api, ladder):
    mid = api.member("13800139404")
    earn(api, mid, "o1", 1_000)                                   # Silver from 2026-03-01
    assert tier(api, mid)["valid_until"] == "2027-02-28"
    for last in (day(2, 27, 2027), day(2, 28, 2027)):
        clock.freeze(last)
        assert api.run_job("tier-review")["items_read"] == 0     # not due before its validity has ended
        assert tier(api, mid)["tier"]["code"] == "V2"
    clock.freeze(day(3, 1, 2027))
    assert api.run_job("tier-review")["downgraded"] == 1
    now = tier(api, mid)
    assert (now["tier"]["code"], now["valid_until"], now["period_start"]) == ("V1", None, "2027-03-01")
    assert history(api, mid)[0]["detail"]["period_growth"] == 0                # none earned in the period


def test_a_tier_below_the_one_left_is_regained_at_its_keep_and_the_one_left_still_needs_its_own(api, ladder):
    """Issue #20's rule, a step further: reviewed from Gold down to the base (by growth), a member
    regains Silver with exactly Silver's keep in the new period; Gold, still the tier left, needs
    Gold's keep earned after that, not its threshold alone."""
    ladder(downgrade="by_growth")
    mid = api.member("13800139405")
    earn(api, mid, "o1", 5_000)                                   # Gold until 2027-02-28
    clock.freeze(day(3, 1, 2027))
    assert api.run_job("tier-review")["downgraded"] == 1          # no growth in the period: to the base
    assert tier(api, mid)["tier"]["code"] == "V1"
    earn(api, mid, "o2", 999)                                     # one short of Silver's keep of 1 000
    assert tier(api, mid)["tier"]["code"] == "V1"
    earn(api, mid, "o3", 1)                                       # exactly the keep
    now = tier(api, mid)
    assert (now["tier"]["code"], now["growth"], now["period_growth"]) == ("V2", 6_000, 0)
    assert now["next"]["code"] == "V3" and now["next"]["growth_needed"] == 3_000
    earn(api, mid, "o4", 1)                                       # Gold's threshold is met, its keep is not
    assert tier(api, mid)["tier"]["code"] == "V2"
    earn(api, mid, "o5", 2_999)                                   # 3 000 since Silver: Gold again
    assert tier(api, mid)["tier"]["code"] == "V3"
    assert [(c["from"], c["to"]) for c in history(api, mid)] == [
        ("V2", "V3"), ("V1", "V2"), ("V3", "V1"), ("V1", "V3")]


def test_a_tier_regained_and_passed_leaves_nothing_to_earn_again_once_its_tier_is_dropped(api, ladder):
    """Downgraded from Silver, the member passes it straight to Gold: nothing is left to regain.
    Gold is then dropped from the ladder (the member counts as the base): Silver is reached by its
    threshold alone, at the next order."""
    mid = api.member("13800139406")
    earn(api, mid, "o1", 1_200)                                   # Silver until 2027-02-28
    clock.freeze(day(3, 1, 2027))
    assert api.run_job("tier-review")["downgraded"] == 1          # to the base, Silver left
    earn(api, mid, "o2", 3_800)                                   # 5 000: exactly Gold's threshold
    assert tier(api, mid)["tier"]["code"] == "V3"
    ladder(tiers=[LADDER["tiers"][0], LADDER["tiers"][1], LADDER["tiers"][3]])
    now = tier(api, mid)
    assert (now["tier"]["code"], now["next"]["code"], now["next"]["growth_needed"]) == ("V1", "V2", 0)
    earn(api, mid, "o3", 1)
    assert tier(api, mid)["tier"]["code"] == "V2"


def test_a_reminder_day_already_past_when_the_tier_is_reached_is_skipped_and_one_due_that_day_is_sent(api, ladder):
    """Silver held one month, reminders 30 and 7 days before its end. Reached on 1 February it
    ends on 28 February: 30 days before was already past, so only the 7-day reminder comes. Reached
    on 1 March it ends on 31 March: 30 days before is that very day."""
    ladder(tiers=[LADDER["tiers"][0], {**LADDER["tiers"][1], "validity_months": 1}])
    clock.freeze(day(2, 1))
    february = api.member("13800139407")
    earn(api, february, "o1", 1_000)
    sent = []
    for d in range(1, 32):
        clock.freeze(day(2, 1) + timedelta(days=d - 1))
        if d == 29:                                               # 1 March
            march = api.member("13800139408")
            earn(api, march, "o2", 1_000)
        result = api.run_job("tier-reminders")
        sent += [clock.program_date().isoformat()] * result["reminders_sent"]
    assert tier(api, february)["valid_until"] == "2026-02-28" and tier(api, march)["valid_until"] == "2026-03-31"
    assert sent == ["2026-02-21", "2026-03-01"]
    reminders = [e.data for e in outbox_events(None, kind="tier.expiring")]
    assert [(r["member_id"], r["days_left"]) for r in reminders] == [(february, 7), (march, 30)]


def test_a_floor_ending_the_day_before_the_validity_is_ended_alone_on_the_validitys_last_day(api, ladder):
    mid = api.member("13800139409")
    earn(api, mid, "o1", 1_200)                                   # Silver until 2027-02-28
    floor(api, mid, "V4", "2027-02-27")
    clock.freeze(day(2, 27, 2027))
    assert api.run_job("tier-review")["items_read"] == 0
    assert tier(api, mid)["tier"]["code"] == "V4"
    clock.freeze(day(2, 28, 2027))
    result = api.run_job("tier-review")
    assert (result["manual_ended"], result["downgraded"], result["retained"]) == (1, 0, 0)
    now = tier(api, mid)
    assert (now["tier"]["code"], now["source"], now["valid_until"]) == ("V2", "growth", "2027-02-28")
    clock.freeze(day(3, 1, 2027))
    assert api.run_job("tier-review")["downgraded"] == 1
    assert tier(api, mid)["tier"]["code"] == "V1"
    assert [c["cause"] for c in history(api, mid)] == ["downgrade", "manual_end", "manual", "crossing"]


def test_a_floor_ending_the_day_after_the_validity_still_holds_when_the_period_is_reviewed(api, ladder):
    mid = api.member("13800139410")
    earn(api, mid, "o1", 1_200)                                   # Silver until 2027-02-28
    floor(api, mid, "V4", "2027-03-01")
    clock.freeze(day(3, 1, 2027))
    result = api.run_job("tier-review")
    assert (result["downgraded"], result["manual_ended"]) == (1, 0)
    now = tier(api, mid)
    assert (now["tier"]["code"], now["source"], now["earned_tier"]) == ("V4", "manual", "V1")
    assert now["manual"]["until"] == "2027-03-01"
    clock.freeze(day(3, 2, 2027))
    result = api.run_job("tier-review")
    assert (result["items_read"], result["manual_ended"]) == (1, 1)
    now = tier(api, mid)
    assert (now["tier"]["code"], now["source"], now["manual"]) == ("V1", "growth", None)
    assert [(c["from"], c["to"], c["cause"]) for c in history(api, mid)][:2] == [
        ("V4", "V1", "manual_end"), ("V2", "V1", "downgrade")]


def test_the_stored_tier_counts_its_writes_on_its_version(api, ladder):
    mid = api.member("13800139411")
    earn(api, mid, "o1", 1_000)
    assert int(tiers_repository.of(UnitOfWork()).tier(mid).version) == 1
    floor(api, mid, "V3", "2026-06-30")
    earn(api, mid, "o2", 10)
    stored = tiers_repository.of(UnitOfWork()).tier(mid)
    # The earn that moves no tier writes nothing: the period's growth is the growth counted less
    # the period's base (what o1's crossing left: 1 000).
    assert (int(stored.version), int(stored.changes), int(stored.growth_base)) == (2, 2, 1_000)
    assert int(stored.growth_seq) == 1                      # o1's growth posting wrote it last
    assert tier(api, mid)["period_growth"] == 10


def refund(api, order, ref, yuan):
    api.ok("POST", f"/v1/orders/{order}/refunds", {"refund_id": ref, "amount_fen": yuan * 100, "merchant_id": "m1"})
    deliver()


def test_a_refund_lowers_the_tier_only_below_its_threshold_and_to_the_tier_the_growth_left_reaches(api, ladder):
    ladder(downgrade_on_refund=True)
    mid = api.member("13800139412")
    earn(api, mid, "o1", 6_000)                                   # Gold
    refund(api, "o1", "r1", 1_000)                                # 5 000 left: exactly Gold's threshold
    now = tier(api, mid)
    assert (now["tier"]["code"], now["growth"], now["valid_until"]) == ("V3", 5_000, "2027-02-28")
    assert len(history(api, mid)) == 1
    clock.freeze(day(4, 1))
    refund(api, "o1", "r2", 1)                                    # 4 999: Silver, not the base
    now = tier(api, mid)
    assert (now["tier"]["code"], now["growth"], now["valid_until"]) == ("V2", 4_999, "2027-03-31")
    assert [(c["from"], c["to"], c["cause"]) for c in history(api, mid)] == [
        ("V3", "V2", "refund"), ("V1", "V3", "crossing")]


def test_a_tier_a_refund_lowered_comes_back_with_its_threshold(api, ladder):
    """Attack G finding 1: a refund's downgrade took the balance below the threshold; the balance
    back at it brings the tier back, as for any member (a review's downgrade asks the period's
    growth too: the balance never fell)."""
    ladder(downgrade_on_refund=True)
    mid = api.member("13800139419")
    earn(api, mid, "o1", 1_000)                                   # Silver
    refund(api, "o1", "r1", 500)                                  # 500: Member
    now = tier(api, mid)
    assert (now["tier"]["code"], now["next"]["growth_needed"]) == ("V1", 500)
    earn(api, mid, "o2", 499)
    assert (tier(api, mid)["tier"]["code"], tier(api, mid)["next"]["growth_needed"]) == ("V1", 1)
    earn(api, mid, "o3", 1)                                       # 1 000: Silver again
    assert tier(api, mid)["tier"]["code"] == "V2"
    assert [(c["from"], c["to"], c["cause"]) for c in history(api, mid)] == [
        ("V1", "V2", "crossing"), ("V2", "V1", "refund"), ("V1", "V2", "crossing")]


def test_a_negative_adjustment_never_lowers_the_tier_even_when_refunds_do(api, ladder):
    ladder(downgrade_on_refund=True)
    mid = api.member("13800139413")
    earn(api, mid, "o1", 1_200)                                   # Silver
    api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": -500, "point_type": "growth",
                                                             "reason": "correction"})
    deliver()
    now = tier(api, mid)
    assert (now["tier"]["code"], now["growth"], now["period_growth"]) == ("V2", 700, -500)
    assert len(history(api, mid)) == 1


def test_growth_owed_reaches_no_tier_and_paying_it_back_to_zero_reaches_none_either(api, ladder):
    """A first tier at a threshold of 1: a member whose growth is negative (owed after a refund
    of growth already taken away) holds the base tier, and earning back to exactly 0 reaches
    nothing."""
    ladder(tiers=[LADDER["tiers"][0], {"code": "V2", "name": "Buyer", "threshold": 1, "validity_months": 12}],
           downgrade_on_refund=True)
    mid = api.member("13800139414")
    earn(api, mid, "o1", 100)                                     # Buyer
    api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": -100, "point_type": "growth",
                                                             "reason": "correction"})
    deliver()
    assert (tier(api, mid)["tier"]["code"], tier(api, mid)["growth"]) == ("V2", 0)
    refund(api, "o1", "r1", 100)                                  # the order's growth is gone: owed
    now = tier(api, mid)
    assert (now["tier"]["code"], now["growth"]) == ("V1", -100)
    earn(api, mid, "o2", 100)                                     # repays the debt: growth 0
    now = tier(api, mid)
    assert (now["tier"]["code"], now["growth"], now["period_growth"]) == ("V1", 0, 100)
    earn(api, mid, "o3", 1)
    assert tier(api, mid)["tier"]["code"] == "V2"
    assert [(c["from"], c["to"], c["cause"]) for c in history(api, mid)] == [
        ("V1", "V2", "crossing"), ("V2", "V1", "refund"), ("V1", "V2", "crossing")]


def test_a_floor_at_the_tier_earned_ends_without_a_change_in_the_history(api, ladder):
    mid = api.member("13800139415")
    earn(api, mid, "o1", 1_200)                                   # Silver earned
    floor(api, mid, "V2", "2026-06-30")
    clock.freeze(day(7, 1))
    assert api.run_job("tier-review")["manual_ended"] == 1
    now = tier(api, mid)
    assert (now["tier"]["code"], now["manual"]) == ("V2", None)
    assert [c["cause"] for c in history(api, mid)] == ["manual", "crossing"]


def test_growth_of_the_periods_last_day_counts_in_its_review_before_the_stream_brings_it(api, ladder):
    """An order of the period's last day, not yet through the stream when the review runs: the
    review reads the period's growth from the growth account, so the order keeps the tier (kept
    with 1) and counts in the period that ended, not in the next; the stream then moves nothing.
    (Until 2026-12-06 the period's growth was what the stream had counted: the order came too
    late for the review, which lowered the tier, and did not count in the next period either.)"""
    ladder(tiers=[LADDER["tiers"][0], {"code": "V2", "name": "Buyer", "threshold": 1, "validity_months": 12}])
    mid = api.member("13800139416")
    earn(api, mid, "o1", 100)                                     # Buyer until 2027-02-28
    clock.freeze(day(2, 28, 2027))
    api.ok("POST", f"/v1/members/{mid}/points/earn", {"order_id": "o2", "amount_fen": 500, "merchant_id": "m1"})
    clock.freeze(day(3, 1, 2027))
    result = api.run_job("tier-review")
    assert (result["retained"], result["downgraded"]) == (1, 0)   # before the stream brings o2
    assert history(api, mid)[0]["detail"]["period_growth"] == 5
    deliver()
    now = tier(api, mid)
    assert (now["tier"]["code"], now["growth"], now["period_growth"], now["valid_until"]) == (
        "V2", 105, 0, "2028-02-29")
    earn(api, mid, "o3", 1)
    assert tier(api, mid)["period_growth"] == 1


def test_the_review_records_the_periods_growth_against_the_keep_one_short_and_exactly_met(api, ladder):
    short, kept = api.member("13800139417"), api.member("13800139418")
    earn(api, short, "s1", 1_000)
    earn(api, kept, "k1", 1_000)                                  # both Silver until 2027-02-28, keep 1 000
    clock.freeze(day(9, 1))
    earn(api, short, "s2", 999)
    earn(api, kept, "k2", 1_000)
    clock.freeze(day(3, 1, 2027))
    result = api.run_job("tier-review")
    assert (result["downgraded"], result["retained"]) == (1, 1)
    period = ["2026-03-01", "2027-02-28"]
    assert history(api, short)[0]["detail"] == {"period_growth": 999, "needed": 1_000, "period": period,
                                                "ladder_version": 1}
    assert history(api, kept)[0]["detail"] == {"period_growth": 1_000, "needed": 1_000, "period": period,
                                               "ladder_version": 1}
    assert (history(api, kept)[0]["cause"], tier(api, kept)["valid_until"]) == ("retention", "2028-02-29")


def test_a_tier_whose_validity_ops_removed_is_kept_for_good_at_its_review(api, ladder):
    mid = api.member("13800139419")
    earn(api, mid, "o1", 2_000)                                   # Silver until 2027-02-28
    clock.freeze(day(9, 1))
    earn(api, mid, "o2", 1_000)                                   # the keep, met
    silver = {k: v for k, v in LADDER["tiers"][1].items() if k != "validity_months"}
    ladder(tiers=[LADDER["tiers"][0], silver, *LADDER["tiers"][2:]])
    clock.freeze(day(3, 1, 2027))
    assert api.run_job("tier-review")["retained"] == 1
    now = tier(api, mid)
    assert (now["tier"]["code"], now["valid_until"], now["period_start"]) == ("V2", None, "2027-03-01")
    clock.freeze(day(3, 1, 2028))
    assert api.run_job("tier-review")["items_read"] == 0          # nothing ends any more
