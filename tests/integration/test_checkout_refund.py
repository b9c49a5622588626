"""Checkout refunds through the app on every backend (issue #27 item 5): the commit test's checkout
(two lines, two coupons, points, stored value and cash) refunded in two partial refunds, one TEA
by lines then the rest by amount, with every figure by hand and the member's points, stored value
and coupons checked after each; replays (the same Idempotency-Key, and the same refund_id under
another key) give nothing twice; a crash between two stores' refunds resumes on retry; a refund
beyond what was paid is 409 and applies nothing; another merchant's till gets 404."""

from __future__ import annotations

import pytest

from chalicelib.checkout import refunds, saga
from chalicelib.shared import clock
from chalicelib.shared.credentials import mint_token
from tests.integration.test_checkout_commit import CHECKOUTS, _balances, _quote
from tests.integration.test_checkout_quote import CART, T0, _member, _till
from tests.integration.test_gift_cards import cards  # noqa: F401  (the fixture)


@pytest.fixture
def shop(api):
    clock.freeze(T0)
    return api


def _completed(api, phone, key):
    mid = _member(api, phone)
    q = _quote(api, mid)
    c = api.ok("POST", CHECKOUTS, {"quote_id": q["quote_id"], "lines": CART, "stored_value_fen": 3_000}, key=key,
               token=_till())
    api.ok("POST", f"{CHECKOUTS}/{c['checkout_id']}/complete", {"payment_ref": f"wx-{key}"}, key=f"{key}-done",
           token=_till())
    return mid, c, [x["coupon_id"] for x in q["coupons"]["chosen"]]         # A (20.00 off), B (10 %)


def _refund(api, c, body, key):
    return api.call("POST", f"{CHECKOUTS}/{c['checkout_id']}/refunds", body, key=key, token=_till())


def test_two_partial_refunds_give_back_every_part_by_hand(shop):
    api = shop
    mid, c, (a, b) = _completed(api, "13800276001", "co-rf")
    # the commit's lines (test_checkout_commit): TEA 2 × 100.00: coupons 16.00 + 18.40, points 40.00,
    # stored value 24.00, cash 101.60; CAKE 1 × 50.00: coupons 4.00 + 4.60, points 10.00, stored
    # value 6.00, cash 25.40. Completion earned 157 points and 207 growth on the order's 165.60 :
    # 41.40 (refundOrder spreads them so: 126 + 31 points, 166 + 41 growth). The member then has
    # 157 points, no stored value.
    assert _balances(api, mid) == {"points": (157, 0), "sv": 0, "coupons": ["unused", "used", "used"]}
    status, one = _refund(api, c, {"refund_id": "R-1", "lines": [{"line": 0, "quantity": 1}], "reason": "one tea back"},
                          "rf-1")
    assert status == 201, one
    # one TEA of two: half of each of its parts
    assert one["lines"] == [{"line": 0, "share": "1/2", "member_discount_fen": 0, "coupons": {a: 800, b: 920},
                             "points_fen": 2_000, "stored_value_fen": 1_200, "gift_cards": {}, "cash_fen": 5_080,
                             "fen": 8_280}]
    assert (one["status"], one["checkout_status"], one["amount_fen"], one["cash_fen"]) == (
        "refunded", "partially_refunded", 8_280, 5_080)
    # points: 82.80 of the order's 207.00, all on TEA: half its 126 earned points back (63) and half
    # its 166 growth (83), half the 4,000 of the 5,000 spent points that paid TEA given back (2,000);
    # stored value 12.00
    steps = {s["part"]: s for s in one["steps"]}
    assert set(steps) == {"points", "stored_value"} and all(s["done"] for s in steps.values())
    assert (steps["points"]["points_clawed_back"], steps["points"]["growth_clawed_back"],
            steps["points"]["points_restored"]) == (63, 83, 2_000)
    assert (steps["stored_value"]["principal_fen"], steps["stored_value"]["bonus_fen"]) == (1_200, 0)
    assert steps["points"]["ref"] == refunds.ref(c["checkout_id"], "R-1", "points")
    assert _balances(api, mid) == {"points": (157 - 63 + 2_000, 0), "sv": 1_200,
                                   "coupons": ["unused", "used", "used"]}              # coupons: CAKE not refunded
    seen = api.ok("GET", f"{CHECKOUTS}/{c['checkout_id']}", token=_till())
    assert seen["status"] == "partially_refunded"
    assert seen["refunded"]["refunds"] == 1 and seen["refunded"]["fen"] == 8_280
    assert [x["share"] for x in seen["refunded"]["lines"]] == ["1/2", "0"]
    # the rest by amount: 124.20 is all that is left (82.80 of TEA, 41.40 of CAKE)
    status, rest = _refund(api, c, {"refund_id": "R-2", "amount_fen": 12_420, "reason": "the rest"}, "rf-2")
    assert status == 201, rest
    assert [(x["line"], x["share"], x["coupons"], x["points_fen"], x["stored_value_fen"], x["cash_fen"], x["fen"])
            for x in rest["lines"]] == [(0, "1", {a: 800, b: 920}, 2_000, 1_200, 5_080, 8_280),
                                        (1, "1", {a: 400, b: 460}, 1_000, 600, 2_540, 4_140)]
    assert (rest["checkout_status"], rest["cash_fen"], rest["points_fen"], rest["stored_value_fen"]) == (
        "refunded", 7_620, 3_000, 1_800)
    steps = {s["part"]: s for s in rest["steps"]}
    # every line of both coupons refunded in full: both back (the templates' default policy: restore)
    assert steps[f"coupon:{a}"]["coupon_restored"] is steps[f"coupon:{b}"]["coupon_restored"] is True
    assert (steps["points"]["points_clawed_back"], steps["points"]["growth_clawed_back"],
            steps["points"]["points_restored"]) == (94, 124, 3_000)
    # everything as before the checkout: 5,000 points, 30.00 stored value, three coupons unused
    assert _balances(api, mid) == {"points": (5_000, 0), "sv": 3_000, "coupons": ["unused"] * 3}
    seen = api.ok("GET", f"{CHECKOUTS}/{c['checkout_id']}", token=_till())
    assert seen["status"] == "refunded" and seen["refunded"]["fen"] == 20_700 and seen["refunded"]["cash_fen"] == 12_700
    for line, refunded in zip(seen["lines"], seen["refunded"]["lines"], strict=True):
        assert {k: refunded[k] for k in ("coupons", "points_fen", "stored_value_fen", "gift_cards", "cash_fen")} == \
            {k: line[k] for k in ("coupons", "points_fen", "stored_value_fen", "gift_cards", "cash_fen")}
    order = api.ok("GET", f"/v1/orders/{c['order_id']}?merchant_id=m1")
    assert order["refunded_fen"] == 20_700
    assert _refund(api, c, {"refund_id": "R-3", "amount_fen": 1, "reason": "more"}, "rf-3")[0] == 409


def test_replays_and_a_reused_refund_id_give_nothing_twice_and_a_crash_resumes(shop, monkeypatch):
    api = shop
    mid, c, _ = _completed(api, "13800276002", "co-rp")
    body = {"refund_id": "R-1", "lines": [{"line": 1, "quantity": 1}], "reason": "cake back"}
    real = refunds._STORES["stored_value"]

    def crash(*args):
        raise RuntimeError("the Lambda timed out")
    monkeypatch.setitem(refunds._STORES, "stored_value", crash)
    assert _refund(api, c, body, "rp-1")[0] == 500
    crashed = _balances(api, mid)        # the points step made, with its mark; not the stored value's
    assert crashed["sv"] == 0 and crashed["points"][0] != 157
    monkeypatch.setitem(refunds._STORES, "stored_value", real)
    status, first = _refund(api, c, body, "rp-2")          # the retry: the same refund_id, another key
    assert status == 201 and first["status"] == "refunded" and first["stored_value_fen"] == 600
    after = _balances(api, mid)
    # CAKE: 31 earned points back, its 1,000 spent points given back; 6.00 stored value
    assert after == {"points": (157 - 31 + 1_000, 0), "sv": 600, "coupons": ["unused", "used", "used"]}
    assert _refund(api, c, body, "rp-2") == (201, first)                   # the same key: the same reply
    again = _refund(api, c, body, "rp-3")                                  # the same refund_id, a third key
    assert again[0] == 201 and again[1]["refund_id"] == "R-1" and again[1]["lines"] == first["lines"]
    assert _balances(api, mid) == after
    other = _refund(api, c, {**body, "lines": [{"line": 0, "quantity": 1}]}, "rp-4")
    assert other[0] == 409 and other[1]["type"].endswith("refund-id-reused")
    assert api.ok("GET", f"{CHECKOUTS}/{c['checkout_id']}", token=_till())["refunded"]["refunds"] == 1
    assert _balances(api, mid) == after


def test_a_refund_beyond_what_was_paid_and_other_callers_are_refused_with_nothing_applied(shop):
    api = shop
    mid, c, _ = _completed(api, "13800276003", "co-bad")
    before = (_balances(api, mid), api.ok("GET", f"{CHECKOUTS}/{c['checkout_id']}", token=_till()))
    for body in ({"refund_id": "B-1", "lines": [{"line": 0, "quantity": 3}], "reason": "x"},
                 {"refund_id": "B-2", "amount_fen": 20_701, "reason": "x"}):
        status, reply = _refund(api, c, body, body["refund_id"])
        assert status == 409 and reply["type"].endswith("refund-exceeds-paid"), reply
    for body in ({"refund_id": "B-3", "lines": [{"line": 2, "quantity": 1}], "reason": "x"},
                 {"refund_id": "B-4", "amount_fen": 100, "lines": [{"line": 0, "quantity": 1}], "reason": "x"},
                 {"refund_id": "B-5", "reason": "x"}, {"refund_id": "B-6", "amount_fen": 1.5, "reason": "x"},
                 {"refund_id": "B-7", "amount_fen": 100}, {"refund_id": "B 8", "amount_fen": 100, "reason": "x"},
                 {"refund_id": "B-9", "lines": [{"line": 0, "quantity": 1}, {"line": 0, "quantity": 1}], "reason": "x"}):
        assert _refund(api, c, body, body["refund_id"])[0] == 422, body
    other = mint_token("staff", "clerk-m2", 60, role="clerk", merchant_id="m2", store_id="s9")
    assert api.call("POST", f"{CHECKOUTS}/{c['checkout_id']}/refunds", {"refund_id": "B-10", "amount_fen": 100,
                                                                       "reason": "x"}, key="b10", token=other)[0] == 404
    member = mint_token("member", mid, 60)
    assert api.call("POST", f"{CHECKOUTS}/{c['checkout_id']}/refunds", {"refund_id": "B-11", "amount_fen": 100,
                                                                       "reason": "x"}, key="b11", token=member)[0] == 403
    assert (_balances(api, mid), api.ok("GET", f"{CHECKOUTS}/{c['checkout_id']}", token=_till())) == before
    # a checkout not completed is not refunded (cancel it)
    q = _quote(api, _member(api, "13800276004"))
    held = api.ok("POST", CHECKOUTS, {"quote_id": q["quote_id"]}, key="co-held", token=_till())
    status, reply = _refund(api, held, {"refund_id": "B-12", "amount_fen": 100, "reason": "x"}, "b12")
    assert status == 409 and reply["type"].endswith("checkout-state") and held["status"] == saga.COMMITTED


def test_a_gift_card_paid_walk_in_checkout_is_refunded_onto_the_card(cards):  # noqa: F811
    from chalicelib.gift_cards import keys
    from tests.integration.test_checkout_quote import QUOTES
    from tests.integration.test_gift_cards import make_batch, secrets_of, sell
    api = cards
    batch = make_batch(api, count=2)
    assert sell(api, batch, 1, 1, "INV-RF")[0] == 201
    number = keys.card_number(1, 1)
    clock.freeze(T0)
    q = api.ok("POST", QUOTES, {"lines": CART}, token=_till())                # a walk-in: list prices, cash
    c = api.ok("POST", CHECKOUTS, {"quote_id": q["quote_id"], "gift_cards": [
        {"card_number": number, "secret": secrets_of(batch)[number], "amount_fen": 10_000}]}, key="co-gc", token=_till())
    # the card's 100.00 over the 200.00 : 50.00 to pay: 80.00 + 20.00; cash 120.00 + 30.00
    assert [(x["gift_cards"], x["cash_fen"]) for x in c["lines"]] == [({number: 8_000}, 12_000), ({number: 2_000}, 3_000)]
    api.ok("POST", f"{CHECKOUTS}/{c['checkout_id']}/complete", {"payment_ref": "cash-gc"}, key="gc-done", token=_till())
    assert api.ok("GET", f"/v1/gift-cards/{number}")["balance_fen"] == 0
    # 50.00 by amount: a fifth of each line (250.00 left): the card 16.00 + 4.00, cash 24.00 + 6.00
    status, one = _refund(api, c, {"refund_id": "G-1", "amount_fen": 5_000, "reason": "partial"}, "gc-1")
    assert status == 201, one
    assert [(x["share"], x["gift_cards"], x["cash_fen"]) for x in one["lines"]] == [
        ("1/5", {number: 1_600}, 2_400), ("1/5", {number: 400}, 600)]
    assert [(s["part"], s["fen"], s["done"]) for s in one["steps"]] == [(f"gift_card:{number}", 2_000, True)]
    assert (one["amount_fen"], one["gift_cards_fen"], one["cash_fen"]) == (5_000, 2_000, 3_000)
    assert api.ok("GET", f"/v1/gift-cards/{number}")["balance_fen"] == 2_000
    # the CAKE's four fifths left: the card 16.00, cash 24.00
    status, two = _refund(api, c, {"refund_id": "G-2", "lines": [{"line": 1, "quantity": 1}], "reason": "cake"}, "gc-2")
    assert status == 201 and [(x["share"], x["gift_cards"], x["cash_fen"]) for x in two["lines"]] == [
        ("1", {number: 1_600}, 2_400)]
    assert api.ok("GET", f"/v1/gift-cards/{number}")["balance_fen"] == 3_600
    assert api.ok("GET", f"{CHECKOUTS}/{c['checkout_id']}", token=_till())["refunded"]["fen"] == 9_000
