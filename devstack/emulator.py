"""Make moto's DynamoDB fit for real data volumes and real concurrency, and able to throttle.

Nine patches, all applied by :func:`install` and all tested in ``tests/integration/test_emulator.py``:

1. ``TransactWriteItems`` keeps an undo log of the items it touches instead of deep-copying every
   table it touches (moto's own implementation is O(table size) per transaction). Conditions are
   all evaluated before anything is written, as DynamoDB does.
2. Every DynamoDB and DynamoDB Streams request runs under one lock, so concurrent conditional
   writes are as atomic as on DynamoDB (moto server otherwise double-spends and raises
   ``dictionary changed size during iteration`` under threads).
3. Every request is metered: requests, RCU and WCU computed by the AWS rules
   (:mod:`devstack.capacity`), because moto reports no ``ConsumedCapacity``; the global secondary
   indexes' writes apart from the base table's (:mod:`devstack.index_units`). Each write that
   succeeds moves :data:`WRITES`, which the stream pumps wait on while their streams are empty.
4. A ``Query`` reads only the items it can match. moto's walks and sorts every item of the
   table on every query (base table and GSI alike), so a member's query, or a job reading one
   day's due items, cost time in proportion to the whole table. Base-table queries read their
   partition; GSI queries read a map from index hash key to items, built on the first query of
   that index and kept exact by the same hook that meters every write. A forward page of a big
   index partition reads only the items it can reach (:mod:`devstack.query_window`).
5. Throttling on demand. Neither emulator ever refuses work for capacity, as DynamoDB does on a
   hot partition: :func:`devstack.throttling.throttle` makes the next requests of an action answer
   as DynamoDB's throttling does, and :func:`devstack.throttling.leave_unprocessed` makes batch
   reads leave keys unprocessed, so the tests over the local stack can show what a caller sees.
8. Item reads (``Query``, ``Scan``, ``GetItem``, ``BatchGetItem``) are answered in plain JSON, not
   through moto's shape-walking serializer, which cost a second a page of 500 items
   (:mod:`devstack.item_replies`).
9. ``TransactWriteItems`` honours its ``ClientRequestToken`` as DynamoDB does: the same token and
   request within 10 minutes succeeds without applying again, the same token with another request
   is refused (``IdempotentParameterMismatchException``) (:mod:`devstack.request_tokens`).
"""

from __future__ import annotations

import copy
import hmac
import json
import threading
import time
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

from devstack import index_units, item_replies, query_window, request_tokens, throttling
from devstack.capacity import Usage, item_size, read_units, write_units

LOCK = threading.RLock()
USAGE = Usage()
# When a list (``trace()``), every metered write appends one entry per item it writes: the item's
# table, keys, size and write units on the table and on each index (bench/earn_items.py).
TRACE: list[dict[str, Any]] | None = None
MOTO_TRANSACT_WRITE_ITEMS = DynamoDBBackend.transact_write_items   # as shipped, for the benchmark
_MOTO_QUERY = Table.query
_MOTO_ALL_ITEMS = Table.all_items


class Writes:
    """A count of the writes this process's emulator has made, to wait on: a reader that found its
    stream empty waits until the count moves past what it saw (or a timeout), so it polls when
    there may be something new, not all the time (an idle local stack spent a tenth of a core
    polling its streams at 0.1 s)."""

    def __init__(self) -> None:
        self._moved = threading.Condition()
        self.count = 0

    def wrote(self) -> None:
        with self._moved:
            self.count += 1
            self._moved.notify_all()

    def wait_past(self, seen: int, timeout: float) -> bool:
        """Wait until a write after ``seen`` (a :attr:`count` read before looking), at most
        ``timeout`` seconds; whether one came."""
        with self._moved:
            return self._moved.wait_for(lambda: self.count != seen, timeout)


# Moved by every DynamoDB write that succeeded: the stream pumps of a stack in this process wait on
# it while their streams are empty.
WRITES = Writes()
_installed = False

_WRITE_ACTIONS = {"PutItem", "UpdateItem", "DeleteItem"}


def install() -> None:
    """Apply the patches once per process (idempotent)."""
    global _installed
    if _installed:
        return
    install_transactions()
    Table.query = _partition_query  # type: ignore[method-assign]
    Table.all_items = _all_items  # type: ignore[method-assign]
    DynamoHandler.call_action = _serialised_and_metered(DynamoHandler.call_action)  # type: ignore[method-assign]
    DynamoDBStreamsHandler.call_action = _serialised(DynamoDBStreamsHandler.call_action)  # type: ignore[method-assign]
    _sqs_groups_under_threads()
    _backend_lookup_once_per_host()
    _presigned_urls_expire()
    item_replies.install()
    request_tokens.install()
    _installed = True


def presigned_signature(secret: str, method: str, host: str, path: str, query: list[tuple[str, str]]) -> str:
    """The SigV4 signature S3 expects of a presigned URL (``query`` without ``X-Amz-Signature``):
    the canonical request of the method, the path, the sorted query and the host, its payload
    unsigned, signed with the key derived from ``secret`` for the credential's scope."""
    import hashlib
    import hmac
    from urllib.parse import quote, unquote

    def enc(text: str) -> str:
        return quote(text, safe="-_.~")
    params = dict(query)
    scope = params["X-Amz-Credential"].split("/", 1)[1]            # <date>/<region>/<service>/aws4_request
    canonical = "\n".join([method, quote(unquote(path), safe="/-_.~"),
                           "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(query)),
                           f"host:{host}\n", params.get("X-Amz-SignedHeaders", "host"), "UNSIGNED-PAYLOAD"])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", params["X-Amz-Date"], scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def _presigned_urls_expire() -> None:
    """7. Presigned URLs (exports, #29 item 3), as S3 treats them. moto served an object through a
    presigned URL for ever, where S3 refuses it (403 AccessDenied, "Request has expired") once
    ``X-Amz-Date`` + ``X-Amz-Expires`` has passed; and with the stack's IAM enforcement on
    (devstack/access.py) moto looked for an Authorization header a presigned URL does not have (a
    500). A presigned request is refused once expired, and refused (403 SignatureDoesNotMatch)
    unless its signature is the one S3 would compute with the secret of its access key (one of
    the stack's: :mod:`devstack.access`): a URL changed to another object, or its lifetime
    edited, no longer works, as on S3 (found from outside)."""
    from datetime import UTC, datetime
    from urllib.parse import parse_qsl

    from moto.s3.exceptions import S3ClientError
    from moto.s3.responses import S3Response

    from devstack import access
    original = S3Response._authenticate_and_authorize_s3_action

    def authorize(self: Any, bucket_name: str | None = None, key_name: str | None = None) -> None:
        query = self.querystring
        if self.method == "GET" and query.get("X-Amz-Signature") and query.get("X-Amz-Credential"):
            pairs = parse_qsl(self.parsed_url.query, keep_blank_values=True)
            given = dict(pairs).get("X-Amz-Signature", "")
            unsigned = [(k, v) for k, v in pairs if k != "X-Amz-Signature"]
            access_key = (query.get("X-Amz-Credential") or [""])[0].split("/", 1)[0]
            secret = dict([access.OPERATOR_KEY, *access._KEYS.values()]).get(access_key)
            host = self.headers.get("Host") or self.parsed_url.netloc
            try:
                expected = presigned_signature(secret, "GET", host, self.parsed_url.path, unsigned) if secret else None
            except (KeyError, IndexError):
                expected = None
            if expected is None or not hmac.compare_digest(expected, given):
                raise S3ClientError("SignatureDoesNotMatch", "The request signature we calculated does not match "
                                    "the signature you provided")
            signed, seconds = (query.get("X-Amz-Date") or [""])[0], (query.get("X-Amz-Expires") or ["0"])[0]
            at = datetime.strptime(signed, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
            if time.time() > at + int(seconds):
                raise S3ClientError("AccessDenied", "Request has expired")
            return
        original(self, bucket_name, key_name)
    S3Response._authenticate_and_authorize_s3_action = authorize  # type: ignore[method-assign]


def _sqs_groups_under_threads() -> None:
    """6. moto's SQS queue lists its pending message groups by iterating the set of in-flight
    messages, which another request's receive or delete changes meanwhile: under the webhooks
    poller's threads it answered ``Set changed size during iteration`` (a 500). A copy of the
    set (taken in one step under the GIL) is iterated instead. Not a lock: a long-polling receive
    would hold it for its whole wait."""
    from moto.sqs.models import Queue

    def pending_message_groups(self: Any) -> set[str]:
        return {m.group_id for m in list(self._pending_messages) if m.group_id is not None}
    Queue.pending_message_groups = property(pending_message_groups)  # type: ignore[method-assign, assignment]


_BACKENDS: dict[tuple[int, str], Any] = {}


def _backend_lookup_once_per_host() -> None:
    """7. moto's server finds the backend of every request under one lock by matching its host
    against every service's URL patterns (hundreds of regular expressions: about 1 ms a request,
    each request of every service waiting on the one before). The answer for a host never changes:
    it is kept."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    found = DomainDispatcherApplication.get_backend_for_host

    def get_backend_for_host(self: Any, host: str | None) -> Any:
        if host is None:
            return None
        key = (id(self), host)
        if key not in _BACKENDS:
            _BACKENDS[key] = found(self, host)
        return _BACKENDS[key]
    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host  # type: ignore[method-assign]


def install_transactions() -> None:
    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]


def usage() -> Usage:
    with LOCK:
        return USAGE.snapshot()


# --- 1. transactions with an undo log -------------------------------------------------------

def _transaction_plan(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[tuple]:
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    seen: set[tuple[str, str]] = set()
    plan = []
    for entry in transact_items:
        if len(entry) != 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(entry.items()))
        if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
            raise MockValidationException("Unsupported transaction operation")
        table = backend.get_table(op["TableName"])
        if op_type == "Put":
            key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
            if table.range_key_attr is not None:
                key[table.range_key_attr] = op["Item"][table.range_key_attr]
        else:
            key = op["Key"]
        identity = (table.name, str(dict(sorted(key.items()))))
        if identity in seen:
            raise MultipleTransactionsException()
        seen.add(identity)
        plan.append((op_type, op, table, key))
    return plan


def _failed_conditions(backend: DynamoDBBackend, plan: list[tuple]) -> list[tuple] | None:
    reasons: list[tuple] = []
    failed = False
    for _op_type, op, table, key in plan:
        condition = op.get("ConditionExpression")
        if condition is None:
            reasons.append((None, None, None))
            continue
        current = backend.get_item(table.name, key)
        expression = get_filter_expression(
            condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues"))
        if expression.expr(current):
            reasons.append((None, None, None))
            continue
        failed = True
        old = None
        if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
            old = current.to_json()["Attributes"]
        reasons.append(("ConditionalCheckFailed", "The conditional request failed", old))
    return reasons if failed else None


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    plan = _transaction_plan(self, transact_items)
    reasons = _failed_conditions(self, plan)
    if reasons:
        raise TransactionCanceledException(reasons)

    stream_marks = {t.name: (t, len(t.stream_shard.items)) for _, _, t, _ in plan if t.stream_shard}
    undo: list[tuple] = []
    try:
        for index, (op_type, op, table, key) in enumerate(plan):
            if op_type == "ConditionCheck":
                continue
            undo.append((table, key, copy.deepcopy(self.get_item(table.name, key))))
            names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            try:
                if op_type == "Put":
                    self.put_item(table.name, op["Item"])
                elif op_type == "Delete":
                    self.delete_item(table.name, key)
                else:
                    self.update_item(table.name, key, update_expression=op["UpdateExpression"],
                                     expression_attribute_names=names,
                                     expression_attribute_values=values)
            except MockValidationException:
                raise
            except Exception as error:  # an item-level failure cancels the transaction
                reasons = [(None, None, None)] * len(plan)
                reasons[index] = (type(error).__name__, str(error), None)
                raise TransactionCanceledException(reasons) from error
    except Exception:
        _undo(self, undo, stream_marks)
        raise


def _undo(backend: DynamoDBBackend, undo: list[tuple], stream_marks: dict[str, tuple]) -> None:
    for table, key, old in reversed(undo):
        hash_value, range_value = backend.get_keys_value(table, key)
        if range_value is not None:
            if old is None:
                table.items[hash_value].pop(range_value, None)
            else:
                table.items[hash_value][range_value] = old
        elif old is None:
            table.items.pop(hash_value, None)
        else:
            table.items[hash_value] = old
    for table, mark in stream_marks.values():
        del table.stream_shard.items[mark:]


# --- 4. queries read only what they can match -----------------------------------------------

# table name -> index name -> (index hash value -> {primary key: None}, primary key -> index hash value)
_GSI_MAPS: dict[str, dict[str, tuple[dict, dict]]] = {}


def _partition_query(self: Table, hash_key, *args, **kwargs):
    """moto's query, with ``all_items`` narrowed to the partition or index entries it can match."""
    index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
    if hash_key is not None:
        self._narrow = (index_name, hash_key, args)
    try:
        return _MOTO_QUERY(self, hash_key, *args, **kwargs)
    finally:
        self._narrow = None


def _all_items(self: Table) -> list:
    narrow = getattr(self, "_narrow", None)
    if narrow is None:
        return _MOTO_ALL_ITEMS(self)
    index_name, hash_value, query = narrow
    if index_name is None:
        found = self.items.get(hash_value)      # .get: the defaultdict must not grow on reads
        items = (list(found.values()) if self.range_key_attr else [found]) if found else []
    else:
        forward, _ = _gsi_map(self, index_name)
        items = [item for key in forward.get(hash_value, ()) if (item := _item_at(self, key)) is not None]
        if len(items) >= query_window.BIG:
            page = query_window.window(self, index_name, hash_value, items, query)
            if page is not None:
                return page
    return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)


def _item_at(table: Table, key: tuple):
    found = table.items.get(key[0])
    if found is None:
        return None
    return found.get(key[1]) if table.range_key_attr else found


def _index_hash_attr(table: Table, index_name: str) -> str:
    index = table.get_index(index_name)
    return next(k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH")


def _gsi_map(table: Table, index_name: str) -> tuple[dict, dict]:
    maps = _GSI_MAPS.setdefault(table.name, {})
    if index_name not in maps:
        attr = _index_hash_attr(table, index_name)
        forward: dict = {}
        reverse: dict = {}
        for item in _MOTO_ALL_ITEMS(table):
            value = item.attrs.get(attr)
            if value is not None:
                key = (item.hash_key, item.range_key)
                forward.setdefault(value, {})[key] = None
                reverse[key] = value
        maps[index_name] = (forward, reverse)
    return maps[index_name]


def _reindex(backend, targets: list[tuple]) -> None:
    """After a write: move each written item to its current index entries."""
    for table_name, key, _size in targets:
        maps = _GSI_MAPS.get(table_name)
        if not maps:
            continue
        table = backend.get_table(table_name)
        hash_value, range_value = backend.get_keys_value(table, key)
        primary = (hash_value, range_value)
        item = _item_at(table, primary)
        for index_name, (forward, reverse) in maps.items():
            old = reverse.pop(primary, None)
            if old is not None:
                query_window.forget(table_name, index_name, old)
                entries = forward.get(old, {})
                entries.pop(primary, None)
                if not entries:
                    forward.pop(old, None)
            value = item.attrs.get(_index_hash_attr(table, index_name)) if item is not None else None
            if value is not None:
                query_window.forget(table_name, index_name, value)
                forward.setdefault(value, {})[primary] = None
                reverse[primary] = value


def forget_indexes(table_name: str | None = None) -> None:
    """Drop the GSI maps (after writing items into the backend directly, bypassing requests)."""
    with LOCK:
        if table_name is None:
            _GSI_MAPS.clear()
        else:
            _GSI_MAPS.pop(table_name, None)
        query_window.forget_table(table_name)


# --- 2. one lock, 3. metering ----------------------------------------------------------------

def _serialised(call_action):
    def call(self):
        with LOCK:
            return call_action(self)
    return call


def _serialised_and_metered(call_action):
    def call(self):
        with LOCK:
            action = self._get_action()
            params = _params(self)
            backend = dynamodb_backends[self.current_account][self.region]
            fault = throttling.take(action, params)
            if fault is not None and fault.refuses:
                USAGE.add(action, 0.0, 0.0)
                return throttling.refusal(self, action, params)
            before = _write_targets(backend, action, params)
            old_items = index_units.items_of(backend, before)
            status, headers, body = call_action(self)
            if fault is not None and status == 200:
                body = throttling.unprocessed(backend, params, headers, body, fault.serve)
            if action in ("CreateTable", "DeleteTable"):
                _GSI_MAPS.pop(params.get("TableName", ""), None)
            try:
                _reindex(backend, before)
            except Exception:  # an index map we cannot maintain is dropped and rebuilt on demand
                for name, _key, _size in before:
                    _GSI_MAPS.pop(name, None)
            try:
                rcu, wcu = _units(backend, action, params, before, body)
                index = index_units.index_units(backend, before, old_items) if status == 200 else {}
            except Exception:  # metering must never break a request
                rcu, wcu, index = 0.0, 0.0, {}
            USAGE.add(action, rcu, wcu, index)
            if before and status == 200:
                WRITES.wrote()
            if TRACE is not None and status == 200 and before:
                _trace(backend, action, before, old_items)
            return status, headers, body
    return call


def trace(on: bool = True) -> list[dict[str, Any]]:
    """Start (or stop) recording every item written; what was recorded so far."""
    global TRACE
    with LOCK:
        recorded = TRACE or []
        TRACE = [] if on else None
        return recorded


def _trace(backend, action: str, targets: list[tuple], old_items: list) -> None:
    transactional = action == "TransactWriteItems"
    for (name, key, size), old, new in zip(targets, old_items, index_units.items_of(backend, targets), strict=True):
        after = _size_of(backend, name, key)
        indexes = {shape.name: index_units.entry_units(shape, old, new)
                   for shape in index_units.shapes_of(backend.get_table(name))}
        assert TRACE is not None
        TRACE.append({"action": action, "table": name, "key": {k: next(iter(v.values())) for k, v in key.items()},
                      "size": max(size, after), "deleted": not after,
                      "wcu": write_units(max(size, after), transactional),
                      "index_wcu": {k: v for k, v in indexes.items() if v}})


def _params(handler) -> dict[str, Any]:
    try:
        return json.loads(handler.body) if isinstance(handler.body, (str, bytes)) and handler.body else {}
    except ValueError:
        return {}


def _size_of(backend, table_name: str, key: dict[str, Any]) -> int:
    try:
        item = backend.get_item(table_name, key)
    except Exception:
        return 0
    return item_size(item.to_json()["Attributes"]) if item else 0


def _key_of(backend, table_name: str, item: dict[str, Any]) -> dict[str, Any]:
    table = backend.get_table(table_name)
    key = {table.hash_key_attr: item[table.hash_key_attr]}
    if table.range_key_attr:
        key[table.range_key_attr] = item[table.range_key_attr]
    return key


def _write_targets(backend, action: str, params: dict[str, Any]) -> list[tuple]:
    """(table, key, size before) for every item the request may write."""
    targets = []
    try:
        if action in _WRITE_ACTIONS:
            name = params["TableName"]
            key = params["Key"] if "Key" in params else _key_of(backend, name, params["Item"])
            targets.append((name, key, _size_of(backend, name, key)))
        elif action == "TransactWriteItems":
            for entry in params.get("TransactItems", []):
                op_type, op = next(iter(entry.items()))
                if op_type == "ConditionCheck":
                    continue
                name = op["TableName"]
                key = op["Key"] if "Key" in op else _key_of(backend, name, op["Item"])
                targets.append((name, key, _size_of(backend, name, key)))
        elif action == "BatchWriteItem":
            for name, requests in params.get("RequestItems", {}).items():
                for request in requests:
                    if "PutRequest" in request:
                        key = _key_of(backend, name, request["PutRequest"]["Item"])
                    else:
                        key = request["DeleteRequest"]["Key"]
                    targets.append((name, key, _size_of(backend, name, key)))
    except Exception:
        return []
    return targets


def _units(backend, action: str, params: dict[str, Any], before: list[tuple], body: Any) -> tuple[float, float]:
    if before:
        transactional = action == "TransactWriteItems"
        wcu = sum(write_units(max(size, _size_of(backend, name, key)), transactional)
                  for name, key, size in before)
        return 0.0, wcu
    if action not in {"GetItem", "BatchGetItem", "TransactGetItems", "Query", "Scan"}:
        return 0.0, 0.0
    response = json.loads(body) if body else {}
    if action == "GetItem":
        return read_units(item_size(response.get("Item")), bool(params.get("ConsistentRead"))), 0.0
    if action == "TransactGetItems":
        return sum(read_units(item_size(r.get("Item")), True, True)
                   for r in response.get("Responses", [])), 0.0
    if action == "BatchGetItem":        # each key read is a GetItem: a missing item costs one too
        total = 0.0
        for name, asked in params.get("RequestItems", {}).items():
            consistent = bool(asked.get("ConsistentRead"))
            items = response.get("Responses", {}).get(name, [])
            left = len(response.get("UnprocessedKeys", {}).get(name, {}).get("Keys", []))
            missing = max(0, len(asked.get("Keys", [])) - left - len(items))
            total += sum(read_units(item_size(i), consistent) for i in items) + missing * read_units(0, consistent)
        return total, 0.0
    consistent = bool(params.get("ConsistentRead")) and not params.get("IndexName")
    size = sum(item_size(i) for i in response.get("Items", []))
    return read_units(size, consistent), 0.0
