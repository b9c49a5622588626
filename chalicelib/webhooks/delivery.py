"""Delivering webhook messages from the webhooks queue (``deliver-webhooks``, an SQS source with
``ReportBatchItemFailures``).

A message names a delivery (program, subscription, event id). For each, side by side (a batch's
ten posts wait on ten receivers at once, so one slow receiver holds up no other's post):

1. the delivery record, read consistently: gone (expired), or already delivered, exhausted or
   dropped → nothing to do, the message is deleted (a duplicate message posts nothing twice);
2. the subscription: deleted or disabled → the delivery is ``dropped``;
3. a **lease** on the record (a conditional update: queued, or retrying and due, or its lease
   run out), which another copy of the message cannot also take. A copy that finds it leased is
   kept until the lease ends (:func:`_not_free`), never deleted: the holder's post may fail, and
   its retry needs a message (the holder's own may be this one);
4. one POST (:mod:`chalicelib.webhooks.sender`), signed with every live secret;
5. the attempt written beside the record (the delivery log) and the record's new status, in one
   transaction conditioned on the lease still being this one.

**In flight.** A failing or slow endpoint has at most two posts in flight per container
(:mod:`chalicelib.webhooks.gate`); its other messages are sent again a few seconds later, untried.

**Circuit breaker.** :data:`BREAK_AFTER` failed posts in a row pause the endpoint for
:data:`PAUSE_SECONDS`: a delivery due meanwhile is not posted. Seeing the pause (read at most once
a second per container), it skips steps 1-5: one conditional write puts it back on its schedule
(``retrying``, one more attempt, the reason in ``last_error``, no log line) and the message waits.
So a dead endpoint's backlog of a thousand messages costs one write each instead of a timeout
each, and healthy endpoints' messages are not held up behind it. A held delivery comes back
after the pause (at a random moment within twice the pause's length after it, so a backlog returns
a little at a time), or on its schedule if that is later. When the pause is over one delivery (the
first to move the pause on) tries the endpoint again while the others keep being held back; a
failure pauses the endpoint twice as long as before (up to 30 minutes: :func:`pause_seconds`), a
success closes the breaker.

2xx is ``delivered``. Anything else: ``retrying``, and the message's visibility is set to the
schedule's wait (:func:`chalicelib.webhooks.domain.wait_after`) and it is reported failed, so SQS
hands it back then. Attempts are counted on the delivery's record, never by the message's receives
(``ApproximateReceiveCount``): a receive that takes no attempt (a copy finding the delivery leased
or not yet due) brings nothing closer to exhaustion. The failure of the record's last attempt
(:func:`chalicelib.webhooks.domain.max_attempts`) is ``exhausted``: the handler sends the message
to the dead-letter queue and deletes it (if that send fails, it is reported failed with no wait,
and the queue's ``maxReceiveCount``, a backstop well past the attempts, moves it there). Each exhausted delivery extends
the subscription's streak; a streak of ``WEBHOOK_DISABLE_AFTER_EXHAUSTIONS`` (default 10) lasting
``WEBHOOK_DISABLE_AFTER_DAYS`` (default 3) disables the subscription and announces
``webhook.subscription_disabled``. A delivered one ends the streak.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pynamodb.expressions.condition import Condition

from chalicelib.db.items import expiry_in
from chalicelib.db.uow import UnitOfWork
from chalicelib.shared import clock
from chalicelib.shared.errors import Problem
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.ids import new_id
from chalicelib.shared.observability import count, logger
from chalicelib.webhooks import domain, gate, repository, requeue, sender, signing
from chalicelib.webhooks.tables import KEEP_DAYS, DeliveryItem, SubscriptionItem

ACTOR = "webhooks"
LEASE_SECONDS = 60            # longer than one post can take (8 s) and the writes around it
BREAK_AFTER = 5               # posts failed in a row that pause an endpoint
PAUSE_SECONDS = 60            # how long at first: then the next delivery due tries it again ...
MAX_PAUSE_SECONDS = 1_800     # ... and each failed try doubles the pause, up to this
CLOCK_SKEW_SECONDS = 2        # a retry's message may come back this much before its time by our clock
DONE, AGAIN, EXHAUSTED = None, -1, -2
FINAL = ("delivered", "exhausted", "dropped")      # a delivery nothing tries again (but a replay)


def handle(records: list[dict[str, Any]], remaining_ms: float | None) -> dict[str, list[dict[str, str]]]:
    """Deliver each SQS record; the ones to try again as ``batchItemFailures``."""
    if not records:
        return {"batchItemFailures": []}
    with ThreadPoolExecutor(max_workers=min(10, len(records)), thread_name_prefix="webhook") as pool:
        waits = list(pool.map(lambda r: contextvars.copy_context().run(_one, r), records))
    failed, held, postponed, dead = [], [], [], []
    for r, wait in zip(records, waits, strict=True):
        if wait is DONE:
            continue
        if wait == EXHAUSTED:
            dead.append(r)
            continue
        if isinstance(wait, Resend):
            held.append((r, wait.seconds))            # sent again: this one is done with
            continue
        if wait >= 0:                     # the schedule's wait, or 0: on to the dead-letter queue
            postponed.append((r, wait))
        failed.append(r)
    kept = requeue.resend(held)                      # not sent again: kept, with the same wait
    kept += [(r, 0) for r in requeue.dead_letter(dead)]   # not dead-lettered: the queue's redrive
    requeue.postpone(postponed + kept)
    failed = [{"itemIdentifier": r["messageId"]} for r in [*failed, *(r for r, _ in kept)]]
    return {"batchItemFailures": failed}


@dataclass(frozen=True)
class Resend:
    """Not tried: send the message again after ``seconds`` (:mod:`chalicelib.webhooks.gate`)."""
    seconds: int


def _one(record: dict[str, Any]) -> int | Resend | None:
    """Deliver one message: DONE (delete it), EXHAUSTED (to the dead-letter queue), or the seconds
    to wait before the next try."""
    try:
        m = json.loads(record["body"])
        receives = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
        return deliver(m["program"], m["subscription_id"], m["event_id"], receives)
    except Exception:                     # noqa: BLE001 - try again after the queue's visibility
        logger.exception("webhook delivery failed", extra={"message_id": record.get("messageId")})
        return AGAIN


def deliver(program: str, subscription_id: str, event_id: str, receives: int = 1) -> int | Resend | None:
    """Post one delivery; what :func:`_one` answers (``receives``: the message's, a lower bound
    of a held-back delivery's wait only)."""
    if wait := _hold_back(program, subscription_id, event_id, receives):
        return wait
    endpoint = f"{program}/{subscription_id}"
    ticket = gate.enter(endpoint)
    if ticket is None:                    # a failing or slow endpoint with its posts in flight
        count("WebhooksHeldInFlight")
        return Resend(gate.busy_seconds())
    posted: list[bool] = []
    try:
        return _deliver(program, subscription_id, event_id, receives, posted)
    finally:
        gate.leave(endpoint, ticket, posted[0] if posted else None)


def _deliver(program: str, subscription_id: str, event_id: str, receives: int, posted_ok: list[bool]) -> int | None:
    """The full path (steps 1-5); a post's outcome is appended to ``posted_ok``."""
    uow = UnitOfWork(ACTOR, program=program)
    repo = repository.of(uow)
    d = repo.delivery(subscription_id, event_id)
    if d is None or d.status in FINAL:
        return DONE
    s = repo.subscription(subscription_id, consistent=True)
    now = clock.now()
    if s is None or s.status != "enabled":
        _finish(program, d, [DeliveryItem.status.set("dropped")], None)
        return DONE
    lease = clock.iso(now + timedelta(seconds=LEASE_SECONDS))
    tried = int(d.attempts or 0) + 1      # this attempt, on the record (the lease counts it)
    if not _lease(program, d, lease, now):
        return _not_free(program, subscription_id, event_id)
    posted = not s.paused_until or (clock.parse_iso(s.paused_until) <= now and _probe(program, s, now))
    if not posted:
        outcome, at = sender.Outcome(None, 0, "", f"not posted: {int(s.failures or 0)} posts failed in a row; "
                                     f"the endpoint is paused until {s.paused_until}"), now
    else:
        outcome, at = post(program, s, d.event_id, d.body or "{}")
        posted_ok.append(outcome.ok)
        _breaker(program, s, outcome.ok, at)
    exhausted = not outcome.ok and tried >= domain.max_attempts()
    attempt = None if not posted and not exhausted else DeliveryItem(   # the log: posts, and the last word
        *DeliveryItem.attempt_key(subscription_id, event_id, new_id()), subscription_id=subscription_id,
        event_id=event_id, at=clock.iso(at), status_code=outcome.status_code, latency_ms=outcome.latency_ms,
        response=outcome.response or None, error=outcome.error, expires_at=expiry_in(KEEP_DAYS))
    status = "delivered" if outcome.ok else "exhausted" if exhausted else "retrying"
    wait = None if outcome.ok or exhausted else domain.wait_after(tried)
    _finish(program, d, _outcome(outcome, status, at, wait), DeliveryItem.lease_until == lease, attempt)
    count("WebhookAttempts")
    if outcome.ok:
        if s.exhausted_since:
            _end_streak(program, s)
        return DONE
    count("WebhookFailures")
    if exhausted:
        count("WebhooksExhausted")
        _extend_streak(program, s)
        return EXHAUSTED
    return wait


def _not_free(program: str, subscription_id: str, event_id: str) -> int | None:
    """A delivery this message could not lease, read again: done (DONE, the message is deleted), or
    the seconds to keep the message until it may be tried. A retry not yet due: back before its time
    (a wait SQS refused, a clock apart), it waits until due. Leased by another copy of this message
    (SQS's at-least-once, or a batch that outran the queue's visibility): it waits until that lease
    ends, and then finds the delivery done, or due again if the holder's post failed. It is never
    deleted while the holder's post is undecided: the holder's own message may be this one, and a
    wait it sets on a message deleted meanwhile fails, leaving a failed delivery that nothing
    would ever try again."""
    now = clock.now()
    d = repository.of(UnitOfWork(ACTOR, program=program)).delivery(subscription_id, event_id)
    if d is None or d.status in FINAL:
        return DONE
    until = d.next_attempt_at if d.status == "retrying" else d.lease_until if d.status == "delivering" else None
    if until is None or clock.parse_iso(until) <= now:
        return 1                          # free again meanwhile: tried in a second
    return max(1, int((clock.parse_iso(until) - now).total_seconds()) + CLOCK_SKEW_SECONDS + 1)


def _outcome(outcome: sender.Outcome, status: str, at: datetime, wait: int | None) -> list[Any]:
    """The delivery record's update for an attempt's outcome."""
    actions: list[Any] = [DeliveryItem.status.set(status), DeliveryItem.lease_until.remove(),
               DeliveryItem.last_error.set(outcome.error) if outcome.error else DeliveryItem.last_error.remove()]
    if outcome.status_code is not None:
        actions.append(DeliveryItem.last_status_code.set(outcome.status_code))
    if outcome.ok:
        actions.append(DeliveryItem.delivered_at.set(clock.iso(at)))
    if wait is not None:
        actions.append(DeliveryItem.next_attempt_at.set(clock.iso(at + timedelta(seconds=wait))))
    return actions


def _hold_back(program: str, subscription_id: str, event_id: str, receives: int) -> int | None:
    """A delivery to a paused endpoint: not posted, no lease, no log line; one conditional write
    puts it back on its schedule (``retrying``, one more attempt, the reason in ``last_error``) and
    the message waits. The pause is read from the repository's cache (at most a second old: a pause
    seen late costs one full path, one seen after it ended is at worst one delivery held back a
    schedule step). None: not paused, or the delivery is not free to try (done, leased, not due),
    or its record's next attempt is its last (posted, or failed for the pause, on the full path):
    the full path decides."""
    now = clock.now()
    uow = UnitOfWork(ACTOR, program=program)
    pause = repository.of(uow).pause(subscription_id)
    if pause is None or clock.parse_iso(pause[0]) <= now:
        return None
    # not before the pause ends: spread over twice the pause's length after it, so a backlog comes
    # back a little at a time, at most once a pause, and more thinly as the pauses grow
    until = (clock.parse_iso(pause[0]) - now).total_seconds()
    spread = 2 * pause_seconds(int(pause[1]))
    wait = min(domain.MAX_WAIT_SECONDS, max(domain.wait_after(receives), int(until + random.uniform(1, spread))))
    d = DeliveryItem(*DeliveryItem.key(subscription_id, event_id))
    uow.update(d, [DeliveryItem.status.set("retrying"), DeliveryItem.attempts.add(1),
                   DeliveryItem.lease_until.remove(),
                   DeliveryItem.next_attempt_at.set(clock.iso(now + timedelta(seconds=wait))),
                   DeliveryItem.last_error.set(f"not posted: {pause[1]} posts failed in a row; the endpoint "
                                               f"is paused until {pause[0]}")],
               DeliveryItem.sk.exists() & _free(now) & (DeliveryItem.attempts < domain.max_attempts() - 1))
    try:
        uow.commit()
    except Problem:
        return None
    count("WebhooksHeldBack")
    return wait


def _probe(program: str, s: SubscriptionItem, now: datetime) -> bool:
    """Whether this delivery is the one that tries a paused endpoint again, its pause over: the
    first to move the pause on (a conditional write) posts; every other delivery due meanwhile
    fails at once, so a dead endpoint sees one post a pause, not a burst."""
    uow = UnitOfWork(ACTOR, program=program)
    uow.update(s, [SubscriptionItem.paused_until.set(clock.iso(now + timedelta(seconds=PAUSE_SECONDS)))],
               SubscriptionItem.paused_until == s.paused_until)
    try:
        uow.commit()
    except Problem:
        return False
    return True


def _breaker(program: str, s: SubscriptionItem, ok: bool, at: datetime) -> None:
    """Count a post's outcome against its endpoint: :data:`BREAK_AFTER` failures in a row pause it
    for :data:`PAUSE_SECONDS` (each delivery due meanwhile fails at once, without a post, and
    follows its schedule), so a dead endpoint's backlog takes no poller's time from healthy ones;
    a success closes it."""
    uow = UnitOfWork(ACTOR, program=program)
    if ok:
        if not s.failures:
            return
        uow.update(s, [SubscriptionItem.failures.remove(), SubscriptionItem.paused_until.remove()])
    else:
        actions: list[Any] = [SubscriptionItem.failures.add(1)]
        failures = int(s.failures or 0) + 1
        pause = clock.iso(at + timedelta(seconds=pause_seconds(failures))) if failures >= BREAK_AFTER else None
        if pause:
            actions.append(SubscriptionItem.paused_until.set(pause))
        uow.update(s, actions, SubscriptionItem.status == "enabled")
    try:
        uow.commit()
    except Problem:                       # deleted or disabled meanwhile
        return
    if not ok and pause:
        repository.of(uow).paused(s.subscription_id, pause, int(s.failures or 0) + 1)


def pause_seconds(failures: int) -> int:
    """How long an endpoint is paused after ``failures`` posts failed in a row: :data:`PAUSE_SECONDS`
    when the breaker opens, doubled by each failed try after a pause, up to :data:`MAX_PAUSE_SECONDS`
    (so a dead endpoint is tried about 20 times a day, and its held deliveries come back as rarely)."""
    return min(MAX_PAUSE_SECONDS, PAUSE_SECONDS * 2 ** max(0, min(failures - BREAK_AFTER, 16)))


def post(program: str, s: SubscriptionItem, event_id: str, body: str) -> tuple[sender.Outcome, datetime]:
    """Sign ``body`` with the subscription's live secrets and post it once."""
    at = clock.now()
    keys = [signing.unseal(x, program, s.subscription_id) for x in signing.live(s.secret_list(), at)]
    return sender.post(s.url, body, signing.headers(event_id, body, keys, at)), at


def _free(now: datetime) -> Condition:
    """A delivery free to try now: a retry is due at its next_attempt_at (its message comes back
    then); a copy of the message arriving earlier finds it not due and is dropped, so duplicates
    never add attempts."""
    due = clock.iso(now + timedelta(seconds=CLOCK_SKEW_SECONDS))
    return DeliveryItem.status.is_in("queued", "sent") \
        | ((DeliveryItem.status == "retrying") & (DeliveryItem.next_attempt_at <= due)) \
        | ((DeliveryItem.status == "delivering") & (DeliveryItem.lease_until < clock.iso(now)))


def _lease(program: str, d: DeliveryItem, lease: str, now: datetime) -> bool:
    uow = UnitOfWork(ACTOR, program=program)
    uow.update(d, [DeliveryItem.status.set("delivering"), DeliveryItem.lease_until.set(lease),
                   DeliveryItem.attempts.add(1)], _free(now))
    try:
        uow.commit()
    except Problem:
        return False
    return True


def _finish(program: str, d: DeliveryItem, actions: list[Any], condition: Condition | None,
            attempt: DeliveryItem | None = None) -> None:
    uow = UnitOfWork(ACTOR, program=program)
    uow.update(d, actions, condition)
    if attempt is not None:
        uow.create(attempt)
    try:
        uow.commit()
    except Problem:
        logger.warning("a webhook delivery's lease ran out before its outcome was written",
                       extra={"event": d.event_id, "subscription": d.subscription_id})


def _end_streak(program: str, s: SubscriptionItem) -> None:
    uow = UnitOfWork(ACTOR, program=program)
    uow.update(s, [SubscriptionItem.exhausted_since.remove(), SubscriptionItem.exhausted_count.remove()],
               SubscriptionItem.exhausted_since.exists())
    with contextlib.suppress(Problem):   # ended by another delivery meanwhile
        uow.commit()


def disable_after() -> tuple[int, timedelta]:
    """(exhausted deliveries, over at least how long) that disable a subscription."""
    return (int(os.environ.get("WEBHOOK_DISABLE_AFTER_EXHAUSTIONS", "10")),
            timedelta(days=float(os.environ.get("WEBHOOK_DISABLE_AFTER_DAYS", "3"))))


def _extend_streak(program: str, s: SubscriptionItem) -> None:
    """Count an exhausted delivery; disable the subscription when the streak is long enough."""
    now = clock.now()
    times, period = disable_after()
    since = clock.parse_iso(s.exhausted_since) if s.exhausted_since else now
    streak = int(s.exhausted_count or 0) + 1
    uow = UnitOfWork(ACTOR, program=program)
    actions: list[Any] = [SubscriptionItem.exhausted_count.add(1)]
    if not s.exhausted_since:
        actions.append(SubscriptionItem.exhausted_since.set(clock.iso(now)))
    disable = streak >= times and now - since >= period
    if disable:
        reason = f"{streak} deliveries exhausted their retries since {clock.iso(since)}"
        actions += [SubscriptionItem.status.set("disabled"), SubscriptionItem.disabled_at.set(clock.iso(now)),
                    SubscriptionItem.disabled_reason.set(reason), SubscriptionItem.version.add(1)]
        uow.emit(DomainEvent("webhook.subscription_disabled", f"webhook:{s.subscription_id}", {
            "subscription_id": s.subscription_id, "reason": reason}, merchant_id=s.merchant_id))
    uow.update(s, actions, SubscriptionItem.status == "enabled")
    try:
        uow.commit()
    except Problem:
        return                            # disabled (or deleted) meanwhile
    if disable:
        repository.forget_cached()
        logger.warning("webhook subscription disabled", extra={"subscription": s.subscription_id})
