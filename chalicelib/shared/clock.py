"""One source of 'now' so tests and the local ``as_of`` runs can move time."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

_frozen: datetime | None = None


def now() -> datetime:
    """The current instant, timezone-aware UTC."""
    return _frozen or datetime.now(UTC)


def freeze(at: datetime | None) -> None:
    """Pin ``now()`` (``None`` releases it). For tests and local job runs only."""
    global _frozen
    _frozen = at


def iso(at: datetime) -> str:
    """ISO 8601 in UTC with a Z, millisecond precision: the wire and storage form."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    """An ISO 8601 timestamp with a zone (``Z`` or an offset), as UTC."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("timestamp needs a time zone")
    return value.astimezone(UTC)


def local_date(at: datetime, tz: str) -> date:
    """The calendar day of ``at`` in the program's time zone (birthdays, member days, 'today')."""
    return at.astimezone(ZoneInfo(tz)).date()


EARLIEST = datetime(1971, 1, 1)     # local wall time, before any offset is applied
LATEST = datetime(2199, 12, 31)


def checked_instant(value: datetime) -> datetime:
    """A client-supplied instant: time-zoned and within 1970-2200 (so UTC arithmetic cannot overflow)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("needs a time zone, e.g. 2026-12-01T00:00:00Z or +08:00")
    if not (EARLIEST <= value.replace(tzinfo=None) <= LATEST):
        raise ValueError("must be between 1971 and 2199")
    return value.astimezone(UTC)


def program_date(at: datetime | None = None) -> date:
    """The calendar day of ``at`` (default: now) in the program's configured time zone."""
    from chalicelib.shared.config import settings  # config reads the environment; clock stays import-light
    return local_date(at or now(), settings().timezone)


def day_start(day: date) -> datetime:
    """The instant the program's calendar day ``day`` begins (midnight there), as UTC."""
    from chalicelib.shared.config import settings
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(settings().timezone)).astimezone(UTC)
