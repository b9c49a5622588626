"""listAuditLog's pure parts: the period it reads and its opaque cursor."""

from __future__ import annotations

from datetime import date

import pytest

from chalicelib.audit import service
from chalicelib.db.audit import SECRET_LOOKING, Wanted, family, redact
from chalicelib.shared.errors import ValidationProblem

WANT = Wanted("2026-03-01T00:00:00.000Z", "2026-03-08T00:00:00.000Z", member_id="m-1")


def test_the_period_defaults_to_the_last_seven_days_and_holds_at_most_92():
    assert service.period(None, date(2026, 3, 7)) == (date(2026, 3, 1), date(2026, 3, 7))
    assert service.period(date(2026, 1, 1), date(2026, 4, 2)) == (date(2026, 1, 1), date(2026, 4, 2))   # 92 days
    for start, end in ((date(2026, 1, 1), date(2026, 4, 3)), (date(2026, 3, 2), date(2026, 3, 1))):
        with pytest.raises(ValidationProblem):
            service.period(start, end)


def test_a_cursor_goes_back_to_its_position_for_the_same_filters_only():
    position = "2026-03-05T10:00:00.000Z#01JAAAAAAAAAAAAAAAAAAAAAAA"
    cursor = service.encode(position, WANT)
    assert position not in cursor and service.decode(cursor, WANT) == position
    for other in (Wanted(WANT.low, WANT.high), Wanted(WANT.low, WANT.high, member_id="m-1", action="pii.revealed")):
        with pytest.raises(ValidationProblem):
            service.decode(cursor, other)
    outside = service.encode("2026-02-05T10:00:00.000Z", WANT)
    for bad in ("", "%%%", "bm90IGpzb24", outside, service.encode("DROP TABLE", WANT)):
        with pytest.raises(ValidationProblem):
            service.decode(bad, WANT)


def test_what_looks_like_a_secret():
    assert family("staff.login_failed") == "staff" and family("phone_changed") == "phone_changed"
    for text in ("whsec_abc", "rt_default.x.y", "bearer x9", "bearer abcdefghijklmnop", "eyJhbGciOi", "f" * 64):
        assert SECRET_LOOKING.search(text), text
    for text in ("start_date", "rt_ops", "bearer-x", "verified_by=sms_otp", "ak_0123456789abcdef01234567 store=s1", "clerk -> store_manager",
                 "refresh token 01JAAAAAAAAAAAAAAAAAAAAAAA", "phone,email", "138****8000 -> 139****0000", "bearer x", "Bearer of the keys"):
        assert not SECRET_LOOKING.search(text), text
    assert redact("login Bearer eyJhbGciOiJIUzI1NiJ9") == "login [redacted]"
    assert redact("key " + "ab" * 32) == "key [redacted]"
