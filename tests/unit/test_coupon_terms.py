"""A coupon template's terms (``coupons.terms``): what a template may say, and each refusal with
its message (the house turns these ValueErrors into a problem+json 422 naming the field)."""

import pytest
from pydantic import ValidationError

from chalicelib.coupons.terms import (
    CouponApplicability,
    CouponCostBearer,
    CouponStacking,
    CouponStep,
    CouponValidity,
    CouponWindow,
    Terms,
)

FIXED = {"starts_at": "2026-12-01T00:00:00+08:00", "ends_at": "2026-12-31T00:00:00+08:00"}


def terms(**fields):
    return Terms(**{"title": "coupon", "validity": {"days_after_claim": 7}, **fields})


def refused(match, build=terms, **fields):
    with pytest.raises(ValidationError, match=match):
        build(**fields)


# --- what each kind takes --------------------------------------------------------------------

@pytest.mark.parametrize("fields", [
    {"kind": "amount_off", "amount_off_fen": 2000},
    {"kind": "amount_off", "amount_off_fen": 2000, "min_spend_fen": 10000},
    {"kind": "threshold", "steps": [{"threshold_fen": 10000, "off_fen": 1000}, {"threshold_fen": 20000, "off_fen": 3000}]},
    {"kind": "percent_off", "percent": 80, "cap_fen": 3000, "min_spend_fen": 5000},
    {"kind": "no_threshold", "amount_off_fen": 500},
    {"kind": "gift_item", "gift_sku": "TEA-1"},
    {"kind": "free_shipping"},
    {"kind": "parking", "parking_hours": 2},
    {"kind": "third_party", "amount_off_fen": 5000, "platform": "douyin", "undo_window_minutes": 30},
])
def test_each_kind_with_its_fields_is_accepted(fields):
    t = terms(**fields)
    assert t.kind == fields["kind"]
    assert t.stacking == CouponStacking(category="exclusive") and t.cost_bearer.shares == {"brand": 100}
    assert t.applicability == CouponApplicability()


@pytest.mark.parametrize("fields, match", [
    ({"kind": "amount_off"}, "a amount_off coupon needs amount_off_fen"),
    ({"kind": "threshold"}, "a threshold coupon needs steps"),
    ({"kind": "percent_off", "cap_fen": 100}, "a percent_off coupon needs percent"),
    ({"kind": "gift_item"}, "a gift_item coupon needs gift_sku"),
    ({"kind": "parking"}, "a parking coupon needs parking_hours"),
    ({"kind": "third_party", "amount_off_fen": 100}, "a third_party coupon needs platform"),
    ({"kind": "third_party"}, "needs amount_off_fen and platform"),
])
def test_a_kind_missing_what_it_needs_is_refused(fields, match):
    refused(match, **fields)


@pytest.mark.parametrize("fields, match", [
    ({"kind": "no_threshold", "amount_off_fen": 500, "min_spend_fen": 1000}, "min_spend_fen does not belong to a no_threshold coupon"),
    ({"kind": "amount_off", "amount_off_fen": 500, "percent": 80}, "percent does not belong to a amount_off coupon"),
    ({"kind": "threshold", "steps": [{"threshold_fen": 100, "off_fen": 10}], "amount_off_fen": 5}, "amount_off_fen does not belong"),
    ({"kind": "percent_off", "percent": 80, "gift_sku": "A"}, "gift_sku does not belong to a percent_off"),
    ({"kind": "free_shipping", "parking_hours": 2}, "parking_hours does not belong to a free_shipping coupon .it takes none"),
    ({"kind": "parking", "parking_hours": 2, "platform": "douyin"}, "platform does not belong"),
    ({"kind": "amount_off", "amount_off_fen": 500, "undo_window_minutes": 30}, "undo_window_minutes does not belong"),
    ({"kind": "gift_item", "gift_sku": "A", "cap_fen": 100}, "cap_fen does not belong"),
])
def test_a_field_of_another_kind_is_refused(fields, match):
    refused(match, **fields)


def test_an_explicit_null_for_another_kinds_field_is_no_field():
    assert terms(kind="free_shipping", percent=None, steps=None).kind == "free_shipping"


# --- amounts ----------------------------------------------------------------------------------

def test_a_threshold_at_or_below_its_discount_is_refused():
    refused(r"min_spend_fen \(2000\) must be above amount_off_fen \(2000\)", kind="amount_off", amount_off_fen=2000, min_spend_fen=2000)
    refused(r"min_spend_fen \(1000\) must be above amount_off_fen \(2000\)", kind="amount_off", amount_off_fen=2000, min_spend_fen=1000)
    assert terms(kind="amount_off", amount_off_fen=2000, min_spend_fen=2001).min_spend_fen == 2001


def test_a_step_taking_off_its_whole_threshold_or_more_is_refused():
    with pytest.raises(ValidationError, match=r"a step's off_fen \(100\) must be below its threshold_fen \(100\)"):
        CouponStep(threshold_fen=100, off_fen=100)
    refused("must be below its threshold_fen", kind="threshold", steps=[{"threshold_fen": 100, "off_fen": 150}])


@pytest.mark.parametrize("steps", [
    [(10000, 1000), (10000, 2000)],      # same threshold
    [(10000, 2000), (20000, 2000)],      # same off
    [(20000, 3000), (10000, 1000)],      # descending
    [(10000, 3000), (20000, 2000)],      # a higher step saving less
])
def test_steps_must_ascend_strictly_in_both(steps):
    refused("steps must ascend strictly in both threshold_fen and off_fen", kind="threshold",
            steps=[{"threshold_fen": t, "off_fen": o} for t, o in steps])


@pytest.mark.parametrize("percent", [0, 100, -5, 150])
def test_a_percentage_outside_1_to_99_is_refused(percent):
    refused(f"percent is the share paid, 1 to 99 .80 = 8折, 20% off., not {percent}", kind="percent_off", percent=percent)


@pytest.mark.parametrize("bad", [{"amount_off_fen": 0}, {"amount_off_fen": -1}, {"amount_off_fen": "100"},
                                 {"amount_off_fen": 1.5}, {"amount_off_fen": True}, {"amount_off_fen": 10**9 + 1}])
def test_money_is_a_bounded_positive_integer(bad):
    refused("amount_off_fen", kind="no_threshold", **bad)


def test_steps_are_bounded():
    steps = [{"threshold_fen": 100 * (i + 2), "off_fen": i + 1} for i in range(21)]
    refused("steps", kind="threshold", steps=steps)
    refused("steps", kind="threshold", steps=[])


def test_parking_hours_and_undo_window_are_bounded():
    refused("parking_hours", kind="parking", parking_hours=25)
    refused("parking_hours", kind="parking", parking_hours=0)
    refused("undo_window_minutes", kind="third_party", amount_off_fen=1, platform="douyin", undo_window_minutes=1441)
    refused("platform", kind="third_party", amount_off_fen=1, platform="Dou Yin")


# --- applicability ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["merchants", "stores", "skus", "categories", "channels"])
def test_an_empty_include_list_is_refused_and_none_admits_any(name):
    with pytest.raises(ValidationError, match=rf"applicability.{name} is \[\], which admits nothing: leave it out \(null\)"):
        CouponApplicability(**{name: []})
    assert CouponApplicability(**{name: None}).admits(name, "anything")


@pytest.mark.parametrize("name", ["merchants", "stores", "skus", "categories", "channels"])
def test_an_item_both_included_and_excluded_is_refused(name):
    with pytest.raises(ValidationError, match=rf"\['B'\] both in {name} and in exclude_{name}"):
        CouponApplicability(**{name: ["A", "B"], f"exclude_{name}": ["B", "C"]})


def test_list_and_name_lengths_are_bounded():
    with pytest.raises(ValidationError, match="skus"):
        CouponApplicability(skus=[f"S{i}" for i in range(201)])
    assert len(CouponApplicability(skus=[f"S{i}" for i in range(200)]).skus or ()) == 200
    with pytest.raises(ValidationError, match="channels"):
        CouponApplicability(channels=[f"c{i}" for i in range(21)])
    with pytest.raises(ValidationError):
        CouponApplicability(stores=["x" * 65])
    with pytest.raises(ValidationError):
        CouponApplicability(exclude_skus=[""])


def test_unknown_fields_are_refused():
    with pytest.raises(ValidationError, match="extra"):
        CouponApplicability(shops=["A"])
    refused("extra", kind="free_shipping", discount=5)


def test_a_gift_its_own_lists_exclude_is_refused():
    refused("gift_sku 'TEA' is not admitted by applicability's SKU lists", kind="gift_item", gift_sku="TEA",
            applicability={"exclude_skus": ["TEA"]})
    refused("gift_sku 'TEA' is not admitted", kind="gift_item", gift_sku="TEA", applicability={"skus": ["CAKE"]})


# --- window, validity ---------------------------------------------------------------------------

def test_a_window_that_ends_before_it_starts_is_refused():
    with pytest.raises(ValidationError, match=r"window.to_time \(11:00\) must be after window.from_time \(14:00\)"):
        CouponWindow(from_time="14:00", to_time="11:00")
    with pytest.raises(ValidationError, match="must be after"):
        CouponWindow(from_time="11:00", to_time="11:00")
    assert CouponWindow(from_time="18:00", to_time="24:00").to_time == "24:00"


@pytest.mark.parametrize("fields, match", [
    ({"from_time": "11:00"}, "window.from_time and window.to_time go together"),
    ({"from_time": "24:00", "to_time": "24:00"}, r"window.from_time is a local time 'HH:MM' \(00:00 to 23:59\)"),
    ({"from_time": "9:00", "to_time": "10:00"}, "window.from_time is a local time"),
    ({"from_time": "09:00", "to_time": "10:60"}, r"window.to_time is a local time 'HH:MM' \(00:00 to 23:59, or 24:00\)"),
    ({"weekdays": [0, 1]}, r"window.weekdays are 1 \(Monday\) to 7 \(Sunday\), not \[0\]"),
    ({"weekdays": [8]}, "not \\[8\\]"),
    ({"weekdays": []}, r"window.weekdays is \[\], which is never"),
])
def test_a_bad_window_is_refused(fields, match):
    with pytest.raises(ValidationError, match=match):
        CouponWindow(**fields)


def test_weekdays_are_kept_sorted_and_once():
    assert CouponWindow(weekdays=[7, 6, 6]).weekdays == [6, 7]


def test_validity_is_a_fixed_window_or_n_days_after_claim():
    assert CouponValidity(**FIXED).ends_at is not None
    assert CouponValidity(days_after_claim=30).ends_at is None
    assert CouponValidity(starts_at=FIXED["starts_at"], days_after_claim=3).days_after_claim == 3
    with pytest.raises(ValidationError, match="validity needs exactly one of ends_at .a fixed end. and days_after_claim"):
        CouponValidity(starts_at=FIXED["starts_at"])
    with pytest.raises(ValidationError, match="exactly one of"):
        CouponValidity(ends_at=FIXED["ends_at"], days_after_claim=3)
    with pytest.raises(ValidationError, match="validity.ends_at must be after validity.starts_at"):
        CouponValidity(starts_at=FIXED["ends_at"], ends_at=FIXED["starts_at"])
    with pytest.raises(ValidationError, match="days_after_claim"):
        CouponValidity(days_after_claim=3651)
    with pytest.raises(ValidationError, match="days_after_claim"):
        CouponValidity(days_after_claim=0)
    with pytest.raises(ValidationError, match="needs a time zone"):
        CouponValidity(ends_at="2026-12-31T00:00:00")


# --- stacking, cost bearer ---------------------------------------------------------------------

def test_stacking():
    assert CouponStacking(category="joint", group="shop", group_max=2).on == "discounted"
    with pytest.raises(ValidationError, match="stacking.group is needed for a joint coupon"):
        CouponStacking(category="joint")
    with pytest.raises(ValidationError, match="stacking.group and stacking.group_max are for joint coupons only"):
        CouponStacking(category="exclusive", group="shop")
    with pytest.raises(ValidationError, match="for joint coupons only"):
        CouponStacking(category="exclusive", group_max=3)
    with pytest.raises(ValidationError, match="group_max"):
        CouponStacking(category="joint", group="shop", group_max=11)
    with pytest.raises(ValidationError, match="on"):
        CouponStacking(category="joint", group="shop", on="best")


def test_cost_bearer_shares_sum_to_100():
    assert CouponCostBearer(shares={"mall": 30, "merchant": 70}).shares == {"mall": 30, "merchant": 70}
    with pytest.raises(ValidationError, match="cost_bearer.shares must sum to 100, not 90"):
        CouponCostBearer(shares={"mall": 30, "merchant": 60})
    with pytest.raises(ValidationError, match="percentages from 1 to 100"):
        CouponCostBearer(shares={"mall": 0, "merchant": 100})
    with pytest.raises(ValidationError, match="shares"):
        CouponCostBearer(shares={"landlord": 100})
    with pytest.raises(ValidationError, match="shares"):
        CouponCostBearer(shares={})


def test_title_and_description_are_plain_bounded_text():
    refused("title", kind="free_shipping", title="x" * 61)
    refused("title", kind="free_shipping", title="   ")
    refused("control or text-direction", kind="free_shipping", title="free\u202eshipping")
    refused("description", kind="free_shipping", description="x" * 501)
    assert terms(kind="free_shipping", title="  包邮券 ").title == "包邮券"


def test_a_template_round_trips_through_json():
    t = terms(kind="percent_off", percent=80, cap_fen=3000, window={"weekdays": [1, 2], "from_time": "11:00", "to_time": "14:00"},
              stacking={"category": "joint", "group": "shop", "group_max": 2, "on": "original"},
              cost_bearer={"shares": {"mall": 50, "merchant": 50}}, applicability={"stores": ["S1"], "exclude_skus": ["X"]})
    assert Terms.model_validate_json(t.model_dump_json()) == t
    assert Terms.model_validate(t.model_dump()) == t      # a stored template carries every kind's default
