"""The queue poller: what Lambda's SQS event source mapping does, done locally, for each SQS source
of the app (``continue-job`` on the jobs queue, ``deliver-webhooks`` on the webhooks queue).

moto keeps SQS queues but runs no event source mappings. A poller receives up to the source's
batch size of messages as the function's role (the mapping polls with it), with their attributes
(``ApproximateReceiveCount``, ``SentTimestamp``, ...), and invokes the handler with a Lambda-shaped
SQS event of those records. Then, as the mapping does:

* the handler returns: every message is deleted, except, for a source with
  ``ReportBatchItemFailures``, the ones its ``batchItemFailures`` name (they come back when their
  visibility ends: the wait the handler set, else the queue's). An answer that names a message
  not in the batch, or is not of that shape, fails the whole batch, as Lambda reads it;
* the handler raises: every message is kept and comes back after its visibility timeout.

What the poller need not do, because moto does it as SQS does (``tests/integration/test_queue_poller.py``
checks each): a receive moves a message that has already been received ``maxReceiveCount`` times
to the queue's dead-letter queue instead of returning it; a message sent with ``DelaySeconds`` is
not received (nor counted visible) before its delay; ``ChangeMessageVisibility`` holds a message
back for the wait given.

``workers`` threads poll side by side (Lambda runs several batches at once), so that one slow
batch does not hold up the others.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

VISIBILITY_SECONDS = 30          # the jobs queue: locally a part works 15 s at most (JOB_BUDGET_SECONDS)


def _message_attributes(message: dict[str, Any]) -> dict[str, Any]:
    """A message's attributes as Lambda's record spells them (``stringValue``, ``dataType``)."""
    shaped = {}
    for name, value in message.get("MessageAttributes", {}).items():
        shaped[name] = {"stringValue": value.get("StringValue"), "binaryValue": value.get("BinaryValue"),
                        "stringListValues": value.get("StringListValues", []),
                        "binaryListValues": value.get("BinaryListValues", []), "dataType": value["DataType"]}
        shaped[name] = {k: v for k, v in shaped[name].items() if v is not None}
    return shaped


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """The record Lambda hands an SQS-triggered function for one message."""
    return {"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"], "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": _message_attributes(message),
            "md5OfBody": message.get("MD5OfBody", ""), "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn, "awsRegion": queue_arn.split(":")[3]}


def sqs_event(messages: list[dict[str, Any]] | dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """The event Lambda hands an SQS-triggered function for a batch of messages (or one)."""
    batch = [messages] if isinstance(messages, dict) else messages
    return {"Records": [sqs_record(message, queue_arn) for message in batch]}


def failed_ids(answer: Any, batch: list[dict[str, Any]]) -> set[str]:
    """The message ids a ``ReportBatchItemFailures`` answer asks to keep: none for ``None`` or an
    empty list, every one of the batch for an answer Lambda cannot read (not a dict of
    ``batchItemFailures``, or an item that names no message of the batch)."""
    every = {message["MessageId"] for message in batch}
    if answer is None:
        return set()
    if not isinstance(answer, dict) or not isinstance(answer.get("batchItemFailures", []), list):
        return every
    failed = set()
    for item in answer.get("batchItemFailures") or []:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if identifier not in every:
            return every
        failed.add(identifier)
    return failed


# Each worker's receive waits up to this long for a message (a long poll: the emulator answers as
# soon as one arrives, as SQS does; Lambda's pollers wait 20 s). At 1 s, an idle stack's seven
# workers made seven requests a second; stop() waits for a receive to end (at most this long).
LONG_POLL_SECONDS = 5


class QueuePoller:
    """Delivers a queue's messages to ``invoke`` in batches of up to ``batch_size``, on ``workers``
    background threads. ``report_failures``: the source's ``FunctionResponseTypes`` has
    ``ReportBatchItemFailures``. ``visibility_seconds``: asked on each receive; None, the queue's."""

    def __init__(self, sqs: Any, queue_url: str, queue_arn: str, invoke: Callable[[dict[str, Any]], Any],
                 on_error: Callable[[Exception], None] = lambda e: None, *, batch_size: int = 1,
                 workers: int = 1, report_failures: bool = False, visibility_seconds: int | None = VISIBILITY_SECONDS,
                 name: str = "queue") -> None:
        self.sqs, self.queue_url, self.queue_arn, self.invoke, self.on_error = sqs, queue_url, queue_arn, invoke, on_error
        self.batch_size, self.workers, self.report_failures = batch_size, workers, report_failures
        self.visibility_seconds, self.name = visibility_seconds, name
        self.delivered = 0                 # messages done with (deleted after their handler returned)
        self.failed = 0                    # messages kept: reported failed, or their handler raised
        self._count = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def step(self, wait_seconds: int = 0) -> int:
        """Receive one batch and deliver it; how many messages were deleted."""
        asked: dict[str, Any] = {"QueueUrl": self.queue_url, "MaxNumberOfMessages": self.batch_size,
                                 "WaitTimeSeconds": wait_seconds, "AttributeNames": ["All"],
                                 "MessageAttributeNames": ["All"]}
        if self.visibility_seconds is not None:
            asked["VisibilityTimeout"] = self.visibility_seconds
        batch = self.sqs.receive_message(**asked).get("Messages", [])
        if not batch:
            return 0
        try:
            answer = self.invoke(sqs_event(batch, self.queue_arn))
        except Exception as error:  # noqa: BLE001 - every message comes back, as on AWS
            self.on_error(error)
            self._counted(0, len(batch))
            return 0
        keep = failed_ids(answer, batch) if self.report_failures else set()
        done = [m for m in batch if m["MessageId"] not in keep]
        if done:
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])
        self._counted(len(done), len(keep))
        return len(done)

    def _counted(self, delivered: int, failed: int) -> None:
        with self._count:
            self.delivered += delivered
            self.failed += failed

    def start(self) -> None:
        def run() -> None:
            while not self._stop.is_set():
                try:
                    self.step(wait_seconds=LONG_POLL_SECONDS)
                except Exception as error:  # noqa: BLE001 - the emulator stopping, say: keep polling
                    self.on_error(error)
                    self._stop.wait(1)
        self._threads = [threading.Thread(target=run, name=f"{self.name}-{i}", daemon=True)
                         for i in range(self.workers)]
        for thread in self._threads:
            thread.start()

    def signal_stop(self) -> None:
        self._stop.set()

    def stop(self) -> None:
        """Stop polling: every worker has until one long poll (and a little) from now, together."""
        self._stop.set()
        deadline = time.monotonic() + LONG_POLL_SECONDS + 5
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
