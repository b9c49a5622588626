"""Where a webhook delivery the benchmark waited for in vain is: its event in the outbox, its
delivery record and attempts, and the messages naming it on the webhooks queue and its dead-letter
queue (read inside the in-process emulator, so that looking moves no message's visibility).

The verdict: ``late`` (not delivered yet, but a message will bring it back: a retry scheduled after
the bench's wait), ``lost`` (not delivered, and no message names it: nothing will ever try it
again), ``dead-lettered``, ``no delivery`` (the fan-out made no record), or the record's final
status."""

from __future__ import annotations

import json
import time
from typing import Any

from bench.__main__ import ACCOUNT, REGION

PROGRAM = "default"                 # the bench's staff token acts in the default program


def _event_id(member_id: str) -> str | None:
    from chalicelib.db import tenancy
    from chalicelib.db.outbox import EventItem, events_of
    stored = events_of(EventItem.query(tenancy.physical(PROGRAM, f"member:{member_id}")))
    return next((e.id for e in stored if e.type == "member.registered"), None)


def _messages(stack, event_id: str) -> list[dict[str, Any]]:
    """Every message on the webhooks queue or its dead-letter queue that names ``event_id``."""
    from moto.sqs.models import sqs_backends
    now = time.time() * 1000
    found = []
    for url in (stack.webhooks_queue_url, stack.webhooks_dlq_url):
        queue = sqs_backends[ACCOUNT][REGION].queues[url.rsplit("/", 1)[1]]
        for m in list(queue._messages):
            if json.loads(m.body).get("event_id") == event_id:
                found.append({"queue": queue.name, "message_id": m.id, "receives": m.approximate_receive_count,
                              "visible_in_s": round(max(0.0, m.visible_at - now) / 1000, 1),
                              "delayed_in_s": round(max(0.0, m.delayed_until - now) / 1000, 1)})
    return found


def trace(stack, subscription_id: str, member_id: str) -> dict[str, Any]:
    """What became of ``member_id``'s registration event's delivery to ``subscription_id``."""
    from chalicelib.db.backend import SortKey
    from chalicelib.db.uow import UnitOfWork
    from chalicelib.webhooks import repository
    from chalicelib.webhooks.tables import DeliveryItem, partition
    event_id = _event_id(member_id)
    found: dict[str, Any] = {"member_id": member_id, "event_id": event_id}
    if event_id is None:
        return {**found, "verdict": "no event in the outbox"}
    uow = UnitOfWork("bench", program=PROGRAM)
    d = repository.of(uow).delivery(subscription_id, event_id)
    messages = _messages(stack, event_id)
    found["messages"] = messages
    if d is None:
        return {**found, "verdict": "no delivery"}
    found["delivery"] = {k: getattr(d, k) for k in ("status", "attempts", "lease_until", "next_attempt_at",
                                                     "delivered_at", "last_status_code", "last_error")}
    found["attempts"] = [{"at": a.at, "status_code": a.status_code, "latency_ms": a.latency_ms, "error": a.error}
                         for a in uow.query(DeliveryItem, partition(subscription_id, event_id),
                                            SortKey.prefix(event_id + "#"))]
    if d.status in ("delivered", "exhausted", "dropped"):
        verdict = d.status
    elif any(m["queue"] == stack.webhooks_queue_url.rsplit("/", 1)[1] for m in messages):
        verdict = "late"
    else:
        verdict = "dead-lettered" if messages else "lost"
    return {**found, "verdict": verdict}
