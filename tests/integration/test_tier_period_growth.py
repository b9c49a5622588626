"""A tier period's growth is the growth counted (the growth postings' ``growth_total``: every
change but resets) less what it was when the period began (the tier item's ``growth_base``), so
a growth posting that moves no tier writes nothing to the tier item (4 WCU an earn less in a
program with a ladder: ``python -m bench.earn_items --ladder``). What the stream replays or
brings late changes nothing; items from before (a running ``period_growth``) take a base at
their next growth posting. Through the app on every backend."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.db.uow import UnitOfWork
from chalicelib.events import dispatch
from chalicelib.shared import clock
from chalicelib.tiers.tables import TierHistoryItem, TierItem
from tests.integration.test_tiers import LADDER, T0, deliver, earn, history, ladder, tier  # noqa: F401  (ladder: the fixture)
from tests.outbox import outbox_events


def _item(mid: str) -> TierItem:
    return UnitOfWork("test").get(TierItem, TierItem.key(mid), consistent=True)


def _growth_events(mid: str) -> list:
    return [e for e in outbox_events(subject=f"member:{mid}") if e.data.get("point_type") == "growth"]


def test_an_earn_that_moves_no_tier_writes_no_tier_item_and_its_period_still_counts_it(api, ladder):  # noqa: F811
    mid = api.member("13800503001")
    earn(api, mid, "o1", 1_200)                                  # Silver (1 000): the period counts from 1 200
    first = _item(mid)
    assert (int(first.version), int(first.growth_base), int(first.growth_seq)) == (1, 1_200, 1)
    for n in range(2, 6):
        earn(api, mid, f"o{n}", 100)
    assert int(_item(mid).version) == 1                          # four earns, no tier write
    now = tier(api, mid)
    assert (now["growth"], now["period_growth"], now["retain"]["growth_needed"]) == (1_600, 400, 600)
    assert [e.data["growth_total"] for e in _growth_events(mid)] == [1_200, 1_300, 1_400, 1_500, 1_600]
    earn(api, mid, "o6", 3_400)                                  # 5 000: Gold, a new period
    moved = _item(mid)
    assert (moved.tier, int(moved.version), int(moved.growth_base), int(moved.growth_seq)) == ("V3", 2, 5_000, 6)
    assert tier(api, mid)["period_growth"] == 0


def test_a_replayed_or_late_growth_posting_moves_nothing(api, ladder):  # noqa: F811
    mid = api.member("13800503002")
    earn(api, mid, "o1", 1_200)                                  # Silver
    earn(api, mid, "o2", 100)                                    # no move
    api.ok("POST", "/v1/orders/o2/refunds", {"refund_id": "r1", "amount_fen": 10_000, "merchant_id": "m1"})
    earn(api, mid, "o3", 4_000)                                  # 5 100: Gold
    before = _item(mid)
    changes = history(api, mid)
    for event in reversed(_growth_events(mid)):                 # every one again, newest first
        dispatch.dispatch(event)
    after = _item(mid)
    assert (after.tier, int(after.version), int(after.growth_base)) == (before.tier, int(before.version),
                                                                         int(before.growth_base))
    assert history(api, mid) == changes
    assert tier(api, mid)["period_growth"] == 0


def test_an_item_from_before_takes_its_base_at_its_next_growth_posting(api, ladder):  # noqa: F811
    mid = api.member("13800503003")
    earn(api, mid, "o1", 1_200)                                  # Silver
    uow = UnitOfWork("test")                                     # as written before 2026-12-06: counted, no base
    item = uow.get(TierItem, TierItem.key(mid), consistent=True)
    item.period_growth, item.growth_base, item.growth_seq = 70, None, None
    uow.save(item)
    uow.commit()
    assert tier(api, mid)["period_growth"] == 70
    earn(api, mid, "o2", 30)
    converted = _item(mid)
    assert (int(converted.version), int(converted.growth_base), int(converted.growth_seq)) == (
        int(item.version) + 1, 1_230 - 100, 2)
    assert tier(api, mid)["period_growth"] == 100
    earn(api, mid, "o3", 5)
    assert int(_item(mid).version) == int(converted.version)    # written once
    assert tier(api, mid)["period_growth"] == 105


def test_the_review_counts_growth_the_stream_has_not_brought_and_ignores_it_after(api, ladder):  # noqa: F811
    """Gold is kept with 3 000 a period: an order of the period's last day that has not reached
    the tiers counts in the review, which then begins the next period from the growth it read."""
    mid = api.member("13800503004")
    earn(api, mid, "o1", 5_000)                                  # Gold until 2027-02-28
    clock.freeze(T0 + timedelta(days=364))                       # 2027-02-28
    api.ok("POST", f"/v1/members/{mid}/points/earn", {"order_id": "o2", "amount_fen": 300_000, "merchant_id": "m1"})
    clock.freeze(T0 + timedelta(days=365))
    result = api.run_job("tier-review")
    assert result["retained"] == 1
    kept = _item(mid)
    assert (kept.tier, kept.valid_until, int(kept.growth_base), int(kept.growth_seq)) == (
        "V3", "2028-02-29", 8_000, 2)
    for event in _growth_events(mid):
        dispatch.dispatch(event)
    assert int(_item(mid).version) == int(kept.version)
    assert [h["cause"] for h in history(api, mid)] == ["retention", "crossing"]
    assert UnitOfWork("test").get(TierHistoryItem, TierHistoryItem.key(mid, 3), consistent=True) is None


def test_a_replay_after_a_downgrade_does_not_regain_the_tier_left(api, ladder):  # noqa: F811
    """Kept with 0 a period: refunds leave the period below 0 and the review lowers the tier; the
    stream's postings replayed after it do not regain it (none is after the review's read), the
    member's next growth does."""
    ladder(tiers=[{"code": "V1", "name": "Member", "threshold": 0},
                  {"code": "V2", "name": "Buyer", "threshold": 1, "validity_months": 12, "retain": 0}])
    mid = api.member("13800503005")
    earn(api, mid, "o1", 100)                                    # Buyer until 2027-02-28, counted from 100
    earn(api, mid, "o2", 50)
    for order, ref, fen in (("o2", "r1", 5_000), ("o1", "r2", 6_000)):
        api.ok("POST", f"/v1/orders/{order}/refunds", {"refund_id": ref, "amount_fen": fen, "merchant_id": "m1"})
    assert tier(api, mid)["period_growth"] == -60
    clock.freeze(T0 + timedelta(days=365))
    assert api.run_job("tier-review")["downgraded"] == 1
    for event in _growth_events(mid):
        dispatch.dispatch(event)
    assert (tier(api, mid)["tier"]["code"], tier(api, mid)["period_growth"]) == ("V1", 0)
    earn(api, mid, "o3", 1)
    assert tier(api, mid)["tier"]["code"] == "V2"


def test_an_item_from_before_does_not_count_a_posting_of_a_day_before_its_period(api, ladder):  # noqa: F811
    """As items from before counted: a growth change recorded before the period's first day (a
    review that began the period ran first) is not the period's."""
    mid = api.member("13800503006")
    earn(api, mid, "o1", 1_200)                                  # Silver
    uow = UnitOfWork("test")
    item = uow.get(TierItem, TierItem.key(mid), consistent=True)
    item.period_growth, item.growth_base, item.growth_seq = 70, None, None
    item.period_start = (T0 + timedelta(days=1)).date().isoformat()          # tomorrow's period
    uow.save(item)
    uow.commit()
    earn(api, mid, "o2", 30)
    assert int(_item(mid).growth_base) == 1_230 - 70
    assert tier(api, mid)["period_growth"] == 70


def test_a_reset_expires_growth_without_changing_what_is_counted(api, ladder):  # noqa: F811
    """Under ``reset`` a review expires the growth recorded before the new period: the balance
    falls, the growth counted does not (the reset's own posting says so), and the new period
    counts from it."""
    ladder(growth_at_period_end="reset")
    mid = api.member("13800503007")
    earn(api, mid, "o1", 5_000)                                  # Gold until 2027-02-28, kept with 3 000
    clock.freeze(T0 + timedelta(days=200))
    earn(api, mid, "o2", 3_000)
    clock.freeze(T0 + timedelta(days=365))
    assert api.run_job("tier-review")["retained"] == 1
    reset = [e for e in _growth_events(mid) if e.type == "points.expired"]
    assert [(e.data["amount"], e.data["balance"], e.data["growth_total"]) for e in reset] == [(8_000, 0, 8_000)]
    now = tier(api, mid)
    assert (now["tier"]["code"], now["growth"], now["period_growth"]) == ("V3", 0, 0)
    earn(api, mid, "o3", 100)
    assert _growth_events(mid)[-1].data["growth_total"] == 8_100
    assert (tier(api, mid)["growth"], tier(api, mid)["period_growth"]) == (100, 100)


def test_a_member_on_the_base_tier_with_no_change_has_no_period_and_counts_all_growth(api, ladder):  # noqa: F811
    """Attack G finding 3: ``period_start`` is null before any tier change, and the period's growth
    is then all the growth counted (whenever the ladder was saved)."""
    mid = api.member("13800503008")
    api.ok("POST", f"/v1/members/{mid}/points/earn", {"order_id": "o0", "amount_fen": 10_000, "merchant_id": "m1"})
    assert tier(api, mid)["period_growth"] == 100                # not through the stream yet: no tier item
    earn(api, mid, "o1", 400)
    earn(api, mid, "o2", 300)
    now = tier(api, mid)
    assert (now["tier"]["code"], now["period_start"], now["growth"], now["period_growth"]) == ("V1", None, 800, 800)
    earn(api, mid, "o3", 200)                                    # Silver: a period begins
    now = tier(api, mid)
    assert (now["tier"]["code"], now["period_start"], now["period_growth"]) == ("V2", "2026-03-01", 0)


def test_a_ladder_that_drops_a_tier_members_hold_is_refused_and_one_no_one_holds_is_saved(api, ladder):  # noqa: F811
    """Attack G finding 2: a new version renaming a tier's code (V2 as S2) would put its holders on
    the base tier and start their period again: refused, naming the tier; renaming its name is
    fine, and so is dropping a tier nobody holds (V4)."""
    mid = api.member("13800503009")
    earn(api, mid, "o1", 1_200)                                  # Silver
    deliver()                                                    # its upgrade: listed under V2
    renamed = [dict(t) for t in LADDER["tiers"]]
    renamed[1]["code"] = "S2"
    status, problem = api.call("PUT", "/v1/tiers/ladder", {"ladder": {"tiers": renamed}})
    assert status == 422 and "tier 'V2' is held by members" in problem["detail"], problem
    assert api.ok("GET", "/v1/tiers/ladder")["version"] == 1
    renamed[1]["code"], renamed[1]["name"] = "V2", "白银"
    assert api.ok("PUT", "/v1/tiers/ladder", {"ladder": {"tiers": renamed[:3]}})["version"] == 2   # V4 dropped
    now = tier(api, mid)
    assert (now["tier"], now["period_start"]) == ({"code": "V2", "name": "白银"}, "2026-03-01")
