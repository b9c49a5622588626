"""A points hold past its expires_at has lapsed whatever the holds job has done (attack C, finding
6), as a lot past its last day is no longer the member's before the expiry job runs: it reads
``expired``, its points are out of ``held`` and back in ``balance`` and ``spendable`` at once (in
``lapsed`` if their lot ended meanwhile), a spend that needs them gives them back first, and the job
only makes it permanent. Through the app on every backend (figures by hand)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.shared import clock
from tests.integration.test_checkout_commit import CART, CHECKOUTS, _member, _quote, _till
from tests.integration.test_edges_points import SHANGHAI_MIDNIGHT, postings
from tests.integration.test_points_features import T0, balanced

HOLDS = "/v1/members/{}/points/holds"


def points(api, mid):
    return api.ok("GET", f"/v1/members/{mid}/points")["accounts"]["points"]


def test_a_hold_past_its_time_reads_expired_and_its_points_are_spendable_before_the_job_runs(api):
    clock.freeze(T0)
    mid = api.member("13800291001")
    api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 100, "reason": "stock"})
    hold = api.ok("POST", HOLDS.format(mid), {"points": 60, "ttl_seconds": 60})
    before = points(api, mid)
    assert (before["held"], before["balance"], before["spendable"]) == (60, 40, 40)
    clock.freeze(T0 + timedelta(seconds=60))                       # its expiry instant: lapsed
    assert api.ok("GET", f"{HOLDS.format(mid)}/{hold['hold_id']}")["status"] == "expired"
    after = points(api, mid)
    assert (after["held"], after["balance"], after["spendable"], after["lapsed"]) == (0, 100, 100, 0)
    status, problem = api.call("POST", f"{HOLDS.format(mid)}/{hold['hold_id']}/confirm", {})
    assert status == 409 and problem["type"].endswith("/hold-not-open")
    spent = api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 100, "reward": "mug"})
    assert spent["balance"] == 0
    assert api.ok("GET", f"{HOLDS.format(mid)}/{hold['hold_id']}")["status"] == "released"
    assert [(p["kind"], p["amount"], p["reason"]) for p in postings(api, mid, 2)] == [
        ("redeem", 100, "mug"), ("hold_released", 60, "expired")]       # given back as the job would, then spent
    assert api.run_job("points-holds")["holds_released"] == 0           # nothing left for the job
    account = balanced(mid)
    assert (account["available"], account["held"], account["redeemed"]) == (0, 0, 100)


def test_a_lapsed_holds_points_whose_lot_ended_meanwhile_are_lapsed_not_spendable(api):
    clock.freeze(SHANGHAI_MIDNIGHT - timedelta(minutes=15))       # 23:45 on 31 December, program time
    mid = api.member("13800291002")
    api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 100, "reason": "stock"})   # ends 31 Dec
    hold = api.ok("POST", HOLDS.format(mid), {"points": 60, "ttl_seconds": 1_800})
    clock.freeze(SHANGHAI_MIDNIGHT + timedelta(minutes=20))       # the lot ended at midnight, the hold at 00:15
    account = points(api, mid)
    assert (account["held"], account["lapsed"], account["balance"], account["spendable"]) == (0, 100, 0, 0)
    status, problem = api.call("POST", f"/v1/members/{mid}/points/redeem", {"points": 1, "reward": "mug"})
    assert status == 409 and problem["type"].endswith("/insufficient-points")
    assert api.ok("GET", f"{HOLDS.format(mid)}/{hold['hold_id']}")["status"] == "released"
    # the give-back the refused spend made expired the hold's 60 on their way back; the job the lot's 40
    assert api.run_job("points-expiry")["points_expired"] == 40
    account = balanced(mid)
    assert (account["available"], account["held"], account["expired"]) == (0, 0, 100)


def test_a_hold_taken_on_its_lots_last_day_confirms_after_midnight_and_spends_those_points(api):
    """points.md (decided 2026-12-06): points a hold took while their lot was the member's stay the
    hold's; a confirm before the hold's expires_at spends them after the lot's last day, and the
    rest of the lot lapses as any other."""
    clock.freeze(SHANGHAI_MIDNIGHT - timedelta(minutes=15))       # 23:45 on 31 December, program time
    mid = api.member("13800291005")
    api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 100, "reason": "stock"})   # ends 31 Dec
    hold = api.ok("POST", HOLDS.format(mid), {"points": 60, "ttl_seconds": 1_800})
    clock.freeze(SHANGHAI_MIDNIGHT + timedelta(minutes=10))       # the lot ended; the hold runs to 00:15
    assert api.ok("GET", f"{HOLDS.format(mid)}/{hold['hold_id']}")["status"] == "open"
    account = points(api, mid)
    assert (account["held"], account["lapsed"], account["balance"], account["spendable"]) == (60, 40, 0, 0)
    api.ok("POST", f"{HOLDS.format(mid)}/{hold['hold_id']}/confirm", {})
    assert api.run_job("points-expiry")["points_expired"] == 40
    account = balanced(mid)
    assert (account["available"], account["held"], account["redeemed"], account["expired"]) == (0, 0, 60, 40)


def test_a_committed_checkout_past_its_holds_time_is_not_completed_and_its_points_are_spendable(api):
    """checkout.md: completion needs 30 s left on the holds; past their time the points are the
    member's again, and the lapse job cancels the checkout, leaving the points hold given back."""
    clock.freeze(T0)
    mid = _member(api, "13800291003")                                  # 5,000 points, all held by the commit
    c = api.ok("POST", CHECKOUTS, {"quote_id": _quote(api, mid)["quote_id"], "lines": CART, "ttl_seconds": 60},
               key="co-1", token=_till())
    assert points(api, mid)["spendable"] == 0
    clock.freeze(T0 + timedelta(seconds=61))
    assert points(api, mid)["spendable"] == 5_000
    status, _ = api.call("POST", f"{CHECKOUTS}/{c['checkout_id']}/complete", {"payment_ref": "wx-1"}, key="cp-1",
                         token=_till())
    assert status == 409
    api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 5_000, "reward": "hamper"})
    api.run_job("checkout-lapse")
    assert api.ok("GET", f"{CHECKOUTS}/{c['checkout_id']}", token=_till())["status"] == "cancelled"
    account = balanced(mid)
    assert (account["available"], account["held"], account["redeemed"]) == (0, 0, 5_000)


def test_a_lapsed_holds_share_of_its_order_is_free_for_the_members_next_spend_on_it(api):
    """The order's share a hold reserved (test_points_hold_orders) is given back with its points:
    the member's spend on the order after the hold's time finds the whole share, before the job."""
    clock.freeze(T0)
    mid = api.member("13800291004")
    api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 1_000, "reason": "stock"})
    on = {"order_id": "L1", "merchant_id": "m1", "order_amount_fen": 1_000}    # at most 500 points
    hold = api.ok("POST", HOLDS.format(mid), {"points": 500, "ttl_seconds": 60, **on})
    assert api.call("POST", f"/v1/members/{mid}/points/redeem", {"points": 500, **on})[0] == 422
    clock.freeze(T0 + timedelta(seconds=60))
    api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 500, **on})
    assert api.ok("GET", f"{HOLDS.format(mid)}/{hold['hold_id']}")["status"] == "released"
    assert api.ok("GET", "/v1/orders/L1?merchant_id=m1")["spent_points"] == 500
    account = balanced(mid)
    assert (account["available"], account["held"], account["redeemed"]) == (500, 0, 500)


def _stored(mid):
    """Everything the member's points leave behind: the account, its holds and its postings."""
    from chalicelib.db.uow import UnitOfWork
    from chalicelib.points import repository
    repo = repository.of(UnitOfWork())
    return (repo.account(mid, "points").view(), sorted((h.hold_id, h.status, h.returned) for h in repo.holds(mid, "points")))


@pytest.mark.parametrize("spend", ["hold", "redeem"])
def test_a_spend_replayed_after_a_hold_lapsed_is_answered_first_and_changes_nothing(api, spend):
    """A retry posts nothing twice: a spend on an order gives back its account's lapsed holds first
    (as the holds job would); its replay under the same key is answered before anything runs, so
    the lapsed hold stays as it was (the job or the next new spend gives it back)."""
    clock.freeze(T0)
    mid = api.member("13800291006")
    api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 1_000, "reason": "stock"})
    lapsing = api.ok("POST", HOLDS.format(mid), {"points": 100, "ttl_seconds": 60, "order_id": "X1",
                                                 "merchant_id": "m1", "order_amount_fen": 1_000})
    path, body = (HOLDS.format(mid), {"points": 200, "ttl_seconds": 900}) if spend == "hold" else \
        (f"/v1/members/{mid}/points/redeem", {"points": 200})
    body.update(order_id="Y1", merchant_id="m1", order_amount_fen=1_000)
    first = api.ok("POST", path, body, key="K")
    clock.freeze(T0 + timedelta(seconds=61))                     # the first hold lapsed; no job has run
    before, lines = _stored(mid), postings(api, mid)
    status, again = api.call("POST", path, body, key="K")
    assert (status, again) == (200 if spend == "redeem" else 201, first)
    assert api.headers.get("Idempotent-Replayed") == "true"
    assert _stored(mid) == before and postings(api, mid) == lines          # the replay changed nothing
    assert before[1][[h[0] for h in before[1]].index(lapsing["hold_id"])][1] == "open"
    status, problem = api.call("POST", path, {**body, "points": 201}, key="K")    # the key, another body: 422
    assert status == 422 and problem["type"].endswith("/idempotency-key-reused")
    assert _stored(mid) == before
    assert api.run_job("points-holds")["holds_released"] == 1           # the job gives it back, once
    account = balanced(mid)
    assert (account["available"], account["held"]) == ((800, 200) if spend == "hold" else (800, 0))
