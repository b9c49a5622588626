"""Points exchanged for a coupon through ``redeemPoints`` (#26 item 2), in process on every
backend: the price is the template's (``points_price``), the points and the coupon are taken in
one transaction, so a refused coupon (stock, limit, not active, not for points) spends nothing, a
refused spend issues nothing, and a replay of the same Idempotency-Key does both once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.shared import clock

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
TPL = "/v1/coupon-templates"
TEA = {"kind": "no_threshold", "title": "5元奶茶券", "amount_off_fen": 500, "validity": {"days_after_claim": 30},
       "points_price": 300}


@pytest.fixture
def tea(api):
    clock.freeze(T0)
    return api.ok("POST", TPL, {"terms": TEA, "stock": 2, "state": "active", "claimable": False,
                                "per_member_limit": 1})["template_id"]


def _rich(api, phone, points=1_000):
    mid = api.member(phone)
    api.ok("POST", f"/v1/members/{mid}/points/earn", {"order_id": f"o-{phone}", "amount_fen": points * 100,
                                                      "merchant_id": "m1"})
    return mid


def _available(api, mid):
    return api.ok("GET", f"/v1/members/{mid}/points")["accounts"]["points"]["available"]


def _coupons(api, mid):
    return api.ok("GET", f"/v1/members/{mid}/coupons")["coupons"]


def _exchange(api, mid, template, points=300, key=None):
    return api.call("POST", f"/v1/members/{mid}/points/redeem", {"points": points, "coupon_template_id": template},
                    key=key)


def test_points_buy_a_coupon_in_one_transaction_and_a_replay_does_both_once(api, tea):
    alice = _rich(api, "13800400001")
    assert _available(api, alice) == 1_000
    status, reply = _exchange(api, alice, tea, key="ex-1")
    assert status == 200, reply
    assert reply["points"] == 300 and reply["balance"] == 700
    assert reply["coupon"]["template_id"] == tea and reply["coupon"]["source"] == "points"
    again = _exchange(api, alice, tea, key="ex-1")                     # the same key: the first answer
    assert again == (200, reply)
    assert _available(api, alice) == 700
    assert [c["coupon_id"] for c in _coupons(api, alice)] == [reply["coupon"]["coupon_id"]]
    assert api.ok("GET", f"{TPL}/{tea}")["stock"] == {"total": 2, "left": 1, "taken": 1}


def test_a_refused_coupon_spends_no_points(api, tea):
    alice, bob, carol = _rich(api, "13800400011"), _rich(api, "13800400012"), _rich(api, "13800400013")
    assert _exchange(api, alice, tea)[0] == 200
    over = _exchange(api, alice, tea)                                  # a limit of one a member
    assert over[0] == 409 and over[1]["type"].endswith("/coupon-limit-reached"), over
    assert _available(api, alice) == 700 and len(_coupons(api, alice)) == 1
    assert _exchange(api, bob, tea)[0] == 200
    gone = _exchange(api, carol, tea)                                  # the stock of two is gone
    assert gone[0] == 409 and gone[1]["type"].endswith("/stock-exhausted"), gone
    assert _available(api, carol) == 1_000 and _coupons(api, carol) == []
    api.ok("PATCH", f"{TPL}/{tea}", {"add_stock": 5})
    api.ok("POST", f"{TPL}/{tea}/state", {"state": "paused"})
    paused = _exchange(api, carol, tea)
    assert paused[0] == 409 and paused[1]["type"].endswith("/coupon-not-claimable"), paused
    plain = api.ok("POST", TPL, {"terms": {**TEA, "points_price": None}, "stock": 5, "state": "active"})
    unpriced = _exchange(api, carol, plain["template_id"])
    assert unpriced[0] == 409 and unpriced[1]["type"].endswith("/coupon-not-for-points"), unpriced
    assert _available(api, carol) == 1_000 and _coupons(api, carol) == []


def test_the_price_is_the_templates_never_the_callers(api, tea):
    alice = _rich(api, "13800400021")
    cheap = _exchange(api, alice, tea, points=1)
    assert cheap[0] == 422 and "costs 300 points" in cheap[1]["detail"], cheap
    with_order = api.call("POST", f"/v1/members/{alice}/points/redeem",
                          {"points": 300, "coupon_template_id": tea, "order_id": "o1", "order_amount_fen": 10_000})
    assert with_order[0] == 422
    assert _available(api, alice) == 1_000 and _coupons(api, alice) == []
    assert api.ok("GET", f"{TPL}/{tea}")["stock"]["left"] == 2


def test_a_refused_spend_issues_no_coupon(api, tea):
    poor = _rich(api, "13800400031", points=200)
    short = _exchange(api, poor, tea)
    assert short[0] == 409 and short[1]["type"].endswith("/insufficient-points"), short
    assert _coupons(api, poor) == [] and _available(api, poor) == 200
    assert api.ok("GET", f"{TPL}/{tea}")["stock"] == {"total": 2, "left": 2, "taken": 0}
