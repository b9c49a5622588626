"""Folding projections: program-wide figures that a whole stream batch updates at once.

A projection of many members' events onto a few rows of a program (the prepaid figures, the
points liability and statistics, the daily statistics) cannot take a transaction per event on
those rows: parallel stream consumers would collide on them (``TransactionConflict``) and each
event would pay for its rows again. A *folding* consumer (:func:`folds`) only says how one event
maps to row deltas (:class:`Deltas`: counters to add, fields to set); the dispatcher hands the whole
batch to all the folding consumers at once (:func:`fold_batch`), which sums the deltas per row and
commits one update per row plus **one** :class:`~chalicelib.events.dispatch.AppliedMarker` per
event (``APPLIED#folds#<id>``) for all its folding consumers, in as few transactions as DynamoDB's
item limit allows. A transaction holds each of its events' marker together with every row that
event touches in every consumer (the batch is cut between events, never inside one), so a part
that commits is exactly its events, each folded by all its consumers or by none, and a retry of
any part (the batch retried from a reported record, bisected, redelivered, redriven) drops the
events whose markers exist and adds the rest once. One marker where there was one per consumer
(three for an earn): 4 WCU an earn less. An event folded before the deploy of the shared marker
under the per-consumer markers (``APPLIED#<consumer>#<id>``) is not folded again by those
consumers (:mod:`chalicelib.events.cutover`). An event whose rows alone pass the item limit is
folded consumer by consumer under the per-consumer markers, then marked (:func:`_fold_alone`).

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
FOLDED = "folds"        # the one marker of an event's folds, all its folding consumers': APPLIED#folds#<id>


@dataclass
class _Fold:
    """One event's deltas in each folding consumer that counts something of it (by name)."""

    index: int
    event: DomainEvent
    deltas: dict[str, Deltas]

    def rows(self) -> set[Row]:
        return {row for deltas in self.deltas.values() for row in deltas.rows}


@dataclass
class _Part:
    """Events of one program folded in one transaction: each event's marker and all its rows."""

    program: str
    folds: list[_Fold] = field(default_factory=list)
    rows: set[Row] = field(default_factory=set)
    alone: bool = False          # one event too large for a transaction: folded consumer by consumer

    def fits(self, fold: _Fold) -> bool:
        return len(self.folds) + 1 + len(self.rows | fold.rows()) <= MAX_ITEMS

    def first(self) -> int:
        return self.folds[0].index


Consumers = Callable[[str], Iterable[Folding]]


def fold_batch(events: Iterable[DomainEvent], consumers_of: Consumers) -> None:
    """Fold ``events`` (in stream order) into the folding consumers of each (``consumers_of(type)``),
    each event exactly once and in all of them or none: its one marker (``APPLIED#folds#<id>``) is
    committed with all its rows. Every part is tried; :class:`PartFailed` names the first event of
    the earliest part that could not be committed (the batch's failure is reported from there:
    what follows it is folded again on the retry, and dropped by its marker where it was folded)."""
    parts, failed = _parts(events, consumers_of)
    for part in parts:
        try:
            _fold_alone(part) if part.alone else _commit(FOLDED, part)
        except Exception as error:
            failed = part.first() if failed is None else min(failed, part.first())
            logger.warning("a part of a batch could not be folded", extra={"error": repr(error),
                                                                           "event": part.folds[0].event.id})
    if failed is not None:
        raise PartFailed(failed)


def fold_one(consumer: Folding, event: DomainEvent) -> None:
    """Fold ``event`` into ``consumer`` alone, exactly once under the consumer's own marker
    (``APPLIED#<consumer>#<id>``, the way every consumer folded before the one marker an event):
    a consumer called by itself, outside the dispatcher (which never calls this). Not for an event the
    dispatcher may fold too: its marker does not cover this one's."""
    deltas = consumer.deltas(event)
    if deltas.rows:
        fold = _Fold(0, event, {consumer.name: deltas})
        _commit(consumer.name, _Part(event.program_id or DEFAULT_PROGRAM, [fold], fold.rows()))


class PartFailed(Exception):
    """A part of a batch could not be folded: ``index`` is its first event's."""

    def __init__(self, index: int) -> None:
        super().__init__(f"folding failed from event {index}")
        self.index = index


def _parts(events: Iterable[DomainEvent], consumers_of: Consumers) -> tuple[list[_Part], int | None]:
    """The batch cut into transactions between events, never inside one: per program, in stream
    order, as many events as fit with their markers and the union of their rows within the item
    limit. An event that any of its consumers cannot fold ends the batch there (its index is
    returned): the events before it are still folded (in every consumer), none from it, and the
    failure is reported from it, not from an innocent first record."""
    open_parts: dict[str, _Part] = {}
    parts: list[_Part] = []
    for index, event in enumerate(events):
        found: dict[str, Deltas] = {}
        for consumer in consumers_of(event.type):
            try:
                deltas = consumer.deltas(event)
            except Exception:
                logger.exception("an event could not be folded", extra={"consumer": consumer.name, "event": event.id})
                return parts, index
            if deltas.rows:
                found[consumer.name] = deltas
        if not found:
            continue                           # nothing to count: no marker either, as before
        fold = _Fold(index, event, found)
        program = event.program_id or DEFAULT_PROGRAM
        if len(fold.rows()) + 1 > MAX_ITEMS:   # its rows and marker are more than a transaction
            parts.append(_Part(program, [fold], fold.rows(), alone=True))
            continue
        part = open_parts.get(program)
        if part is None or not part.fits(fold):
            part = open_parts[program] = _Part(program)
            parts.append(part)
        part.folds.append(fold)
        part.rows |= fold.rows()
    return parts, None


def _commit(scope: str, part: _Part) -> None:
    """Commit one part: the summed update of each row (on a random shard) and each event's marker
    (``APPLIED#<scope>#<id>``), all or nothing. Consumers whose old per-consumer marker holds an
    event are left out of it (:mod:`chalicelib.events.cutover`); events whose markers exist are
    dropped and the rest committed; a collision with another transaction is retried after a pause."""
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
            uow.create(AppliedMarker(*AppliedMarker.key(scope, fold.event.id), applied_at=fold.event.occurred_at,
                                     expires_at=expiry_in(MARKER_DAYS)))
        try:
            uow.commit()
            return
        except ConcurrentUpdate:
            count("FoldConflicts")
            if not contention.lost():
                raise
        except Conflict:                  # only markers carry conditions: some events were applied
            keys = [AppliedMarker.key(scope, fold.event.id) for fold in folds]
            applied = UnitOfWork(program=part.program).get_many(AppliedMarker, keys)
            left = [fold for fold, marker in zip(folds, applied, strict=True) if marker is None]
            if len(left) == len(folds):
                raise
            folds = left


def _without_old_markers(part: _Part) -> list[_Fold]:
    """The part's folds less what the old code folded under per-consumer markers (the deploy)."""
    from chalicelib.events import cutover
    done = cutover.folded_before(part.program, [(name, fold.event) for fold in part.folds for name in fold.deltas])
    if not done:
        return list(part.folds)
    left = [_Fold(fold.index, fold.event, {name: deltas for name, deltas in fold.deltas.items()
                                           if (name, fold.event.id) not in done}) for fold in part.folds]
    return [fold for fold in left if fold.deltas]


def _fold_alone(part: _Part) -> None:
    """An event whose rows and marker exceed one transaction: each consumer's rows in a transaction
    of their own with that consumer's marker (exactly once each, as before the shared marker), then
    the event's marker. A retry finds the consumers done by their markers and the rest are folded;
    only a single consumer's rows beyond the limit cannot be folded at all."""
    from chalicelib.events.dispatch import MARKER_DAYS, AppliedMarker
    [fold] = part.folds
    uow = UnitOfWork(program=part.program)
    if uow.get(AppliedMarker, AppliedMarker.key(FOLDED, fold.event.id), consistent=True) is not None:
        return
    for name, deltas in fold.deltas.items():
        _commit(name, _Part(part.program, [_Fold(fold.index, fold.event, {name: deltas})], set(deltas.rows)))
    uow.put(AppliedMarker(*AppliedMarker.key(FOLDED, fold.event.id), applied_at=fold.event.occurred_at,
                          expires_at=expiry_in(MARKER_DAYS)), AppliedMarker._hash_key_attribute().does_not_exist())
