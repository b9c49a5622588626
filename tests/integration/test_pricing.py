"""Price lists and member prices through the app on every backend (issue #27 item 1): a benefit
rule naming a price list that is not saved is refused, as is a version dropping one in use; a
new version never alters what was in force at an earlier ``at``; a till prices a Gold member's
cart with the list or the discount (the lower), a base member's and a walk-in's at list prices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.shared import clock
from chalicelib.shared.credentials import mint_token
from tests.integration.test_tiers import LADDER
from tests.outbox import outbox_events

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
SINCE = "2026-01-01T00:00:00Z"
LISTS = {"lists": [{"id": "PL-GOLD", "name": "黄金会员价", "prices": {"TEA": 880, "CAKE": 950}},
                   {"id": "PL-PLUS", "name": "PLUS 会员价", "prices": {"TEA": 800}}]}
RULES = {"rules": [{"id": "gold", "name": "黄金", "when": {"min_tier": "V3"},
                    "give": [{"kind": "price_list", "ref": "PL-GOLD"}, {"kind": "discount_percent", "percent": 10}]}]}
CART = {"lines": [{"sku": "TEA", "quantity": 2, "unit_price_fen": 1_000},
                  {"sku": "CAKE", "category": "bakery", "unit_price_fen": 1_000},
                  {"sku": "GUM", "quantity": 3, "unit_price_fen": 333}]}


@pytest.fixture
def program(api):
    clock.freeze(T0)
    api.ok("PUT", "/v1/tiers/ladder", {"ladder": LADDER, "effective_from": SINCE})
    api.ok("PUT", "/v1/price-lists", {"lists": LISTS, "effective_from": SINCE})
    api.ok("PUT", "/v1/benefits/rules", {"rules": RULES, "effective_from": SINCE})
    return api


def gold(api, phone: str) -> str:
    mid = api.member(phone)
    api.ok("PUT", f"/v1/members/{mid}/tier", {"tier": "V3", "until": "2028-12-31", "reason": "test"})
    return mid


def priced(api, mid, at=None, cart=CART):
    body = {**cart, "member_id": mid, **({"at": at} if at else {})}
    return api.ok("POST", "/v1/pricing/carts", body)


def test_a_gold_member_gets_the_lower_of_list_and_discount_per_line_and_others_pay_list(program):
    api = program
    reply = priced(api, gold(api, "13800150001"))
    assert (reply["tier"], reply["price_list"], reply["discount_percent"], reply["price_list_version"]) == (
        "V3", "PL-GOLD", 10, 1)
    # TEA 2 × 8.80 (listed, below 9.00 a unit discounted); CAKE 9.00 (discounted, below 9.50 listed);
    # GUM 9.99 less floor(0.999) = 0.99
    assert [(line["member_total_fen"], line["rule"], line["benefit_rule"]) for line in reply["lines"]] == [
        (1_760, "price_list", "gold"), (900, "discount_percent", "gold"), (900, "discount_percent", "gold")]
    assert [line["member_unit_price_fen"] for line in reply["lines"]] == [880, 900, 300]
    assert (reply["list_total_fen"], reply["member_total_fen"], reply["discount_fen"]) == (3_999, 3_560, 439)
    base = priced(api, api.member("13800150002"))
    assert base["tier"] == "V1" and base["price_list"] is None and base["discount_percent"] is None
    assert {line["rule"] for line in base["lines"]} == {"list_price"} and base["member_total_fen"] == 3_999
    walk_in = api.ok("POST", "/v1/pricing/carts", CART)
    assert walk_in["member_id"] is None and walk_in["tier"] is None and walk_in["member_total_fen"] == 3_999


def test_a_member_prices_their_own_cart_and_no_one_elses(program):
    api = program
    mid, other = gold(api, "13800150003"), api.member("13800150004")
    own = mint_token("member", mid, 60)
    assert api.ok("POST", "/v1/pricing/carts", CART, token=own)["member_total_fen"] == 3_560
    assert api.call("POST", "/v1/pricing/carts", {**CART, "member_id": other}, token=own)[0] == 403
    assert api.call("POST", "/v1/pricing/carts", {**CART, "member_id": "01J00000000000000000000000"})[0] == 404


@pytest.mark.parametrize("line", [
    {"sku": "TEA", "unit_price_fen": -1}, {"sku": "TEA", "unit_price_fen": 9.5}, {"sku": "TEA", "unit_price_fen": "9"},
    {"sku": "TEA", "unit_price_fen": 10**9 + 1}, {"sku": "TEA", "quantity": 0, "unit_price_fen": 1},
    {"sku": "TEA", "quantity": 10_000, "unit_price_fen": 1}, {"sku": "", "unit_price_fen": 1},
    {"unit_price_fen": 1}, {"sku": "TEA", "unit_price_fen": 1, "discount": 5},
])
def test_a_bad_line_is_a_422(program, line):
    status, problem = program.call("POST", "/v1/pricing/carts", {"lines": [line]})
    assert status == 422 and problem["type"].endswith("/validation-failed"), problem


def test_ten_thousand_lines_are_refused(program):
    status, _ = program.call("POST", "/v1/pricing/carts", {"lines": [{"sku": "T", "unit_price_fen": 1}] * 501})
    assert status == 422


def test_benefit_rules_naming_a_price_list_not_saved_are_refused_and_a_list_in_use_cannot_be_dropped(program):
    api = program
    unknown = {"rules": [{**RULES["rules"][0], "give": [{"kind": "price_list", "ref": "PL-NONE"}]}]}
    status, problem = api.call("PUT", "/v1/benefits/rules", {"rules": unknown})
    assert status == 422 and "PL-NONE" in problem["detail"], problem
    status, problem = api.call("PUT", "/v1/price-lists", {"lists": {"lists": LISTS["lists"][1:]}})
    assert status == 422 and "PL-GOLD" in problem["detail"], problem
    assert api.ok("GET", "/v1/benefits/rules")["version"] == api.ok("GET", "/v1/price-lists")["version"] == 1
    # a list nobody names may go
    assert api.ok("PUT", "/v1/price-lists", {"lists": {"lists": LISTS["lists"][:1]}})["version"] == 2


def test_a_new_version_never_alters_what_was_in_force_at_an_earlier_at(program):
    api = program
    mid = gold(api, "13800150005")
    before = clock.iso(T0 + timedelta(hours=1))
    clock.freeze(T0 + timedelta(days=2))
    assert priced(api, mid)["lines"][0]["member_total_fen"] == 1_760
    cheaper = {"lists": [{**LISTS["lists"][0], "prices": {"TEA": 700, "CAKE": 950}}, LISTS["lists"][1]]}
    assert api.ok("PUT", "/v1/price-lists", {"lists": cheaper})["version"] == 2
    later = clock.iso(T0 + timedelta(days=30))
    dearer = {"lists": [{**LISTS["lists"][0], "prices": {"TEA": 850, "CAKE": 950}}, LISTS["lists"][1]]}
    assert api.ok("PUT", "/v1/price-lists", {"lists": dearer, "effective_from": later})["version"] == 3
    then, now, future = priced(api, mid, before), priced(api, mid), priced(api, mid, later)
    assert [p["price_list_version"] for p in (then, now, future)] == [1, 2, 3]
    assert [p["lines"][0]["member_total_fen"] for p in (then, now, future)] == [1_760, 1_400, 1_700]
    shown = api.ok("GET", f"/v1/price-lists?at={before.replace('+', '%2B')}")
    assert shown["version"] == 1 and shown["lists"]["lists"][0]["prices"]["TEA"] == 880
    assert [v["version"] for v in shown["versions"]] == [1, 2, 3]
    # and the rules' change is dated too: a discount raised today leaves yesterday's price alone
    deeper = {"rules": [{**RULES["rules"][0], "give": [{"kind": "price_list", "ref": "PL-GOLD"},
                                                       {"kind": "discount_percent", "percent": 20}]}]}
    api.ok("PUT", "/v1/benefits/rules", {"rules": deeper})
    assert priced(api, mid, before)["lines"][1]["member_total_fen"] == 900
    assert priced(api, mid)["lines"][1]["member_total_fen"] == 800


def test_pricing_writes_nothing(program):
    from chalicelib.db.versioned import ConfigVersionItem
    from tests.integration.conftest import scan
    api = program
    mid = gold(api, "13800150006")
    counts = (len(outbox_events(None)), len(scan(ConfigVersionItem)))
    for _ in range(3):
        priced(api, mid)
    assert (len(outbox_events(None)), len(scan(ConfigVersionItem))) == counts


@pytest.mark.parametrize("at", ["1971-01-01T00:00:00Z", "2199-12-31T00:00:00Z", "2026-02-28T23:59:59+08:00"])
def test_any_at_a_caller_may_send_is_priced_without_a_server_error(program, at):
    """Before every version (the defaults: no lists, no rules) and long after: a price, never a 5xx."""
    api = program
    reply = priced(api, gold(api, "13800150007"), at)
    assert reply["member_total_fen"] <= reply["list_total_fen"] == 3_999
    if at.startswith("1971"):
        assert (reply["price_list_version"], reply["price_list"], reply["member_total_fen"]) == (0, None, 3_999)
