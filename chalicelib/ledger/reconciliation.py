"""The reconciliation every money ledger runs: its proof in every program, a failure announced in
the program where it was found (so that program's webhooks and console see it), and one summary
for the job run; and the cursor that lets a job prove a program of any size a page at a time.

A ledger lists its accounts in sharded index partitions (``PTSACCT#<shard>``, ``SVACCT#<shard>``,
keys only: :mod:`chalicelib.ledger.listing`).
Checking every account of a program of a million members in one run cannot finish, so a job run
checks the next page of every shard from where the last run stopped (:func:`next_pages`), and
one item per program, ledger and shard (:class:`CursorItem`) records where the shard's pass is,
how many it has checked, and when its last complete pass began and ended. A shard whose listing
runs out ends its pass; the next run starts it again from the beginning. Every account listed
when a pass starts is checked exactly once in that pass, so with ``n`` accounts in the largest
shard, a page of ``p`` and a run every ``h`` hours, every account is checked within
``ceil(n / p) * h`` hours (:func:`progress` shows it). The listing names the accounts; what is
compared is read by key, consistently, so an index that lags never fails a proof.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.db.items import MainModel
from chalicelib.db.uow import UnitOfWork
from chalicelib.shared import clock, deadline
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.observability import count

T = TypeVar("T")
R = TypeVar("R")
PAGE = 1000           # accounts a job run checks per shard (16 shards: 16,000 a run per ledger and program)
# a shard's next page after a cursor: ``(listing sort key, item)`` in listing order, at most ``limit``
Listing = Callable[[int, "str | None", int], Sequence[tuple[str, T]]]
MISMATCH_METRIC = "ReconciliationMismatches"    # alarmed on (infra/alarms.py)


def report_mismatches(found: int) -> None:
    """Emit what a reconciliation run found out of balance (0 when everything balanced), for the
    alarm: the failure event reaches the program's console, the metric reaches the operators."""
    count(MISMATCH_METRIC, found)


def every_program(actor: str, programs: Iterable[str], prove: Callable[[UnitOfWork], dict[str, Any]],
                  counted: str, failure: Callable[[dict[str, Any]], DomainEvent],
                  mismatched: str | None = None) -> dict[str, Any]:
    """Run ``prove`` (a ledger's ``reconcile.everything`` or ``reconcile.next_pages``) in each of
    ``programs``; where it does not balance, commit the event ``failure(result)`` in that program.
    ``counted`` names the result's count of what was checked; ``mismatched`` its count of what
    did not balance, when its ``mismatches`` group them (gift cards: by batch)."""
    checked, failed, disagree, found = 0, [], [], 0
    for program_id in programs:
        uow = UnitOfWork(actor, program=program_id)
        with clock.in_program(program_id):          # "today" is the program's
            result = prove(uow)
        checked += result[counted]
        if not result["figures_agree"] and result.get("whole", True):     # a partial run compares nothing
            disagree.append(program_id)
        if not result["balanced"]:
            failed.append(program_id)
            named = result[mismatched] if mismatched else len(result.get("mismatches") or ())
            found += named or 1                      # an unbalanced total names no account
            with clock.in_program(program_id):
                uow.emit(failure(result))
            uow.commit()
    report_mismatches(found)
    return {counted: checked, "balanced": not failed, "failed_programs": failed, "figures_disagree": disagree}


class CursorItem(MainModel):
    """Where a ledger's reconciliation pass is in one shard of its listing (per program)."""

    ledger = UnicodeAttribute()
    shard = NumberAttribute()
    after = UnicodeAttribute(null=True)          # listing sort key of the last account checked; None: at the start
    pass_started = UnicodeAttribute(null=True)   # when the pass under way began
    checked = NumberAttribute(default=0)         # accounts checked in the pass under way
    passes = NumberAttribute(default=0)          # passes completed
    last_started = UnicodeAttribute(null=True)   # the last complete pass: when it began,
    last_completed = UnicodeAttribute(null=True)  # when it ended,
    last_checked = NumberAttribute(null=True)    # and how many accounts it checked
    moved_at = UnicodeAttribute(null=True)       # the last run that read this shard (least recent goes first)
    version = NumberAttribute(default=0)

    @staticmethod
    def key(ledger: str, shard: int) -> tuple[str, str]:
        """The program's cursor of ``ledger`` in ``shard`` (one partition per ledger: one Query reads them all)."""
        return f"RECON#{ledger}", f"SHARD#{shard:04d}"


@dataclass
class Pages:
    """What one run of :func:`next_pages` checked, and whether it saw the whole program."""

    results: list[Any] = field(default_factory=list)
    whole: bool = True          # every shard read from its start to its end in this run


def _cursors(uow: UnitOfWork, ledger: str) -> dict[int, CursorItem]:
    return {int(c.shard): c for c in uow.query(CursorItem, f"RECON#{ledger}", consistent=True)}


def next_pages(uow: UnitOfWork, ledger: str, shards: Sequence[int], listing: Listing[T],
               check: Callable[[T], R], page: int | None = None) -> Pages:
    """Check the next ``page`` accounts of every shard from where the last run stopped, and
    record each shard's new position; a shard whose listing ends completes its pass (the next
    run begins the next pass). Shards read least recently go first, and a run stops starting
    pages at its deadline (:mod:`chalicelib.shared.deadline`), so the others go first next time.
    Two overlapping runs may check a page twice (it is only read); only one moves the cursor."""
    page = page or PAGE
    cursors, now, done = _cursors(uow, ledger), clock.iso(clock.now()), Pages()
    for shard in sorted(shards, key=lambda s: (cursors[s].moved_at or "") if s in cursors else ""):
        if deadline.left() <= 0:
            done.whole = False
            break
        cursor = cursors.get(shard) or CursorItem(*CursorItem.key(ledger, shard), ledger=ledger, shard=shard,
                                                  checked=0, passes=0, version=0)
        read_version, from_start = int(cursor.version or 0), cursor.after is None
        listed, checked = listing(shard, cursor.after, page), 0
        for key, item in listed:
            if deadline.left() <= 0:             # stop here: the next run carries on from this account
                break
            done.results.append(check(item))
            cursor.after, checked = key, checked + 1
        if listed and not checked:               # out of time before this shard's first account
            done.whole = False
            break
        cursor.pass_started = cursor.pass_started or now
        cursor.checked = int(cursor.checked or 0) + checked
        if checked == len(listed) < page:        # the listing ran out: this shard's pass is complete
            cursor.passes = int(cursor.passes or 0) + 1
            cursor.last_started, cursor.last_completed, cursor.last_checked = cursor.pass_started, now, cursor.checked
            cursor.after, cursor.pass_started, cursor.checked = None, None, 0
        else:
            done.whole = False
        done.whole = done.whole and from_start
        cursor.moved_at, cursor.version = now, read_version + 1
        uow.put(cursor, CursorItem.version == read_version if read_version else CursorItem.pk.does_not_exist())
    return done


def progress(uow: UnitOfWork, ledger: str, shards: Sequence[int]) -> dict[str, Any]:
    """Where the ledger's pass is in each shard, and the last full pass: every account listed when
    it ``started`` was checked by when it ``completed`` (None until every shard has completed one)."""
    cursors = _cursors(uow, ledger)
    rows = [cursors.get(s) for s in shards]
    shard_rows = [{"shard": s, "checked": int(c.checked or 0) if c else 0, "passes": int(c.passes or 0) if c else 0,
                   "last_completed": c.last_completed if c else None} for s, c in zip(shards, rows, strict=True)]
    full = None
    if rows and all(c is not None and c.last_completed for c in rows):
        full = {"started": min(c.last_started or "" for c in rows if c),
                "completed": max(c.last_completed or "" for c in rows if c),
                "checked": sum(int(c.last_checked or 0) for c in rows if c)}
    return {"page": PAGE, "checked_this_pass": sum(r["checked"] for r in shard_rows),
            "last_full_pass": full, "shards": shard_rows}
