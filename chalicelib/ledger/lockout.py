"""Locks that grow: the wrong tries in a row a credential may make, and how long each lock lasts.

Gift card secrets and staff passwords lock the same way: :attr:`Lockout.tries` wrong tries in a
row earn a lock of :attr:`Lockout.first`, each further lock twice the last, never longer than
:attr:`Lockout.longest`. The item that counts them (``failures``, ``locks``, ``locked_until``)
is the caller's; this module only does the arithmetic, so each keeps its own item and condition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.shared import clock


@dataclass(frozen=True)
class Lockout:
    tries: int
    first: timedelta
    longest: timedelta = timedelta(days=1)

    def lasting(self, locks: int) -> timedelta:
        """How long the lock after ``locks`` earlier ones lasts."""
        return min(self.first * 2 ** min(locks, 30), self.longest)

    def until(self, now: datetime, locks: int) -> str:
        """When a lock earned now, after ``locks`` earlier ones, ends (ISO)."""
        return clock.iso(now + self.lasting(locks))


def locked(locked_until: str | None, now: datetime) -> bool:
    """Whether a lock ending at ``locked_until`` still holds at ``now``."""
    return bool(locked_until) and clock.parse_iso(locked_until) > now  # type: ignore[arg-type]


def seconds_left(locked_until: str, now: datetime) -> int:
    """The whole seconds until a lock ending at ``locked_until`` ends, at least 1: a 429's
    ``Retry-After``."""
    return max(1, math.ceil((clock.parse_iso(locked_until) - now).total_seconds()))
