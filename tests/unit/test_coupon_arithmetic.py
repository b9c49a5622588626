"""A coupon's arithmetic (``coupons.domain``) against figures worked out by hand in the comments:
every kind, thresholds at their boundaries, applicability, windows in Asia/Shanghai, validity,
stacking; and a Hypothesis property over random carts and terms.

Rounding, as the module states: a percentage takes floor(eligible × (100 − percent) / 100) off;
a saving is spread over the eligible lines by largest remainder, ties to the earlier line."""

import time
from collections import Counter
from datetime import UTC, datetime
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.coupons.domain import (
    Cart,
    Line,
    Saving,
    applies_to,
    eligible_lines,
    in_window,
    saving,
    valid_from,
    valid_until,
    yuan,
)
from chalicelib.coupons.stacking import best_combination, savings_in_order
from chalicelib.coupons.terms import Terms

SH = "Asia/Shanghai"


def terms(kind, **fields):
    return Terms(kind=kind, title=kind, validity=fields.pop("validity", {"days_after_claim": 7}), **fields)


def joint(kind, group, group_max=1, on="discounted", **fields):
    return terms(kind, stacking={"category": "joint", "group": group, "group_max": group_max, "on": on}, **fields)


def cart(*lines, merchant="M1", store="S1", channel="pos", shipping=0, parking=0):
    return Cart(merchant, store, channel, tuple(Line(*line) for line in lines), shipping_fen=shipping, parking_hours=parking)


def one_line(fen, sku="A", category="food"):
    return cart((sku, category, 1, fen))


# --- each kind --------------------------------------------------------------------------------

def test_amount_off_100_minus_20_on_three_lines_of_39_90():
    # eligible 3 × 39.90 = 119.70 >= 100.00: 20.00 off. Each line's exact share 2000/3 = 666.67;
    # floors 666 × 3 = 1998, the 2 fen left go to the largest remainders, all equal, so to the
    # earlier lines: 667 / 667 / 666 (orders.allocate, the house's one spreading rule).
    t = terms("amount_off", amount_off_fen=2000, min_spend_fen=10000)
    c = cart(("A", "tea", 1, 3990), ("B", "tea", 1, 3990), ("C", "tea", 1, 3990))
    assert saving(t, c) == Saving(2000, {0: 667, 1: 667, 2: 666})
    # one line of 3 × 39.90: all 20.00 on it
    assert saving(t, cart(("A", "tea", 3, 3990))) == Saving(2000, {0: 2000})


def test_amount_off_at_its_threshold_and_one_fen_below():
    t = terms("amount_off", amount_off_fen=2000, min_spend_fen=10000)
    assert saving(t, one_line(10000)).fen == 2000                       # exactly 100.00: 20.00 off
    assert saving(t, one_line(9999)) == Saving(0)                       # 99.99: nothing
    assert applies_to(t, one_line(9999)) == \
        "below_threshold: spend 0.01 more on eligible items (eligible 99.99, threshold 100.00)"
    assert applies_to(t, one_line(10000)) is None


def test_amount_off_without_threshold_never_exceeds_the_eligible_amount():
    t = terms("amount_off", amount_off_fen=5000)
    assert saving(t, one_line(3000)) == Saving(3000, {0: 3000})         # 50.00 off a 30.00 cart: 30.00
    assert saving(t, one_line(8000)) == Saving(5000, {0: 5000})


STEPS = [{"threshold_fen": 10000, "off_fen": 1000}, {"threshold_fen": 20000, "off_fen": 3000},
         {"threshold_fen": 30000, "off_fen": 5000}]


@pytest.mark.parametrize("eligible, off", [
    (9999, 0),            # one fen below the first step
    (10000, 1000),        # 满100减10 exactly
    (19999, 1000),        # one fen below the second: still the first
    (20000, 3000),        # 满200减30 exactly
    (29999, 3000),
    (30000, 5000),        # 满300减50 exactly
    (100000, 5000),       # beyond the last step: the last (not repeated per 300)
])
def test_threshold_takes_the_highest_step_reached(eligible, off):
    assert saving(terms("threshold", steps=STEPS), one_line(eligible)).fen == off


def test_threshold_below_its_first_step_says_how_much_more():
    assert applies_to(terms("threshold", steps=STEPS), one_line(9000)) == \
        "below_threshold: spend 10.00 more on eligible items (eligible 90.00, threshold 100.00)"


@pytest.mark.parametrize("eligible, off", [
    (10000, 2000),        # 8折 on 100.00: 20.00 off
    (15000, 3000),        # 150.00: 30.00, exactly the cap
    (15005, 3000),        # 150.05: 30.01 exact, capped at 30.00
    (20000, 3000),        # 200.00: 40.00 exact, capped at 30.00
    (9999, 1999),         # 99.99: 19.998 exact, floor 19.99 (never more than exact)
    (1, 0),               # 0.01: 0.002, floor 0
])
def test_percent_off_8_zhe_capped_at_30(eligible, off):
    t = terms("percent_off", percent=80, cap_fen=3000)
    assert saving(t, one_line(eligible)).fen == off


def test_percent_off_split_and_threshold():
    t = terms("percent_off", percent=80, min_spend_fen=5000)
    # 33.33 + 66.66 = 99.99 eligible: 1999 fen off; exact shares 666.33 and 1332.67, floors 666 +
    # 1332 = 1998, the 1 fen left to the larger remainder (line 1): 666 / 1333
    assert saving(t, cart(("A", "x", 1, 3333), ("B", "x", 2, 3333))) == Saving(1999, {0: 666, 1: 1333})
    assert saving(t, one_line(5000)).fen == 1000                        # min spend 50.00 exactly: 10.00
    assert applies_to(t, one_line(4999)).startswith("below_threshold: spend 0.01 more")


def test_percent_off_without_cap_takes_its_whole_share():
    assert saving(terms("percent_off", percent=75), one_line(123456)).fen == 30864   # 123456 × 25 / 100 = 30864.00


def test_no_threshold_and_third_party_take_their_face_value_at_most_the_eligible_amount():
    for t in (terms("no_threshold", amount_off_fen=500),
              terms("third_party", amount_off_fen=500, platform="douyin")):
        assert saving(t, one_line(1000)) == Saving(500, {0: 500})       # 5.00 off 10.00
        assert saving(t, one_line(300)) == Saving(300, {0: 300})        # 5.00 off 3.00: 3.00


def test_gift_item_takes_one_unit_of_its_line():
    t = terms("gift_item", gift_sku="TEA")
    c = cart(("CAKE", "bakery", 1, 3000), ("TEA", "drinks", 2, 1500))
    assert saving(t, c) == Saving(1500, {1: 1500}, gift_sku="TEA")      # one of two 15.00 teas
    assert applies_to(t, cart(("CAKE", "bakery", 1, 3000))) == "gift_not_in_cart: add 'TEA' to the cart to get one free"
    assert applies_to(t, cart(("TEA", "drinks", 0, 1500))).startswith("gift_not_in_cart")   # none bought


def test_free_shipping_waives_the_fee_and_no_line():
    t = terms("free_shipping")
    s = saving(t, cart(("A", "x", 1, 5000), shipping=800))
    assert s == Saving(0, {}, shipping_fen=800) and s.total_fen == 800
    assert applies_to(t, cart(("A", "x", 1, 5000))) == "no_shipping: the cart has no shipping fee"


def test_parking_gives_hours_and_no_fen():
    t = terms("parking", parking_hours=2)
    assert saving(t, cart(parking=3)) == Saving(0, {}, parking_hours=2)   # parked 3 h: 2 free
    assert saving(t, cart(parking=1)) == Saving(0, {}, parking_hours=1)   # parked 1 h: 1 free
    assert applies_to(t, cart()) == "no_parking: the cart has no parking hours"
    assert applies_to(t, cart(parking=1)) is None                           # no purchase needed


def test_yuan():
    assert [yuan(0), yuan(1), yuan(199), yuan(-5)] == ["0.00", "0.01", "1.99", "-0.05"]


# --- applicability -----------------------------------------------------------------------------

LINES = (("A", "tea", 1, 1000), ("B", "wine", 1, 2000), (None, "tea", 1, 4000), ("C", None, 1, 8000))


@pytest.mark.parametrize("lists, eligible", [
    ({}, [0, 1, 2, 3]),
    ({"skus": ["A", "C"]}, [0, 3]),                    # a line without SKU is in no SKU list
    ({"exclude_skus": ["B"]}, [0, 2, 3]),              # nor excluded by one
    ({"categories": ["tea"]}, [0, 2]),
    ({"exclude_categories": ["wine"]}, [0, 2, 3]),
    ({"categories": ["tea"], "exclude_skus": ["A"]}, [2]),
])
def test_sku_and_category_lists_choose_the_lines(lists, eligible):
    t = terms("no_threshold", amount_off_fen=700, applicability=lists)
    assert eligible_lines(t, cart(*LINES)) == eligible


def test_the_saving_is_spread_over_eligible_lines_only():
    # tea lines 10.00 and 40.00: 7.00 off in proportion 1:4 = 1.40 / 5.60
    t = terms("no_threshold", amount_off_fen=700, applicability={"categories": ["tea"]})
    assert saving(t, cart(*LINES)) == Saving(700, {0: 140, 2: 560})


def test_a_threshold_counts_eligible_lines_only():
    # 满100减20 on SKU A: A 90.00 + B 50.00 in the cart, eligible 90.00: 10.00 short
    t = terms("amount_off", amount_off_fen=2000, min_spend_fen=10000, applicability={"skus": ["A"]})
    assert applies_to(t, cart(("A", "x", 1, 9000), ("B", "x", 1, 5000))) == \
        "below_threshold: spend 10.00 more on eligible items (eligible 90.00, threshold 100.00)"
    assert applies_to(t, cart(("B", "x", 1, 50000))) == \
        "no_eligible_line: no item of the cart is admitted by its SKU and category lists"


@pytest.mark.parametrize("lists, where, reason", [
    ({"merchants": ["M1"]}, {"merchant": "M2"}, "merchant: not usable at merchant 'M2'"),
    ({"merchants": ["M1"]}, {"merchant": None}, "merchant: the coupon lists its merchants and the cart names no merchant"),
    ({"exclude_merchants": ["M1"]}, {}, "merchant: not usable at merchant 'M1'"),
    ({"stores": ["S2"]}, {}, "store: not usable in store 'S1'"),
    ({"exclude_stores": ["S1"]}, {}, "store: not usable in store 'S1'"),
    ({"channels": ["mini_program"]}, {}, "channel: not usable on channel 'pos'"),
    ({"exclude_channels": ["pos"]}, {}, "channel: not usable on channel 'pos'"),
    ({"stores": ["S1"], "merchants": ["M1"], "channels": ["pos"]}, {}, None),
    ({"exclude_stores": ["S9"]}, {"store": None}, None),          # an unknown store is excluded by no list
])
def test_merchant_store_and_channel_lists(lists, where, reason):
    t = terms("no_threshold", amount_off_fen=100, applicability=lists)
    c = cart(("A", "x", 1, 1000), **where)
    assert applies_to(t, c) == reason
    assert saving(t, c).fen == (0 if reason else 100)


def test_free_shipping_limited_to_lines_needs_one():
    t = terms("free_shipping", applicability={"categories": ["fresh"]})
    assert applies_to(t, cart(("A", "dry", 1, 1000), shipping=500)).startswith("no_eligible_line")
    assert saving(t, cart(("A", "fresh", 1, 1000), shipping=500)).shipping_fen == 500


# --- time ---------------------------------------------------------------------------------------

MONDAY_2330_UTC = datetime(2026, 12, 7, 23, 30, tzinfo=UTC)     # Tuesday 8 December 07:30 in Shanghai


def test_weekday_is_the_programs_local_day():
    assert in_window(terms("free_shipping", window={"weekdays": [2]}), MONDAY_2330_UTC, SH) is None
    assert in_window(terms("free_shipping", window={"weekdays": [1, 7]}), MONDAY_2330_UTC, SH) == \
        "weekday: usable on Mon, Sun only (it is Tue in Asia/Shanghai)"
    assert in_window(terms("free_shipping", window={"weekdays": [1]}), MONDAY_2330_UTC, "UTC") is None


def test_time_of_day_from_included_to_excluded():
    def at(hh, mm, ss=0):                                          # a Shanghai wall time on Tuesday 8 December
        return datetime(2026, 12, 8, hh, mm, ss, tzinfo=ZoneInfo(SH))
    t = terms("free_shipping", window={"weekdays": [2], "from_time": "07:30", "to_time": "09:00"})
    assert in_window(t, MONDAY_2330_UTC, SH) is None                              # 07:30: the first minute
    assert in_window(t, at(8, 59, 59), SH) is None
    assert in_window(t, at(9, 0), SH) == "time_of_day: usable 07:30-09:00 only (it is 09:00 in Asia/Shanghai)"
    late = terms("free_shipping", window={"from_time": "07:31", "to_time": "24:00"})
    assert in_window(late, MONDAY_2330_UTC, SH) == "time_of_day: usable 07:31-24:00 only (it is 07:30 in Asia/Shanghai)"
    assert in_window(late, at(23, 59, 59), SH) is None
    assert in_window(terms("free_shipping"), MONDAY_2330_UTC, SH) is None         # no window: any time
    with pytest.raises(ValueError, match="needs a time zone"):
        in_window(t, datetime(2026, 12, 8, 7, 30), SH)
    with pytest.raises(ValueError, match="needs a time zone"):
        valid_until(terms("free_shipping"), datetime(2026, 12, 8, 7, 30), SH)


def test_days_after_claim_ends_at_midnight_of_the_nth_local_day():
    # claimed Monday 7 December 23:30 in Shanghai (15:30 UTC): the claim day is the first
    claim = datetime(2026, 12, 7, 15, 30, tzinfo=UTC)
    one = terms("free_shipping", validity={"days_after_claim": 1})
    three = terms("free_shipping", validity={"days_after_claim": 3})
    assert valid_from(one, claim) == claim
    assert valid_until(one, claim, SH) == datetime(2026, 12, 7, 16, 0, tzinfo=UTC)    # 8 Dec 00:00 local
    assert valid_until(three, claim, SH) == datetime(2026, 12, 9, 16, 0, tzinfo=UTC)  # 10 Dec 00:00 local
    # claimed 30 minutes later, Tuesday 00:30 local: a day more
    assert valid_until(one, datetime(2026, 12, 7, 16, 30, tzinfo=UTC), SH) == datetime(2026, 12, 8, 16, 0, tzinfo=UTC)


def test_a_claim_before_the_start_counts_its_days_from_the_start():
    t = terms("free_shipping", validity={"starts_at": "2026-12-12T00:00:00+08:00", "days_after_claim": 2})
    claim = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)
    assert valid_from(t, claim) == datetime(2026, 12, 11, 16, 0, tzinfo=UTC)
    assert valid_until(t, claim, SH) == datetime(2026, 12, 13, 16, 0, tzinfo=UTC)     # 14 Dec 00:00 local


def test_a_fixed_window():
    t = terms("free_shipping", validity={"starts_at": "2026-12-12T00:00:00+08:00", "ends_at": "2026-12-13T00:00:00+08:00"})
    assert valid_until(t, datetime(2026, 12, 1, tzinfo=UTC), SH) == datetime(2026, 12, 12, 16, 0, tzinfo=UTC)
    assert valid_from(t, datetime(2026, 12, 1, tzinfo=UTC)) == datetime(2026, 12, 11, 16, 0, tzinfo=UTC)
    assert valid_from(t, datetime(2026, 12, 12, 1, tzinfo=UTC)) == datetime(2026, 12, 12, 1, tzinfo=UTC)


# --- one coupon after others ----------------------------------------------------------------------

def test_discounted_reads_what_is_left_original_the_original_amounts():
    c = one_line(10000)
    discounted = terms("amount_off", amount_off_fen=1000, min_spend_fen=10000)
    original = terms("amount_off", amount_off_fen=1000, min_spend_fen=10000,
                     stacking={"category": "exclusive", "on": "original"})
    assert saving(discounted, c, {0: 9000}) == Saving(0)                 # 90.00 left: below 100.00
    assert saving(original, c, {0: 9000}) == Saving(1000, {0: 1000})    # reads the original 100.00


def test_no_coupon_takes_more_than_a_line_has_left():
    big = terms("no_threshold", amount_off_fen=5000, stacking={"category": "exclusive", "on": "original"})
    assert saving(big, one_line(10000), {0: 3000}) == Saving(3000, {0: 3000})
    # 10.00 off lines with 10.00 and 40.00 left (of 60.00 and 40.00): 2.00 / 8.00, in proportion to what is left
    assert saving(terms("no_threshold", amount_off_fen=1000), cart(("A", "x", 1, 6000), ("B", "x", 1, 4000)),
                  {0: 1000, 1: 4000}) == Saving(1000, {0: 200, 1: 800})


# --- best combination ---------------------------------------------------------------------------

def test_an_exclusive_coupon_beats_two_joints_only_when_it_saves_more():
    c = one_line(20000)
    j1 = ("J1", joint("no_threshold", "shop", amount_off_fen=1000))
    j2 = ("J2", joint("no_threshold", "mall", amount_off_fen=1500))
    # joints together: 10.00 + 15.00 = 25.00
    richer = ("E", terms("amount_off", amount_off_fen=3000, min_spend_fen=20000))
    assert best_combination([j1, j2, richer], c) == (["E"], 3000, {
        "J1": "exclusive: E is used alone and saves 30.00, more than any joint coupons together",
        "J2": "exclusive: E is used alone and saves 30.00, more than any joint coupons together"})
    for off in (2000, 2500):                                             # less, or as much: the joints
        ids, total, why = best_combination([("E", terms("no_threshold", amount_off_fen=off)), j1, j2], c)
        assert (ids, total) == (["J1", "J2"], 2500)
        assert why == {"E": f"exclusive: it is used alone and saves {yuan(off)}; J1, J2 save 25.00 "
                            "(an exclusive coupon is chosen only when it saves more)"}


def test_group_max_is_respected():
    c = one_line(20000)
    coupons = [("J1", joint("no_threshold", "shop", 2, amount_off_fen=1000)),
               ("J2", joint("no_threshold", "shop", 2, amount_off_fen=500)),
               ("J3", joint("no_threshold", "shop", 2, amount_off_fen=800))]
    # at most two of 'shop': the 10.00 and the 8.00
    assert best_combination(coupons, c) == (["J1", "J3"], 1800,
                                            {"J2": "group_max: group 'shop' takes at most 2 and J1, J3 save more"})
    # a coupon allowing one of its group holds the group to one when it is in
    strict = [("J1", joint("no_threshold", "shop", 2, amount_off_fen=1000)),
              ("J2", joint("no_threshold", "shop", 1, amount_off_fen=800))]
    assert best_combination(strict, c)[:2] == (["J1"], 1000)


def test_coupons_of_different_groups_combine():
    c = one_line(20000)
    coupons = [("A", joint("no_threshold", "shop", amount_off_fen=1000)),
               ("B", joint("no_threshold", "shop", amount_off_fen=1200)),
               ("C", joint("no_threshold", "mall", amount_off_fen=800)),
               ("D", joint("free_shipping", "delivery"))]
    assert best_combination(coupons, cart(("A", "x", 1, 20000), shipping=600)) == (["B", "C", "D"], 2600, {
        "A": "group_max: group 'shop' takes at most 1 and B save more"})
    assert best_combination(coupons, c)[:2] == (["B", "C"], 2000)       # no shipping fee: D takes nothing


def test_percentage_after_amount_on_discounted_and_on_the_original():
    c = one_line(10000)
    amount = ("A", joint("no_threshold", "amount", amount_off_fen=2000))
    # discounted: 20.00 off first, then 8折 on the 80.00 left: 16.00; 36.00 in all
    assert best_combination([("P", joint("percent_off", "pct", percent=80)), amount], c)[:2] == (["A", "P"], 3600)
    # original: 8折 on the original 100.00: 20.00; 40.00 in all
    assert best_combination([("P", joint("percent_off", "pct", on="original", percent=80)), amount], c)[:2] == \
        (["A", "P"], 4000)
    applied = savings_in_order([("P", joint("percent_off", "pct", percent=80)), amount], c)
    assert applied == [("A", Saving(2000, {0: 2000})), ("P", Saving(1600, {0: 1600}))]


def test_the_higher_threshold_is_applied_first():
    # 满300减50 (stepped) and 满250减20 on 300.00, both on the discounted amount: the stepped one
    # first (it relies on 300.00) takes 50.00, 250.00 left reaches 满250减20: 70.00. The other
    # order would leave 280.00 and the stepped one would take 10.00 only.
    c = one_line(30000)
    coupons = [("T250", joint("amount_off", "a", amount_off_fen=2000, min_spend_fen=25000)),
               ("STEP", joint("threshold", "b", steps=[{"threshold_fen": 10000, "off_fen": 1000},
                                                        {"threshold_fen": 30000, "off_fen": 5000}]))]
    assert best_combination(coupons, c)[:2] == (["STEP", "T250"], 7000)


def test_a_joint_coupon_that_adds_nothing_is_left_unused():
    # 满100减10 after a 20.00 no-threshold leaves 80.00: its threshold is no longer met
    c = one_line(10000)
    coupons = [("N", joint("no_threshold", "a", amount_off_fen=2000)),
               ("T", joint("amount_off", "b", amount_off_fen=1000, min_spend_fen=10000, on="discounted"))]
    # applied together the higher threshold goes first (T 10.00 then N 20.00): 30.00
    assert best_combination(coupons, c)[:2] == (["T", "N"], 3000)
    twice = [("F1", joint("free_shipping", "a")), ("F2", joint("free_shipping", "b"))]
    assert best_combination(twice, cart(("A", "x", 1, 100), shipping=500)) == \
        (["F1"], 500, {"F2": "no_gain: it adds nothing on top of F1"})


def test_parking_hours_are_taken_when_they_cost_nothing():
    coupons = [("N", joint("no_threshold", "a", amount_off_fen=500)), ("P", joint("parking", "park", parking_hours=2))]
    assert best_combination(coupons, cart(("A", "x", 1, 1000), parking=3)) == (["N", "P"], 500, {})


def test_unusable_coupons_say_why():
    coupons = [("S", terms("no_threshold", amount_off_fen=100, applicability={"stores": ["S2"]})),
               ("Z", terms("percent_off", percent=99)),
               ("OK", terms("no_threshold", amount_off_fen=1))]
    assert best_combination(coupons, one_line(1)) == (["OK"], 1, {
        "S": "store: not usable in store 'S1'", "Z": "no_saving: it takes nothing off this cart"})
    assert best_combination([], one_line(1)) == ([], 0, {})
    with pytest.raises(ValueError, match="unique"):
        best_combination([coupons[2], coupons[2]], one_line(1))


def test_the_search_is_capped_at_12_candidates_and_stays_fast():
    lines = [(f"S{i}", "x", 1, 10000 + i) for i in range(30)]
    coupons = [(f"G{i:02d}", joint("no_threshold", f"g{i}", amount_off_fen=100 + i)) for i in range(14)]
    start = time.perf_counter()
    ids, total, why = best_combination(coupons, cart(*lines))
    assert time.perf_counter() - start < 10                   # 4,096 combinations, 30 lines each
    assert sorted(ids) == [f"G{i:02d}" for i in range(2, 14)] and total == sum(100 + i for i in range(2, 14))
    assert why == {f"G0{i}": "too_many: only the 12 coupons saving most alone are combined" for i in (0, 1)}


# --- properties ---------------------------------------------------------------------------------

LIMITS = st.one_of(st.none(), st.lists(st.sampled_from(["A", "B", "C"]), min_size=1, max_size=2, unique=True))
KIND_FIELDS = st.one_of(
    st.builds(lambda off, m: {"kind": "amount_off", "amount_off_fen": off, "min_spend_fen": None if m is None else off + m},
              st.integers(1, 50_000), st.none() | st.integers(1, 50_000)),
    st.builds(lambda t, o: {"kind": "threshold", "steps": [{"threshold_fen": t, "off_fen": o}, {"threshold_fen": 2 * t, "off_fen": o + 1}]},
              st.integers(2, 50_000), st.integers(1, 1)),
    st.builds(lambda p, cap, m: {"kind": "percent_off", "percent": p, "cap_fen": cap, "min_spend_fen": m},
              st.integers(1, 99), st.none() | st.integers(1, 50_000), st.none() | st.integers(0, 50_000)),
    st.builds(lambda off: {"kind": "no_threshold", "amount_off_fen": off}, st.integers(1, 50_000)),
    st.builds(lambda off: {"kind": "third_party", "amount_off_fen": off, "platform": "douyin"}, st.integers(1, 50_000)),
    st.builds(lambda: {"kind": "gift_item", "gift_sku": "A"}),
    st.builds(lambda: {"kind": "free_shipping"}),
    st.builds(lambda h: {"kind": "parking", "parking_hours": h}, st.integers(1, 3)),
)


@st.composite
def random_terms(draw):
    fields = draw(KIND_FIELDS)
    skus, categories = draw(LIMITS), draw(st.one_of(st.none(), st.just(["tea"])))
    if fields["kind"] == "gift_item" and skus is not None and "A" not in skus:
        skus = [*skus, "A"]
    on = draw(st.sampled_from(["original", "discounted"]))
    group = draw(st.sampled_from(["g1", "g2", "g3"]))
    stacking = ({"category": "exclusive", "on": on} if draw(st.booleans())
                else {"category": "joint", "group": group, "group_max": draw(st.integers(1, 3)), "on": on})
    return terms(applicability={"skus": skus, "categories": categories}, stacking=stacking, **fields)


LINE = st.tuples(st.sampled_from(["A", "B", "C", None]), st.sampled_from(["tea", "wine", None]),
                 st.integers(0, 5), st.integers(0, 30_000))


@settings(max_examples=300, deadline=None)
@given(t=random_terms(), lines=st.lists(LINE, max_size=6), data=st.data())
def test_a_saving_is_between_0_and_the_eligible_amount_and_its_parts_add_up(t, lines, data):
    c = cart(*lines)
    left = {i: data.draw(st.integers(0, line.amount_fen)) for i, line in enumerate(c.lines)}
    base = data.draw(st.sampled_from([None, left]))
    s = saving(t, c, base)
    eligible = eligible_lines(t, c)
    have = {i: (base or {}).get(i, c.lines[i].amount_fen) for i in eligible}
    assert 0 <= s.fen <= sum(have.values()) <= sum(c.lines[i].amount_fen for i in eligible)
    assert sum(s.lines.values()) == s.fen
    assert all(i in have and 0 < fen <= have[i] for i, fen in s.lines.items())
    if base is None and (s.fen > 0) != (applies_to(t, c) is None):
        assert t.kind == "percent_off" and s.fen == 0                      # a share that floors to 0
    if t.kind == "percent_off" and base is None:
        assert s.fen <= Fraction(sum(have.values()) * (100 - (t.percent or 0)), 100)   # never more than exact


@settings(max_examples=200, deadline=None)
@given(coupons=st.lists(random_terms(), max_size=6), lines=st.lists(LINE, min_size=1, max_size=4),
       shipping=st.sampled_from([0, 600]), parking=st.integers(0, 4))
def test_the_best_combination_beats_every_coupon_alone_and_is_what_it_applies(coupons, lines, shipping, parking):
    c = cart(*lines, shipping=shipping, parking=parking)
    named = [(f"C{i}", t) for i, t in enumerate(coupons)]
    ids, total, why = best_combination(named, c)
    assert set(ids) | set(why) == {name for name, _ in named} and not set(ids) & set(why)
    assert all(total >= saving(t, c).total_fen for _, t in named)
    chosen = [coupon for coupon in named if coupon[0] in ids]
    applied = savings_in_order(chosen, c)
    assert [name for name, _ in applied] == ids and sum(s.total_fen for _, s in applied) == total
    exclusive = [t for _, t in chosen if t.stacking.category == "exclusive"]
    assert not exclusive or len(chosen) == 1
    spent = {i: sum(s.lines.get(i, 0) for _, s in applied) for i in range(len(c.lines))}
    assert all(spent[i] <= line.amount_fen for i, line in enumerate(c.lines))
    # the pruned search finds what trying every combination the rules allow finds
    assert (total, sum(s.parking_hours for _, s in applied)) == max(
        (sum(s.total_fen for _, s in got), sum(s.parking_hours for _, s in got))
        for got in (savings_in_order(combo, c) for combo in _every_allowed(named)))


def _every_allowed(named):
    """Every subset of ``named`` the stacking rules allow, written out plainly (a second reading)."""
    for mask in range(1 << len(named)):
        combo = [coupon for i, coupon in enumerate(named) if mask >> i & 1]
        if any(t.stacking.category == "exclusive" for _, t in combo) and len(combo) > 1:
            continue
        groups = Counter(t.stacking.group for _, t in combo)
        if all(groups[t.stacking.group] <= t.stacking.group_max for _, t in combo):
            yield combo
