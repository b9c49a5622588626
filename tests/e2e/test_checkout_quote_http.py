"""Checkout quotes over real HTTP on the local stack (issue #27 item 2), as a till drives them:
HQ saves a ladder, a price list and benefit rules; a Gold member has two joint coupons, points and
stored value; the store's till scans the member's code and quotes a cart (every figure worked out
by hand below); a walk-in customer is quoted at list prices; another merchant's till reading the
quote gets 404; bad carts are 422 and nothing is written. A program of its own; what is left
behind is checked: one quote item a quote, and the member code's use."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from chalicelib.checkout.replies import QuoteOut
from devstack.credentials import staff_token
from tests.e2e.conftest import fresh_phone, stored_items

PROGRAM, SHOP, STORE, OTHER = "quote-e2e", "quote-shop", "quote-store", "quote-other"
LADDER = {"tiers": [{"code": "V1", "name": "普通会员", "threshold": 0},
                    {"code": "V3", "name": "黄金会员", "threshold": 5_000, "validity_months": 12}]}
LISTS = {"lists": [{"id": "PL-GOLD", "name": "黄金会员价", "prices": {"TEA-500G": 8_800}}]}
RULES = {"rules": [{"id": "gold", "name": "黄金", "when": {"min_tier": "V3"},
                    "give": [{"kind": "price_list", "ref": "PL-GOLD"}, {"kind": "discount_percent", "percent": 10}]}]}
JOINT_A = {"kind": "amount_off", "title": "满100减20", "amount_off_fen": 2_000, "min_spend_fen": 10_000,
           "validity": {"days_after_claim": 30}, "stacking": {"category": "joint", "group": "a"}}
JOINT_B = {"kind": "percent_off", "title": "九折", "percent": 90, "validity": {"days_after_claim": 30},
           "stacking": {"category": "joint", "group": "b"}}
CART = [{"sku": "TEA-500G", "category": "tea", "quantity": 2, "unit_price_fen": 10_000},
        {"sku": "CAKE", "category": "bakery", "quantity": 1, "unit_price_fen": 10_000}]
QUOTES = "/v1/checkouts/quotes"


@pytest.fixture(scope="module")
def shop(api, stack):
    """The program, its merchant, store and POS key, another merchant's POS key, HQ's headers."""
    made = api.call("POST", "/v1/programs", {"program_id": PROGRAM, "name": "结账"}, headers=api.staff("platform_admin"),
                    key="quote-program")
    assert made.status_code in (201, 409), made.text
    hq = api.bearer(staff_token("super_admin", "quote-hq", program_id=PROGRAM))
    keys = []
    for merchant in (SHOP, OTHER):
        for path, body in (("/v1/merchants", {"merchant_id": merchant, "name": merchant}),
                           (f"/v1/merchants/{merchant}/stores", {"store_id": STORE, "name": "一号店"})):
            r = api.call("POST", path, body, headers=hq, key=f"quote-{path}-{merchant}")
            assert r.status_code in (201, 409), r.text
        key = api.call("POST", f"/v1/merchants/{merchant}/api-keys", {"store_id": STORE}, headers=hq,
                       key=f"quote-key-{fresh_phone()}")
        assert key.status_code == 201, key.text
        keys.append({"key_id": key.json()["key_id"], "secret": key.json()["secret"]})
    for path, body in (("/v1/tiers/ladder", {"ladder": LADDER}), ("/v1/price-lists", {"lists": LISTS}),
                       ("/v1/benefits/rules", {"rules": RULES})):
        r = api.call("PUT", path, body, headers=hq, key=f"quote-{path}-{fresh_phone()}")
        assert r.status_code == 201, r.text
    return hq, keys[0], keys[1]


def _ok(r, status=200):
    assert r.status_code == status, r.text
    return r.json()


def _gold_member_with_coupons_points_and_stored_value(api, hq, till):
    member_id = _ok(api.call("POST", "/v1/members", {"phone": fresh_phone(), "merchant_id": SHOP, "store_id": STORE},
                             headers=hq, key=f"quote-m-{fresh_phone()}"), 201)["member_id"]
    until = (date.today() + timedelta(days=365)).isoformat()
    _ok(api.call("PUT", f"/v1/members/{member_id}/tier", {"tier": "V3", "until": until, "reason": "e2e"}, headers=hq,
                 key=f"quote-t-{member_id}"))
    token = _ok(api.call("POST", "/v1/auth/member-tokens", {"member_id": member_id, "verified_by": "sms_otp"},
                         headers=hq, key=f"quote-tok-{member_id}"), 201)["token"]
    app = api.bearer(token)
    for n, terms in enumerate((JOINT_A, JOINT_B)):        # the member claims them in the app
        t = _ok(api.call("POST", "/v1/coupon-templates", {"terms": terms, "stock": 100, "state": "active"}, headers=hq,
                         key=f"quote-tpl{n}-{member_id}"), 201)
        _ok(api.call("POST", "/v1/members/me/coupons", {"template_id": t["template_id"]}, headers=app,
                     key=f"quote-c{n}-{member_id}"), 201)
    _ok(api.call("POST", f"/v1/members/{member_id}/points/earn", {"order_id": f"e-{member_id}", "amount_fen": 300_000},
                 signed_by=till, key=f"quote-e-{member_id}"), 201)
    _ok(api.call("POST", f"/v1/members/{member_id}/stored-value/top-ups", {"amount_fen": 5_000,
                                                                          "payment_ref": f"p-{member_id}"},
                 signed_by=till, key=f"quote-sv-{member_id}"), 201)
    return member_id, app


def _program_items(stack) -> dict:
    derived = tuple(f"{PROGRAM}/{p}" for p in ("PTSSTAT#", "PTSLIAB#", "STATS#", "APPLIED#", "PREPAID", "COUPONSTATS#",
                                                "SIG#", "IDEMPOTENCY#"))
    return stored_items(stack, lambda pk, _: pk.startswith(f"{PROGRAM}/") and not pk.startswith(derived))

def test_a_till_quotes_a_gold_member_by_code_and_a_walk_in_and_another_merchant_cannot_read_it(api, stack, shop):
    hq, till, other_till = shop
    member_id, app = _gold_member_with_coupons_points_and_stored_value(api, hq, till)
    code = _ok(api.call("GET", "/v1/members/me/member-code", headers=app))["code"]
    stack.drain(30)                     # the setup's growth folded into the member's tier before the snapshot
    before = _program_items(stack)
    q = _ok(api.call("POST", QUOTES, {"member_code": code, "channel": "pos", "lines": CART}, signed_by=till,
                     key=f"quote-q-{member_id}"), 201)
    QuoteOut.model_validate(q)
    # by hand. Member prices: TEA 2 × 88.00 = 176.00 (price list, below 180.00 at 10 % off); CAKE
    # 90.00 (10 % off, no list price): 266.00 of 300.00 listed.
    assert [(line["member_total_fen"], line["rule"]) for line in q["lines"]] == [(17_600, "price_list"),
                                                                                (9_000, "discount_percent")]
    # Coupons, the amount one first: 20.00 over 176 : 90 -> 1,323.31 + 676.69 fen = 1,323 + 677 (the odd
    # fen to the larger remainder); 10 % off the 246.00 left = 24.60 over 162.77 : 83.23 -> 1,627.70 +
    # 832.30 = 1,628 + 832. Saved 44.60, left 146.49 + 74.91 = 221.40.
    assert [(c["saving_fen"], [p["fen"] for p in c["lines"]]) for c in q["coupons"]["chosen"]] == [
        (2_000, [1_323, 677]), (2_460, [1_628, 832])]
    # Points: the cap is 50 % of 221.40 = 110.70 = 11,070 points (100 = ¥1); the member has 3,000
    # (¥3,000 earned at 1 a yuan): 30.00 over 146.49 : 74.91 -> 1,984.96 + 1,015.04 = 1,985 + 1,015.
    p = q["points"]
    assert (p["limit_points"], p["available_points"], p["points"], p["fen"]) == (11_070, 3_000, 3_000, 3_000)
    assert [x["fen"] for x in p["lines"]] == [1_985, 1_015]
    # To pay: 146.49 - 19.85 = 126.64 and 74.91 - 10.15 = 64.76: 191.40; stored value 50.00 of it.
    assert [line["to_pay_fen"] for line in q["lines"]] == [12_664, 6_476]
    assert q["totals"] == {"list_total_fen": 30_000, "member_total_fen": 26_600, "member_discount_fen": 3_400,
                           "coupons_fen": 4_460, "points_fen": 3_000, "to_pay_fen": 19_140}
    assert q["stored_value"]["could_pay_fen"] == 5_000
    for line in q["lines"]:
        assert line["member_discount_fen"] + line["coupons_fen"] + line["points_fen"] + line["to_pay_fen"] == \
            line["list_total_fen"]
    # left behind: the quote and the code's use, nothing else (coupons, points, stored value as they were)
    after = _program_items(stack)
    added = {k for k in after if k not in before}
    changed = {k for k in before if after.get(k) != before[k]}
    assert [k[1] for k in added if "/QUOTE#" in k[1]] == [f"{PROGRAM}/QUOTE#{q['quote_id']}"]
    assert {k[1].split("/", 1)[1].split("#")[0] for k in added} <= {"QUOTE", "MCODEGUARD"}, added   # the till's count
    assert {k[1].split("/", 1)[1].split("#")[0] for k in changed} <= {"MCODE", "MCODEGUARD"}, changed
    # read back by the till, not by another merchant's
    assert _ok(api.call("GET", f"{QUOTES}/{q['quote_id']}", signed_by=till)) == q
    refused = api.call("GET", f"{QUOTES}/{q['quote_id']}", signed_by=other_till)
    assert refused.status_code == 404 and refused.headers["Content-Type"] == "application/problem+json"
    # a walk-in customer: list prices, no coupons, points or stored value
    walk_in = _ok(api.call("POST", QUOTES, {"lines": CART}, signed_by=till, key=f"quote-w-{member_id}"), 201)
    QuoteOut.model_validate(walk_in)
    assert walk_in["member_id"] is None and walk_in["totals"]["to_pay_fen"] == 30_000
    assert (walk_in["coupons"], walk_in["points"], walk_in["stored_value"]) == (None, None, None)


def test_bad_carts_are_a_problem_and_write_nothing(api, stack, shop):
    _, till, _ = shop
    before = _program_items(stack)
    for n, lines in enumerate(([{"sku": "TEA", "quantity": 1, "unit_price_fen": -100}],
                               [{"sku": "TEA", "quantity": 1, "unit_price_fen": 99.5}],
                               [{"sku": "TEA", "quantity": 10_000, "unit_price_fen": 10**9}],
                               [{"sku": "TEA", "quantity": 1, "unit_price_fen": 1}] * 201)):
        r = api.call("POST", QUOTES, {"lines": lines}, signed_by=till, key=f"quote-bad{n}-{fresh_phone()}")
        assert r.status_code == 422 and r.headers["Content-Type"] == "application/problem+json", r.text
    assert _program_items(stack) == before
