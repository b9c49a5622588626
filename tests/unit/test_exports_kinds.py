"""The pure parts of the new export kinds: a card number masked, the cost bearers' cell, which
records a merchant's or a store's export keeps, and every registered kind offered to callers."""

from __future__ import annotations

from datetime import date

import pytest

from chalicelib.gift_cards.listing import masked
from chalicelib.reports.exports_kinds import _bearers
from chalicelib.reports.exports_registry import SOURCES, source
from chalicelib.reports.exports_schemas import CreateExport
from chalicelib.reports.exports_sources import Asked, mine


def test_a_card_number_shows_its_first_and_last_four_digits_only():
    assert masked("9000001000000052") == "9000********0052"
    assert masked("12345678") == "12345678"


def test_cost_bearers_are_one_json_cell_in_a_stable_order():
    assert _bearers('{"mall": 300, "brand": 700}') == '{"brand":700,"mall":300}'
    assert _bearers(None) == "{}"


@pytest.mark.parametrize("merchant, store, record, kept", [
    (None, None, ("m1", "s1"), True),
    ("m1", None, ("m1", "s2"), True),
    ("m1", None, ("m2", None), False),
    ("m1", "s1", ("m1", "s2"), False),
    ("m1", "s1", ("m1", None), False),
    ("m1", "s1", ("m1", "s1"), True),
])
def test_a_merchants_and_a_stores_export_keep_their_own_records(merchant, store, record, kept):
    assert mine(Asked("checkouts", date(2026, 3, 1), date(2026, 3, 1), merchant, store), *record) is kept


def test_every_registered_kind_is_offered_and_has_a_source():
    import app  # noqa: F401 - the app names the kinds other capabilities provide (the settlement's lines)
    from chalicelib.reports import exports_registry
    exports_registry._provided()
    kinds = exports_registry.KINDS
    assert kinds == ("members", "points_ledger", "stored_value_ledger", "gift_cards", "coupon_uses", "checkouts",
                     "settlement_lines")
    assert "settlement_lines" in exports_registry.NO_STORE
    for kind in kinds:
        assert source(kind, "default").header(
            Asked(kind, date(2026, 3, 1), date(2026, 3, 1)))
        assert SOURCES[kind][0]
    with pytest.raises(ValueError):
        CreateExport(kind="receipts")
    with pytest.raises(ValueError):
        source("receipts", "default")
