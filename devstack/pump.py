"""The stream pump: what a Lambda event-source mapping does, done locally.

moto keeps DynamoDB streams but runs no event-source mappings, and ``chalice local`` serves HTTP
only. The pump reads each stream the app subscribes to and invokes the handler with
Lambda-shaped batches, with the semantics of the deployed mapping (``infra/build.py`` uses the
same :data:`MAPPING` values):

* ``ReportBatchItemFailures``: records before the reported one are done; the batch is retried
  from the reported record. An ``itemIdentifier`` not in the batch fails the whole batch.
* ``BisectBatchOnFunctionError``: when the handler raises, the batch is halved and retried.
* ``MaximumRetryAttempts``: after that many failed retries the failing record is sent to the
  on-failure destination (an SQS queue) as a ``DDBStreamBatchInfo`` message, and the shard moves on.
* ``FilterCriteria``: records that match no filter are never delivered (done, as Lambda drops
  them): only INSERT records, an event written to the outbox; a TTL expiry's REMOVE is dropped.
* ``MaximumBatchingWindowInSeconds`` has no local effect: the pump delivers what the stream holds
  at each poll (0.1 s after the last write when idle), which is at most the window's wait.
* ``ParallelizationFactor`` has no local effect either: one batch of a shard at a time, which is
  the deployed value (1) anyway; why it is 1: :data:`PARALLELIZATION`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

# Batches of a stream shard handled at once. Lambda keeps the order of a shard's records with
# more than one only per item (partition and sort key: "Lambda still ensures in-order processing
# at the item (partition and sort key) level", Lambda developer guide, with-ddb), and each
# transaction's events of a member are an item of their own (pk: the member, sk: the first event's
# id; the handler unpacks its events, chalicelib/db/outbox.py): at 2 or more, two transactions of
# one member could be handled at once or out of order, and the tiers consumer would apply an earn's
# balance after a later refund's (a member kept an upgrade the refund took back). So 1: a member's events
# reach the per-member subscribers (tiers, benefits, tasks) in order, one batch of a shard after
# the other; the drain is made fast instead by folding the projections (events/folding.py: two
# transactions per consumer per batch of 100, not 100) and the batching window below.
PARALLELIZATION = 1
# Only INSERT records: what the outbox writes (REMOVE is a TTL expiry, MODIFY never happens).
INSERTS_ONLY = {"Filters": [{"Pattern": json.dumps({"eventName": ["INSERT"]})}]}
MAPPING = {"BatchSize": 100, "MaximumRetryAttempts": 5, "BisectBatchOnFunctionError": True,
           "MaximumRecordAgeInSeconds": 86400, "StartingPosition": "TRIM_HORIZON",
           "FunctionResponseTypes": ["ReportBatchItemFailures"], "FilterCriteria": INSERTS_ONLY,
           # wait up to 1 s to fill a batch: a trickle is folded in tens of events, not ones
           "MaximumBatchingWindowInSeconds": 1, "ParallelizationFactor": PARALLELIZATION}

Fetch = Callable[[int], list[dict[str, Any]]]
Invoke = Callable[[dict[str, Any]], Any]
DeadLetter = Callable[[dict[str, Any]], None]


class Pump:
    def __init__(self, stream_arn: str, fetch: Fetch, invoke: Invoke, dead_letter: DeadLetter,
                 batch_size: int = MAPPING["BatchSize"], max_retries: int = MAPPING["MaximumRetryAttempts"],
                 bisect: bool = MAPPING["BisectBatchOnFunctionError"], backoff: float = 0.05,
                 filters: dict[str, Any] = MAPPING["FilterCriteria"]) -> None:
        self.stream_arn = stream_arn
        self.fetch, self.invoke, self.dead_letter = fetch, invoke, dead_letter
        self.batch_size, self.max_retries, self.bisect, self.backoff = batch_size, max_retries, bisect, backoff
        self.filters = filters
        self.queue: deque[dict[str, Any]] = deque()
        self.limit = batch_size
        self.attempts = 0
        self.delivered = 0
        self.dead_lettered = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._busy = threading.Lock()

    def step(self) -> int:
        """Deliver one batch. Returns how many records are now done (0: nothing to do or a retry)."""
        with self._busy:
            if not self.queue:
                fetched = self.fetch(self.batch_size)
                wanted = [r for r in fetched if self.wanted(r)]
                self.delivered += len(fetched) - len(wanted)        # filtered out: done, as on Lambda
                self.queue.extend(wanted)
            if not self.queue:
                return 0
            batch = list(self.queue)[: self.limit]
            try:
                result = self.invoke({"Records": batch})
            except Exception:
                return self._function_error(batch)
            failures = result.get("batchItemFailures") if isinstance(result, dict) else None
            if not failures:
                return self._done(len(batch))
            ids = [r["dynamodb"]["SequenceNumber"] for r in batch]
            failed = [f.get("itemIdentifier") for f in failures]
            if any(f not in ids for f in failed):
                return self._function_error(batch)
            first = min(ids.index(f) for f in failed)
            done = self._done(first, reset=False)
            return done + self._retry_or_dead_letter()

    def wanted(self, record: dict[str, Any]) -> bool:
        """Whether ``record`` matches one of the mapping's filters (each pattern's keys name a
        record's fields, each with the values allowed, or a nested pattern)."""
        filters = self.filters.get("Filters") or []
        return not filters or any(_matches(json.loads(f["Pattern"]), record) for f in filters)

    def _done(self, n: int, reset: bool = True) -> int:
        for _ in range(n):
            self.queue.popleft()
        self.delivered += n
        if reset:
            self.attempts = 0
            self.limit = self.batch_size
        return n

    def _function_error(self, batch: list[dict[str, Any]]) -> int:
        if self.bisect and len(batch) > 1:
            self.limit = max(1, len(batch) // 2)
            return 0
        return self._retry_or_dead_letter()

    def _retry_or_dead_letter(self) -> int:
        self.attempts += 1
        if self.attempts <= self.max_retries:
            time.sleep(min(2.0, self.backoff * 2 ** (self.attempts - 1)))
            return 0
        record = self.queue.popleft()
        self.dead_letter(self.batch_info([record]))
        self.dead_lettered += 1
        self.attempts = 0
        self.limit = self.batch_size
        return 1

    def batch_info(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """The message Lambda sends to a stream mapping's on-failure destination."""
        first, last = records[0], records[-1]
        return {
            "requestContext": {"condition": "RetryAttemptsExhausted",
                               "approximateInvokeCount": self.max_retries + 1},
            "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "DDBStreamBatchInfo": {
                "shardId": first.get("shardId", "shard-local"),
                "startSequenceNumber": first["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": last["dynamodb"]["SequenceNumber"],
                "batchSize": len(records), "streamArn": self.stream_arn,
            },
        }

    def drain(self, max_steps: int = 10_000) -> int:
        """Run until the stream is empty (tests and shutdown). Returns records delivered."""
        total = 0
        for _ in range(max_steps):
            n = self.step()
            total += n
            if n == 0 and not self.queue:
                break
        return total

    def start(self, idle_sleep: float = 0.1, writes: Any = None, idle_most: float = 2.0) -> None:
        """Poll the stream in a thread of its own. With ``writes`` (the emulator's
        :class:`devstack.emulator.Writes`, when it runs in this process), a pump that found the
        stream empty waits for a write (at most ``idle_most`` seconds) before it polls again,
        ``idle_sleep`` after it: what a write puts on the stream is delivered as soon as before,
        and an idle stack stops polling."""
        def run() -> None:
            while not self._stop.is_set():
                seen = writes.count if writes is not None else 0
                try:
                    n = self.step()
                except Exception:  # a broken stream read must not kill the pump
                    n = 0
                if n == 0 and not self.queue:
                    if writes is not None:
                        writes.wait_past(seen, idle_most)
                    self._stop.wait(idle_sleep)
        self._thread = threading.Thread(target=run, name=f"pump:{self.stream_arn[-24:]}", daemon=True)
        self._thread.start()

    def signal_stop(self) -> None:
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)


def _matches(pattern: dict[str, Any], record: dict[str, Any]) -> bool:
    for key, allowed in pattern.items():
        value = record.get(key)
        if isinstance(allowed, dict):
            if not isinstance(value, dict) or not _matches(allowed, value):
                return False
        elif value not in allowed:
            return False
    return True


class StreamReader:
    """Reads one DynamoDB stream through the DynamoDB Streams API and shapes records as Lambda does."""

    def __init__(self, client, stream_arn: str, region: str) -> None:
        self.client, self.stream_arn, self.region = client, stream_arn, region
        self.iterators: dict[str, str | None] = {}

    def _refresh_shards(self) -> None:
        shards = self.client.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            if shard["ShardId"] not in self.iterators:
                self.iterators[shard["ShardId"]] = self.client.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard["ShardId"],
                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]

    def __call__(self, limit: int) -> list[dict[str, Any]]:
        if not self.iterators:
            self._refresh_shards()
        out: list[dict[str, Any]] = []
        for shard_id, iterator in list(self.iterators.items()):
            if iterator is None or len(out) >= limit:
                continue
            response = self.client.get_records(ShardIterator=iterator, Limit=limit - len(out))
            self.iterators[shard_id] = response.get("NextShardIterator")
            out += [self._lambda_record(r, shard_id) for r in response.get("Records", [])]
        return out

    def _lambda_record(self, record: dict[str, Any], shard_id: str) -> dict[str, Any]:
        ddb = dict(record["dynamodb"])
        created = ddb.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            ddb["ApproximateCreationDateTime"] = created.timestamp()
        ddb.setdefault("SizeBytes", 0)
        return {"eventID": record.get("eventID"), "eventName": record["eventName"],
                "eventVersion": record.get("eventVersion", "1.1"), "eventSource": "aws:dynamodb",
                "awsRegion": self.region, "dynamodb": ddb, "eventSourceARN": self.stream_arn,
                "shardId": shard_id}
