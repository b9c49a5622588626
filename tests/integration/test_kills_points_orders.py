"""A hold on an order and its confirm, at their edges, through the app on the in-memory fake (written
against the survivors of session 50's mutation run): a hold reserved its share when it was made,
so its confirm on an order never refunded finds room even after the program's share cap is lowered;
only a refund can make a confirm refuse (test_hold_use.py)."""

from __future__ import annotations

import pytest

from chalicelib.orders.service import OrderItem
from chalicelib.shared import clock
from tests.integration.conftest import AppClient
from tests.integration.test_hold_use import refused_then_cancelled
from tests.integration.test_points_features import T0, balanced
from tests.integration.test_points_hold_orders import HOLDS, stocked
from tests.racing import put


@pytest.fixture
def api(memory):
    yield AppClient()
    clock.freeze(None)


def held_then_refunded(api, phone: str, order: str, held: int, refunded_fen: int) -> tuple[str, dict]:
    """A member stocked with 10,000 points holds ``held`` on a 1,000 fen order, then the order is
    refunded ``refunded_fen``: the member and the refused confirm's problem (the hold cancelled)."""
    mid = stocked(api, phone)
    hold = api.ok("POST", HOLDS.format(mid), {"points": held, "order_id": order, "merchant_id": "m1",
                                              "order_amount_fen": 1_000})
    api.ok("POST", f"/v1/orders/{order}/refunds", {"refund_id": "r1", "amount_fen": refunded_fen, "merchant_id": "m1"})
    return mid, refused_then_cancelled(api, mid, hold["hold_id"])


def test_a_hold_confirms_on_its_unrefunded_order_after_the_share_cap_is_lowered(api):
    """300 points held on a 1,000 fen order under the 50% cap (500); the cap goes down to 20% (200):
    nothing was refunded, the order's share was reserved by the hold: the confirm spends the 300."""
    clock.freeze(T0)
    mid = stocked(api, "13800299001")
    hold = api.ok("POST", HOLDS.format(mid), {"points": 300, "order_id": "C1", "merchant_id": "m1",
                                              "order_amount_fen": 1_000})
    api.ok("PUT", "/v1/points/rules", {"rules": {"redeem": {"points_per_yuan": 100, "max_share_percent": 20}}})
    assert api.ok("POST", f"{HOLDS.format(mid)}/{hold['hold_id']}/confirm", {})["status"] == "confirmed"
    order = api.ok("GET", "/v1/orders/C1?merchant_id=m1")
    assert sum(lot["points"] for lot in order["spent"]) == 300
    account = balanced(mid)
    assert (account["available"], account["held"], account["redeemed"]) == (9_700, 0, 300)


def test_a_one_point_hold_on_an_order_refunded_in_full_is_refused_even_where_a_fen_may_be_paid_in_points(api):
    """At 100% of an order in points and 100 points a yuan, a single fen left could be paid with
    one point; the order refunded in full leaves none: the 1 point held is not confirmed."""
    clock.freeze(T0)
    api.ok("PUT", "/v1/points/rules", {"rules": {"redeem": {"points_per_yuan": 100, "max_share_percent": 100}}})
    mid, problem = held_then_refunded(api, "13800299002", "C2", 1, 1_000)
    assert (problem["refunded_fen"], problem["limit_points"]) == (1_000, 0)
    assert balanced(mid)["redeemed"] == 0


def test_what_a_refund_gave_back_leaves_room_for_a_hold_on_the_order(api):
    """300 redeemed and 100 held on a 1,000 fen order (400 of its 500); 400 fen refunded gives back
    120 of the 300 spent: 600 fen left may be paid with 300, and 400 - 120 = 280 are on it: the
    hold confirms."""
    clock.freeze(T0)
    mid = stocked(api, "13800299003")
    on = {"order_id": "C3", "merchant_id": "m1", "order_amount_fen": 1_000}
    api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 300, **on})
    hold = api.ok("POST", HOLDS.format(mid), {"points": 100, **on})
    assert api.ok("POST", "/v1/orders/C3/refunds", {"refund_id": "r1", "amount_fen": 400,
                                                    "merchant_id": "m1"})["restored"] == 120
    assert api.ok("POST", f"{HOLDS.format(mid)}/{hold['hold_id']}/confirm", {})["status"] == "confirmed"
    account = balanced(mid)
    assert (account["available"], account["held"], account["redeemed"]) == (9_720, 0, 400)


def test_a_hold_one_point_past_what_the_refunded_order_may_pay_is_refused(api):
    """300 held on a 1,000 fen order; 402 fen refunded (nothing spent, nothing given back): 598 fen
    left may be paid with 299 points: the 300 are one too many."""
    clock.freeze(T0)
    _, problem = held_then_refunded(api, "13800299004", "C4", 300, 402)
    assert (problem["refunded_fen"], problem["limit_points"]) == (402, 299)
    assert problem["detail"].startswith("order C4 has been refunded 402 fen of 1000: what is left may be paid "
                                        "with at most 299 points, 300 would be spent or held on it"), problem


def test_a_refund_landing_between_the_confirms_read_and_its_write_refuses_the_confirm(racing):
    """The order read unrefunded; a full refund of it is written before the confirm's commit: the
    confirm's write is conditioned on the refunds it read, so it does not spend the 300 on a
    refunded order (409, the hold still open)."""
    api = AppClient()
    clock.freeze(T0)
    mid = stocked(api, "13800299005")
    hold = api.ok("POST", HOLDS.format(mid), {"points": 300, "order_id": "C5", "merchant_id": "m1",
                                              "order_amount_fen": 1_000})
    racing.race(OrderItem, put("refunded_fen", {"N": "1000"}))
    status, problem = api.call("POST", f"{HOLDS.format(mid)}/{hold['hold_id']}/confirm", {})
    assert racing.raced == 1
    assert status == 409, problem
    assert api.ok("GET", f"{HOLDS.format(mid)}/{hold['hold_id']}")["status"] == "open"
    account = balanced(mid)
    assert (account["held"], account["redeemed"]) == (300, 0)
    clock.freeze(None)
