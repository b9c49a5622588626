"""The deploys across the folds' markers (#24 "Cost"): the old markers an event may have.

The folding consumers' exactly-once markers changed twice:

1. a marker per consumer and event (``APPLIED#<consumer>#<event id>``), each committed with that
   consumer's rows;
2. one marker per event for all its folding consumers (``APPLIED#folds#<event id>``, the scope
   :data:`EVENT_FOLDS`), committed with all their rows;
3. now one marker per stream record (an outbox item: one transaction's events of one subject) for
   all its events and their folding consumers (:mod:`chalicelib.events.folding`).

An event that older code folded, in some consumers or all, and that reaches the new code again (a
batch retried or bisected across the deploy, a dead-lettered record redriven after it) has no
record marker: without a look at the old ones it would be folded again. And a record may have been
folded in part by the per-event code (the batch was cut between events, or one of its events
failed in a consumer): its first events marked, the others not.

So an event **created before the cutover** (``FOLD_MARKERS_CUTOVER``, an ISO instant the
deployment sets: after the last invocation of any older code can have ended) is checked for both
kinds of old marker, strongly consistent reads in batches: an event's per-event marker leaves it
out of every consumer, a per-consumer marker out of that consumer; the rest of its record is folded
under the record's marker. An event created after the cutover was never seen by older code:
nothing is read. Its creation time is its id's (a ULID); an id that is not a ULID (tests,
hand-made events) is dated by ``occurred_at``, and one that cannot be dated is checked.

One instant serves both changes: a deploy moves it to its own end, and an event of before reads
both kinds (the per-consumer markers of an event created between the two deploys cannot exist: a
read of nothing). Unset, every event is checked (safe, a read unit or so per event and consumer):
a stage that never ran older markers (a new one, the local stack) sets any past instant. The read
stops happening a day after the cutover (the stream keeps records 24 hours, and the redrive reads
them from it), and this module can go 40 days after it, when the old markers have expired.
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
EVENT_FOLDS = "folds"        # the per-event marker of before the record's: APPLIED#folds#<event id>


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
    """Whether older code may have folded ``event`` (created before the cutover, or undated)."""
    instant = cutover()
    if instant is None:
        return True
    created = created_at(event)
    return created is None or created < instant


def folded_before(program: str, wanted: Iterable[tuple[str, DomainEvent]]) -> set[tuple[str, str]]:
    """Of the ``(consumer, event)`` pairs, those older code folded: ``(consumer, event id)`` whose
    per-consumer marker exists, or whose event's per-event marker does (every consumer of that
    event). Reads only the events that may have one."""
    from chalicelib.events.dispatch import AppliedMarker
    pairs = sorted({(name, event.id) for name, event in wanted if may_have_old_markers(event)})
    if not pairs:
        return set()
    keys = sorted(set(pairs) | {(EVENT_FOLDS, event_id) for _name, event_id in pairs})
    uow = UnitOfWork(program=program)
    found: set[tuple[str, str]] = set()
    for start in range(0, len(keys), KEYS_PER_READ):
        chunk = keys[start:start + KEYS_PER_READ]
        markers = uow.get_many(AppliedMarker, [AppliedMarker.key(scope, event_id) for scope, event_id in chunk])
        found |= {key for key, marker in zip(chunk, markers, strict=True) if marker is not None}
    done = {(name, event_id) for name, event_id in pairs if (name, event_id) in found or (EVENT_FOLDS, event_id) in found}
    count("FoldOldMarkersRead", len(keys))
    if done:
        count("FoldOldMarkersFound", len(done))
    return done
