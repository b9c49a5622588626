"""Folding projections: program-wide figures that a whole stream batch updates at once.

A projection of many members' events onto a few rows of a program (the prepaid figures, the
points liability and statistics, the daily statistics) cannot take a transaction per event on
those rows: parallel stream consumers would collide on them (``TransactionConflict``) and each
event would pay for its rows again. A *folding* consumer (:func:`folds`) only says how one event
maps to row deltas (:class:`Deltas`: counters to add, fields to set); the dispatcher hands it the
whole batch (:func:`fold_batch`), which sums the deltas per row and commits one update per row
plus one :class:`~chalicelib.events.dispatch.AppliedMarker` per event, in as few transactions as
DynamoDB's item limit allows. Each transaction holds its events' markers together with the rows
they touch, so a part that commits is exactly its events, and a retry of any part (the batch
retried from a reported record, bisected, redelivered, redriven) drops the events whose markers
exist and adds the rest once.

Hot rows are sharded: a row kind declares ``shards`` (its model's class attribute, with its
reason), each transaction writes its rows to one shard picked at random (shard 0 keeps the
unsharded key, so rows written before sharding are simply shard 0: no migration), and a read
sums the shards (:func:`read_shards`: ``shards`` queries, whatever the number of members or
events). A transaction that collides with another in flight is retried with a jittered, capped
back-off (:class:`~chalicelib.shared.retry.Contention`), on another shard, before the batch fails.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pynamodb.attributes import NumberAttribute
from pynamodb.models import Model

from chalicelib.db.backend import MAX_ITEMS, SortKey
from chalicelib.db.items import expiry_in
from chalicelib.db.uow import UnitOfWork
from chalicelib.shared import clock
from chalicelib.shared.errors import ConcurrentUpdate, Conflict
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.observability import count, logger
from chalicelib.shared.principal import DEFAULT_PROGRAM
from chalicelib.shared.retry import Contention

M = TypeVar("M", bound=Model)
Row = tuple[type[Model], str, str]          # a row's model and logical (unsharded) key
CONFLICT_TRIES = 8                          # pauses up to 10 ms * 2**6: about 1.3 s in all at worst
CONFLICT_FIRST_PAUSE = 0.01
NOT_COUNTED = ("expires_at",)               # number attributes that are not counters
# The shards of each hot projection row (the prepaid accounts and days, the points liability and
# days, the daily statistics). The rows a program's events add to are written by every stream
# batch in flight at once: one per stream shard (ParallelizationFactor 1, infra/stream.py), about
# 20 at a flash peak, each committing a part about once a second for some 30 ms. Spread over 8
# shards, about 2-3 batches share a shard's row: a collision now and then, retried on another
# shard, instead of on most commits. A read costs 8 queries of a few items (reports, not requests
# on a member's path). Shard 0 is the row's old key: rows written before sharding still count.
FOLD_SHARDS = 8


@dataclass
class Deltas:
    """What one event adds to a projection's rows: counters to add and fields to set per row."""

    rows: dict[Row, tuple[dict[str, int], dict[str, Any]]] = field(default_factory=dict)

    def add(self, model: type[Model], key: tuple[str, str], counters: dict[str, int], **fields: Any) -> None:
        """Add ``counters`` to the row at ``key`` and set ``fields`` on it."""
        adds, sets = self.rows.setdefault((model, *key), ({}, {}))
        for name, delta in counters.items():
            adds[name] = adds.get(name, 0) + int(delta)
        sets.update(fields)


Fold = Callable[[DomainEvent], Deltas]


class Folding:
    """A folding consumer: ``fold(event)`` gives the event's deltas. Registered as a subscriber
    (:func:`~chalicelib.events.dispatch.subscribe`), so calling it with one event folds that event
    alone; the dispatcher folds whole batches through :func:`fold_batch`."""

    def __init__(self, name: str, fold: Fold, event_types: Iterable[str]) -> None:
        self.name, self.fold, self.event_types = name, fold, frozenset(event_types)

    def __call__(self, event: DomainEvent) -> None:
        """Fold one event alone (a batch of one), exactly once."""
        fold_batch(self, [event])

    def deltas(self, event: DomainEvent) -> Deltas:
        """The event's deltas, its days in its program's calendar."""
        with clock.in_program(event.program_id or DEFAULT_PROGRAM):
            return self.fold(event)


def folds(name: str, *event_types: str) -> Callable[[Fold], Folding]:
    """Register ``fold(event) -> Deltas`` as the folding consumer ``name`` of ``event_types``."""
    from chalicelib.events.dispatch import subscribe

    def register(fn: Fold) -> Folding:
        consumer = Folding(name, fn, event_types)
        subscribe(name, *event_types)(consumer)
        return consumer
    return register


# --- shards --------------------------------------------------------------------------------------
def shard_pk(pk: str, shard: int) -> str:
    """The partition key of one shard of a row: shard 0 is the row's own (unsharded) key."""
    return pk if shard == 0 else f"{pk}#S{shard}"


def shards_of(model: type[Model]) -> int:
    """How many shards the rows of ``model`` are spread over (its ``shards``; 1 if it declares none)."""
    return int(getattr(model, "shards", 1))


def read_shards(uow: UnitOfWork, model: type[M], pk: str, sort: SortKey | None = None,
                **options: Any) -> Iterator[M]:
    """The rows of the logical partition ``pk``, each sort key once with its counters summed over
    the shards, in sort-key order: one query per shard."""
    merged: dict[str, M] = {}
    counters = [name for name, attr in model.get_attributes().items()
                if isinstance(attr, NumberAttribute) and name not in NOT_COUNTED]
    for shard in range(shards_of(model)):
        for row in uow.query(model, shard_pk(pk, shard), sort, **options):
            item: Any = row
            seen = merged.get(item.sk)
            if seen is None:
                item.pk = pk
                merged[item.sk] = row
                continue
            for name in counters:
                setattr(seen, name, int(getattr(seen, name) or 0) + int(getattr(row, name) or 0))
    return iter([merged[sk] for sk in sorted(merged)])


# --- folding a batch -----------------------------------------------------------------------------
@dataclass
class _Part:
    """Events of one program folded in one transaction: their indexes in the batch and deltas."""

    program: str
    events: list[tuple[int, DomainEvent, Deltas]] = field(default_factory=list)
    rows: set[Row] = field(default_factory=set)

    def fits(self, deltas: Deltas) -> bool:
        return len(self.events) + 1 + len(self.rows | set(deltas.rows)) <= MAX_ITEMS

    def first(self) -> int:
        return self.events[0][0]


def fold_batch(consumer: Folding, events: Iterable[DomainEvent]) -> None:
    """Fold ``events`` (in stream order) into ``consumer``'s rows, each exactly once. Every part
    is tried; :class:`PartFailed` names the first event of the earliest part that could not be
    committed (the batch's failure is reported from there: what follows it is folded again on the
    retry, and dropped by its markers where it was folded already)."""
    parts, failed = _parts(consumer, events)
    for part in parts:
        try:
            _commit(consumer, part)
        except Exception as error:
            failed = part.first() if failed is None else min(failed, part.first())
            logger.warning("a part of a batch could not be folded", extra={"consumer": consumer.name,
                                                                           "error": repr(error)})
    if failed is not None:
        raise PartFailed(failed)


class PartFailed(Exception):
    """A part of a batch could not be folded: ``index`` is its first event's."""

    def __init__(self, index: int) -> None:
        super().__init__(f"folding failed from event {index}")
        self.index = index


def _parts(consumer: Folding, events: Iterable[DomainEvent]) -> tuple[list[_Part], int | None]:
    """The batch cut into transactions: per program, in stream order, as many events as fit with
    their markers and the union of their rows within the item limit. An event the consumer cannot
    fold ends the batch there (its index is returned): the events before it are still folded, and
    the failure is reported from it, not from an innocent first record."""
    open_parts: dict[str, _Part] = {}
    parts: list[_Part] = []
    for index, event in enumerate(events):
        if event.type not in consumer.event_types:
            continue
        try:
            deltas = consumer.deltas(event)
        except Exception:
            logger.exception("an event could not be folded", extra={"consumer": consumer.name, "event": event.id})
            return parts, index
        if not deltas.rows:
            continue                           # nothing to count: no marker either, as before
        program = event.program_id or DEFAULT_PROGRAM
        part = open_parts.get(program)
        if part is None or not part.fits(deltas):
            part = open_parts[program] = _Part(program)
            parts.append(part)
        part.events.append((index, event, deltas))
        part.rows |= set(deltas.rows)
    return parts, None


def _commit(consumer: Folding, part: _Part) -> None:
    """Commit one part: the summed update of each row (on a random shard) and each event's marker,
    all or nothing. Events whose markers exist are dropped and the rest committed; a collision with
    another transaction is retried after a pause."""
    from chalicelib.events.dispatch import MARKER_DAYS, AppliedMarker
    events = list(part.events)
    contention = Contention(CONFLICT_TRIES, CONFLICT_FIRST_PAUSE)
    while events:
        uow = UnitOfWork(program=part.program)
        totals: dict[Row, tuple[dict[str, int], dict[str, Any]]] = {}
        for _index, _event, deltas in events:
            for row, (adds, sets) in deltas.rows.items():
                total_adds, total_sets = totals.setdefault(row, ({}, {}))
                for name, delta in adds.items():
                    total_adds[name] = total_adds.get(name, 0) + delta
                total_sets.update(sets)
        for (model, pk, sk), (adds, sets) in totals.items():
            shard = random.randrange(shards_of(model))
            attrs: Any = model
            actions = [getattr(attrs, name).add(delta) for name, delta in sorted(adds.items())]
            actions += [getattr(attrs, name).set(value) for name, value in sorted(sets.items())]
            uow.update(model(shard_pk(pk, shard), sk), actions)
        for _index, event, _deltas in events:
            uow.create(AppliedMarker(*AppliedMarker.key(consumer.name, event.id), applied_at=event.occurred_at,
                                     expires_at=expiry_in(MARKER_DAYS)))
        try:
            uow.commit()
            return
        except ConcurrentUpdate:
            count("FoldConflicts")
            if not contention.lost():
                raise
        except Conflict:                  # only markers carry conditions: some events were applied
            keys = [AppliedMarker.key(consumer.name, event.id) for _i, event, _d in events]
            applied = UnitOfWork(program=part.program).get_many(AppliedMarker, keys)
            left = [e for e, marker in zip(events, applied, strict=True) if marker is None]
            if len(left) == len(events):
                raise
            events = left
