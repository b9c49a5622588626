"""Each program's time zone, for every calendar rule (``clock.ZONES``).

A program's zone is set when it is created and may be changed by its super admin
(``updateProgram``). A change is not retroactive: every day already stored (ledger days, expiry
days, due days, daily statistics) keeps the date it was reckoned with; from the change on, "today"
and every new day are reckoned in the new zone. The zone is read once per program and container
and kept :data:`CACHE_SECONDS`, so a change reaches every warm Lambda within that time (at once
in the one that made it). A program with no record (``default`` before programs existed) uses
the deployment's ``PROGRAM_TIMEZONE``.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.db.uow import UnitOfWork
from chalicelib.programs.tables import ProgramItem
from chalicelib.shared import clock
from chalicelib.shared.cache import TtlCache
from chalicelib.shared.config import settings
from chalicelib.shared.errors import ValidationProblem

CACHE_SECONDS = 300.0
_ZONES: TtlCache[str] = TtlCache(CACHE_SECONDS, max_entries=4096)


def zone(program_id: str) -> str:
    """The IANA time zone ``program_id`` keeps its calendar in."""
    return _ZONES.get(program_id, lambda: _read(program_id))


def checked(timezone: str) -> str:
    """``timezone`` if it names an IANA time zone this runtime knows; else a ValidationProblem."""
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationProblem(f"unknown time zone '{timezone[:64]}'") from None
    return timezone


def forget(program_id: str) -> None:
    """Read the program's zone afresh next time (it was just changed here)."""
    _ZONES.invalidate(program_id)


def _read(program_id: str) -> str:
    item = UnitOfWork("zones").get(ProgramItem, ProgramItem.key(program_id))
    return item.timezone if item is not None and item.timezone else settings().timezone


clock.ZONES.use(zone)
