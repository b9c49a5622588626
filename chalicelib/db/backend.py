"""The persistence port: what the unit of work and the repositories need of a table, and the
DynamoDB adapter that provides it through PynamoDB.

Repositories are written once against :class:`Backend`; :mod:`chalicelib.db.memory` is the
in-memory fake with the same semantics (conditions checked before any write, all or nothing),
proved equal by running the same service tests against both.

DynamoDB refuses work over a table's or a partition's capacity: a call answered
``ProvisionedThroughputExceededException``, ``ThrottlingException`` or ``RequestLimitExceeded``
(after botocore's own bounded retries), a transaction cancelled for ``ThrottlingError``, the keys
of a batch read left unprocessed. The adapter raises each as :class:`Throttled`, whatever the
call: nothing was written, and the work may be tried again later (the API answers 503 with
``Retry-After``; a job or the stream consumer fails and is retried).

A call DynamoDB did not answer (botocore's read or connect timeout, a connection refused or
dropped), after botocore's own attempts, is raised as :class:`Unavailable`, whatever the call.
Unlike a throttle, a write may have been applied: the attempt whose answer was lost may have
committed. The API answers 503 as well; a retry with the same Idempotency-Key finds the request's
record if it committed (and replays its answer) or does the work once.

Every transaction carries a ``ClientRequestToken`` of its own, fresh for each call of
:meth:`DynamoBackend.write` (a unit of work re-run after a real conflict sends a new one). botocore
resends a request whose answer was lost with the same parameters, so the same token: DynamoDB
answers that repeat, within 10 minutes, as a success without applying it again, where without a
token the repeat of an applied transaction failed its own conditions (a refresh token "already
used", a step taken twice or refused as a conflict).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from uuid import uuid4

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as TransportError
from pynamodb.connection import Connection
from pynamodb.exceptions import DeleteError, PutError, PynamoDBException, TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite
from typing_extensions import override

from chalicelib.db.items import MainModel, TableItem, connection
from chalicelib.shared.errors import Problem
from chalicelib.shared.retry import Contention

M = TypeVar("M", bound=Model)
MAX_ITEMS = 100                       # DynamoDB's limit on actions in one transaction
# the answers of a call refused for capacity (botocore has retried each already, a few times)
THROTTLING = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"})
# a batch read asks again for its unprocessed keys at most this many times in all, after a jittered
# pause from 50 ms doubling (at most 1.55 s of pauses in all, as AWS advises: never at once)
BATCH_GET_TRIES, BATCH_GET_FIRST_PAUSE = 6, 0.025


@dataclass(frozen=True)
class SortKey:
    """A condition on the sort key of a query: a prefix, a closed range, 'strictly below' or
    'strictly above'."""

    op: str                            # "prefix" | "between" | "below" | "above"
    low: str
    high: str = ""

    @classmethod
    def prefix(cls, text: str) -> SortKey:
        """Sort keys that start with ``text``."""
        return cls("prefix", text)

    @classmethod
    def between(cls, low: str, high: str) -> SortKey:
        """Sort keys from ``low`` to ``high``, both included."""
        return cls("between", low, high)

    @classmethod
    def below(cls, high: str) -> SortKey:
        """Sort keys strictly below ``high``."""
        return cls("below", high)

    @classmethod
    def above(cls, low: str) -> SortKey:
        """Sort keys strictly above ``low`` (the rest of a listing after a cursor)."""
        return cls("above", low)

    def matches(self, value: str) -> bool:
        """Whether ``value`` satisfies the condition (the fake's evaluation)."""
        if self.op == "prefix":
            return value.startswith(self.low)
        if self.op == "between":
            return self.low <= value <= self.high
        if self.op == "above":
            return value > self.low
        return value < self.low


@dataclass
class Write:
    """One staged write: put (``save``), ``update``, ``delete`` or a ``check`` of a condition."""

    kind: str
    item: TableItem
    condition: Condition | None = None
    actions: list[Action] | None = None
    on_conflict: Callable[[], Problem] | None = None


class ConditionsFailed(Exception):
    """The writes at these positions failed their conditions; nothing was written."""

    def __init__(self, failed: list[int]) -> None:
        super().__init__(f"conditions failed at {failed}")
        self.failed = failed


class Contended(Exception):
    """The transaction collided with another one in flight; nothing was written (retry).
    ``at``: the positions of the writes that collided, where DynamoDB says (else empty)."""

    def __init__(self, at: list[int] | None = None) -> None:
        super().__init__(f"transaction conflict at {at or 'an unknown write'}")
        self.at = at or []


class Throttled(Exception):
    """DynamoDB refused the call for capacity (a hot partition, a table over its limits);
    nothing was written: try again later, after a pause."""


class Unavailable(Exception):
    """DynamoDB did not answer the call in time or the connection failed, on every attempt
    botocore made: a read read nothing; a write may or may not have been applied."""


class Backend(Protocol):
    """Reads by key and by partition, and atomic conditional writes."""

    def get(self, model: type[M], pk: str, sk: str, consistent: bool = False) -> M | None:
        """The item at ``pk``/``sk``, or None."""

    def query(self, model: type[M], pk: str, sort: SortKey | None = None, *, index: str | None = None,
              forward: bool = True, limit: int | None = None, consistent: bool = False,
              page_size: int | None = None) -> Iterator[M]:
        """The items of one partition (of the table or of ``index``) in sort-key order."""

    def query_kinds(self, model: type[Model], pk: str, sort: SortKey, pick: Callable[[str], type[Model]],
                    limit: int, consistent: bool = False) -> list[Model]:
        """One request's page (at most ``limit`` items) of a partition range that holds items of
        several kinds, in sort-key order: ``pick(sort key)`` names each item's class (``model``
        names the table). One Query reads, say, an account and the lots that sort after it."""

    def scan(self, model: type[M]) -> Iterator[M]:
        """Every item of the model's table (tests and audits only: never on a request path)."""

    def batch_get(self, wanted: list[tuple[type[Model], str, str]], consistent: bool = False) -> list[Model | None]:
        """Several items by key (of any models and tables) in one request; None where absent."""

    def write(self, writes: list[Write]) -> None:
        """Apply every write or none: :class:`ConditionsFailed` names the failed conditions,
        :class:`Contended` a collision with another transaction, :class:`Throttled` a refusal
        for capacity, :class:`Unavailable` no answer (any read may raise those two too)."""

    def create_many(self, items: list[TableItem]) -> int:
        """Create many items, each only where no item exists at its key (one already there is
        kept as it is), in transactions of up to :data:`MAX_ITEMS`, not atomically as a whole:
        bulk work that is safe to repeat, such as generating a batch of cards. Returns how many
        were created."""


def _index_attribute(model: type[Model], index: str) -> Any:
    for name in dir(model):
        candidate = getattr(model, name, None)
        meta = getattr(candidate, "Meta", None)
        if meta is not None and getattr(meta, "index_name", None) == index and hasattr(candidate, "query"):
            return candidate
    raise KeyError(f"{model.__name__} has no index {index}")


def _range_condition(model: type[Model], sort: SortKey | None, index: str | None) -> Condition | None:
    if sort is None:
        return None
    if index is None:
        attr: Any = model._range_key_attribute()
    else:
        idx = _index_attribute(model, index)
        attr = next(a for a in idx.Meta.attributes.values() if a.is_range_key)
    if sort.op == "prefix":
        return attr.startswith(sort.low)
    if sort.op == "between":
        return attr.between(sort.low, sort.high)
    if sort.op == "above":
        return attr > sort.low
    return attr < sort.low


_SEND_ORDER = {"check": 0, "delete": 1, "save": 2, "update": 3}


def answer_code(error: PynamoDBException) -> str | None:
    """The code of DynamoDB's answer that PynamoDB raised ``error`` for; None when there was no
    answer (PynamoDB's ``cause_response_code`` fails then: a read timeout's cause has none)."""
    answer = getattr(error.cause, "response", None) or {}
    return answer.get("Error", {}).get("Code")


def throttling(error: BaseException) -> bool:
    """Whether DynamoDB refused the call for capacity: the answer's code, or a transaction cancelled
    because one of its items was throttled (``ThrottlingError``)."""
    if isinstance(error, TransactWriteError) and any(
            r is not None and r.code == "ThrottlingError" for r in error.cancellation_reasons or []):
        return True
    if isinstance(error, PynamoDBException):
        return answer_code(error) in THROTTLING
    return isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") in THROTTLING


def unanswered(error: BaseException) -> bool:
    """Whether the call got no answer: botocore's timeouts and connection failures
    (``ReadTimeoutError``, ``ConnectTimeoutError``, ``EndpointConnectionError``,
    ``ConnectionClosedError``...), raised as they are or as a PynamoDB error's cause."""
    cause = error.cause if isinstance(error, PynamoDBException) else error
    return isinstance(cause, TransportError | HTTPClientError)


@contextmanager
def _throttles() -> Iterator[None]:
    """Raise a refusal for capacity, from PynamoDB or botocore, as :class:`Throttled`, and a call
    without an answer as :class:`Unavailable`."""
    try:
        yield
    except (PynamoDBException, ClientError, TransportError, HTTPClientError) as error:
        if throttling(error):
            raise Throttled(str(error)) from error
        if unanswered(error):
            raise Unavailable(str(error)) from error
        raise


def _guarded(items: Iterator[M]) -> Iterator[M]:
    """A lazy query's items, its later pages' refusals for capacity raised as :class:`Throttled`."""
    with _throttles():
        yield from items


def _connection() -> Connection:
    """The endpoint's shared connection (:func:`chalicelib.db.items.connection`)."""
    meta: Any = MainModel.Meta
    return connection(meta.region, meta.host)


class DynamoBackend(Backend):
    """The real thing: DynamoDB (or an emulator at ``DYNAMODB_ENDPOINT``) through PynamoDB.

    Its methods are the :class:`Backend` contract's; see there."""

    @override
    def get(self, model: type[M], pk: str, sk: str, consistent: bool = False) -> M | None:
        try:
            with _throttles():
                return model.get(pk, sk, consistent_read=consistent)
        except model.DoesNotExist:
            return None

    @override
    def query(self, model: type[M], pk: str, sort: SortKey | None = None, *, index: str | None = None,
              forward: bool = True, limit: int | None = None, consistent: bool = False,
              page_size: int | None = None) -> Iterator[M]:
        condition = _range_condition(model, sort, index)
        source = model if index is None else _index_attribute(model, index)
        kwargs: dict[str, Any] = {"scan_index_forward": forward, "limit": limit, "page_size": page_size}
        if index is None:
            kwargs["consistent_read"] = consistent
        return _guarded(iter(source.query(pk, condition, **kwargs)))

    @override
    def query_kinds(self, model: type[Model], pk: str, sort: SortKey, pick: Callable[[str], type[Model]],
                    limit: int, consistent: bool = False) -> list[Model]:
        if sort.op != "between":
            raise ValueError("query_kinds reads a closed range of sort keys")
        with _throttles():
            reply = _connection().client.query(
                TableName=model.Meta.table_name, KeyConditionExpression="pk = :pk AND sk BETWEEN :low AND :high",
                ExpressionAttributeValues={":pk": {"S": pk}, ":low": {"S": sort.low}, ":high": {"S": sort.high}},
                ConsistentRead=consistent, Limit=limit)
        return [pick(raw["sk"]["S"]).from_raw_data(raw) for raw in reply.get("Items", [])]

    @override
    def scan(self, model: type[M]) -> Iterator[M]:
        return _guarded(iter(model.scan()))

    @override
    def batch_get(self, wanted: list[tuple[type[Model], str, str]], consistent: bool = False) -> list[Model | None]:
        models: dict[tuple[str, str, str], type[Model]] = {}
        request: dict[str, dict[str, Any]] = {}
        for model, pk, sk in wanted:
            table = model.Meta.table_name
            if (table, pk, sk) not in models:
                request.setdefault(table, {"Keys": [], "ConsistentRead": consistent})["Keys"].append(
                    {"pk": {"S": pk}, "sk": {"S": sk}})
            models[(table, pk, sk)] = model
        found: dict[tuple[str, str, str], Model] = {}
        client = _connection().client
        unprocessed = Contention(BATCH_GET_TRIES, first=BATCH_GET_FIRST_PAUSE)
        while request:
            with _throttles():
                reply = client.batch_get_item(RequestItems=request)
            for table, items in reply.get("Responses", {}).items():
                for raw in items:
                    at = (table, raw["pk"]["S"], raw["sk"]["S"])
                    found[at] = models[at].from_raw_data(raw)
            # Keys left unprocessed (throttled) are asked for again after a growing, jittered
            # pause; still left after the last try, or at the deadline, the read is refused.
            request = reply.get("UnprocessedKeys") or {}
            if request and not unprocessed.lost():
                left = sum(len(keys["Keys"]) for keys in request.values())
                raise Throttled(f"{left} keys of a batch read still unprocessed after {unprocessed.losses} tries")
        return [found.get((model.Meta.table_name, pk, sk)) for model, pk, sk in wanted]

    @override
    def write(self, writes: list[Write]) -> None:
        with _throttles():
            if len(writes) == 1 and writes[0].kind != "check":
                self._single(writes[0])
            else:
                self._transaction(writes)

    @override
    def create_many(self, items: list[TableItem]) -> int:
        # Transactions, not BatchWriteItem: the IAM policy grants no function BatchWriteItem (it
        # cannot be limited to new items, and its puts overwrite), and a conditional put lets a
        # rerun, or botocore's retry of a request that timed out, leave what was written alone.
        # The price: a transactional write costs twice the units (docs/engineers/deploy.md).
        created = 0
        for start in range(0, len(items), MAX_ITEMS):
            writes = [Write("save", item, type(item)._hash_key_attribute().does_not_exist())
                      for item in items[start:start + MAX_ITEMS]]
            while writes:
                try:
                    self._transaction(writes)
                except ConditionsFailed as error:       # written before: keep those, send the rest
                    failed = set(error.failed)
                    writes = [w for i, w in enumerate(writes) if i not in failed]
                    continue
                created += len(writes)
                break
        return created

    @staticmethod
    def _single(write: Write) -> None:
        # One item needs no transaction: a plain conditional write costs half the capacity.
        try:
            if write.kind == "save":
                write.item.save(condition=write.condition)
            elif write.kind == "delete":
                write.item.delete(condition=write.condition)
            else:
                write.item.update(actions=write.actions or [], condition=write.condition)
        except (PutError, UpdateError, DeleteError) as error:
            if answer_code(error) == "ConditionalCheckFailedException":
                raise ConditionsFailed([0]) from error
            raise

    @staticmethod
    def _transaction(writes: list[Write]) -> None:
        # PynamoDB sends checks, deletes, puts, then updates: the cancellation reasons come
        # back in that order, so map them back to our positions through the same order.
        order = sorted(range(len(writes)), key=lambda i: _SEND_ORDER[writes[i].kind])
        try:
            # One token per call: the same on botocore's retries of this call, which DynamoDB then
            # answers as the first attempt did if it applied (the answer lost), applying nothing.
            with TransactWrite(connection=_connection(), client_request_token=uuid4().hex) as tx:
                for i in order:
                    w = writes[i]
                    if w.kind == "save":
                        tx.save(w.item, condition=w.condition)
                    elif w.kind == "update":
                        tx.update(w.item, actions=w.actions or [], condition=w.condition)
                    elif w.kind == "delete":
                        tx.delete(w.item, condition=w.condition)
                    else:
                        tx.condition_check(type(w.item), w.item.pk, w.item.sk, condition=w.condition)
        except TransactWriteError as error:
            codes = [r.code if r else None for r in (error.cancellation_reasons or [])]
            failed = sorted(order[pos] for pos, code in enumerate(codes) if code == "ConditionalCheckFailed")
            if failed:
                raise ConditionsFailed(failed) from error
            if "TransactionConflict" in codes or answer_code(error) == "TransactionConflictException":
                raise Contended(sorted(order[pos] for pos, code in enumerate(codes) if code == "TransactionConflict")) from error
            raise


_current: list[Backend] = [DynamoBackend()]


def current() -> Backend:
    """The backend new units of work use."""
    return _current[0]


def use(backend: Backend) -> Backend:
    """Switch every new unit of work to ``backend`` (tests run the app on the in-memory fake);
    returns the previous one."""
    previous = _current[0]
    _current[0] = backend
    return previous


def reset() -> None:
    """Re-read settings into every model, drop pooled connections and every cache: for tests and
    the local stack, which change endpoints and tables at run time."""
    from chalicelib.db.items import rebind
    from chalicelib.shared.cache import clear_all
    rebind()
    clear_all()
