"""Member prices with no I/O (issue #27 item 1): hand-worked figures for a price list, a tier
discount, both (the lower for the customer wins, never stacked), quantities and rounding; a
property over random carts; the price lists' bounds."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from chalicelib.pricing.domain import Line, MemberTerms, price_cart, price_line
from chalicelib.pricing.lists import MAX_PRICE_FEN, MAX_PRICES, PriceLists

GOLD_LIST = MemberTerms(price_list="PL-GOLD", price_list_rule="gold-prices",
                        prices={"TEA": 880, "CAKE": 950, "MUG": 900, "PEN": 1_200})
TEN_OFF = MemberTerms(discount_percent=10, discount_rule="gold-discount")
BOTH = MemberTerms(price_list="PL-GOLD", price_list_rule="gold-prices", prices=GOLD_LIST.prices,
                   discount_percent=10, discount_rule="gold-discount")


def test_a_price_list_price_replaces_the_list_price():
    p = price_line(0, Line("TEA", 1, 1_000), GOLD_LIST)
    assert (p.list_total_fen, p.member_total_fen, p.discount_fen, p.member_unit_price_fen) == (1_000, 880, 120, 880)
    assert (p.rule, p.benefit_rule, p.price_list) == ("price_list", "gold-prices", "PL-GOLD")


def test_a_sku_not_on_the_list_keeps_its_list_price():
    p = price_line(0, Line("BREAD", 2, 450), GOLD_LIST)
    assert (p.member_total_fen, p.discount_fen, p.rule, p.benefit_rule, p.price_list) == (900, 0, "list_price", None,
                                                                                           None)


def test_a_tier_discount_rounds_its_discount_down_on_the_line_total():
    p = price_line(0, Line("BREAD", 1, 1_999), TEN_OFF)        # 10 % of 19.99 is 1.999: 1.99 off
    assert (p.member_total_fen, p.discount_fen, p.rule, p.benefit_rule) == (1_800, 199, "discount_percent",
                                                                             "gold-discount")


def test_a_quantity_is_discounted_on_the_line_total_not_per_unit():
    # 3 × 3.33 = 9.99; 5 % of it is 0.4995: 0.49 off (per unit it would be 3 × 0.16 = 0.48)
    p = price_line(0, Line("GUM", 3, 333), MemberTerms(discount_percent=5, discount_rule="r"))
    assert (p.list_total_fen, p.discount_fen, p.member_total_fen) == (999, 49, 950)
    assert p.member_unit_price_fen is None                      # 9.50 / 3 is no whole number of fen
    listed = price_line(0, Line("TEA", 4, 1_000), GOLD_LIST)
    assert (listed.member_total_fen, listed.discount_fen, listed.member_unit_price_fen) == (3_520, 480, 880)


@pytest.mark.parametrize(("sku", "total", "rule"), [
    ("TEA", 880, "price_list"),             # 8.80 listed < 9.00 discounted: the price list
    ("CAKE", 900, "discount_percent"),      # 9.50 listed > 9.00 discounted: the discount
    ("MUG", 900, "price_list"),             # 9.00 = 9.00: a tie goes to the price list
    ("PEN", 900, "discount_percent"),       # a list price above the till's price never applies
    ("BREAD", 900, "discount_percent"),     # not on the list: the discount
])
def test_with_both_the_lower_price_for_the_customer_wins_never_both(sku, total, rule):
    p = price_line(0, Line(sku, 1, 1_000), BOTH)
    assert (p.member_total_fen, p.discount_fen, p.rule) == (total, 1_000 - total, rule)
    assert p.member_total_fen != 792                            # TEA stacked: 8.80 less 10 %, never


def test_a_price_list_above_the_tills_price_is_ignored():
    p = price_line(0, Line("PEN", 2, 1_000), GOLD_LIST)
    assert (p.member_total_fen, p.discount_fen, p.rule) == (2_000, 0, "list_price")


def test_a_discount_that_rounds_to_nothing_is_not_claimed():
    p = price_line(0, Line("CANDY", 1, 9), TEN_OFF)           # 10 % of 0.09 is 0.009: nothing off
    assert (p.member_total_fen, p.discount_fen, p.rule, p.benefit_rule) == (9, 0, "list_price", None)
    free = price_line(0, Line("GIFT", 1, 0), BOTH)
    assert (free.member_total_fen, free.discount_fen, free.rule) == (0, 0, "list_price")


def test_a_walk_in_customer_pays_list_prices_and_the_cart_sums_its_lines():
    cart = price_cart([Line("TEA", 2, 1_000), Line("CAKE", 1, 1_000, "bakery")], MemberTerms())
    assert [p.rule for p in cart.lines] == ["list_price", "list_price"]
    assert (cart.list_total_fen, cart.member_total_fen, cart.discount_fen) == (3_000, 3_000, 0)
    member = price_cart([Line("TEA", 2, 1_000), Line("CAKE", 1, 1_000, "bakery"), Line("GUM", 3, 333)], BOTH)
    # TEA 2 × 8.80 = 17.60; CAKE 9.00 (discount); GUM 9.99 - 0.99 = 9.00
    assert [p.member_total_fen for p in member.lines] == [1_760, 900, 900]
    assert (member.list_total_fen, member.member_total_fen, member.discount_fen) == (3_999, 3_560, 439)
    assert [p.line for p in member.lines] == [0, 1, 2] and member.lines[1].category == "bakery"


SKUS = ["A", "B", "C", "D"]
lines = st.lists(st.builds(Line, st.sampled_from(SKUS), st.integers(1, 9_999), st.integers(0, 10**9),
                           st.sampled_from([None, "food"])), min_size=1, max_size=20)
terms = st.builds(
    lambda prices, percent, listed: MemberTerms(price_list="PL" if listed else None, price_list_rule="r1",
                                                prices=prices, discount_percent=percent, discount_rule="r2"),
    st.dictionaries(st.sampled_from(SKUS), st.integers(1, 10**9)), st.one_of(st.none(), st.integers(1, 99)),
    st.booleans())


@settings(max_examples=300, deadline=None)
@given(lines, terms)
def test_member_prices_never_exceed_list_prices_never_go_negative_and_sum_to_the_totals(cart_lines, member):
    cart = price_cart(cart_lines, member)
    assert 0 <= cart.member_total_fen <= cart.list_total_fen
    assert cart.list_total_fen == sum(line.unit_price_fen * line.quantity for line in cart_lines)
    assert cart.member_total_fen + cart.discount_fen == cart.list_total_fen
    for line, p in zip(cart_lines, cart.lines, strict=True):
        assert 0 <= p.member_total_fen <= p.list_total_fen and p.discount_fen == p.list_total_fen - p.member_total_fen
        listed = member.prices.get(line.sku) if member.price_list else None
        offers = [p.list_total_fen]
        if listed is not None:
            offers.append(listed * line.quantity)
        if member.discount_percent:
            offers.append(p.list_total_fen - p.list_total_fen * member.discount_percent // 100)
        assert p.member_total_fen == min(offers)                       # the lowest offer, never two stacked
        assert (p.rule == "list_price") == (p.discount_fen == 0)


def _lists(count: int, sku_length: int = 64) -> dict:
    return {"lists": [{"id": "PL-BIG", "name": "大", "prices": {f"{i:0{sku_length}d}": MAX_PRICE_FEN
                                                               for i in range(count)}}]}


def test_the_largest_price_lists_fit_one_request_body_and_one_item():
    body = _lists(MAX_PRICES)
    assert len(PriceLists.model_validate(body).lists[0].prices) == MAX_PRICES
    size = len(json.dumps({"lists": body}).encode())
    assert size < 256 * 1024 and size < 400 * 1024 - 20 * 1024, size    # the API's body; an item with its keys
    with pytest.raises(ValidationError, match="at most 3000"):
        PriceLists.model_validate(_lists(MAX_PRICES + 1))


@pytest.mark.parametrize("bad", [0, -1, 1.5, "100", True, MAX_PRICE_FEN + 1, None])
def test_a_price_that_is_not_a_positive_whole_number_of_fen_is_refused(bad):
    with pytest.raises(ValidationError):
        PriceLists.model_validate({"lists": [{"id": "PL", "name": "x", "prices": {"TEA": bad}}]})


@pytest.mark.parametrize("lists", [
    [{"id": "PL", "name": "x", "prices": {}}],                                     # an empty list
    [{"id": "PL", "name": "x", "prices": {"A": 1}}, {"id": "PL", "name": "y", "prices": {"B": 1}}],   # twice
    [{"id": "P L", "name": "x", "prices": {"A": 1}}],                              # not a benefit's ref
    [{"id": "PL", "name": "x", "prices": {"A B": 1}}],                             # a SKU with a space
    [{"id": "PL", "name": "x", "prices": {"x" * 65: 1}}],
])
def test_malformed_price_lists_are_refused(lists):
    with pytest.raises(ValidationError):
        PriceLists.model_validate({"lists": lists})
