"""The unit of work: every change of one request commits in one DynamoDB transaction.

A service stages writes and events on the unit; the HTTP layer commits it together with the
idempotency record of the request. So a change, the events that report it and the record that
makes its retry safe are written all or nothing: there is no window in which one exists without
the others.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from pynamodb.connection import Connection
from pynamodb.exceptions import DeleteError, PutError, TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.events.model import DomainEvent, EventItem
from chalicelib.shared.errors import ConcurrentUpdate, Conflict, Problem
from chalicelib.store.models import MainModel

MAX_ITEMS = 100
_SEND_ORDER = {"check": 0, "delete": 1, "save": 2, "update": 3}
ConflictFactory = Callable[[], Problem]


class ClaimTaken(Exception):
    """The idempotency record of this request already exists: the request is a replay."""


@dataclass
class _Write:
    kind: str                       # "save" | "update" | "delete" | "check"
    model: Model | type[Model]
    condition: Condition | None
    actions: list[Action] | None
    on_conflict: ConflictFactory | None
    key: tuple[str, str] | None = None


def _default_conflict() -> Problem:
    return Conflict("the record changed or already exists")


class UnitOfWork:
    """Collects writes and events; :meth:`commit` applies them atomically."""

    def __init__(self, actor: str | None = None, correlation_id: str | None = None) -> None:
        self.actor = actor
        self.correlation_id = correlation_id
        self._writes: list[_Write] = []
        self.events: list[DomainEvent] = []
        self.committed = False

    # staging --------------------------------------------------------------------------
    def create(self, item: Model, on_conflict: ConflictFactory | None = None) -> None:
        """Put an item that must not exist yet."""
        cls = type(item)
        self.save(item, cls._hash_key_attribute().does_not_exist(), on_conflict)

    def save(self, item: Model, condition: Condition | None = None,
             on_conflict: ConflictFactory | None = None) -> None:
        self._writes.append(_Write("save", item, condition, None, on_conflict))

    def update(self, item: Model, actions: list[Action], condition: Condition | None = None,
               on_conflict: ConflictFactory | None = None) -> None:
        self._writes.append(_Write("update", item, condition, actions, on_conflict))

    def delete(self, item: Model, condition: Condition | None = None,
               on_conflict: ConflictFactory | None = None) -> None:
        self._writes.append(_Write("delete", item, condition, None, on_conflict))

    def check(self, model: type[Model], hash_key: str, range_key: str, condition: Condition,
              on_conflict: ConflictFactory | None = None) -> None:
        self._writes.append(_Write("check", model, condition, None, on_conflict, (hash_key, range_key)))

    def emit(self, event: DomainEvent) -> None:
        """Stage an event; it carries the actor and correlation id of this unit."""
        self.events.append(replace(event, actor=event.actor or self.actor,
                                   correlation_id=event.correlation_id or self.correlation_id))

    @property
    def pending(self) -> bool:
        return bool(self._writes or self.events)

    # commit ---------------------------------------------------------------------------
    def commit(self, claim: MainModel | None = None) -> None:
        """Write everything staged, plus ``claim`` (the idempotency record), atomically.

        Raises :class:`ClaimTaken` when the claim exists (a replay), the staged write's own
        problem when its condition fails, :class:`ConcurrentUpdate` on a transaction conflict.
        """
        writes = list(self._writes)
        writes += [_Write("save", EventItem.of(e), EventItem.pk.does_not_exist(), None, None)
                   for e in self.events]
        if claim is not None:
            writes.append(_Write("save", claim, type(claim).pk.does_not_exist(), None, None))
        if not writes:
            self.committed = True
            return
        if len(writes) > MAX_ITEMS:
            raise Conflict(f"one request may change at most {MAX_ITEMS} items")
        if len(writes) == 1 and writes[0].kind != "check":
            self._single(writes[0], claim)
        else:
            self._transaction(writes, claim)
        self.committed = True

    def _single(self, write: _Write, claim: MainModel | None) -> None:
        # One item needs no transaction: a plain conditional write costs half the capacity.
        try:
            if write.kind == "save":
                write.model.save(condition=write.condition)
            elif write.kind == "delete":
                write.model.delete(condition=write.condition)
            else:
                write.model.update(actions=write.actions, condition=write.condition)
        except (PutError, UpdateError, DeleteError) as error:
            if error.cause_response_code == "ConditionalCheckFailedException":
                if claim is not None and write.model is claim:
                    raise ClaimTaken() from error
                raise (write.on_conflict or _default_conflict)() from error
            raise

    def _transaction(self, writes: list[_Write], claim: MainModel | None) -> None:
        # PynamoDB sends checks, deletes, puts, then updates: the cancellation reasons come
        # back in that order, so order our list the same way.
        writes = sorted(writes, key=lambda w: _SEND_ORDER[w.kind])
        try:
            with TransactWrite(connection=_connection()) as tx:
                for w in writes:
                    if w.kind == "save":
                        tx.save(w.model, condition=w.condition)
                    elif w.kind == "update":
                        tx.update(w.model, actions=w.actions, condition=w.condition)
                    elif w.kind == "delete":
                        tx.delete(w.model, condition=w.condition)
                    else:
                        tx.condition_check(w.model, w.key[0], w.key[1], condition=w.condition)
        except TransactWriteError as error:
            reasons = error.cancellation_reasons or []
            codes = [r.code if r else None for r in reasons]
            claimed = [c for w, c in zip(writes, codes) if claim is not None and w.model is claim]
            if claimed == ["ConditionalCheckFailed"]:
                raise ClaimTaken() from error
            failed = [w for w, code in zip(writes, codes) if code == "ConditionalCheckFailed"]
            if failed:
                problems = [(w.on_conflict or _default_conflict)() for w in failed]
                raise merge_problems(problems) from error
            if "TransactionConflict" in codes or error.cause_response_code == "TransactionConflictException":
                raise ConcurrentUpdate("another request changed the same record; retry") from error
            raise


_CONNECTIONS: dict[tuple, Connection] = {}


def _connection() -> Connection:
    """One low-level connection per endpoint, reused across requests (botocore is thread-safe)."""
    key = (MainModel.Meta.region, MainModel.Meta.host)
    if key not in _CONNECTIONS:
        _CONNECTIONS[key] = Connection(region=key[0], host=key[1])
    return _CONNECTIONS[key]


def merge_problems(problems: list[Problem]) -> Problem:
    """One problem for several failed conditions of one kind (e.g. two identities taken)."""
    first = problems[0]
    conflicts = [c for p in problems if type(p) is type(first) for c in p.extensions.get("conflicts", [])]
    if conflicts:
        first.extensions["conflicts"] = conflicts
        if len(conflicts) > 1:
            first.detail = "; ".join(p.detail for p in problems if type(p) is type(first))
    return first
