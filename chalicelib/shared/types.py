"""Field types and the base model that every request schema shares."""

import re
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

from chalicelib.shared.clock import checked_instant

Instant = Annotated[datetime, AfterValidator(checked_instant)]
"""A client-supplied point in time: time-zoned, 1971-2199, normalised to UTC."""


class Strict(BaseModel):
    """Request bodies and queries: unknown fields are refused, strings are trimmed."""

    # defer_build: a model's validator is built when first used, so a cold start builds only the
    # models of the request it serves, not those of every route in the app.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)


class Reply(BaseModel):
    """What an operation answers, as the OpenAPI document describes it. Replies are never validated
    at run time (the handlers build them); the end-to-end suite checks every reply it receives
    against these models, which forbid undocumented fields."""

    model_config = ConfigDict(extra="forbid", defer_build=True)


PLAIN_DECIMAL = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,15})?")


def finite_decimal(value: str) -> str:
    """A decimal number written as text ("1.5"): NaN, sNaN and Infinity are refused here, once,
    because a comparison with NaN raises (a 500) and a sNaN poisons any arithmetic later."""
    if not isinstance(value, str) or len(value) > 32:
        raise ValueError("must be a decimal number as a string of at most 32 characters, e.g. \"1.5\"")
    try:
        number = Decimal(value)
    except (InvalidOperation, ValueError):
        raise ValueError(f"'{value[:32]}' is not a decimal number") from None
    if not number.is_finite():
        raise ValueError("must be a finite decimal number (not NaN or Infinity)")
    if not PLAIN_DECIMAL.fullmatch(value):     # Decimal also reads "1_0" (10) and "1e2": stored as sent, read by none
        raise ValueError(f"'{value[:32]}' must be written plainly: digits, at most one point (e.g. \"1.5\")")
    return value


DecimalText = Annotated[str, AfterValidator(finite_decimal)]
"""A multiplier or rate in configuration: a finite decimal number as a string, never a float."""


T = TypeVar("T")


def unique_by(items: Sequence[T], attribute: str, what: str) -> Sequence[T]:
    """``items`` if no two share ``attribute`` (a configuration's ids or codes); else a ValueError."""
    names = [getattr(item, attribute) for item in items]
    if len(set(names)) != len(names):
        raise ValueError(f"{what} must be unique")
    return items


_BIDI_CONTROLS = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}


def plain_text(value: str) -> str:
    """Text shown to people: no control characters (NUL, escapes), no bidi overrides that could
    make a name display as something else, and something visible."""
    import unicodedata
    if any(unicodedata.category(ch) == "Cc" or ch in _BIDI_CONTROLS for ch in value):
        raise ValueError("must not contain control or text-direction characters")
    if value and all(unicodedata.category(ch) in _INVISIBLE for ch in value):
        raise ValueError("must contain a visible character (not only spaces or zero-width ones)")
    return value


_INVISIBLE = {"Cf", "Zs", "Zl", "Zp"}       # format (zero-width) characters and spaces


PlainText = Annotated[str, AfterValidator(plain_text)]
"""Free text people read (names, reasons)."""


def _day_text(value: Any) -> Any:
    """A day sent as text must be just the day: a date-time, even at midnight, is refused."""
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("must be a date, YYYY-MM-DD")
    return value


Day = Annotated[date, BeforeValidator(_day_text)]
"""A calendar day in a body (``format: date``): ``YYYY-MM-DD`` only."""

