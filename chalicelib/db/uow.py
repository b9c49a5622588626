"""The unit of work: every change of one request commits in one DynamoDB transaction.

A service stages writes and events on the unit; the HTTP layer commits it together with the
idempotency record of the request. So a change, the events that report it and the record that
makes its retry safe are written all or nothing: there is no window in which one exists without
the others.

A unit is opened for one program (tenant): every key it reads or writes is that program's
(:mod:`chalicelib.db.tenancy`), so nothing done through it can touch another program's items.

The unit also keeps one instance of each repository it is asked for (:meth:`UnitOfWork.repo`;
a capability's ``repository.of(uow)`` asks for its own, typed): every read and write goes through
them to the backend the unit was opened on (DynamoDB, or the in-memory fake in tests).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any, TypeVar, cast

from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from chalicelib.db import backend as backends
from chalicelib.db import tenancy
from chalicelib.db.backend import MAX_ITEMS, Backend, ConditionsFailed, Contended, SortKey, Write
from chalicelib.db.outbox import EventItem
from chalicelib.shared.errors import ConcurrentUpdate, Conflict, Problem
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.observability import logger
from chalicelib.shared.principal import DEFAULT_PROGRAM

M = TypeVar("M", bound=Model)
R = TypeVar("R")
Item = Any          # a TableItem subclass instance (PynamoDB models are typed loosely)
ConflictFactory = Callable[[], Problem]
Savepoint = tuple[list[Write], int, int, dict[Any, Any]]


class ClaimTaken(Exception):
    """The idempotency record of this request already exists: the request is a replay."""


def _default_conflict() -> Problem:
    return Conflict("the record changed or already exists")


def _naming(problem: Problem, failed: list[Write]) -> Problem:
    """A lost race names the record it was lost on (the first of ``failed`` with keys), so that
    the endpoint queues the retries of the requests racing for that record, not for the path."""
    if isinstance(problem, ConcurrentUpdate) and problem.record is None:
        keys = [(getattr(w.item, "pk", None), getattr(w.item, "sk", None)) for w in failed]
        problem.record = next((f"{pk}/{sk}" for pk, sk in keys if pk), None)
    return problem


class UnitOfWork:
    """Collects writes and events; :meth:`commit` applies them atomically."""

    def __init__(self, actor: str | None = None, correlation_id: str | None = None,
                 backend: Backend | None = None, program: str = DEFAULT_PROGRAM,
                 idempotency_key: str | None = None) -> None:
        self.program = program
        self.actor = actor                         # who acts: named on every posting and event staged here
        self.idempotency_key = idempotency_key     # the request's key (None for jobs), on every posting
        self.correlation_id = correlation_id
        self.backend = backend or backends.current()
        self._writes: list[Write] = []
        self.events: list[DomainEvent] = []
        self.committed = False
        self._repos: dict[Callable[[UnitOfWork], Any], Any] = {}
        self._read: dict[tuple[type[Model], tuple[str, str]], Model | None] = {}
        self._after: list[Callable[[], object]] = []
        self._refused: list[Callable[[Problem], object]] = []
        self._sums: dict[tuple[type, str, str], tuple[int, dict[str, int], dict[str, Action]]] = {}
        self.replay_check: Callable[[], None] | None = None     # a keyed request's (:meth:`before_own_work`)

    def repo(self, kind: Callable[[UnitOfWork], R]) -> R:
        """This unit's instance of the repository class ``kind``, made on first use (a repository
        may keep what it read for the rest of the unit). Capabilities wrap it in a typed
        ``repository.of(uow)``; nothing here knows the capabilities."""
        found = self._repos.get(kind)
        if found is None:
            found = self._repos[kind] = kind(self)
        return cast("R", found)

    def before_own_work(self) -> None:
        """Say that the handler is about to commit work of its own, in units apart from this one (a
        spend giving back lapsed holds first, or taking a large spend in steps): a keyed request
        that is the replay of one answered already is answered now, from its record, and does none
        of it (``replay_check``, set by the API's attempt, raises to answer; a job's unit has none)."""
        if self.replay_check is not None:
            self.replay_check()

    # reads ------------------------------------------------------------------------------------
    def prefetch(self, wanted: list[tuple[type[Model], tuple[str, str]]], consistent: bool = True) -> None:
        """Read several items in one request (strongly consistent unless told: a listing that only
        shows them pays half), so that this unit's later :meth:`get` of each is answered without
        another round trip (keys read already are not read again: several capabilities can each
        ask for what they need)."""
        wanted = list(dict.fromkeys(w for w in wanted if w not in self._read))    # once each, and not again
        if not wanted:
            return
        keys = [(model, self._pk(model, key[0]), key[1]) for model, key in wanted]
        for (model, key), item in zip(wanted, self.backend.batch_get(keys, consistent=consistent), strict=True):
            if item is not None and tenancy.scoped(item):
                tenancy.localise(item)
            self._read[(model, key)] = item

    def get_many(self, model: type[M], keys: list[tuple[str, str]]) -> list[M | None]:
        """The program's items at ``keys`` as stored (strongly consistent, one request, at most 100
        keys), not kept for later reads (a reconciliation reads many once each)."""
        found = self.backend.batch_get([(model, self._pk(model, pk), sk) for pk, sk in keys], consistent=True)
        for item in found:
            if item is not None and tenancy.scoped(item):
                tenancy.localise(item)
        return cast("list[M | None]", found)

    def forget(self) -> None:
        """Drop prefetched items (other units changed them): later reads go to the table."""
        self._read.clear()
        self._repos.clear()                        # and what repositories kept of their reads

    def remember(self, model: type[Model], key: tuple[str, str], item: Model | None) -> None:
        """Keep ``item`` (None: known absent) as read at ``key``: this unit's :meth:`get` of it
        costs no request (an item another read of this unit returned)."""
        self._read[(model, key)] = item

    def get(self, model: type[M], key: tuple[str, str], consistent: bool = False) -> M | None:
        """The program's item at ``key``, or None (a prefetched one without a request)."""
        if (model, key) in self._read:                     # prefetched: read once per unit
            return cast("M | None", self._read[(model, key)])
        item = self.backend.get(model, self._pk(model, key[0]), key[1], consistent)
        if item is not None and tenancy.scoped(item):
            tenancy.localise(item)
        return item

    def query(self, model: type[M], pk: str, sort: SortKey | None = None, **options: Any) -> Iterator[M]:
        """The items of the program's partition ``pk`` (of an index, with ``index=``) in sort-key order."""
        for item in self.backend.query(model, self._pk(model, pk), sort, **options):
            if tenancy.scoped(item):
                tenancy.localise(item)
            yield item

    def query_kinds(self, model: type[Model], pk: str, sort: SortKey, pick: Callable[[str], type[Model]],
                    limit: int) -> list[Any]:
        """One consistent page of the program's partition range holding items of several kinds
        (:meth:`Backend.query_kinds`)."""
        found = self.backend.query_kinds(model, self._pk(model, pk), sort, pick, limit, consistent=True)
        for item in found:
            if tenancy.scoped(item):
                tenancy.localise(item)
        return found

    def index_key(self, partition: str) -> str:
        """The stored form of one of this program's index partition keys, for an update action
        that sets one, a due partition too (a staged item's own keys are converted on write; an
        action's values are not)."""
        return tenancy.physical(self.program, partition)

    def _pk(self, model: type[Model], pk: str) -> str:
        return tenancy.physical(self.program, pk) if not getattr(model, "platform", False) else pk

    # staging ----------------------------------------------------------------------------------
    def create(self, item: Item, on_conflict: ConflictFactory | None = None) -> None:
        """Put an item that must not exist yet."""
        self.save(item, type(item)._hash_key_attribute().does_not_exist(), on_conflict)

    def save(self, item: Item, condition: Condition | None = None,
             on_conflict: ConflictFactory | None = None) -> None:
        """Put ``item`` whole, if ``condition`` holds at commit."""
        self._writes.append(Write("save", item, condition, None, on_conflict))

    def save_versioned(self, item: Item, read_version: int, on_conflict: ConflictFactory | None = None, *,
                       stored: bool = False) -> None:
        """Put ``item`` as the version after ``read_version`` (the item's ``version`` is its lock):
        on the stored version still being the one read, or for 0 on the item not existing yet, so
        of two changes read at one version only one commits. ``stored``: the item exists even at
        version 0 (written before its first versioned change, as a gift card is)."""
        model: Any = type(item)
        item.version = read_version + 1
        self.save(item, model.version == read_version if read_version or stored
                  else model._hash_key_attribute().does_not_exist(), on_conflict)

    def update_versioned(self, item: Item, read_version: int, actions: list[Action],
                         on_conflict: ConflictFactory | None = None) -> None:
        """Apply ``actions`` to an existing item and count its ``version`` on by one, if the stored
        version is still ``read_version`` (0: an item never changed this way, whose ``version`` is
        absent or 0): of two changes read at one version only one commits. The partial-update twin
        of :meth:`save_versioned`, for items whose other attributes a change must leave alone."""
        model: Any = type(item)
        unchanged = model.version == read_version
        if not read_version:
            unchanged = model.version.does_not_exist() | unchanged
        self.update(item, [*actions, model.version.set(read_version + 1)],
                    model._hash_key_attribute().exists() & unchanged, on_conflict)

    def update(self, item: Item, actions: list[Action], condition: Condition | None = None,
               on_conflict: ConflictFactory | None = None) -> None:
        """Apply ``actions`` to the item at ``item``'s key, if ``condition`` holds at commit."""
        self._writes.append(Write("update", item, condition, actions, on_conflict))

    def add(self, item: Item, amounts: dict[str, int], condition: Callable[[dict[str, int]], Condition | None],
            also: Sequence[Action] = (), on_conflict: ConflictFactory | None = None) -> None:
        """Stage adding ``amounts`` to numeric attributes of the item at ``item``'s key (made by
        the first add) with the actions ``also``, if ``condition(sums)`` holds at commit. A
        transaction may not write one item twice (DynamoDB refuses the whole of it), so a second
        add to an item in this unit is folded into the first: one update of the sums (two packs
        of one upgrade sharing a template take its stock and the member's count of it once, by
        two). ``condition`` may raise its refusal at once when the sums cannot hold."""
        key = (type(item), str(item.pk), str(item.sk))
        index, sums, actions = self._sums.get(key, (len(self._writes), {}, {}))
        sums = {name: sums.get(name, 0) + amounts.get(name, 0) for name in {*sums, *amounts}}
        actions = {**actions, **{str(a.values[0]): a for a in also}}          # one action a path
        model: Any = type(item)
        write = Write("update", item, condition(sums),
                      [*(getattr(model, name).add(n) for name, n in sorted(sums.items())), *actions.values()],
                      on_conflict)
        if index == len(self._writes):
            self._writes.append(write)
        else:
            self._writes[index] = write
        self._sums[key] = (index, sums, actions)

    def swap(self, staged: Item, item: Item) -> None:
        """Write ``item`` where ``staged`` (the very object) was staged, the same way and on the
        same condition (a posting that takes in the one staged before it: points/folded.py)."""
        at = next(i for i, w in enumerate(self._writes) if w.item is staged)
        self._writes[at] = replace(self._writes[at], item=item)

    def delete(self, item: Item, condition: Condition | None = None,
               on_conflict: ConflictFactory | None = None) -> None:
        """Delete the item at ``item``'s key, if ``condition`` holds at commit."""
        self._writes.append(Write("delete", item, condition, None, on_conflict))

    def check(self, item: Item, condition: Condition, on_conflict: ConflictFactory | None = None) -> None:
        """Commit only if ``condition`` holds for the item at ``item``'s key (nothing written)."""
        self._writes.append(Write("check", item, condition, None, on_conflict))

    def emit(self, event: DomainEvent) -> None:
        """Stage an event; it carries the actor and correlation id of this unit."""
        self.events.append(replace(event, actor=event.actor or self.actor, program_id=self.program,
                                   correlation_id=event.correlation_id or self.correlation_id))

    def after_commit(self, follow_up: Callable[[], object]) -> None:
        """Run ``follow_up`` once this unit has committed: the rest of a change too big for one
        transaction, each part safe to finish later (by a job) if the process stops first."""
        self._after.append(follow_up)

    def on_refused(self, audit: Callable[[Problem], object]) -> None:
        """Run ``audit(problem)`` when this unit's commit is refused (a staged condition failed: the
        state changed since it was read, e.g. a race lost to another request), before the refusal
        is raised; not for a lost race that is tried again (:class:`ConcurrentUpdate`) nor a replay.
        An operation that audits its refusals audits this one too (found from outside: 32 closes
        of one month at once, the 409s of those that read it open and lost at the commit left no
        entry)."""
        self._refused.append(audit)

    @property
    def pending(self) -> bool:
        """Whether anything is staged."""
        return bool(self._writes or self.events)

    def savepoint(self) -> Savepoint:
        """Where the staging stands now, for :meth:`rollback_to` (nothing is written yet)."""
        return list(self._writes), len(self.events), len(self._after), dict(self._sums)

    def rollback_to(self, point: Savepoint) -> None:
        """Unstage what was staged since ``point`` (a part of the change that was refused while
        staging, e.g. one coupon of a pack, that the caller replaces by something else), adds
        folded into earlier writes since included."""
        self._writes[:] = point[0]
        del self.events[point[1]:], self._after[point[2]:]
        self._sums = dict(point[3])

    # commit -----------------------------------------------------------------------------------
    def commit(self, claim: Item | None = None) -> None:
        """Write everything staged, plus ``claim`` (the idempotency record), atomically.

        Raises :class:`ClaimTaken` when the claim exists (a replay), the staged write's own
        problem when its condition fails, :class:`ConcurrentUpdate` on a transaction conflict.
        """
        writes = list(self._writes)
        # one outbox item per subject: an earn's three events of its member are one write
        writes += [Write("save", item, EventItem.pk.does_not_exist()) for item in EventItem.pack(self.events)]
        if claim is not None:
            writes.append(Write("save", claim, type(claim)._hash_key_attribute().does_not_exist()))
        if not writes:
            self.committed = True
            return
        if len(writes) > MAX_ITEMS:
            raise Conflict(f"one request may change at most {MAX_ITEMS} items")
        try:
            self._write(writes)
        except ConditionsFailed as error:
            failed = [writes[i] for i in error.failed]
            if claim is not None and any(w.item is claim for w in failed):
                raise ClaimTaken() from error          # a replay, whatever else changed since
            problems = [(w.on_conflict or _default_conflict)() for w in failed]
            refusal = _naming(merge_problems(problems), failed)
            if not isinstance(refusal, ConcurrentUpdate):
                for audit in self._refused:
                    audit(refusal)
            raise refusal from error
        except Contended as error:
            raise _naming(ConcurrentUpdate("another request changed the same record; retry"),
                          [writes[i] for i in error.at]) from error
        self.committed = True
        for follow_up in self._after:
            try:
                follow_up()
            except Exception:  # the change is committed; its job finishes what is left
                logger.warning("a follow-up of a committed change failed; its job will finish it",
                               extra={"trace": traceback.format_exc(limit=10)})
        self._after.clear()

    def put(self, item: Item, condition: Condition | None = None) -> bool:
        """Write one item now, outside the staged unit (an audit entry, a job's record); False if
        ``condition`` failed."""
        try:
            self._write([Write("save", item, condition)])
        except ConditionsFailed:
            return False
        return True

    def create_many(self, items: list[Item]) -> int:
        """Create many items now, outside the staged unit, each only where none exists, not
        atomically as a whole (bulk work that is safe to repeat); how many were new."""
        undo = [tenancy.to_physical(self.program, item) if tenancy.scoped(item) else [] for item in items]
        try:
            return self.backend.create_many(items)
        finally:
            for item, changes in zip(items, undo, strict=True):
                tenancy.restore(item, changes)

    def _write(self, writes: list[Write]) -> None:
        """Write with the program's keys; the items keep their logical keys afterwards."""
        undo = [tenancy.to_physical(self.program, w.item) if tenancy.scoped(w.item) else [] for w in writes]
        try:
            self.backend.write(writes)
        finally:
            for w, changes in zip(writes, undo, strict=True):
                tenancy.restore(w.item, changes)


def merge_problems(problems: list[Problem]) -> Problem:
    """One problem for several failed conditions of one kind (e.g. two identities taken). A lost
    race wins over everything else: the retry it causes re-reads and answers accurately."""
    races = [p for p in problems if isinstance(p, ConcurrentUpdate)]
    if races:
        return races[0]
    first = problems[0]
    conflicts = [c for p in problems if type(p) is type(first) for c in p.extensions.get("conflicts", [])]
    if conflicts:
        first.extensions["conflicts"] = conflicts
        if len(conflicts) > 1:
            first.detail = "; ".join(p.detail for p in problems if type(p) is type(first))
    return first
