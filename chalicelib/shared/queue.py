"""Sending JSON messages to an SQS queue named by an environment variable (the jobs' continuations,
the webhooks' deliveries), or, with no queue configured (in-process tests), keeping them in a list
for the test to hand on."""

from __future__ import annotations

import json
import os
from typing import Any

from chalicelib.shared import aws


def send(queue_url_variable: str, messages: list[dict[str, Any]], waiting: list[dict[str, Any]]) -> None:
    """Put ``messages`` on the queue at ``$queue_url_variable``, ten a request (or append them to
    ``waiting``); raises when the queue refuses any, so the caller's work is retried."""
    url = os.environ.get(queue_url_variable)
    if not url:
        waiting.extend(messages)
        return
    sqs = aws.client("sqs")
    for start in range(0, len(messages), 10):
        chunk = messages[start:start + 10]
        sent = sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(n), "MessageBody": json.dumps(m)} for n, m in enumerate(chunk)])
        if sent.get("Failed"):
            raise RuntimeError(f"the queue refused {len(sent['Failed'])} messages")
