"""Expiring bonus lots, by hand: spent soonest first, refunded latest first, expired oldest first."""

from datetime import date, timedelta

from chalicelib.stored_value import bonus_lots as L

D1, D2, D3 = date(2026, 3, 31), date(2026, 4, 9), date(2026, 5, 1)


def test_spent_soonest_first_and_the_rest_never_expired():
    lots = L.add(L.add([], D2, 2_000), D1, 1_000)                     # granted out of order
    assert lots == [{"expires": "2026-03-31", "fen": 1_000}, {"expires": "2026-04-09", "fen": 2_000}]
    left, taken = L.take(lots, 1_500)
    assert left == [{"expires": "2026-04-09", "fen": 1_500}]
    assert taken == [{"expires": "2026-03-31", "fen": 1_000}, {"expires": "2026-04-09", "fen": 500}]
    left, taken = L.take(left, 9_000)                                 # 7,500 of it never expired
    assert left == [] and taken == [{"expires": "2026-04-09", "fen": 1_500}]


def test_refunds_go_back_to_the_latest_lots_taken_first():
    taken = [{"expires": "2026-03-31", "fen": 1_000}, {"expires": "2026-04-09", "fen": 500}]
    lots, still = L.give_back([], taken, 700)
    assert lots == [{"expires": "2026-03-31", "fen": 200}, {"expires": "2026-04-09", "fen": 500}]
    assert still == [{"expires": "2026-03-31", "fen": 800}]
    lots, still = L.give_back(lots, still, 5_000)                     # more than was taken from lots
    assert lots == [{"expires": "2026-03-31", "fen": 1_000}, {"expires": "2026-04-09", "fen": 500}]
    assert still == []


def test_expiry_the_day_after_the_last_day_oldest_first():
    lots = L.add(L.add([], D1, 1_000), D3, 3_000)
    assert L.next_due(lots) == D1 + timedelta(days=1)
    assert L.expired(lots, D1) == 0 and L.expired(lots, D1 + timedelta(days=1)) == 1_000
    assert L.expire(lots, D1 + timedelta(days=1), 400) == [{"expires": "2026-03-31", "fen": 600},
                                                           {"expires": "2026-05-01", "fen": 3_000}]
    assert L.next_due([]) is None and L.dump([]) is None and L.load(None) == []


def test_same_day_merges_and_too_many_lots_merge_into_the_later_day():
    lots = L.add(L.add([], D1, 1), D1, 2)
    assert lots == [{"expires": "2026-03-31", "fen": 3}]
    many: L.Lots = []
    for i in range(L.MAX_LOTS + 1):
        many = L.add(many, D1 + timedelta(days=i), 10)
    assert len(many) == L.MAX_LOTS and sum(lot["fen"] for lot in many) == 10 * (L.MAX_LOTS + 1)
    assert many[-1] == {"expires": (D1 + timedelta(days=L.MAX_LOTS)).isoformat(), "fen": 20}
    assert L.load(L.dump(many)) == many
