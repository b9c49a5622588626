"""EventBridge schedule expressions, evaluated locally (EventBridge rules never fire in moto).

Supports ``rate(N minute|minutes|hour|hours|day|days)`` and the six-field
``cron(minutes hours day-of-month month day-of-week year)`` with ``*``, ``?``, lists, ranges and
steps, day-of-week as 1-7 (SUN=1) or SUN-SAT, and month names. ``L`` and ``W`` and ``#`` are
refused with a clear error rather than guessed at. Schedules are in UTC, as in EventBridge.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_MONTHS = {m: i for i, m in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1)}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 1)}


class ScheduleError(ValueError):
    pass


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int] | None:
    """The allowed values of one cron field; None means 'any'."""
    if text in ("*", "?"):
        return None
    if any(c in text for c in "LW#"):
        raise ScheduleError(f"cron field '{text}' uses L, W or # which the local scheduler does not support")
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part in ("*", ""):
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _value(a, names), _value(b, names)
        else:
            start = _value(part, names)
            end = high if step > 1 else start
        if not (low <= start <= high and low <= end <= high):
            raise ScheduleError(f"cron value out of range in '{text}'")
        values.update(range(start, end + 1, step))
    return values


def _value(text: str, names: dict[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise ScheduleError(f"cron value '{text}' is not a number")
    return int(text)


@dataclass(frozen=True)
class Schedule:
    expression: str
    every: timedelta | None = None
    fields: tuple | None = None

    @classmethod
    def parse(cls, expression: str) -> Schedule:
        text = expression.strip()
        if m := _RATE.match(text):
            n, unit = int(m.group(1)), m.group(2).rstrip("s")
            if n < 1:
                raise ScheduleError("rate must be at least 1")
            return cls(text, every=timedelta(**{unit + "s": n}))
        if m := _CRON.match(text):
            parts = m.group(1).split()
            if len(parts) != 6:
                raise ScheduleError("cron needs six fields: minutes hours day-of-month month day-of-week year")
            minute, hour, dom, month, dow, year = parts
            if dom != "?" and dow != "?":
                raise ScheduleError("cron: one of day-of-month and day-of-week must be '?'")
            return cls(text, fields=(_field(minute, 0, 59), _field(hour, 0, 23), _field(dom, 1, 31),
                                     _field(month, 1, 12, _MONTHS), _field(dow, 1, 7, _DAYS),
                                     _field(year, 1970, 2199)))
        raise ScheduleError(f"not a schedule expression: {expression!r}")

    def matches(self, at: datetime) -> bool:
        """Whether a cron schedule fires in the minute ``at`` (UTC)."""
        assert self.fields is not None
        minute, hour, dom, month, dow, year = self.fields
        aws_dow = (at.isoweekday() % 7) + 1          # SUN=1 ... SAT=7
        checks = ((minute, at.minute), (hour, at.hour), (dom, at.day), (month, at.month),
                  (dow, aws_dow), (year, at.year))
        return all(allowed is None or value in allowed for allowed, value in checks)

    def next_after(self, at: datetime, started: datetime) -> datetime:
        """The first firing strictly after ``at``."""
        if self.every is not None:
            periods = int((at - started) / self.every) + 1
            return started + periods * self.every
        t = at.replace(second=0, microsecond=0) + timedelta(minutes=1)
        for _ in range(366 * 24 * 60 * 2):
            if self.matches(t):
                return t
            t += timedelta(minutes=1)
        raise ScheduleError(f"{self.expression} never fires")


def scheduled_event(rule: str, at: datetime) -> dict[str, Any]:
    """The EventBridge 'Scheduled Event' a rule delivers to its Lambda."""
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "000000000000",
            "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "region": "local",
            "resources": [f"arn:aws:events:local:000000000000:rule/{rule}"], "detail": {}}


class Scheduler:
    """Fires each job when its schedule says so, on a background thread."""

    def __init__(self, jobs: list[tuple[str, Schedule, Callable[[dict[str, Any]], Any]]],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 on_error: Callable[[str, Exception], None] = lambda name, e: None) -> None:
        self.jobs = jobs
        self.clock = clock
        self.on_error = on_error
        self.fired: list[tuple[str, datetime]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def due(self, after: datetime, until: datetime, started: datetime):
        """(name, time, fn) for every firing in (after, until], in time order."""
        out = []
        for name, schedule, fn in self.jobs:
            t = schedule.next_after(after, started)
            while t <= until:
                out.append((t, name, fn))
                t = schedule.next_after(t, started)
        return sorted(out, key=lambda x: x[0])

    def tick(self, after: datetime, until: datetime, started: datetime) -> None:
        for at, name, fn in self.due(after, until, started):
            try:
                fn(scheduled_event(name, at))
            except Exception as error:  # a failed job must not stop the others
                self.on_error(name, error)
            self.fired.append((name, at))

    def start(self, poll_seconds: float = 1.0) -> None:
        started = self.clock()

        def run() -> None:
            last = started
            while not self._stop.wait(poll_seconds):
                now = self.clock()
                self.tick(last, now, started)
                last = now
        self._thread = threading.Thread(target=run, name="scheduler", daemon=True)
        self._thread.start()

    def signal_stop(self) -> None:
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
