"""Check digits for numbers people type or scan (card numbers, coupon codes): a mistyped digit or
two swapped neighbours is refused before any lookup."""

from __future__ import annotations


def luhn_digit(digits: str) -> str:
    """The Luhn check digit to append to ``digits``."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_ok(number: str) -> bool:
    """Whether ``number`` (digits) ends in its right check digit."""
    return len(number) > 1 and number.isascii() and number.isdigit() and luhn_digit(number[:-1]) == number[-1]
