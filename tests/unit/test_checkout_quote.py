"""The quote's arithmetic (issue #27 item 2): every line's parts add up to its list total to the
fen and none is negative (a Hypothesis property); the points offset under the share cap, whole
points, rounded down; and the quote's coupon choice (coupons.choice on the member-priced cart)
equals a brute-force optimum over every subset the stacking categories allow."""

from __future__ import annotations

import hashlib
import itertools
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.checkout import domain
from chalicelib.coupons import choice, stacking
from chalicelib.coupons.tables import CouponItem
from chalicelib.coupons.terms import Terms
from chalicelib.points.rules import ProgramRules, RedeemRules, points_value_fen, redeem_limit_points
from chalicelib.shared import clock

NOW = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)


def test_the_parts_of_a_worked_cart_add_up_with_the_remainder_on_the_largest_line():
    # list 200.00 + 50.00, member 200.00 + 45.00; a coupon 20.00 as 16.00 + 4.00, leaving 184.00 +
    # 41.00; points 100.01 over 184 : 41 -> 8,178.93 + 1,822.40 fen: floors 8,178 + 1,822, the odd
    # fen to the larger remainder (line 0): 8,179 + 1,822; to pay 102.21 + 22.78
    settled = domain.settle([(20_000, 20_000), (5_000, 4_500)], [domain.CouponPart("c", 2_000, {0: 1_600, 1: 400})],
                            10_001)
    assert [(p.member_discount_fen, p.coupons_fen, p.points_fen, p.to_pay_fen) for p in settled.lines] == [
        (0, 1_600, 8_179, 10_221), (500, 400, 1_822, 2_278)]
    assert settled.total("to_pay_fen") == 12_499 and settled.total("points_fen") == 10_001


def test_parts_that_do_not_fit_are_refused():
    with pytest.raises(ValueError, match="takes"):
        domain.settle([(100, 100)], [domain.CouponPart("c", 101, {0: 101})], 0)
    with pytest.raises(ValueError, match="points pay"):
        domain.settle([(100, 100)], [], 101)
    with pytest.raises(ValueError, match="add up"):
        domain.settle([(100, 100)], [domain.CouponPart("c", 10, {0: 9})], 0)


@pytest.mark.parametrize(("ppy", "share", "available", "amount", "expected"), [
    (100, 50, 5_000, 20_700, (10_350, 5_000, 5_000)),   # the balance binds: 1 point = 1 fen
    (100, 50, 99_999, 20_701, (10_350, 10_350, 10_350)),  # the cap binds: floor(207.01 × 50 %) = 103.50
    (150, 100, 1_000, 10_000, (15_000, 999, 666)),      # 1,000 points are worth 6.66: the fewest worth it, 999
    (30, 100, 10, 10_000, (3_000, 10, 33)),             # 10 points worth 33.3 fen: 0.33, and 9 are worth 0.30
    (100, 0, 5_000, 10_000, (0, 0, 0)),                 # no share: nothing
    (100, 50, -20, 10_000, (5_000, 0, 0)),              # a debt: nothing
])
def test_the_points_offset_is_whole_points_rounded_down_under_the_share_cap(ppy, share, available, amount, expected):
    rules = ProgramRules(redeem=RedeemRules(points_per_yuan=ppy, max_share_percent=share))
    offer = domain.points_offset(available, redeem_limit_points(rules, amount), lambda n: points_value_fen(rules, n),
                                 ppy)
    assert (offer.limit_points, offer.points, offer.fen) == expected
    assert offer.fen <= amount * share // 100


lines_st = st.lists(st.tuples(st.integers(1, 10_000), st.integers(1, 10**9), st.integers(0, 100)),
                    min_size=1, max_size=8).filter(lambda ls: all(q * u <= 10**11 for q, u, _ in ls))


@settings(max_examples=300, deadline=None)
@given(lines_st, st.data())
def test_every_lines_parts_sum_to_its_list_total_and_none_is_negative(lines, data):
    member_totals = [(q * u, q * u - q * u * pct // 100) for q, u, pct in lines]
    left = [m for _, m in member_totals]
    coupons = []
    for n in range(data.draw(st.integers(0, 3))):
        parts = {i: data.draw(st.integers(0, left[i])) for i in range(len(left))}
        for i, fen in parts.items():
            left[i] -= fen
        coupons.append(domain.CouponPart(f"c{n}", sum(parts.values()), {i: f for i, f in parts.items() if f}))
    points = data.draw(st.integers(0, sum(left)))
    settled = domain.settle(member_totals, coupons, points)
    for (listed, member), p in zip(member_totals, settled.lines, strict=True):
        assert p.member_discount_fen + p.coupons_fen + p.points_fen + p.to_pay_fen == listed
        assert min(p.member_discount_fen, p.coupons_fen, p.points_fen, p.to_pay_fen) >= 0
        assert p.member_total_fen == member
    assert settled.total("points_fen") == points
    assert settled.total("coupons_fen") == sum(c.fen for c in coupons)


# --- the coupon choice against every subset -----------------------------------------------------

def _terms(draw_kind, amount, threshold, percent, category, group, group_max, on, sku):
    body = {"title": "t", "validity": {"days_after_claim": 30},
            "stacking": {"category": category, "on": on, **({"group": group, "group_max": group_max}
                                                             if category == "joint" else {})}}
    if sku:
        body["applicability"] = {"skus": [sku]}
    if draw_kind == "amount_off":
        body |= {"kind": "amount_off", "amount_off_fen": amount,
                 **({"min_spend_fen": threshold} if threshold > amount else {})}
    elif draw_kind == "threshold":
        body |= {"kind": "threshold", "steps": [{"threshold_fen": max(threshold, amount + 1), "off_fen": amount}]}
    else:
        body |= {"kind": "percent_off", "percent": percent}
    return Terms.model_validate(body)


coupon_st = st.builds(_terms, st.sampled_from(["amount_off", "threshold", "percent_off"]), st.integers(1, 3_000),
                      st.sampled_from([0, 1_000, 5_000]), st.integers(50, 99), st.sampled_from(["exclusive", "joint"]),
                      st.sampled_from(["a", "b"]), st.integers(1, 2), st.sampled_from(["original", "discounted"]),
                      st.sampled_from([None, None, "S0", "S1"]))


def _coupon(n: int, terms: Terms) -> tuple[CouponItem, Terms]:
    text = terms.model_dump_json(exclude_none=True)
    tid = hashlib.sha256(text.encode()).hexdigest()[:20]
    c = CouponItem(*CouponItem.key("m", f"c{n}"), coupon_id=f"c{n}", member_id="m", template_id=tid, terms_version=1,
                   terms=text, code=f"{n:018d}", state="unused", source="claim", valid_from=clock.iso(NOW),
                   claimed_at=clock.iso(NOW), version=1)
    return c, terms


def _allowed(combo: list[Terms]) -> bool:
    if any(t.stacking.category == "exclusive" for t in combo):
        return len(combo) == 1
    for group in {t.stacking.group for t in combo}:
        members = [t for t in combo if t.stacking.group == group]
        if len(members) > min(t.stacking.group_max for t in members):
            return False
    return True


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["S0", "S1", "S2"]), st.integers(1, 3), st.integers(100, 6_000)),
                min_size=1, max_size=3),
       st.lists(coupon_st, min_size=1, max_size=5))
def test_the_quotes_coupon_choice_is_the_best_subset_the_stacking_categories_allow(lines, terms):
    on = choice.cart("m1", "s1", "pos", [choice.CartLine(sku, None, q, q * u) for sku, q, u in lines])
    coupons = [_coupon(n, t) for n, t in enumerate(terms)]
    found = choice.choose(coupons, on, "m1", NOW)
    best = 0
    for size in range(1, len(coupons) + 1):
        for combo in itertools.combinations(coupons, size):
            if _allowed([t for _, t in combo]):
                applied = stacking.savings_in_order([(c.coupon_id, t) for c, t in combo], on)
                best = max(best, sum(s.fen for _, s in applied))
    assert found["saving_fen"] == best
    # and the quote's parts of it fit the lines, to the fen
    parts = [domain.CouponPart(c["coupon_id"], c["saving_fen"], c["lines"]) for c in found["chosen"]]
    settled = domain.settle([(q * u, q * u) for _, q, u in lines], parts, 0)
    assert settled.total("coupons_fen") == best
    assert {c["coupon_id"] for c in found["chosen"]} | {n["coupon_id"] for n in found["not_chosen"]} == \
        {c.coupon_id for c, _ in coupons}
    json.dumps(found)


def test_a_cart_hash_changes_with_any_line():
    cart = [("TEA", "tea", 2, 10_000), ("CAKE", None, 1, 5_000)]
    assert domain.cart_hash(cart) == domain.cart_hash(list(cart))
    assert domain.cart_hash(cart) != domain.cart_hash([("TEA", "tea", 2, 10_001), ("CAKE", None, 1, 5_000)])
    assert domain.cart_hash(cart) != domain.cart_hash(cart[::-1])
