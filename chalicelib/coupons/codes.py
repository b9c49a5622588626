"""Coupon codes: 18 digits, ``8``, 16 from the operating system's CSPRNG (``secrets``: 53 bits) and a
Luhn check digit, fit for a QR code or a Code 128 barcode and for typing at a till. A mistyped code
is refused before any lookup; a guessed one finds a coupon with odds (coupons issued) / 10^16 a
try, and every wrong code counts toward the caller's lockout (:mod:`chalicelib.coupons.guard`)."""

from __future__ import annotations

import re
import secrets

from chalicelib.shared.codes import luhn_digit, luhn_ok

CODE = re.compile(r"^8\d{17}$")


def new_code() -> str:
    """A fresh code."""
    body = f"8{secrets.randbelow(10**16):016d}"
    return body + luhn_digit(body)


def well_formed(code: str) -> bool:
    """Whether ``code`` has a code's shape and check digit."""
    return bool(CODE.match(code)) and luhn_ok(code)
