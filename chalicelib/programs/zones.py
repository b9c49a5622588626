"""Each program's time zone, for every calendar rule (``clock.ZONES``).

A program's zone is fixed when it is created (no operation changes it, since every stored day of
the program was reckoned in it), so one read per program and container is enough; a program with
no record (``default`` before programs existed) uses the deployment's ``PROGRAM_TIMEZONE``.
"""

from __future__ import annotations

from chalicelib.db.uow import UnitOfWork
from chalicelib.programs.tables import ProgramItem
from chalicelib.shared import clock
from chalicelib.shared.cache import TtlCache
from chalicelib.shared.config import settings

_ZONES: TtlCache[str] = TtlCache(3600, max_entries=4096)


def zone(program_id: str) -> str:
    """The IANA time zone ``program_id`` keeps its calendar in."""
    return _ZONES.get(program_id, lambda: _read(program_id))


def _read(program_id: str) -> str:
    item = UnitOfWork("zones").get(ProgramItem, ProgramItem.key(program_id))
    return item.timezone if item is not None and item.timezone else settings().timezone


clock.ZONES.use(zone)
