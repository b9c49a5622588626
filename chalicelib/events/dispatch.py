"""The stream side of the outbox: DynamoDB stream records in, subscribers called, failures reported.

Delivery is at least once and a batch may be redelivered whole or in part, so every subscriber
must be idempotent; :func:`apply_once` gives a subscriber exactly-once effects by writing a
marker in the same transaction as its change. A projection of many members' events onto a few
program-wide rows folds the whole batch at once instead (:mod:`chalicelib.events.folding`).

The handler reports the first failing record as a ``batchItemFailures`` entry, the
``ReportBatchItemFailures`` contract: the stream mapping (``infra/``) and the local stream pump
then retry from that record, bisecting and finally sending it to the dead-letter queue.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pynamodb.attributes import UnicodeAttribute

from chalicelib.db.items import MainModel, expiry_in
from chalicelib.db.outbox import events_from_image
from chalicelib.db.uow import ClaimTaken, UnitOfWork
from chalicelib.events.folding import Folding, PartFailed, Record, fold_batch, records_of
from chalicelib.shared import clock
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.lazy import Modules
from chalicelib.shared.observability import count, logger
from chalicelib.shared.principal import DEFAULT_PROGRAM

Subscriber = Callable[[DomainEvent], None]
SUBSCRIBERS: dict[str, list[tuple[str, Subscriber]]] = defaultdict(list)
PROVIDERS = Modules()
MARKER_DAYS = 40        # longer than a stream keeps records (24 h) and the DLQ keeps messages (14 d)
# Subjects (members) whose events a batch handles side by side. A shard's batches come one at a
# time (ParallelizationFactor 1: a member's order), so the parallelism is inside the batch: its
# events are mostly of different members, each a DynamoDB round trip or three, waiting on the
# network. 8: a 100-event batch of 100 members takes about an eighth of the time; more threads
# would mostly wait for the transactions of the few members with several events.
SUBJECT_WORKERS = 8


def subscribe(name: str, *event_types: str) -> Callable[[Subscriber], Subscriber]:
    """Register ``fn(event)`` under a stable consumer ``name`` for the given event types (``*``:
    every type, e.g. the webhooks' fan-out)."""
    def register(fn: Subscriber) -> Subscriber:
        for event_type in event_types:
            SUBSCRIBERS[event_type].append((name, fn))
        return fn
    return register


def subscribers_of(event_type: str) -> list[tuple[str, Subscriber]]:
    """The subscribers of ``event_type``: its own, then those of every type."""
    return SUBSCRIBERS.get(event_type, []) + SUBSCRIBERS.get("*", [])


def provided_by(*modules: str) -> None:
    """Name modules that register subscribers, imported when the first event is dispatched (so
    a function that answers the API never pays for them at its cold start)."""
    PROVIDERS.add(*modules)


class AppliedMarker(MainModel):
    """``APPLIED#<consumer>#<event id>``: this consumer has applied this event."""

    applied_at = UnicodeAttribute()

    @staticmethod
    def key(consumer: str, event_id: str) -> tuple[str, str]:
        """The marker's key: one per consumer and event."""
        return f"APPLIED#{consumer}#{event_id}", "APPLIED"


def apply_once(consumer: str, event: DomainEvent, uow: UnitOfWork) -> bool:
    """Commit ``uow`` with a marker; False (and nothing written) if the event was applied before."""
    marker = AppliedMarker(*AppliedMarker.key(consumer, event.id), applied_at=event.occurred_at,
                           expires_at=expiry_in(MARKER_DAYS))
    try:
        uow.commit(claim=marker)
    except ClaimTaken:
        return False
    return True


def dispatch(event: DomainEvent, folded: bool = False) -> None:
    """Call every subscriber of the event's type: its folding consumers together, under one marker
    (:func:`~chalicelib.events.folding.fold_batch`, a batch of one record of this event alone:
    not for an event the stream delivers in a record with others), then the others (``folded``:
    the folding consumers had the whole batch already, :func:`dispatch_batch`)."""
    PROVIDERS.load()
    subscribers = subscribers_of(event.type)
    if not subscribers:
        return
    with clock.in_program(event.program_id or DEFAULT_PROGRAM):     # its days are the program's days
        if not folded:
            fold_batch([event], folding_consumers)
        for _name, fn in subscribers:
            if not isinstance(fn, Folding):
                fn(event)


def folding_consumers(event_type: str) -> list[Folding]:
    """The folding consumers among the subscribers of ``event_type``."""
    return [fn for _name, fn in subscribers_of(event_type) if isinstance(fn, Folding)]


def handle_records(records: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, str]]]:
    """Process Lambda-shaped DynamoDB stream records; report the first failure.

    A record is an outbox item: one transaction's events of one subject, in order (an item of the
    old shape: one event). The folding consumers (:mod:`chalicelib.events.folding`) take the whole
    batch first, one update per row and one marker per record; then the per-event subscribers run
    event by event in stream order (a member's events are in order: see :func:`dispatch_batch`).
    The first record not fully handled is reported: everything before it is done, and everything
    from it is handled again on the retry, exactly once by the markers (the folds' per record, the
    other subscribers' per event).
    """
    batch: list[tuple[str, list[DomainEvent]]] = []
    failure: str | None = None
    for record in records:
        if record.get("eventName") not in ("INSERT",):   # MODIFY never happens; REMOVE is TTL
            continue
        sequence = record["dynamodb"]["SequenceNumber"]
        try:
            batch.append((sequence, events_from_image(record["dynamodb"]["NewImage"])))
        except Exception:
            logger.exception("event handling failed", extra={"sequence": sequence})
            failure = sequence
            break
    handled, stopped = dispatch_batch([events for _sequence, events in batch])
    if stopped is not None:
        failure = batch[stopped][0]
    count("EventsDelivered", handled)
    if failure is not None:
        count("EventFailures")
        return {"batchItemFailures": [{"itemIdentifier": failure}]}
    return {"batchItemFailures": []}


def dispatch_batch(batch: Sequence[DomainEvent | Record]) -> tuple[int, int | None]:
    """Fold the batch's records (each a record's events; an event alone is a record of one) into
    all the folding consumers of their events at once (one marker a record for all of them), then
    call the per-event subscribers of each event in turn. Returns how many events were handled and
    the index of the first record that was not (None: all were).

    Order: the events table's partition key is the event's subject (the member), so a member's
    events are in one stream shard, in order, and the mapping hands a shard's batches to one
    invocation after the other (``ParallelizationFactor`` 1: above it Lambda keeps order only per
    item, and every transaction's events of a member are an item of their own:
    ``devstack.pump.PARALLELIZATION``); the per-member
    subscribers (tiers, benefits, tasks) run in that order here. The folds only add, so their
    order does not matter."""
    PROVIDERS.load()
    records = records_of(batch)
    events = [event for record in records for event in record]
    starts = [0]                                  # each record's first event's index, then the end
    for record in records:
        starts.append(starts[-1] + len(record))
    stop = len(records)
    try:
        fold_batch(records, folding_consumers)
    except PartFailed as error:
        stop = error.index
    except Exception:
        logger.exception("folding failed")
        stop = 0
    failed = _per_subject(events[:starts[stop]])
    if failed is not None:                        # the record holding the event
        stop = bisect_right(starts, failed) - 1
    return starts[stop], (stop if stop < len(records) else None)


def _per_subject(events: list[DomainEvent]) -> int | None:
    """Call the per-event subscribers: each subject's events in order, up to :data:`SUBJECT_WORKERS`
    subjects side by side (a batch holds many members' events, and each waits on DynamoDB). A
    subject stops at its first failure; the earliest failure's index is returned (the batch is
    retried from it: what other subjects did after it is dropped by their markers then)."""
    groups: dict[str, list[int]] = {}
    for index, event in enumerate(events):
        if any(not isinstance(fn, Folding) for _name, fn in subscribers_of(event.type)):
            groups.setdefault(event.subject, []).append(index)

    def run(indexes: list[int]) -> int | None:
        for index in indexes:
            try:
                dispatch(events[index], folded=True)
            except Exception:
                logger.exception("event handling failed", extra={"event": events[index].id})
                return index
        return None

    if len(groups) <= 1 or SUBJECT_WORKERS == 1:
        results = [run(indexes) for indexes in groups.values()]
    else:
        with ThreadPoolExecutor(max_workers=min(SUBJECT_WORKERS, len(groups)),
                                thread_name_prefix="subject") as pool:
            results = list(pool.map(run, groups.values()))
    failures = [index for index in results if index is not None]
    return min(failures) if failures else None
