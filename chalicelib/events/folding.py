"""Folding projections: program-wide figures that a whole stream batch updates at once.

A projection of many members' events onto a few rows of a program (the prepaid figures, the
points liability and statistics, the daily statistics) cannot take a transaction per event on
those rows: parallel stream consumers would collide on them (``TransactionConflict``) and each
event would pay for its rows again. A *folding* consumer (:func:`folds`) only says how one event
maps to row deltas (:class:`Deltas`: counters to add, fields to set); the dispatcher hands the whole
batch to all the folding consumers at once (:func:`fold_batch`), which sums the deltas per row and
commits one update per row plus **one** :class:`~chalicelib.events.dispatch.AppliedMarker` per
stream record (``APPLIED#fold-record#<record id>``: an outbox item, one transaction's events of one
subject, keyed by its first event's id) for all its events in all their folding consumers, in as
few transactions as DynamoDB's item limit allows. A transaction holds each of its records' marker
together with every row any of the record's events touches in any consumer (the batch is cut
between records, never inside one), so a part that commits is exactly its records, each folded
whole or not at all, and a retry of any part (the batch retried from a reported record, bisected,
redelivered, redriven) drops the records whose markers exist and adds the rest once. One marker a
record where there was one per event (two for an earn: its points and its order events): 2 WCU
an earn less. Events folded under the
markers of before (``APPLIED#folds#<event id>``, ``APPLIED#<consumer>#<event id>``) are not folded
again by those consumers (:mod:`chalicelib.events.cutover`). A record whose rows alone pass the
item limit is folded consumer by consumer, each event under that consumer's marker, then marked
(:func:`_fold_alone`).

Hot rows are sharded: a row kind declares ``shards`` (its model's class attribute, with its
reason), each transaction writes its rows to one shard picked at random (shard 0 keeps the
unsharded key, so rows written before sharding are simply shard 0: no migration), and a read
sums the shards (:func:`read_shards`: ``shards`` queries, whatever the number of members or
events). A transaction that collides with another in flight is retried with a jittered, capped
back-off (:class:`~chalicelib.shared.retry.Contention`), on another shard, before the batch fails.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Sequence
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
        """Fold one event into this consumer alone, exactly once (:func:`fold_one`)."""
        fold_one(self, event)

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
# The one marker of a stream record's folds, all its events' in all their folding consumers:
# APPLIED#fold-record#<record id>, the record's id being its outbox item's key (its first event's id).
FOLDED = "fold-record"
Record = Sequence[DomainEvent]          # a stream record's events: one transaction's of one subject, in order
Pair = tuple[str, str]                  # (a folding consumer's name, an event's id)


def records_of(batch: Iterable[DomainEvent | Record]) -> list[list[DomainEvent]]:
    """A batch as stream records, in order: an event alone is a record of one (an outbox item of
    the old shape, or an event dispatched by itself)."""
    return [[item] if isinstance(item, DomainEvent) else list(item) for item in batch]


@dataclass
class _Fold:
    """What one marker covers: a record's events' deltas (or, folded consumer by consumer, one
    event's in one consumer), per consumer and event, those that count something."""

    index: int                           # the record's in the batch
    key: str                             # the marker's id: the record's (its first event's id), or the event's
    at: str                              # the marker's applied_at: its first event's time
    events: dict[str, DomainEvent]
    deltas: dict[Pair, Deltas]

    def rows(self) -> set[Row]:
        return {row for deltas in self.deltas.values() for row in deltas.rows}

    def only(self, pairs: Iterable[Pair]) -> _Fold:
        """The same fold with only the deltas of ``pairs``."""
        wanted = set(pairs)
        return _Fold(self.index, self.key, self.at, self.events, {p: d for p, d in self.deltas.items() if p in wanted})


@dataclass
class _Part:
    """Records of one program folded in one transaction: each record's marker and all its rows."""

    program: str
    folds: list[_Fold] = field(default_factory=list)
    rows: set[Row] = field(default_factory=set)
    alone: bool = False          # one record too large for a transaction: folded consumer by consumer

    def fits(self, fold: _Fold) -> bool:
        return len(self.folds) + 1 + len(self.rows | fold.rows()) <= MAX_ITEMS

    def add(self, fold: _Fold) -> None:
        self.folds.append(fold)
        self.rows |= fold.rows()

    def first(self) -> int:
        return self.folds[0].index


Consumers = Callable[[str], Iterable[Folding]]


def fold_batch(batch: Iterable[DomainEvent | Record], consumers_of: Consumers) -> None:
    """Fold the batch's stream records (in stream order; an event alone is a record of one) into the
    folding consumers of each event (``consumers_of(type)``), each record exactly once and whole:
    its one marker (``APPLIED#fold-record#<record id>``) is committed with all its events' rows in
    all their consumers. Every part is tried; :class:`PartFailed` names the first record of the
    earliest part that could not be committed (the batch's failure is reported from there: what
    follows it is folded again on the retry, and dropped by its marker where it was folded)."""
    parts, failed = _parts(records_of(batch), consumers_of)
    for part in parts:
        try:
            _fold_alone(part) if part.alone else _commit(FOLDED, part)
        except Exception as error:
            failed = part.first() if failed is None else min(failed, part.first())
            logger.warning("a part of a batch could not be folded", extra={"error": repr(error),
                                                                           "record": part.folds[0].key})
    if failed is not None:
        raise PartFailed(failed)


def fold_one(consumer: Folding, event: DomainEvent) -> None:
    """Fold ``event`` into ``consumer`` alone, exactly once under the consumer's own marker
    (``APPLIED#<consumer>#<id>``, the way every consumer folded before the shared markers): a
    consumer called by itself, outside the dispatcher (which never calls this). Not for an event the
    dispatcher may fold too: its marker does not cover this one's."""
    deltas = consumer.deltas(event)
    if deltas.rows:
        part = _Part(event.program_id or DEFAULT_PROGRAM)
        part.add(_Fold(0, event.id, event.occurred_at, {event.id: event}, {(consumer.name, event.id): deltas}))
        _commit(consumer.name, part)


class PartFailed(Exception):
    """A part of a batch could not be folded: ``index`` is its first record's."""

    def __init__(self, index: int) -> None:
        super().__init__(f"folding failed from record {index}")
        self.index = index


def _parts(records: list[list[DomainEvent]], consumers_of: Consumers) -> tuple[list[_Part], int | None]:
    """The batch cut into transactions between records, never inside one: per program, in stream
    order, as many records as fit with their markers and the union of their rows within the item
    limit. A record with an event that any of its consumers cannot fold ends the batch there (its
    index is returned): the records before it are still folded (in every consumer), none of it or
    after it, and the failure is reported from it, not from an innocent first record."""
    open_parts: dict[str, _Part] = {}
    parts: list[_Part] = []
    for index, record in enumerate(records):
        found: dict[Pair, Deltas] = {}
        for event in record:
            for consumer in consumers_of(event.type):
                try:
                    deltas = consumer.deltas(event)
                except Exception:
                    logger.exception("an event could not be folded", extra={"consumer": consumer.name, "event": event.id})
                    return parts, index
                if deltas.rows:
                    found[(consumer.name, event.id)] = deltas
        if not found:
            continue                           # nothing to count: no marker either, as before
        first = record[0]
        fold = _Fold(index, first.id, first.occurred_at, {event.id: event for event in record}, found)
        program = first.program_id or DEFAULT_PROGRAM
        if len(fold.rows()) + 1 > MAX_ITEMS:   # its rows and marker are more than a transaction
            parts.append(_Part(program, [fold], fold.rows(), alone=True))
            continue
        part = open_parts.get(program)
        if part is None or not part.fits(fold):
            part = open_parts[program] = _Part(program)
            parts.append(part)
        part.add(fold)
    return parts, None


def _commit(scope: str, part: _Part) -> None:
    """Commit one part: the summed update of each row (on a random shard) and each fold's marker
    (``APPLIED#<scope>#<key>``), all or nothing. What older markers hold is left out of it
    (:mod:`chalicelib.events.cutover`); folds whose markers exist are dropped and the rest
    committed; a collision with another transaction is retried after a pause."""
    from chalicelib.events.dispatch import MARKER_DAYS, AppliedMarker
    folds = _without_old_markers(part) if scope == FOLDED else list(part.folds)
    contention = Contention(CONFLICT_TRIES, CONFLICT_FIRST_PAUSE)
    while folds:
        uow = UnitOfWork(program=part.program)
        totals: dict[Row, tuple[dict[str, int], dict[str, Any]]] = {}
        for fold in folds:
            for deltas in fold.deltas.values():
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
        for fold in folds:
            uow.create(AppliedMarker(*AppliedMarker.key(scope, fold.key), applied_at=fold.at,
                                     expires_at=expiry_in(MARKER_DAYS)))
        try:
            uow.commit()
            return
        except ConcurrentUpdate:
            count("FoldConflicts")
            if not contention.lost():
                raise
        except Conflict:                  # only markers carry conditions: some folds were applied
            keys = [AppliedMarker.key(scope, fold.key) for fold in folds]
            applied = UnitOfWork(program=part.program).get_many(AppliedMarker, keys)
            left = [fold for fold, marker in zip(folds, applied, strict=True) if marker is None]
            if len(left) == len(folds):
                raise
            folds = left


def _without_old_markers(part: _Part) -> list[_Fold]:
    """The part's folds less what older code folded under per-event or per-consumer markers (the
    deploys: :mod:`chalicelib.events.cutover`); a fold left with nothing is dropped."""
    from chalicelib.events import cutover
    done = cutover.folded_before(part.program, [(name, fold.events[event_id]) for fold in part.folds
                                                for name, event_id in fold.deltas])
    if not done:
        return list(part.folds)
    left = [fold.only(pair for pair in fold.deltas if pair not in done) for fold in part.folds]
    return [fold for fold in left if fold.deltas]


def _fold_alone(part: _Part) -> None:
    """A record whose rows and marker exceed one transaction: consumer by consumer, each event's
    rows with that consumer's marker for the event (``APPLIED#<consumer>#<event id>``, exactly once
    each, as an event was folded before the shared markers), as many events a transaction as fit;
    then the record's marker. A retry finds what is done by its markers and folds the rest; only a
    single event's rows in one consumer beyond the limit cannot be folded at all."""
    from chalicelib.events.dispatch import MARKER_DAYS, AppliedMarker
    [fold] = part.folds
    uow = UnitOfWork(program=part.program)
    key = AppliedMarker.key(FOLDED, fold.key)
    if uow.get(AppliedMarker, key, consistent=True) is not None:
        return
    pairs = [pair for whole in _without_old_markers(part) for pair in whole.deltas.items()]
    for name in dict.fromkeys(name for (name, _event_id), _deltas in pairs):
        consumer = _Part(part.program)
        for (owner, event_id), deltas in pairs:
            if owner == name:
                event = fold.events[event_id]
                one = _Fold(fold.index, event_id, event.occurred_at, {event_id: event}, {(name, event_id): deltas})
                if consumer.folds and not consumer.fits(one):
                    _commit(name, consumer)
                    consumer = _Part(part.program)
                consumer.add(one)
        _commit(name, consumer)
    uow.put(AppliedMarker(*key, applied_at=fold.at, expires_at=expiry_in(MARKER_DAYS)),
            AppliedMarker._hash_key_attribute().does_not_exist())
