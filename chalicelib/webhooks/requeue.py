"""Putting a batch's messages back on the webhooks queue, ten to a request (SQS's batch size, and
deliver-webhooks' batch): a failure's retry wait (``ChangeMessageVisibilityBatch``) and a message
held by the in-flight gate sent again with a delay (``SendMessageBatch``). One request a batch
instead of one a message: a dead endpoint's backlog costs SQS (and the local emulator) a tenth.

Either may fail, in whole or for some entries: a retry wait not set leaves the message the queue's
visibility (6 minutes deployed, 1 minute locally, from its receive: a short wait ends up to that
late, a longer one comes back early, finds its delivery not due and is postponed again); a message
not sent again is kept instead, with the same wait. A wait refused because the message is gone (a
copy of it received meanwhile and deleted) would lose the retry: the deliverer never deletes a
copy while another holds the delivery's lease (:func:`chalicelib.webhooks.delivery._not_free`)."""

from __future__ import annotations

import json
import os
from typing import Any

from chalicelib.shared import aws, queue
from chalicelib.shared.observability import logger
from chalicelib.webhooks import domain

BATCH = 10


def _queue() -> str | None:
    return os.environ.get("WEBHOOKS_QUEUE_URL")


def resend(held: list[tuple[dict[str, Any], int]]) -> list[tuple[dict[str, Any], int]]:
    """Send a copy of each ``(record, seconds)`` delayed ``seconds``; the ones not sent."""
    url = _queue()
    if not url:
        return held
    try:
        refused = set(queue.send_bodies(url, [(r["body"], min(s, 900)) for r, s in held]))
    except Exception:                     # noqa: BLE001 - kept instead, with the same wait
        refused = set(range(len(held)))
    if refused:
        logger.warning("could not send held webhook messages again", extra={"messages": len(refused)})
    return [h for i, h in enumerate(held) if i in refused]


def dead_letter(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Send each record's message to the webhooks dead-letter queue (its delivery exhausted); the
    ones not sent (left to the queue's own redrive, its ``maxReceiveCount``)."""
    url = os.environ.get("WEBHOOKS_DLQ_URL")
    if not url or not records:
        return records
    try:
        refused = set(queue.send_bodies(url, [(r["body"], 0) for r in records]))
    except Exception:                     # noqa: BLE001 - the queue's redrive is the backstop
        refused = set(range(len(records)))
    if refused:
        logger.warning("could not dead-letter exhausted webhook messages", extra={"messages": len(refused)})
    return [r for i, r in enumerate(records) if i in refused]


def postpone(waits: list[tuple[dict[str, Any], int]]) -> None:
    """Hold each ``(record, seconds)`` back ``seconds`` (its visibility timeout)."""
    url = _queue()
    if not url:
        return
    for start in range(0, len(waits), BATCH):
        part = waits[start:start + BATCH]
        try:
            answer = aws.client("sqs").change_message_visibility_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": r["receiptHandle"],
                 "VisibilityTimeout": min(s, domain.MAX_WAIT_SECONDS)} for i, (r, s) in enumerate(part)])
            failed = {int(f["Id"]): str(f.get("Code")) for f in answer.get("Failed", [])}
        except Exception as error:        # noqa: BLE001 - they come back after the queue's visibility
            failed = dict.fromkeys(range(len(part)), type(error).__name__)
        if failed:
            logger.warning("could not set webhook messages' visibility", extra={"messages": len(failed), "failed": [
                {"event_id": _event_of(part[i][0]), "why": why, "wait": part[i][1]} for i, why in failed.items()]})


def _event_of(record: dict[str, Any]) -> str | None:
    """The event a message's delivery is of (for the log)."""
    try:
        return str(json.loads(record["body"])["event_id"])
    except (KeyError, TypeError, ValueError):
        return None
