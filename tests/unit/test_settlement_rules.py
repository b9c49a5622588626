"""The mall settlement's clearing rules, pure (issue #29 item 4): who owes whom, for how much, in
which period."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from chalicelib.settlement import domain
from chalicelib.settlement.domain import PROGRAM, Clearing

PREPAID = frozenset({"stored_value.paid", "stored_value.refunded", "gift_card.paid", "gift_card.payment_refunded",
                     "stored_value.card_redeemed", "stored_value.held"})


def test_a_mall_coupon_shared_with_the_merchant_owes_the_merchant_the_malls_share():
    lines = domain.coupon_lines("coupon.used", {"cost": {"mall": 600, "merchant": 400}, "store_id": "s1"}, "B")
    assert lines == [Clearing("coupon", PROGRAM, "B", 600, "B", "s1")]


def test_brand_and_mall_are_both_the_program_one_line_per_pair():
    lines = domain.coupon_lines("coupon.used", {"cost": {"brand": 300, "mall": 200}}, "B")
    assert [(c.payer, c.payee, c.fen) for c in lines] == [(PROGRAM, "B", 500)]


def test_a_coupon_borne_by_its_owner_elsewhere_owes_where_it_was_used():
    # (a merchant's template is used at that merchant only today; the rule holds if that changes)
    lines = domain.coupon_lines("coupon.used", {"cost": {"merchant": 1_000}, "owner_merchant_id": "A"}, "B")
    assert [(c.payer, c.payee, c.fen) for c in lines] == [("A", "B", 1_000)]


def test_payer_equal_to_payee_makes_no_line():
    assert domain.coupon_lines("coupon.used", {"cost": {"merchant": 1_000}}, "B") == []
    assert domain.coupon_lines("coupon.used", {"cost": {"brand": 1_000}}, None) == []


def test_an_undone_write_off_gives_the_share_back_where_it_was_used():
    # the undo's merchant_id is the template's owner (None: the program's template)
    lines = domain.coupon_lines("coupon.write_off_undone", {"cost": {"mall": 600, "merchant": 400},
                                                           "used_merchant_id": "B"}, None)
    assert [(c.payer, c.payee, c.fen) for c in lines] == [(PROGRAM, "B", -600)]


def test_points_are_valued_per_line_rounded_half_up():
    data = {"point_type": "points", "amount": 333}
    [line] = domain.points_lines("points.redeemed", data, "C", Decimal("0.5"))
    assert (line.payer, line.payee, line.fen, line.points, line.rate) == (PROGRAM, "C", 167, 333, "0.5")  # 166.5 -> 167
    [back] = domain.points_lines("points.refunded", {"point_type": "points", "restored": 333}, "C", Decimal("0.5"))
    assert (back.fen, back.points) == (-167, -333)                    # the same line rounds the same way
    assert domain.points_lines("points.redeemed", data, None, Decimal(1)) == []              # a reward: no merchant
    assert domain.points_lines("points.redeemed", {**data, "point_type": "growth"}, "C", Decimal(1)) == []
    assert domain.points_lines("points.redeemed", {**data, "amount": 1}, "C", Decimal("0.4")) == []     # 0 fen


def test_stored_value_spent_at_a_merchant_is_owed_by_the_program_principal_and_bonus():
    entries = [{"account": "member:principal", "fen": 10_000}, {"account": "member:bonus", "fen": 1_500},
               {"account": "settlement:A", "fen": -11_500}]
    cleared = domain.clearing("stored_value.paid", {"entries": entries}, "A", None, PREPAID)
    assert [(c.kind, c.payer, c.payee, c.fen) for c in cleared.lines] == [("stored_value", PROGRAM, "A", 11_500)]
    assert (cleared.tallies["A"].journal_fen, cleared.tallies["A"].self_fen) == (11_500, 0)
    refund = [{"account": "settlement:A", "fen": 2_000}, {"account": "member:principal", "fen": -2_000}]
    back = domain.clearing("stored_value.refunded", {"entries": refund}, "A", None, PREPAID)
    assert [(c.payer, c.payee, c.fen) for c in back.lines] == [(PROGRAM, "A", -2_000)]


def test_a_gift_card_is_owed_by_its_issuer_and_a_merchants_own_card_makes_no_line():
    other = domain.prepaid_lines([{"account": "gift_cards:C", "fen": 4_000}, {"account": "settlement:B", "fen": -4_000}],
                                 None)
    assert [(c.kind, c.payer, c.payee, c.fen) for c in other.lines] == [("gift_card", "C", "B", 4_000)]
    own = domain.prepaid_lines([{"account": "gift_cards:B", "fen": 4_000}, {"account": "settlement:B", "fen": -4_000}],
                               None)
    assert own.lines == [] and (own.tallies["B"].journal_fen, own.tallies["B"].self_fen) == (4_000, 4_000)
    mall = domain.prepaid_lines([{"account": "gift_cards_held:program", "fen": 300},
                                 {"account": "settlement:B", "fen": -300}], None)
    assert [(c.payer, c.payee, c.fen) for c in mall.lines] == [(PROGRAM, "B", 300)]
    assert not domain.prepaid_lines([{"account": "member:principal", "fen": -100},
                                     {"account": "cash_clearing", "fen": 100}], None)      # a top-up: nothing


def test_a_merchants_card_redeemed_into_stored_value_is_owed_by_its_issuer_to_the_program():
    """Found from outside: C's ¥200 card moved into a member's stored value (the program's), then
    spent at B: the program paid B, and C was never billed for the money it had taken in."""
    moved = domain.clearing("stored_value.card_redeemed", {"entries": [
        {"account": "gift_cards:C", "fen": 20_000}, {"account": "member:principal", "fen": -20_000}]}, "B", None, PREPAID)
    assert [(c.kind, c.payer, c.payee, c.fen, c.merchant_id) for c in moved.lines] == [
        ("gift_card", "C", PROGRAM, 20_000, "B")]
    program_card = domain.clearing("stored_value.card_redeemed", {"entries": [
        {"account": "gift_cards:program", "fen": 500}, {"account": "member:principal", "fen": -500}]}, "B", None, PREPAID)
    assert program_card.lines == []                                     # the program's money stays the program's
    held = domain.clearing("stored_value.held", {"entries": [
        {"account": "member:principal", "fen": 300}, {"account": "member:held_principal", "fen": -300}]}, "B", None,
        PREPAID)
    assert held.lines == []


def test_periods():
    assert domain.period_of(date(2026, 11, 30)) == "2026-11"
    assert domain.next_period("2026-12") == "2027-01"
    assert domain.last_day("2028-02") == date(2028, 2, 29)
    assert domain.has_ended("2026-11", date(2026, 12, 1)) and not domain.has_ended("2026-11", date(2026, 11, 30))
    for bad in ("2026-13", "2026-1", "26-11", "2026-11-01", "", "1999-12", "10000-01"):
        assert domain.parse_period(bad) is None
    # a well-formed month to come is a period (refused as not ended, 409), however far
    assert domain.parse_period("9999-12") == date(9999, 12, 1) and domain.last_day("9999-12") == date(9999, 12, 31)
    assert not domain.has_ended("9999-12", date(2026, 12, 5))
    assert domain.pair_key("program", "A") == "A~program" and domain.pair("B", "A") == ("A", "B")


def test_a_reference_ties_a_correction_to_its_original_order():
    """Found by mutation testing (the rule was new and its reference untested on its own)."""
    ref = domain.reference
    assert ref("points.redeemed", {"order_id": "o-1"}, "C") == ref("points.refunded", {"order_id": "o-1"}, "C") \
        == "points:C:o-1"
    assert ref("points.hold_confirmed", {"order": "C:o-1"}, "C") == "points:C:o-1"        # a hold: <merchant>:<order>
    assert ref("points.hold_confirmed", {"order": "C:o:with:colons"}, None) == "points:C:o:with:colons"
    assert ref("points.redeemed", {"order_id": "C:o-2"}, "C") == "points:C:C:o-2"         # an order id is taken whole
    assert ref("stored_value.paid", {"order_id": "o-3"}, "A") == ref("stored_value.refunded", {"order_id": "o-3"}, "A") \
        == ref("gift_card.payment_refunded", {"order_id": "o-3"}, "A") == "prepaid:A:o-3"
    assert ref("coupon.used", {"order_id": "o-4", "coupon_id": "c9"}, "B") \
        == ref("coupon.write_off_undone", {"order_id": "o-4", "coupon_id": "c9"}, None) == "coupon:c9:o-4"
    for none in (ref("coupon.used", {"order_id": "o-4"}, "B"),                      # no coupon named
                 ref("points.redeemed", {}, "C"),                                    # no order
                 ref("points.redeemed", {"order_id": "o-5"}, None),                  # no merchant
                 ref("stored_value.topped_up", {"order_id": "o-6"}, "A"),            # neither original nor correction
                 ref("order.earned", {"order_id": "o-6"}, "A")):
        assert none is None
    assert domain.is_correction("points.refunded") and not domain.is_correction("points.redeemed")
    assert domain.corrected_period("2026-12", "2026-11") == "2026-11"
    assert domain.corrected_period("2026-12", None) == domain.corrected_period("2026-12", "2026-12") == "2026-12"


def test_a_coupon_undone_gives_back_where_it_was_used():
    lines = domain.coupon_lines("coupon.write_off_undone", {"cost": {"mall": 600, "merchant": 400},
                                                            "used_merchant_id": "B"}, None)
    assert [(c.payer, c.payee, c.fen, c.merchant_id) for c in lines] == [(PROGRAM, "B", -600, "B")]


def test_points_without_an_amount_make_no_line():
    for event_type in ("points.redeemed", "points.refunded"):
        assert domain.points_lines(event_type, {"point_type": "points"}, "C", Decimal(1)) == []


def test_an_issuer_whose_money_nets_to_nothing_makes_no_line():
    entries = [{"account": "gift_cards:A", "fen": 0}, {"account": "member:principal", "fen": 700},
               {"account": "settlement:B", "fen": -700}]
    cleared = domain.prepaid_lines(entries, None)
    assert [(c.payer, c.payee, c.fen) for c in cleared.lines] == [(PROGRAM, "B", 700)]
    assert cleared.tallies["B"].journal_fen == 700


def test_money_onto_two_merchants_settlements_is_tallied_not_lined():
    entries = [{"account": "member:principal", "fen": 500}, {"account": "settlement:A", "fen": -200},
               {"account": "settlement:B", "fen": -300}]
    cleared = domain.prepaid_lines(entries, None)
    assert cleared.lines == [] and {m: t.journal_fen for m, t in cleared.tallies.items()} == {"A": 200, "B": 300}


def test_a_transfer_of_one_fen_between_issuers_is_a_line_and_a_zero_issuer_is_ignored():
    entries = [{"account": "gift_cards:A", "fen": 1}, {"account": "member:principal", "fen": -1},
               {"account": "gift_cards:C", "fen": 0}]
    cleared = domain.prepaid_lines(entries, "s1", "A")
    assert [(c.payer, c.payee, c.fen, c.kind) for c in cleared.lines] == [("A", PROGRAM, 1, "gift_card")]
    held = [{"account": "gift_cards:A", "fen": 5}, {"account": "gift_cards_held:A", "fen": -5},
            {"account": "member:principal", "fen": 0}]
    assert not domain.prepaid_lines(held, None)                   # within one issuer: nothing


def test_the_first_period_is_2000_01():
    assert domain.parse_period("2000-01") == date(2000, 1, 1)


def test_an_undo_names_the_merchant_where_it_was_used_and_the_templates_owner():
    program_template = {"cost": {"mall": 600, "merchant": 400}, "used_merchant_id": "B", "owner_merchant_id": None}
    assert [(c.payer, c.payee, c.fen) for c in domain.coupon_lines("coupon.write_off_undone", program_template, "B")] \
        == [(PROGRAM, "B", -600)]
    owned = {"cost": {"merchant": 1_000}, "used_merchant_id": "B", "owner_merchant_id": "A"}
    assert [(c.payer, c.payee, c.fen) for c in domain.coupon_lines("coupon.write_off_undone", owned, "B")] \
        == [("A", "B", -1_000)]
    older = {"cost": {"merchant": 1_000}, "used_merchant_id": "B"}             # before: the event named the owner
    assert [(c.payer, c.fen) for c in domain.coupon_lines("coupon.write_off_undone", older, "A")] == [("A", -1_000)]


def test_a_period_is_in_ascii_digits():
    assert domain.parse_period("\uff12\uff10\uff12\uff16-11") is None          # full-width digits (found from outside)
