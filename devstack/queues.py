"""The queue poller: what Lambda's SQS event source mapping does for ``continue-job``, done locally.

moto keeps SQS queues but runs no event source mappings. A job run that stops at its deadline
puts its continuation on the jobs queue (``chalicelib/jobs.py``); this poller receives each
message as the jobs role, invokes the handler with a Lambda-shaped SQS event of one record, and
deletes the message when the handler returns. A handler that raises leaves the message, which
comes back after the visibility timeout, as on AWS (the deployed queue then dead-letters it after
three receives; here it is simply tried again).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

VISIBILITY_SECONDS = 30          # locally a part works 15 s at most (JOB_BUDGET_SECONDS)


def sqs_event(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """The event Lambda hands an SQS-triggered function for one message."""
    return {"Records": [{"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"],
                         "body": message["Body"], "attributes": {}, "messageAttributes": {},
                         "md5OfBody": message.get("MD5OfBody", ""), "eventSource": "aws:sqs",
                         "eventSourceARN": queue_arn, "awsRegion": queue_arn.split(":")[3]}]}


class QueuePoller:
    """Delivers a queue's messages to ``invoke``, one at a time, on a background thread."""

    def __init__(self, sqs: Any, queue_url: str, queue_arn: str, invoke: Callable[[dict[str, Any]], Any],
                 on_error: Callable[[Exception], None] = lambda e: None) -> None:
        self.sqs, self.queue_url, self.queue_arn, self.invoke, self.on_error = sqs, queue_url, queue_arn, invoke, on_error
        self.delivered = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def step(self, wait_seconds: int = 0) -> int:
        """Receive and deliver at most one message; how many were delivered (0 or 1)."""
        messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=1,
                                            WaitTimeSeconds=wait_seconds,
                                            VisibilityTimeout=VISIBILITY_SECONDS).get("Messages", [])
        for message in messages:
            try:
                self.invoke(sqs_event(message, self.queue_arn))
            except Exception as error:  # noqa: BLE001 - the message comes back, as on AWS
                self.on_error(error)
                return 0
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            self.delivered += 1
        return len(messages)

    def start(self) -> None:
        def run() -> None:
            while not self._stop.is_set():
                try:
                    self.step(wait_seconds=1)
                except Exception as error:  # noqa: BLE001 - the emulator stopping, say: keep polling
                    self.on_error(error)
                    self._stop.wait(1)
        self._thread = threading.Thread(target=run, name="jobs-queue", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
