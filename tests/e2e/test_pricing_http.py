"""Member prices over real HTTP on the local stack (issue #27 item 1), as their callers drive
them: HQ saves a tier ladder, price lists and benefit rules naming one; a till (a signed POS
request) and the member's own app price a cart: the Gold member gets the list price or the tier
discount, the lower, per line; a base member and a walk-in customer pay list prices. A program
of its own, so its rules cannot leak into other tests; what is left behind is checked: the
versions saved, and nothing written by pricing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from chalicelib.pricing.replies import PricedCartOut
from devstack.credentials import staff_token
from tests.e2e.conftest import fresh_phone, stored_items

PROGRAM, SHOP, STORE = "pricing-e2e", "pricing-shop", "pricing-store"
LADDER = {"tiers": [{"code": "V1", "name": "普通会员", "threshold": 0},
                    {"code": "V3", "name": "黄金会员", "threshold": 5_000, "validity_months": 12}]}
LISTS = {"lists": [{"id": "PL-GOLD", "name": "黄金会员价", "prices": {"TEA-500G": 8_800, "CAKE": 9_500}}]}
RULES = {"rules": [{"id": "gold", "name": "黄金", "when": {"min_tier": "V3"},
                    "give": [{"kind": "price_list", "ref": "PL-GOLD"}, {"kind": "discount_percent", "percent": 10}]}]}
CART = [{"sku": "TEA-500G", "category": "tea", "quantity": 2, "unit_price_fen": 10_000},
        {"sku": "CAKE", "category": "bakery", "quantity": 1, "unit_price_fen": 10_000},
        {"sku": "GUM", "category": "snacks", "quantity": 3, "unit_price_fen": 333}]


@pytest.fixture(scope="module")
def shop(api, stack):
    """The program, its merchant and store, HQ's headers and the store's POS key."""
    made = api.call("POST", "/v1/programs", {"program_id": PROGRAM, "name": "会员价"}, headers=api.staff("platform_admin"),
                    key="pricing-program")
    assert made.status_code in (201, 409), made.text
    hq = api.bearer(staff_token("super_admin", "pricing-hq", program_id=PROGRAM))
    for path, body in (("/v1/merchants", {"merchant_id": SHOP, "name": "茶饮"}),
                       (f"/v1/merchants/{SHOP}/stores", {"store_id": STORE, "name": "一号店"})):
        r = api.call("POST", path, body, headers=hq, key=f"pricing-{path}")
        assert r.status_code in (201, 409), r.text
    key = api.call("POST", f"/v1/merchants/{SHOP}/api-keys", {"store_id": STORE}, headers=hq,
                   key=f"pricing-key-{fresh_phone()}")
    assert key.status_code == 201, key.text
    return hq, {"key_id": key.json()["key_id"], "secret": key.json()["secret"]}


def _saved(api, hq, path, body, tag):
    r = api.call("PUT", path, body, headers=hq, key=f"pricing-{tag}-{fresh_phone()}")
    assert r.status_code == 201, r.text
    return r.json()


def _member(api, hq, tier=None):
    r = api.call("POST", "/v1/members", {"phone": fresh_phone(), "merchant_id": SHOP, "store_id": STORE}, headers=hq,
                 key=f"pricing-m-{fresh_phone()}")
    assert r.status_code == 201, r.text
    member_id = r.json()["member_id"]
    if tier:
        until = (date.today() + timedelta(days=365)).isoformat()
        r = api.call("PUT", f"/v1/members/{member_id}/tier", {"tier": tier, "until": until, "reason": "e2e"},
                     headers=hq, key=f"pricing-t-{member_id}")
        assert r.status_code == 200, r.text
    return member_id


def _priced(api, body, **auth):
    r = api.call("POST", "/v1/pricing/carts", body, **auth)
    assert r.status_code == 200, r.text
    PricedCartOut.model_validate(r.json())               # no field the document does not describe
    return r.json()


def _program_items(stack) -> dict:
    # (not the stream's projections, nor a signed request's spent signature, which every signed read leaves)
    derived = tuple(f"{PROGRAM}/{p}" for p in ("PTSSTAT#", "PTSLIAB#", "STATS#", "APPLIED#", "PREPAID", "COUPONSTATS#",
                                                "SIG#"))
    return stored_items(stack, lambda pk, _: pk.startswith(f"{PROGRAM}/") and not pk.startswith(derived))

def test_hq_saves_lists_and_rules_and_a_gold_member_gets_member_prices_a_base_member_does_not(api, stack, shop):
    hq, till = shop
    _saved(api, hq, "/v1/tiers/ladder", {"ladder": LADDER}, "ladder")
    refused = api.call("PUT", "/v1/benefits/rules", {"rules": RULES}, headers=hq, key=f"pricing-early-{fresh_phone()}")
    assert refused.status_code == 422 and "PL-GOLD" in refused.json()["detail"]       # no such list yet
    lists = _saved(api, hq, "/v1/price-lists", {"lists": LISTS}, "lists")
    rules = _saved(api, hq, "/v1/benefits/rules", {"rules": RULES}, "rules")
    gold, base = _member(api, hq, "V3"), _member(api, hq)

    at_till = _priced(api, {"member_id": gold, "lines": CART}, signed_by=till)
    assert (at_till["tier"], at_till["price_list"], at_till["discount_percent"]) == ("V3", "PL-GOLD", 10)
    # by hand: TEA 2 × 88.00 listed (below 90.00 discounted); CAKE 90.00 discounted (below 95.00
    # listed); GUM 3 × 3.33 = 9.99, 10 % of it 0.999 rounded down: 0.99 off
    assert [(line["member_total_fen"], line["discount_fen"], line["rule"]) for line in at_till["lines"]] == [
        (17_600, 2_400, "price_list"), (9_000, 1_000, "discount_percent"), (900, 99, "discount_percent")]
    assert (at_till["list_total_fen"], at_till["member_total_fen"], at_till["discount_fen"]) == (30_999, 27_500, 3_499)
    assert at_till["price_list_version"] == lists["version"]

    token = api.call("POST", "/v1/auth/member-tokens", {"member_id": gold, "verified_by": "sms_otp"}, headers=hq,
                     key=f"pricing-tok-{gold}")
    assert token.status_code == 201, token.text
    in_app = _priced(api, {"lines": CART}, headers=api.bearer(token.json()["token"]))
    assert in_app["member_id"] == gold and in_app["lines"] == at_till["lines"]
    others = api.call("POST", "/v1/pricing/carts", {"member_id": base, "lines": CART},
                      headers=api.bearer(token.json()["token"]))
    assert others.status_code == 403, others.text

    plain = _priced(api, {"member_id": base, "lines": CART}, signed_by=till)
    assert plain["tier"] == "V1" and plain["price_list"] is None and plain["discount_percent"] is None
    assert {line["rule"] for line in plain["lines"]} == {"list_price"} and plain["member_total_fen"] == 30_999
    walk_in = _priced(api, {"lines": CART}, signed_by=till)
    assert walk_in["member_id"] is None and walk_in["member_total_fen"] == 30_999

    # what is left behind: the versions as saved, and nothing written by pricing
    shown = api.call("GET", "/v1/price-lists", signed_by=till).json()
    assert shown["version"] == lists["version"] and shown["lists"] == LISTS
    assert api.call("GET", "/v1/benefits/rules", headers=hq).json()["version"] == rules["version"]
    best = api.call("GET", f"/v1/members/{gold}/benefits", headers=hq).json()["best"]
    assert (best["price_list"], best["discount_percent"]) == ("PL-GOLD", 10)
    before = _program_items(stack)
    for _ in range(3):
        _priced(api, {"member_id": gold, "lines": CART}, signed_by=till)
    assert _program_items(stack) == before


def test_a_bad_cart_is_a_problem_and_another_programs_member_is_not_found(api, shop):
    _, till = shop
    # (10,000 lines pass 256 KB: 413 before they are read)
    for lines in ([{"sku": "TEA", "unit_price_fen": -100}], [{"sku": "TEA", "unit_price_fen": 99.5}],
                  [{"sku": "TEA", "unit_price_fen": 1}] * 10_000, [{"sku": "TEA", "quantity": 10**12, "unit_price_fen": 1}]):
        r = api.call("POST", "/v1/pricing/carts", {"lines": lines}, signed_by=till)
        assert r.status_code in (413, 422) and r.headers["Content-Type"] == "application/problem+json", r.text
    r = api.call("POST", "/v1/pricing/carts", {"member_id": "01J00000000000000000000000", "lines": CART},
                 signed_by=till)
    assert r.status_code == 404, r.text
