"""The deploy from per-consumer folding markers to one marker per event (#24 "Cost").

Until this change every folding consumer wrote its own marker per event
(``APPLIED#<consumer>#<event id>``); now one marker (``APPLIED#folds#<event id>``) covers all the
folding consumers of an event, committed with all their rows (:mod:`chalicelib.events.folding`).
An event the old code folded, in some consumers or all, and that reaches the new code again (a
batch retried or bisected across the deploy, a dead-lettered record redriven after it) has no new
marker: without a look at the old ones it would be folded again.

So an event **created before the cutover** (``FOLD_MARKERS_CUTOVER``, an ISO instant the
deployment sets: after the last invocation of the old code can have ended) is checked for its old
markers, one strongly consistent read per consumer (batched), and each consumer that has one is
left out of the event's fold. An event created after it was never seen by the old code: nothing is
read. Its creation time is its id's (a ULID); an id that is not a ULID (tests, hand-made events)
is dated by ``occurred_at``, and one that cannot be dated is checked.

Unset, every event is checked (safe, and about one read unit per event and consumer): a stage
that never ran the old markers (a new one, the local stack) sets any past instant. The read stops
happening a day after the cutover (the stream keeps records 24 hours, and the redrive reads
them from the stream), and this module can go 40 days after it, when the old markers have expired.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache

from ulid import ULID

from chalicelib.db.uow import UnitOfWork
from chalicelib.shared import clock
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.observability import count

KEYS_PER_READ = 100          # BatchGetItem's limit


@lru_cache(maxsize=1)
def cutover() -> datetime | None:
    """The configured cutover instant (None: not configured, every event is checked)."""
    text = os.environ.get("FOLD_MARKERS_CUTOVER", "").strip()
    return clock.parse_iso(text) if text else None         # a zone is required: a typo fails loudly


def created_at(event: DomainEvent) -> datetime | None:
    """When the event was created: its ULID's time, else its ``occurred_at`` (None: unknown)."""
    try:
        return ULID.from_str(event.id).datetime
    except ValueError:
        pass
    try:
        return clock.parse_iso(event.occurred_at)
    except (TypeError, ValueError):
        return None


def may_have_old_markers(event: DomainEvent) -> bool:
    """Whether the old code may have folded ``event`` (created before the cutover, or undated)."""
    instant = cutover()
    if instant is None:
        return True
    created = created_at(event)
    return created is None or created < instant


def folded_before(program: str, wanted: Iterable[tuple[str, DomainEvent]]) -> set[tuple[str, str]]:
    """Of the ``(consumer, event)`` pairs, those the old code folded: ``(consumer, event id)``
    whose per-consumer marker exists. Reads only the events that may have one."""
    from chalicelib.events.dispatch import AppliedMarker
    keys = sorted({(name, event.id) for name, event in wanted if may_have_old_markers(event)})
    if not keys:
        return set()
    uow = UnitOfWork(program=program)
    found: set[tuple[str, str]] = set()
    for start in range(0, len(keys), KEYS_PER_READ):
        chunk = keys[start:start + KEYS_PER_READ]
        markers = uow.get_many(AppliedMarker, [AppliedMarker.key(name, event_id) for name, event_id in chunk])
        found |= {key for key, marker in zip(chunk, markers, strict=True) if marker is not None}
    count("FoldOldMarkersRead", len(keys))
    if found:
        count("FoldOldMarkersFound", len(found))
    return found
