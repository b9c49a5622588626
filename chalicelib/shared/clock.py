"""One source of 'now' so tests and the local ``as_of`` runs can move time, and of the program's
calendar: every calendar rule (year end, birthdays, member days, bonus expiry at midnight, daily
limits, the day a job's work falls due) reads the day in the time zone of the program it serves.

The program is set where it becomes known: the HTTP layer for a request, the dispatcher for an
event, the due-work loop for each item a job handles (:func:`in_program`). A program's zone comes
from the ``ZONES`` hook (the programs capability); with no program set, the deployment's
``PROGRAM_TIMEZONE`` (default Asia/Shanghai) applies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from chalicelib.shared.errors import ValidationProblem
from chalicelib.shared.lazy import Hook

_frozen: datetime | None = None
_zone: ContextVar[str | None] = ContextVar("program_zone", default=None)
ZONES: Hook[Callable[[str], str]] = Hook()      # program id -> its IANA time zone
LATEST_ZONE = "Etc/GMT-14"                      # UTC+14 (POSIX signs are inverted): the first to reach a day


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


def _default_zone() -> str:
    from chalicelib.shared.config import settings  # config reads the environment; clock stays import-light
    return settings().timezone


def zone_of(program_id: str) -> str:
    """The time zone of ``program_id`` (the deployment's default when no provider is set)."""
    resolve = ZONES.get()
    return resolve(program_id) if resolve is not None else _default_zone()


def program_zone() -> str:
    """The time zone of the program being served (the deployment's default outside one)."""
    return _zone.get() or _default_zone()


@contextmanager
def in_program(program_id: str) -> Iterator[str]:
    """Serve ``program_id`` within the block: its calendar rules use its time zone."""
    token = _zone.set(zone_of(program_id))
    try:
        yield _zone.get() or _default_zone()
    finally:
        _zone.reset(token)


def enter(program_id: str) -> None:
    """Serve ``program_id`` from here to the end of the enclosing :func:`in_program` block (a
    request that learns its program from its credential part way through)."""
    _zone.set(zone_of(program_id))


def program_date(at: datetime | None = None) -> date:
    """The calendar day of ``at`` (default: now) in the time zone of the program being served."""
    return local_date(at or now(), program_zone())


def not_after_today(day: date | None, field: str, refusal: str) -> None:
    """Refuse (422, naming ``field``) a day after the program's today: figures of days to come
    cannot exist yet. ``refusal`` says what was asked, "(today is ...)" is added."""
    today = program_date()
    if day is not None and day > today:
        raise ValidationProblem(f"{refusal} (today is {today.isoformat()})",
                                errors=[{"field": field, "message": "in the future"}])


def latest_date(at: datetime) -> date:
    """The latest calendar day anywhere at ``at`` (UTC+14): work due on or before it may be due
    in some program, which then decides by its own day (:func:`zone_of`)."""
    return local_date(at, LATEST_ZONE)


def day_start(day: date) -> datetime:
    """The instant the program's calendar day ``day`` begins (midnight there), as UTC."""
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(program_zone())).astimezone(UTC)
