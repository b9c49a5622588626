"""Checkout quotes through the app on every backend (issue #27 item 2): a member with three
coupons, points and stored value, quoted by member code at a till (figures by hand below); the
quote is one item and the member code's use, nothing else; a walk-in quote at list prices; a quote
read back by its merchant, refused (404) to another merchant, another store and another member,
and shown expired after five minutes; bad carts refused with nothing written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.checkout.tables import QuoteItem
from chalicelib.shared import clock
from chalicelib.shared.credentials import mint_token
from tests.integration.conftest import scan

T0 = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)          # a Monday, 12:00 in Shanghai
QUOTES = "/v1/checkouts/quotes"
JOINT_A = {"kind": "amount_off", "title": "满100减20", "amount_off_fen": 2_000, "min_spend_fen": 10_000,
           "validity": {"days_after_claim": 30}, "stacking": {"category": "joint", "group": "a"}}
JOINT_B = {"kind": "percent_off", "title": "九折", "percent": 90, "validity": {"days_after_claim": 30},
           "stacking": {"category": "joint", "group": "b"}}
ALONE = {"kind": "amount_off", "title": "满100减30", "amount_off_fen": 3_000, "min_spend_fen": 10_000,
         "validity": {"days_after_claim": 30}}
CART = [{"sku": "TEA", "category": "tea", "quantity": 2, "unit_price_fen": 10_000},
        {"sku": "CAKE", "category": "bakery", "quantity": 1, "unit_price_fen": 5_000}]


def _till(store="s1", merchant="m1"):
    return mint_token("staff", f"clerk-{merchant}-{store}", 60, role="clerk", merchant_id=merchant, store_id=store)


def _member(api, phone):
    mid = api.member(phone)
    for terms in (JOINT_A, JOINT_B, ALONE):
        t = api.ok("POST", "/v1/coupon-templates", {"terms": terms, "stock": 10, "state": "active"})
        api.ok("POST", f"/v1/members/{mid}/coupons", {"template_id": t["template_id"]},
               token=mint_token("member", mid, 60))
    api.ok("POST", f"/v1/members/{mid}/points/earn", {"order_id": f"o-{mid}", "amount_fen": 500_000,
                                                      "merchant_id": "m1"})
    api.ok("POST", f"/v1/members/{mid}/stored-value/top-ups", {"amount_fen": 3_000, "payment_ref": f"p-{mid}",
                                                               "merchant_id": "m1"})
    return mid


def _parts_add_up(q):
    for line in q["lines"]:
        assert line["member_discount_fen"] + line["coupons_fen"] + line["points_fen"] + line["to_pay_fen"] == \
            line["list_total_fen"] and min(line["coupons_fen"], line["points_fen"], line["to_pay_fen"]) >= 0
    totals = q["totals"]
    assert totals["list_total_fen"] == totals["member_discount_fen"] + totals["coupons_fen"] + totals["points_fen"] + \
        totals["to_pay_fen"]


@pytest.fixture
def shop(api):
    clock.freeze(T0)
    return api


def test_a_till_quotes_a_member_by_code_with_coupons_points_and_stored_value(shop):
    api = shop
    mid = _member(api, "13800270001")
    available = api.ok("GET", f"/v1/members/{mid}/points")["accounts"]["points"]["available"]
    assert available == 5_000
    code = api.ok("GET", "/v1/members/me/member-code", token=mint_token("member", mid, 60))["code"]
    before = {(i.pk, i.sk) for i in scan(QuoteItem) if i.pk.startswith("QUOTE#")}
    q = api.ok("POST", QUOTES, {"member_code": code, "channel": "pos", "lines": CART}, token=_till())
    # by hand: list 250.00, no member price. A (amount, applied first) 20.00 off over 200 : 50 ->
    # 16.00 + 4.00; B 10 % of the 230.00 left = 23.00 over 184 : 46 -> 18.40 + 4.60; together 43.00,
    # more than the exclusive 30.00. Left 207.00; the points cap is 50 % = 103.50 = 10,350 points
    # (100 points = ¥1), the member has 5,000: 50.00 over 165.60 : 41.40 -> 40.00 + 10.00; to pay
    # 125.60 + 31.40 = 157.00; stored value 30.00 could pay 30.00 of it.
    assert q["member_id"] == mid and q["identified_by"] == "member_code" and q["status"] == "open"
    assert (q["merchant_id"], q["store_id"]) == ("m1", "s1")
    assert [c["saving_fen"] for c in q["coupons"]["chosen"]] == [2_000, 2_300]
    assert [c["lines"] for c in q["coupons"]["chosen"]] == [[{"line": 0, "fen": 1_600}, {"line": 1, "fen": 400}],
                                                            [{"line": 0, "fen": 1_840}, {"line": 1, "fen": 460}]]
    assert [n["why"].split(":")[0] for n in q["coupons"]["not_chosen"]] == ["exclusive"]
    p = q["points"]
    assert (p["limit_points"], p["available_points"], p["points"], p["fen"]) == (10_350, 5_000, 5_000, 5_000)
    assert p["lines"] == [{"line": 0, "fen": 4_000}, {"line": 1, "fen": 1_000}]
    assert [line["to_pay_fen"] for line in q["lines"]] == [12_560, 3_140]
    assert q["totals"] == {"list_total_fen": 25_000, "member_total_fen": 25_000, "member_discount_fen": 0,
                           "coupons_fen": 4_300, "points_fen": 5_000, "to_pay_fen": 15_700}
    assert q["stored_value"] == {"principal_fen": 3_000, "bonus_fen": 0, "balance_fen": 3_000, "could_pay_fen": 3_000}
    _parts_add_up(q)
    # one quote item; the coupons, points and stored value untouched; the code used once
    after = {(i.pk, i.sk) for i in scan(QuoteItem) if i.pk.startswith("QUOTE#")}
    assert after - before == {(f"QUOTE#{q['quote_id']}", "QUOTE")}
    assert api.ok("GET", f"/v1/members/{mid}/points")["accounts"]["points"]["available"] == 5_000
    assert api.ok("GET", f"/v1/members/{mid}/coupons")["usable"] == 3
    again = api.call("POST", QUOTES, {"member_code": code, "lines": CART}, token=_till())
    assert again[0] == 409, again
    # the member declines the points: the most is still shown, none taken
    declined = api.ok("POST", QUOTES, {"member_id": mid, "use_points": False, "lines": CART}, token=_till())
    assert (declined["points"]["max_points"], declined["points"]["points"], declined["totals"]["to_pay_fen"]) == (
        5_000, 0, 20_700)
    _parts_add_up(declined)


def test_a_walk_in_is_quoted_at_list_prices_and_quotes_are_read_by_their_own_callers_only(shop):
    api = shop
    mid = _member(api, "13800270002")
    walk_in = api.ok("POST", QUOTES, {"lines": CART}, token=_till())
    assert walk_in["member_id"] is None and walk_in["identified_by"] == "walk_in"
    assert (walk_in["coupons"], walk_in["points"], walk_in["stored_value"]) == (None, None, None)
    assert walk_in["totals"]["to_pay_fen"] == 25_000
    _parts_add_up(walk_in)
    own = mint_token("member", mid, 60)
    mine = api.ok("POST", QUOTES, {"merchant_id": "m1", "channel": "mini_program", "lines": CART}, token=own)
    assert mine["member_id"] == mid and mine["identified_by"] == "token" and mine["store_id"] is None
    path = f"{QUOTES}/{walk_in['quote_id']}"
    assert api.ok("GET", path, token=_till()) == walk_in
    assert api.ok("GET", path) == walk_in                                          # HQ
    other_merchant = mint_token("staff", "c2", 60, role="clerk", merchant_id="m2")
    assert api.call("GET", path, token=other_merchant)[0] == 404
    assert api.call("GET", f"{QUOTES}/{mine['quote_id']}", token=mint_token("member", api.member("13800270003"), 60))[0] \
        == 404
    assert api.ok("GET", f"{QUOTES}/{mine['quote_id']}", token=own)["quote_id"] == mine["quote_id"]
    assert api.call("GET", f"{QUOTES}/{mine['quote_id']}", token=_till())[0] == 404     # a store's: not this merchant-level quote
    clock.freeze(T0 + timedelta(minutes=5))
    assert api.ok("GET", path, token=_till())["status"] == "expired"
    item = next(i for i in scan(QuoteItem) if i.pk == f"QUOTE#{walk_in['quote_id']}")
    assert int(item.expires_at) == int((T0 + timedelta(minutes=5, days=1)).timestamp())


@pytest.mark.parametrize("lines", [
    [{"sku": "TEA", "quantity": 1, "unit_price_fen": -100}], [{"sku": "TEA", "quantity": 1, "unit_price_fen": 99.5}],
    [{"sku": "TEA", "quantity": 1.5, "unit_price_fen": 100}], [{"sku": "TEA", "quantity": 1, "unit_price_fen": "100"}],
    [{"sku": "TEA", "quantity": 10_000, "unit_price_fen": 10**9}], [{"sku": "TEA", "quantity": 1, "unit_price_fen": 0}],
    [{"sku": "TEA", "quantity": 1, "unit_price_fen": 1}] * 201, [],
])
def test_a_bad_cart_is_a_422_and_writes_nothing(shop, lines):
    api = shop
    status, reply = api.call("POST", QUOTES, {"lines": lines}, token=_till())
    assert status == 422, reply
    assert [i for i in scan(QuoteItem) if i.pk.startswith("QUOTE#")] == []


def test_a_replay_answers_the_same_quote_and_stores_one(shop):
    api = shop
    mid = api.member("13800270004")
    first = api.ok("POST", QUOTES, {"member_id": mid, "lines": CART}, key="quote-replay", token=_till())
    again = api.ok("POST", QUOTES, {"member_id": mid, "lines": CART}, key="quote-replay", token=_till())
    assert again == first
    assert [i.pk for i in scan(QuoteItem) if i.pk.startswith("QUOTE#")] == [f"QUOTE#{first['quote_id']}"]
    assert api.call("POST", QUOTES, {"member_id": mid, "lines": CART[:1]}, key="quote-replay", token=_till())[0] == 422
