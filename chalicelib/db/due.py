"""Work that falls due on a day, and the loop every scheduled job runs over it.

Items with work carry ``duepk`` = ``DUE#<kind>#<shard>`` and ``duesk`` = ``<day>#<id>`` in the
sparse ``due`` index (or the same shape in ``gsi1`` for a second kind of work on one item). A job
asks each shard for everything due on or before today: its reads are proportional to the work,
never to the table, and a missed run is caught up by the next one. The due partitions are shared
by every program, so one run serves them all; each item comes with its program.

A run works to a deadline (:class:`Slice`, opened by :func:`chalicelib.jobs.run`): the shards
are read a page at a time, and when the time is up the reading stops before the next item and
the slice keeps where each kind's shards stopped (the sort key of the last item handled, or done).
The job's continuation reads on from there: an item is never handled twice by one run and its
continuations, and one that a run gave up on is read again by the next scheduled run.
"""

from __future__ import annotations

import math
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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
PAGE = 100            # items per query page: a run that stops at its deadline has read little past it
DONE = "done"         # a cursor's mark for a shard read to its end


@dataclass
class Slice:
    """One run's share of the due work: the moment it must stop (``time.monotonic``), and the
    cursor it started from and leaves behind, ``{kind: {shard: last sort key handled | DONE}}``.
    ``shards`` are the due shards it reads (a continuation reads one: they run side by side);
    ``stopped`` says it stopped at its deadline with work left; ``read`` counts the items it
    handed out; ``kinds`` the kinds it read (model, index), for the backlog figures."""

    ends_at: float
    cursor: dict[str, dict[str, str]] = field(default_factory=dict)
    shards: tuple[int, ...] = tuple(range(DUE_SHARDS))
    stopped: bool = False
    read: int = 0
    kinds: dict[str, tuple[type[Model], str]] = field(default_factory=dict)

    def continues(self) -> bool:
        """Whether a continuation should carry on: the run stopped with work left, and got on
        (a part that read nothing in its time would hand the same cursor on for ever)."""
        return self.stopped and self.read > 0

    def out_of_time(self) -> bool:
        """Whether the deadline has passed (the slice is then marked stopped)."""
        if self.ends_at < math.inf and time.monotonic() >= self.ends_at:      # outside a run: never
            self.stopped = True
        return self.stopped

    def again(self, kind: str) -> None:
        """Read ``kind`` from the start in the continuation (a job that sorts its due items before
        handling them has read every shard, but not handled every item)."""
        self.cursor.pop(kind, None)
        self.stopped = True


_SLICE: ContextVar[Slice | None] = ContextVar("due_slice", default=None)


@contextmanager
def working_until(seconds: float, cursor: dict[str, dict[str, str]] | None = None,
                  shards: Iterable[int] | None = None) -> Iterator[Slice]:
    """Read and handle due work for at most ``seconds`` from now, from ``cursor`` on, in ``shards``
    (every shard when None)."""
    s = Slice(time.monotonic() + seconds, {k: dict(v) for k, v in (cursor or {}).items()},
              tuple(range(DUE_SHARDS)) if shards is None else tuple(shards))
    token = _SLICE.set(s)
    try:
        yield s
    finally:
        _SLICE.reset(token)


def current_slice() -> Slice:
    """The open slice (outside a job run: one without a deadline, from the start)."""
    return _SLICE.get() or Slice(math.inf)


def backlog_days(backend: Backend, model: type[M], kind: str, as_of: datetime, index: str = "due") -> int:
    """How many days the oldest item of ``kind`` has been due (0 when nothing is overdue): one
    one-item query per shard, for the backlog metric every run emits."""
    sort_key = "gsi1sk" if index == "gsi1" else "duesk"
    oldest = [due_day(getattr(item, sort_key)) for shard in range(DUE_SHARDS)
              for item in backend.query(model, f"DUE#{kind}#{shard}", index=index, limit=1)]
    return max(0, (clock.latest_date(as_of) - min(oldest)).days) if oldest else 0


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
    tomorrow in a program west of here is read, left alone, and read again by a later run).

    Within a job run, each shard starts where the run's cursor says (:class:`Slice`), and the
    reading stops at the run's deadline, before the next item: every item yielded before was
    handled, so the cursor names the last one."""
    tomorrow = (clock.latest_date(as_of) + timedelta(days=1)).isoformat()
    sort_key = "gsi1sk" if index == "gsi1" else "duesk"
    today: dict[str, date] = {}
    run = current_slice()
    run.kinds[kind] = (model, index)
    cursor = run.cursor.setdefault(kind, {})
    for shard in run.shards:
        after = cursor.get(str(shard), "")
        if after == DONE:
            continue
        # at or after the last one handled (which is then skipped), and before tomorrow
        sort = SortKey.between(after, tomorrow) if after else SortKey.below(tomorrow)
        for item in backend.query(model, f"DUE#{kind}#{shard}", sort, index=index, page_size=PAGE):
            position = getattr(item, sort_key)
            if position == after:
                continue
            if run.out_of_time():
                return
            cursor[str(shard)] = position
            run.read += 1
            program = tenancy.localise(item) or DEFAULT_PROGRAM
            if program not in today:
                today[program] = clock.local_date(as_of, clock.zone_of(program))
            if due_day(position) <= today[program]:
                yield program, item
        cursor[str(shard)] = DONE


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
