"""Redrive: replaying the stream records that ended in the failure queue, from the outbox.

When a record still fails after the stream mapping's retries, Lambda sends its position, not
the record, to the failure queue (``EventsDeadLetterQueue``): a ``DDBStreamBatchInfo`` message
naming the stream, the shard and the first and last sequence numbers. The mapping then moves on,
so without a redrive the figures (and the member subscribers) would lack those events for good.
:func:`run` (the ``redrive-events`` function, hourly, and on demand) reads each message, reads
that range of the shard again (``GetShardIterator`` at the first sequence number, then
``GetRecords`` to the last), dispatches the events as the stream handler does (exactly once:
events already applied are dropped by their markers) and deletes the message. A message whose
events still fail stays in the queue (hidden for :data:`HIDE_SECONDS`) for the next run.

A stream keeps records for 24 hours: a message older than that names records the stream no
longer holds (``TrimmedDataAccessException``), and the outbox rows cannot be found by a shard
position. Such a message is kept, counted as expired (``EventsRedriveExpired``) and logged with
its range: the failure queue's alarm is the cue to fix and redrive within the day.

Runs as the stream consumer's role (the only one that reads the stream, and that writes what the
subscribers write); locally, the stream pump's failure queue is the same queue (``devstack/pump.py``).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.db.outbox import events_from_image
from chalicelib.events.dispatch import dispatch_batch
from chalicelib.shared import aws
from chalicelib.shared.observability import count, logger

HIDE_SECONDS = 900            # a message that fails again is not seen again by the same run
MARGIN_SECONDS = 30.0         # of the function's remaining time: to finish the message in hand
DEFAULT_BUDGET_SECONDS = 240.0
PAGES_PER_RANGE = 100         # GetRecords pages read for one message's range at most
EXPIRED = ("TrimmedDataAccessException", "ExpiredIteratorException", "ResourceNotFoundException")


def run(remaining_ms: float | None = None) -> dict[str, Any]:
    """Redrive every message of the failure queue that the time allows; what was done."""
    url = os.environ.get("EVENTS_DLQ_URL")
    done = {"messages": 0, "records": 0, "redriven": 0, "failed": 0, "expired": 0}
    if not url:
        return done
    budget = DEFAULT_BUDGET_SECONDS if remaining_ms is None else remaining_ms / 1000 - MARGIN_SECONDS
    until = time.monotonic() + budget
    sqs, streams = aws.client("sqs"), aws.client("dynamodbstreams")
    while time.monotonic() < until:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                       VisibilityTimeout=HIDE_SECONDS).get("Messages", [])
        if not messages:
            break
        for message in messages:
            done["messages"] += 1
            info = json.loads(message["Body"]).get("DDBStreamBatchInfo") or {}
            done["records"] += int(info.get("batchSize", 0))
            outcome, events = redrive(streams, info)
            done[outcome] += events if outcome == "redriven" else 1
            if outcome == "redriven":
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    count("EventsDeadLettered", done["records"])        # records found in the failure queue
    count("EventsRedriven", done["redriven"])
    count("EventsRedriveExpired", done["expired"])
    return done


def redrive(streams: Any, info: dict[str, Any]) -> tuple[str, int]:
    """Dispatch the events of one message's range: ``("redriven", events)``, ``("failed", 0)``
    when one still fails, ``("expired", 0)`` when the stream no longer holds them."""
    try:
        records = read_range(streams, info["streamArn"], info["shardId"], info["startSequenceNumber"],
                             info["endSequenceNumber"])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in EXPIRED:
            logger.error("dead-lettered records are no longer in the stream; redrive by hand",
                         extra={"batch": info})
            return "expired", 0
        raise
    batch = [events_from_image(r["dynamodb"]["NewImage"]) for r in records     # each record's events, in order
             if r.get("eventName") == "INSERT"]
    _handled, stopped = dispatch_batch(batch)
    if stopped is not None:
        logger.warning("a dead-lettered record still fails; kept for the next redrive",
                       extra={"event": batch[stopped][0].id, "type": batch[stopped][0].type})
        return "failed", 0
    return "redriven", sum(len(events) for events in batch)


def read_range(streams: Any, stream_arn: str, shard_id: str, first: str, last: str) -> list[dict[str, Any]]:
    """The records of one shard from sequence number ``first`` to ``last``, both included."""
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard_id,
                                          ShardIteratorType="AT_SEQUENCE_NUMBER",
                                          SequenceNumber=first)["ShardIterator"]
    found: list[dict[str, Any]] = []
    for _ in range(PAGES_PER_RANGE):
        if iterator is None:
            break
        page = streams.get_records(ShardIterator=iterator, Limit=1000)
        for record in page.get("Records", []):
            if int(record["dynamodb"]["SequenceNumber"]) > int(last):
                return found
            found.append(record)
        if found and found[-1]["dynamodb"]["SequenceNumber"] == last:
            break
        iterator = page.get("NextShardIterator")
    return found
