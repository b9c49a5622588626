"""Every read of a member's points counts a lapsed hold's points as the member's at once, as
getPointsAccount's balance does, whether or not the holds job has run (attack E, finding 4): before,
the next quote offered none of them (so its commit held none), the members list showed the balance
less the hold, and getPointsAccount's own ``expiring_soon`` and ``next_lots`` left them out. One
function says what the member holds now (``lapsing.holding``). Through the app on every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.shared import clock
from tests.integration.test_checkout_commit import CART, CHECKOUTS, _member, _quote, _till
from tests.integration.test_points_features import balanced

HOLDS = "/v1/members/{}/points/holds"
DEC_10 = datetime(2026, 12, 10, 4, tzinfo=UTC)           # the year's lots end on 31 December: within 30 days


def points(api, mid):
    return api.ok("GET", f"/v1/members/{mid}/points")["accounts"]["points"]


def test_the_quote_after_a_lapsed_checkout_offers_its_points_and_its_commit_holds_them(api):
    clock.freeze(DEC_10)
    mid = _member(api, "13800298001")                                   # 5,000 points
    first = _quote(api, mid)
    assert first["points"]["available_points"] == 5_000
    c = api.ok("POST", CHECKOUTS, {"quote_id": first["quote_id"], "lines": CART, "ttl_seconds": 60},
               key="co-1", token=_till())
    old = c["holds"]["points"]["hold_id"]
    clock.freeze(DEC_10 + timedelta(seconds=61))                        # lapsed; no job has run
    assert points(api, mid)["spendable"] == 5_000
    again = _quote(api, mid)
    assert (again["points"]["available_points"], again["points"]["points"]) == (5_000, first["points"]["points"])
    second = api.ok("POST", CHECKOUTS, {"quote_id": again["quote_id"], "lines": CART}, key="co-2", token=_till())
    assert second["holds"]["points"]["points"] == first["points"]["points"]
    assert api.ok("GET", f"{HOLDS.format(mid)}/{old}")["status"] == "released"     # given back first
    account = balanced(mid)
    assert (account["available"], account["held"]) == (5_000 - first["points"]["points"], first["points"]["points"])


def test_the_members_list_counts_a_lapsed_holds_points(api):
    clock.freeze(DEC_10)
    mid = api.ok("POST", "/v1/members", {"phone": "13800298002"}, token=_till())["member_id"]
    api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 1_000, "reason": "stock"})
    api.ok("POST", HOLDS.format(mid), {"points": 600, "ttl_seconds": 60})

    def listed():
        page = api.ok("GET", "/v1/members?merchant_id=m1&start=2026-12-10&end=2026-12-10&include=balances",
                      token=_till())
        return next(m["balances"]["points"] for m in page["members"] if m["member_id"] == mid)
    assert listed() == points(api, mid)["balance"] == 400
    clock.freeze(DEC_10 + timedelta(seconds=60))
    assert listed() == points(api, mid)["balance"] == 1_000


def test_expiring_soon_and_the_next_lots_count_a_lapsed_holds_points_in_their_lots(api):
    """Two lots ending 31 December; the hold emptied the first (its item is gone) and took 50 of
    the second: past the hold's time both show whole again."""
    clock.freeze(DEC_10)
    mid = api.member("13800298003")
    for points_, reason in ((100, "first"), (200, "second")):
        api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": points_, "reason": reason})
    api.ok("POST", HOLDS.format(mid), {"points": 150, "ttl_seconds": 60})
    view = points(api, mid)
    assert (view["next_lots"], view["expiring_soon"]) == ([{"expires_on": "2026-12-31", "points": 150}],
                                                          [{"expires_on": "2026-12-31", "points": 150}])
    clock.freeze(DEC_10 + timedelta(seconds=60))
    view = points(api, mid)
    assert (view["available"], view["balance"]) == (300, 300)
    assert view["next_lots"] == [{"expires_on": "2026-12-31", "points": 100}, {"expires_on": "2026-12-31", "points": 200}]
    assert view["expiring_soon"] == [{"expires_on": "2026-12-31", "points": 300}]     # by last day
    assert api.run_job("points-holds")["holds_released"] == 1            # the job's give-back: the same figures
    assert points(api, mid)["next_lots"] == view["next_lots"]
