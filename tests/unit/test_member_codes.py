"""Member codes, pure: the code's shape, its TOTP (RFC 6238 via pyotp), its window and skew on a
fixed clock, and the guard's limits shared with coupons unchanged."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from chalicelib.coupons import guard as coupon_guard
from chalicelib.member_codes import domain
from chalicelib.shared.codes import luhn_ok

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
HANDLE = "0123456789"
AT = datetime(2026, 12, 4, 12, 0, 30, tzinfo=UTC)          # half way through a step


def test_the_library_is_rfc_6238():
    # RFC 6238 appendix B, SHA-1, T = 59 s: the library the codes are derived with
    secret = base64.b32encode(b"12345678901234567890").decode()
    assert pyotp.TOTP(secret, digits=8, interval=30).at(59) == "94287082"
    assert pyotp.TOTP(secret, digits=8, interval=30).at(1111111109) == "07081804"


def test_a_code_is_18_digits_kind_handle_totp_and_check_digit():
    shown = domain.code_at(SECRET, HANDLE, AT)
    assert len(shown.code) == 18 and shown.code.isdigit() and shown.code[0] == "9" and luhn_ok(shown.code)
    assert shown.code[1:11] == HANDLE
    assert shown.code[11:17] == pyotp.TOTP(SECRET, digits=6, interval=60).at(AT)
    assert domain.parse(shown.code) == domain.Presented(HANDLE, shown.code[11:17])


def test_the_code_changes_every_minute_and_says_when():
    shown = domain.code_at(SECRET, HANDLE, AT)
    step_start = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    assert shown.next_at == step_start + timedelta(minutes=1)
    assert shown.valid_until == step_start + timedelta(minutes=2)           # its minute and one of skew
    assert shown.refresh_in(AT) == 30
    assert domain.code_at(SECRET, HANDLE, AT + timedelta(seconds=29)).code == shown.code
    assert domain.code_at(SECRET, HANDLE, AT + timedelta(seconds=30)).code != shown.code


@pytest.mark.parametrize("later, resolves", [(0, True), (29, True), (30, True), (89, True), (90, False),
                                              (150, False), (-31, True), (-91, False)])
def test_a_code_resolves_in_its_minute_the_next_and_the_one_before_only(later, resolves):
    """(the minute before: a code shown ahead, once that minute's own was used)"""
    shown = domain.code_at(SECRET, HANDLE, AT)
    digits = domain.parse(shown.code).digits
    found = domain.matching_step(SECRET, digits, AT + timedelta(seconds=later))
    assert (found == shown.step) if resolves else found is None


def test_a_code_of_another_secret_does_not_resolve():
    shown = domain.code_at(SECRET, HANDLE, AT)
    assert domain.matching_step(pyotp.random_base32(), domain.parse(shown.code).digits, AT) is None


@pytest.mark.parametrize("code", ["", "9" * 17, "9" * 19, "8" + "0" * 17, "9012345678912345x7", None, 9])
def test_malformed_codes_are_refused_before_any_lookup(code):
    assert domain.parse(code) is None


def test_a_mistyped_digit_fails_the_check_digit():
    code = domain.code_at(SECRET, HANDLE, AT).code
    typo = code[:5] + str((int(code[5]) + 1) % 10) + code[6:]
    assert domain.parse(typo) is None


def test_handles_and_secrets_are_random():
    assert len({domain.new_handle() for _ in range(50)}) == 50
    assert all(len(h) == 10 and h.isdigit() for h in (domain.new_handle() for _ in range(20)))
    assert len(base64.b32decode(domain.new_secret())) == 20                 # 160 bits


def test_the_coupon_guard_keeps_its_limits_and_names():
    assert (coupon_guard.GUARD.tries, coupon_guard.GUARD.in_flight, coupon_guard.GUARD.prefix) == (20, 32, "COUPONGUARD")
    assert coupon_guard.GuardItem.key("COUPONGUARD", "merchant:k", "w") == ("COUPONGUARD#merchant:k", "w")
    from chalicelib.member_codes.service import GUARD
    assert GUARD.prefix != coupon_guard.GUARD.prefix and GUARD.tries == coupon_guard.TRIES
