"""Expiring bonus lots at their edges, by hand: a single fen to expire, an amount that ends inside
the second expired lot, a lot left with one fen, and less to expire than has expired (the rest
held by an open checkout)."""

from datetime import date

from chalicelib.stored_value import bonus_lots as L

D1, D2, D3 = date(2026, 3, 31), date(2026, 4, 9), date(2026, 5, 1)
AFTER_D2 = date(2026, 4, 10)


def lots(*pairs):
    out: L.Lots = []
    for day, fen in pairs:
        out = L.add(out, day, fen)
    return out


def test_a_single_fen_expires_out_of_its_lot():
    assert L.expire(lots((D1, 1)), date(2026, 4, 1), 1) == []
    assert L.expire(lots((D1, 1), (D3, 5)), date(2026, 4, 1), 1) == [{"expires": "2026-05-01", "fen": 5}]


def test_what_the_first_expired_lot_does_not_cover_comes_out_of_the_next():
    both = lots((D1, 300), (D2, 1_000), (D3, 2_000))
    assert L.expire(both, AFTER_D2, 500) == [{"expires": "2026-04-09", "fen": 800},
                                             {"expires": "2026-05-01", "fen": 2_000}]
    assert L.expire(both, AFTER_D2, 1_300) == [{"expires": "2026-05-01", "fen": 2_000}]


def test_less_to_expire_than_has_expired_leaves_the_rest_in_the_oldest_lots_order():
    """An open checkout holds some expired bonus: only what is available goes, oldest first."""
    both = lots((D1, 1_000), (D2, 1_000))
    assert L.expire(both, AFTER_D2, 500) == [{"expires": "2026-03-31", "fen": 500},
                                             {"expires": "2026-04-09", "fen": 1_000}]


def test_a_lot_left_with_one_fen_is_kept():
    assert L.expire(lots((D1, 1_000), (D3, 1)), date(2026, 4, 1), 999) == [{"expires": "2026-03-31", "fen": 1},
                                                                            {"expires": "2026-05-01", "fen": 1}]
