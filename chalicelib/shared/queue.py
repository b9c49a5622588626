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
    refused = send_bodies(url, [(json.dumps(m), 0) for m in messages])
    if refused:
        raise RuntimeError(f"the queue refused {len(refused)} messages")


def send_bodies(url: str, bodies: list[tuple[str, int]]) -> list[int]:
    """Put each ``(body, delay seconds)`` on the queue at ``url``, ten a request (``SendMessageBatch``);
    the indexes of the ones SQS refused. A request that fails raises."""
    sqs, refused = aws.client("sqs"), []
    for start in range(0, len(bodies), 10):
        chunk = bodies[start:start + 10]
        sent = sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(n), "MessageBody": body, **({"DelaySeconds": delay} if delay else {})}
            for n, (body, delay) in enumerate(chunk)])
        refused += [start + int(f["Id"]) for f in sent.get("Failed", [])]
    return refused
