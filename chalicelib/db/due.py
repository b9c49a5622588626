"""Work that falls due on a day, and the loop every scheduled job runs over it.

Items with work carry ``duepk`` = ``DUE#<kind>#<shard>`` and ``duesk`` = ``<day>#<id>`` in the
sparse ``due2`` index (or the same shape in ``gsi1`` for a second kind of work on one item);
``due2`` projects the keys only, and the reader reads the items it finds whole, a page at a time.
The partition key is the program's like any other (stored ``<program>/DUE#<kind>#<shard>``,
:mod:`chalicelib.db.tenancy`), and each kind has as many shards as its peak write rate in one
program needs (:data:`SHARDS`: a flash of earns writes 10,000 lot entries a second, a partition
takes 1,000; docs/scale.md), so one program's peak never lands on another's partitions (#24
item 6). A job asks each (program, shard) for everything due on or before today: its reads are
proportional to the work and the programs, never to the table, and a missed run is caught up by
the next one. One run serves every program (:data:`PROGRAMS` lists them); each item comes with
its program.

A run works to a deadline (:class:`Slice`, opened by :func:`chalicelib.jobs.run`): the shards
are read a page at a time, and when the time is up the reading stops before the next item and
the slice keeps where each kind's shards stopped (the sort key of the last item handled, or done).
The job's continuations read on from there, one per lane (shards ``n, n + LANES, ...`` of every
kind) and batch of programs: an item is never handled twice by one run and its continuations,
and one that a run gave up on is read again by the next scheduled run.
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
from itertools import islice
from typing import Any, TypeVar, cast

from pynamodb.models import Model

from chalicelib.db import tenancy
from chalicelib.db.backend import Backend, SortKey
from chalicelib.db.tables import MAIN
from chalicelib.shared import clock
from chalicelib.shared.errors import ConcurrentUpdate
from chalicelib.shared.lazy import Hook
from chalicelib.shared.observability import logger
from chalicelib.shared.principal import DEFAULT_PROGRAM

M = TypeVar("M", bound=Model)
T = TypeVar("T")
DUE_SHARDS = 8        # shards of a kind not in SHARDS
# Shards per kind and program, from the kind's peak write rate in one program (docs/scale.md): a
# partition of the index takes 1,000 writes a second. The kinds an earn may write (a pending lot,
# the account's next date, a lot's reminder of before, the tier's review and reminder) and the member's
# review (a flash of registrations) take up to a flash's 10,000 a second: 16 shards, 625 a second
# each. Holds, bonuses, paid memberships and gift card batches come at order or operator pace.
SHARDS = {"points-lot": 16, "points-rolling": 16, "points-dates": 16, "points-remind": 16, "points-reminder": 16, "lifecycle": 16,
          "tier-review": 16, "tier-remind": 16, "tier-reminder": 16, "sv-bonus": 4, "points-hold": 2, "sv-hold": 2,
          "gc-hold": 2, "membership-expiry": 2, "gc-batch": 1, "coupon-expiry": 16, "coupon-hold": 2, "checkout": 2}
LANES = 8             # continuations a run fans out to per batch of programs (lane n: shards n, n + LANES...)
PROGRAMS_PER_PART = 50    # programs one continuation message carries (its cursor stays well under SQS's 256 KB)
ATTEMPTS = 5          # tries per item when a concurrent change gets in the way
PAGE = 100            # items per query page: a run that stops at its deadline has read little past it
DONE = "done"         # a cursor's mark for a shard read to its end
INDEX = "due2"        # the due index (keys only; ``due``, projecting ALL, is the one it replaces)
WHOLE = {i.name for i in MAIN.indexes if i.projection == "ALL"}     # indexes that return whole items
SORT_KEYS = {"gsi1": "gsi1sk", "keys1": "k1sk"}     # each index's sort key on an item (due2: duesk)
# Every program's id (a job run reads each one's due partitions): the programs capability lists them.
PROGRAMS: Hook[Callable[[], list[str]]] = Hook()


def shards_of(kind: str) -> int:
    """How many due partitions ``kind`` has in each program."""
    return SHARDS.get(kind, DUE_SHARDS)


def programs() -> tuple[str, ...]:
    """Every program whose due work a run reads (one Query of the programs listing), ``default``
    always among them (it has no record when it predates programs)."""
    listing = PROGRAMS.get()
    found = listing() if listing is not None else []
    return tuple(dict.fromkeys([DEFAULT_PROGRAM, *sorted(found)]))


def _place(program: str, shard: int) -> str:
    """A cursor's name for one program's shard."""
    return f"{program}#{shard}"


@dataclass
class Slice:
    """One run's share of the due work: the moment it must stop (``time.monotonic``), and the
    cursor it started from and leaves behind, ``{kind: {"<program>#<shard>": last sort key handled
    | DONE}}``. ``shards`` are the lanes it reads (lane ``n``: each kind's shards ``n, n + LANES``
    ...; a continuation reads one: they run side by side), ``programs`` the programs (None: every
    program, listed when first read); ``stopped`` says it stopped at its deadline with work left;
    ``read`` counts the items it handed out; ``kinds`` the kinds it read (model, index), for the
    backlog figures."""

    ends_at: float
    cursor: dict[str, dict[str, str]] = field(default_factory=dict)
    shards: tuple[int, ...] = tuple(range(LANES))
    programs: tuple[str, ...] | None = None
    stopped: bool = False
    unfinished: bool = False
    read: int = 0
    kinds: dict[str, tuple[type[Model], str]] = field(default_factory=dict)

    def leave_unfinished(self) -> None:
        """The item just handed out was left midway at the deadline (an account with more lots
        due than a part's time): the cursor goes back to before it, so a continuation reads it
        again, and the run stops there."""
        self.unfinished = self.stopped = True

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

    def of_programs(self) -> tuple[str, ...]:
        """The programs this slice reads (listed once, on first use)."""
        if self.programs is None:
            self.programs = programs()
        return self.programs

    def continuations(self) -> Iterator[dict[str, object]]:
        """What carries this slice on: one part per lane and batch of :data:`PROGRAMS_PER_PART`
        programs, each with the cursor of its own shards only (bounded: ``LANES`` parts per 50
        programs, each message a few KB)."""
        every = self.of_programs()
        for lane in self.shards:
            for start in range(0, len(every), PROGRAMS_PER_PART):
                batch = every[start:start + PROGRAMS_PER_PART]
                cursor = {kind: {place: at for place, at in places.items()
                                 if place.rpartition("#")[0] in batch and int(place.rpartition("#")[2]) % LANES == lane}
                          for kind, places in self.cursor.items()}
                yield {"shards": [lane], "programs": list(batch), "cursor": cursor}


_SLICE: ContextVar[Slice | None] = ContextVar("due_slice", default=None)


@contextmanager
def working_until(seconds: float, cursor: dict[str, dict[str, str]] | None = None,
                  shards: Iterable[int] | None = None, of_programs: Iterable[str] | None = None) -> Iterator[Slice]:
    """Read and handle due work for at most ``seconds`` from now, from ``cursor`` on, in the lanes
    ``shards`` (every lane when None) of ``of_programs`` (every program when None)."""
    s = Slice(time.monotonic() + seconds, {k: dict(v) for k, v in (cursor or {}).items()},
              tuple(range(LANES)) if shards is None else tuple(shards),
              None if of_programs is None else tuple(of_programs))
    token = _SLICE.set(s)
    try:
        yield s
    finally:
        _SLICE.reset(token)


def current_slice() -> Slice:
    """The open slice (outside a job run: one without a deadline, from the start)."""
    return _SLICE.get() or Slice(math.inf)


def backlog_days(backend: Backend, model: type[M], kind: str, as_of: datetime, index: str = INDEX,
                 of_programs: Iterable[str] | None = None) -> int:
    """How many days the oldest item of ``kind`` has been due (0 when nothing is overdue): one
    one-item query per program and shard, for the backlog metric a run that fell behind emits."""
    sort_key = SORT_KEYS.get(index, "duesk")
    oldest = [due_day(getattr(item, sort_key)) for program in (of_programs or programs())
              for shard in range(shards_of(kind))
              for item in backend.query(model, partition(program, kind, shard), index=index, limit=1)]
    return max(0, (clock.latest_date(as_of) - min(oldest)).days) if oldest else 0


def due_keys(kind: str, day: date, item_id: str) -> tuple[str, str]:
    """The index keys that make ``item_id`` due for ``kind`` work on ``day`` (the partition key
    as the program's unit of work writes it: it puts the program in front)."""
    shard = zlib.crc32(item_id.encode()) % shards_of(kind)
    return f"DUE#{kind}#{shard}", f"{day.isoformat()}#{item_id}"


def partition(program: str, kind: str, shard: int) -> str:
    """The stored key of one program's shard of ``kind``."""
    return tenancy.physical(program, f"DUE#{kind}#{shard}")


def due_day(duesk: str) -> date:
    """The day an index sort key names."""
    return date.fromisoformat(duesk.split("#", 1)[0])


def due_items(backend: Backend, model: type[M], kind: str, as_of: datetime,
              index: str = INDEX, keep: Callable[[str], bool] | None = None) -> Iterator[tuple[str, M]]:
    """Every item of ``kind`` due by ``as_of``, program by program and shard by shard, with its program.

    Each program keeps its calendar in its own time zone, so the shards are read up to the latest
    day anywhere and each item is kept only when its day has come in its program's zone (work due
    tomorrow in a program west of here is read, left alone, and read again by a later run).

    On an index that projects keys only, each page of entries is read whole in one BatchGetItem
    (strongly consistent): an entry whose item has moved on (another day, or off the index) since
    the index copied it is passed over, the item being found where it is now.

    Within a job run, each (program, shard) of the run's lanes starts where the run's cursor says
    (:class:`Slice`), and the reading stops at the run's deadline, before the next item: every
    item yielded before was handled, so the cursor names the last one. ``keep``: the entries (by
    their index sort key) this job wants; it passes the others over unread."""
    tomorrow = (clock.latest_date(as_of) + timedelta(days=1)).isoformat()
    sort_key = SORT_KEYS.get(index, "duesk")
    today: dict[str, date] = {}
    run = current_slice()
    run.kinds[kind] = (model, index)
    cursor = run.cursor.setdefault(kind, {})
    places = [(program, shard) for lane in run.shards for shard in range(lane, shards_of(kind), LANES)
              for program in run.of_programs()]
    for program, shard in places:
        place = _place(program, shard)
        after = cursor.get(place, "")
        if after == DONE:
            continue
        # at or after the last one handled (which is then skipped), and before tomorrow
        sort = SortKey.between(after, tomorrow) if after else SortKey.below(tomorrow)
        entries = backend.query(model, partition(program, kind, shard), sort, index=index, page_size=PAGE)
        if keep is not None:
            entries = (entry for entry in entries if keep(getattr(entry, sort_key)))
        for position, item in _whole(backend, model, entries, sort_key, index in WHOLE):
            if position == after:
                continue
            if run.out_of_time():
                return
            before = cursor.get(place)
            cursor[place] = position
            run.read += 1
            if item is None:
                continue
            tenancy.localise(item)
            if program not in today:
                today[program] = clock.local_date(as_of, clock.zone_of(program))
            if due_day(position) <= today[program]:
                yield program, item
                if run.unfinished:                  # read again by a continuation, from before it
                    run.unfinished = False
                    if before is None:
                        cursor.pop(place, None)
                    else:
                        cursor[place] = before
                    return
        cursor[place] = DONE


def _whole(backend: Backend, model: type[M], entries: Iterator[Any], sort_key: str,
           whole: bool) -> Iterator[tuple[str, M | None]]:
    """``(position, item)`` for each index entry: the item as the index returned it (``whole``),
    or as the table holds it now, read :data:`PAGE` at a time (None: it is no longer due there)."""
    if whole:
        yield from ((getattr(entry, sort_key), entry) for entry in entries)
        return
    while page := list(islice(entries, PAGE)):
        items = cast("list[M | None]", backend.batch_get(
            [(model, entry.pk, entry.sk) for entry in page], consistent=True))
        for entry, item in zip(page, items, strict=True):
            position = getattr(entry, sort_key)
            yield position, item if item is not None and getattr(item, sort_key) == position else None


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
