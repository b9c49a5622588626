"""When a caller locked out of coupon lookups may try again (the sliding window's arithmetic)."""

from datetime import UTC, datetime

from chalicelib.coupons import guard

START = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def test_a_lock_by_this_windows_wrong_codes_lasts_until_they_weigh_less_than_the_limit():
    # 20 wrong codes now: next window they weigh 20 x (1 - elapsed/15 min); 19 or less after 45 s
    assert guard.unlocks_at(START, 0, 20) == datetime(2026, 12, 4, 12, 15, 45, tzinfo=UTC)
    # 40 wrong codes (a burst): weigh 19 after 15 x (1 - 19/40) = 7 min 52.5 s of the next window
    assert guard.unlocks_at(START, 0, 40) == datetime(2026, 12, 4, 12, 22, 52, 500000, tzinfo=UTC)


def test_a_lock_by_the_last_windows_wrong_codes_ends_within_this_one():
    # 30 wrong codes last window and 4 now: room for one more once 30 x (1 - e) <= 15, at e = 7.5 min
    assert guard.unlocks_at(START, 30, 4) == datetime(2026, 12, 4, 12, 7, 30, tzinfo=UTC)
    assert guard.unlocks_at(START, 0, 5) == START                  # not locked at all
