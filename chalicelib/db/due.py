"""Work that falls due on a day, and the loop every scheduled job runs over it.

Items with work carry ``duepk`` = ``DUE#<kind>#<shard>`` and ``duesk`` = ``<day>#<id>`` in the
sparse ``due`` index (or the same shape in ``gsi1`` for a second kind of work on one item). A job
asks each shard for everything due on or before today: its reads are proportional to the work,
never to the table, and a missed run is caught up by the next one. The due partitions are shared
by every program, so one run serves them all; each item comes with its program.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TypeVar

from pynamodb.models import Model

from chalicelib.db import tenancy
from chalicelib.db.backend import Backend, SortKey
from chalicelib.shared import clock
from chalicelib.shared.errors import ConcurrentUpdate
from chalicelib.shared.observability import logger
from chalicelib.shared.principal import DEFAULT_PROGRAM

M = TypeVar("M", bound=Model)
T = TypeVar("T")
DUE_SHARDS = 8        # spreads due work over partitions; a job run makes DUE_SHARDS queries per kind
ATTEMPTS = 5          # tries per item when a concurrent change gets in the way


def due_keys(kind: str, day: date, item_id: str) -> tuple[str, str]:
    """The index keys that make ``item_id`` due for ``kind`` work on ``day``."""
    shard = zlib.crc32(item_id.encode()) % DUE_SHARDS
    return f"DUE#{kind}#{shard}", f"{day.isoformat()}#{item_id}"


def due_day(duesk: str) -> date:
    """The day an index sort key names."""
    return date.fromisoformat(duesk.split("#", 1)[0])


def due_items(backend: Backend, model: type[M], kind: str, as_of: datetime,
              index: str = "due") -> Iterator[tuple[str, M]]:
    """Every item of ``kind`` due by ``as_of``, shard by shard, with its program.

    Each program keeps its calendar in its own time zone, so the shards are read up to the latest
    day anywhere and each item is kept only when its day has come in its program's zone (work due
    tomorrow in a program west of here is read, left alone, and read again by a later run)."""
    tomorrow = (clock.latest_date(as_of) + timedelta(days=1)).isoformat()
    sort_key = "gsi1sk" if index == "gsi1" else "duesk"
    today: dict[str, date] = {}
    for shard in range(DUE_SHARDS):
        for item in backend.query(model, f"DUE#{kind}#{shard}", SortKey.below(tomorrow), index=index):
            program = tenancy.localise(item) or DEFAULT_PROGRAM
            if program not in today:
                today[program] = clock.local_date(as_of, clock.zone_of(program))
            if due_day(getattr(item, sort_key)) <= today[program]:
                yield program, item


@dataclass
class DueRun:
    """What one job run did: items read, counts by outcome, and the items it gave up on."""

    items_read: int = 0
    counts: Counter = field(default_factory=Counter)
    gave_up: list[str] = field(default_factory=list)

    def give_ups(self) -> dict[str, object]:
        """For a job's result: what it gave up on, if anything (left out when nothing)."""
        if not self.gave_up:
            return {}
        return {"gave_up": len(self.gave_up), "gave_up_items": self.gave_up[:20]}


def _program(item: object) -> str:
    """The program of a due item as :func:`due_items` yields it: ``(program, item)``."""
    return item[0] if isinstance(item, tuple) and isinstance(item[0], str) else DEFAULT_PROGRAM


def run_due(items: Iterable[T], handle: Callable[[T, int], Counter | None], name: Callable[[T], str],
            job: str, attempts: int = ATTEMPTS) -> DueRun:
    """Call ``handle(item, attempt)`` for each item, retrying concurrent changes, in the item's
    program (its calendar: ``clock.program_date`` is the program's day while it runs).

    One item never stops the run: an item that still conflicts after ``attempts`` tries, or that
    fails, is logged and counted as a give-up and stays due, so the next run tries it again.
    """
    run = DueRun()
    for item in items:
        run.items_read += 1
        for attempt in range(1, attempts + 1):
            try:
                with clock.in_program(_program(item)):
                    run.counts.update(handle(item, attempt) or Counter())
                break
            except ConcurrentUpdate:
                if attempt == attempts:
                    run.gave_up.append(name(item))
            except Exception:   # noqa: BLE001 - one bad item must not stop the others
                logger.exception("due item failed", extra={"job": job, "item": name(item)})
                run.gave_up.append(name(item))
                break
    return run
