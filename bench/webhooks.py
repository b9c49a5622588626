"""Webhook delivery on the local stack (#25 "Measure"): latency from the write to the receiver's
2xx, the fan-out and delivery cost per event per subscription, and whether a dead endpoint's
backlog slows a healthy one.

Every figure comes from real HTTP: registrations over the API, the stream pump, the fan-out, the
webhooks queue and its poller, receivers on 127.0.0.1. The local pump and poller poll (the stream
every 50 ms or so, the queue with 1 s long polls), so latencies here are the local stack's, not
Lambda's; the cost figures are DynamoDB's units, which do not depend on that.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

from bench.__main__ import _client, percentile
from bench.webhook_trace import trace
from devstack import emulator
from tests.webhook_receiver import Receiver

BASE = "/v1/webhooks/subscriptions"
WAIT_SECONDS = 1_200          # for every delivery to the healthy endpoint beside a dead one
LATE_SECONDS = 900            # more for one whose posts failed under the load: the schedule's first three waits
                              # (10 s, 1 min, 5 min, +20%) and a wait SQS failed to set (60 s locally)


def _register(send, tag: str, n: int, pace: float = 0.0) -> dict[str, float]:
    """``n`` registrations; member id -> when its write was answered (time.time())."""
    written = {}
    for i in range(n):
        mid = send("/v1/members", {"phone": f"1377{tag}{i:06d}"})["member_id"]
        written[mid] = time.time()
        if pace:
            time.sleep(pace)
    return written


def _arrivals(receiver: Receiver, written: dict[str, float]) -> dict[str, float]:
    """Member id -> when its event's first post reached ``receiver``."""
    arrived: dict[str, float] = {}
    for post in list(receiver.posts):
        mid = post["body"]["data"].get("member_id")
        if mid in written and mid not in arrived:
            arrived[mid] = post["at"]
    return arrived


def _latencies(receiver: Receiver, written: dict[str, float]) -> list[float]:
    """Milliseconds from each write to its first post's arrival at ``receiver``."""
    arrived = _arrivals(receiver, written)
    return [(arrived[m] - written[m]) * 1000 for m in written if m in arrived]


def _settle(stack, receiver: Receiver | None, n: int, timeout: float = 600) -> None:
    stack.drain(timeout)
    if receiver is not None:
        receiver.wait_for(n, timeout)
    stack.wait_webhooks_idle(timeout)


def _usage_of(stack, send, tag: str, n: int) -> Any:
    before = emulator.usage()
    _register(send, tag, n)
    stack.drain(600)
    stack.wait_webhooks_idle(600)
    return emulator.usage().minus(before)


def webhook_delivery(stack, events: int = 200, dead_events: int = 1_000) -> dict[str, Any]:
    """The three measures, on a stack whose pumps and webhooks poller run."""
    _, send, _ = _client(stack, "wh")
    results: dict[str, Any] = {}

    # 1. latency over ``events`` registrations, one subscription
    healthy = Receiver()
    sub = send(BASE, {"url": healthy.url, "filters": ["member.registered"]})
    time.sleep(1.5)                     # the fan-out's cache of subscriptions (1 s) sees it
    written = _register(send, "1", events, pace=0.02)
    _settle(stack, healthy, events)
    lat = _latencies(healthy, written)
    results["latency_ms"] = {"events": len(lat), "p50": round(percentile(lat, 50), 1),
                             "p99": round(percentile(lat, 99), 1)}

    # 2. cost per event per subscription: the same registrations with and without the subscription
    k = min(events, 100)
    with_sub = _usage_of(stack, send, "2", k)
    send(f"{BASE}/{sub['subscription_id']}", method="DELETE")
    time.sleep(1.5)
    without = _usage_of(stack, send, "3", k)
    results["per_event_per_subscription"] = {
        "events": k,
        "requests": round((with_sub.requests - without.requests) / k, 2),
        "rcu": round((with_sub.rcu - without.rcu) / k, 2),
        "wcu": round((with_sub.wcu + with_sub.wcu_index - without.wcu - without.wcu_index) / k, 2)}

    # 3. the baseline: the same number of events to two healthy endpoints (the emulator's own pace)
    results["beside_a_healthy_endpoint"] = _beside(stack, send, Receiver(), "5", dead_events)

    # 4. a dead endpoint (answers nothing: every post is cut off at 8 s) with ``dead_events``
    # deliveries beside a healthy one: the healthy one's latency, against the baseline
    results["beside_a_dead_endpoint"] = _beside(stack, send, Receiver(answer=lambda n: (200, 30.0)), "4", dead_events)
    healthy.close()
    return results


def _late(stack, fine: Receiver, written: dict[str, float], subscription_id: str) -> list[dict[str, Any]]:
    """The deliveries to ``fine`` still missing after :data:`WAIT_SECONDS`, traced
    (:mod:`bench.webhook_trace`): each one late (its retry scheduled: a post refused or timed out
    under the load) is waited for up to :data:`LATE_SECONDS` more; one lost, or still missing then,
    fails the bench, named with what became of it."""
    missing = sorted(set(written) - set(_arrivals(fine, written)))
    if not missing:
        return []
    traces = [trace(stack, subscription_id, mid) for mid in missing]
    print("webhooks bench: deliveries missing at the healthy endpoint:", json.dumps(traces, indent=2), flush=True)
    if all(t["verdict"] == "late" for t in traces):
        with contextlib.suppress(AssertionError):
            fine.wait_for(len(written), LATE_SECONDS)
    arrived = _arrivals(fine, written)
    if any(t["member_id"] not in arrived for t in traces):
        raise AssertionError(f"{len(missing)} of {len(written)} deliveries did not reach the healthy endpoint in "
                             f"{WAIT_SECONDS:,} s (late ones {LATE_SECONDS} s more): {json.dumps(traces)}")
    return [{"event_id": t["event_id"], "arrived_after_s": round(arrived[t["member_id"]] - written[t["member_id"]], 1),
             "failed_posts": [a["error"] or a["status_code"] for a in t.get("attempts", [])]} for t in traces]


def _beside(stack, send, other: Receiver, tag: str, events: int) -> dict[str, Any]:
    """``events`` registrations delivered to ``other`` and to a healthy endpoint: the healthy one's
    latencies, and how many posts ``other`` saw."""
    dead = other
    fine = Receiver()
    subs = [send(BASE, {"url": r.url, "filters": ["member.registered"]})["subscription_id"] for r in (dead, fine)]
    time.sleep(1.5)
    started = time.time()
    written = _register(send, tag, events)
    stack.drain(WAIT_SECONDS)
    with contextlib.suppress(AssertionError):     # (a dead one's messages go on retrying for hours)
        fine.wait_for(events, WAIT_SECONDS)
    seconds = round(time.time() - started, 1)
    late = _late(stack, fine, written, subs[1])
    lat = _latencies(fine, written)
    found = {"events": events, "healthy_delivered": len(lat), "healthy_p50_ms": round(percentile(lat, 50), 1),
             "healthy_p99_ms": round(percentile(lat, 99), 1), "dead_posts": len(dead.posts),
             "seconds": seconds, "healthy_late": late}
    for s in subs:
        send(f"{BASE}/{s}", method="DELETE")
    for r in (dead, fine):
        r.close()
    return found
