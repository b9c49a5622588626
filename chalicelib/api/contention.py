"""Queueing the requests of one process that keep losing races on the same record.

DynamoDB settles a race with a failed condition: the loser re-reads and tries again. When many
requests of *one process* (a threaded server: ``make run``, a container) race on one account, each
retry costs the others a retry too and the work grows with the square of the crowd. A request that
lost once therefore retries holding a process-local lock named by what it contends for (the
member in its path; else the record its lost race names, ``ConcurrentUpdate.record``; else its
path), so its neighbours wait their turn instead of stampeding, and requests racing for nothing in
common (two members' checkout commits) never wait for each other. Across processes (one Lambda
container per request) the lock is uncontended and the jittered retries alone settle the race.

Locks are counted and dropped when their last holder leaves: memory stays bounded by the number of
requests in flight, whatever the number of members.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from chalicelib.shared import deadline
from chalicelib.shared.errors import Busy

WAIT_SECONDS = 20.0            # past this, or the request's deadline, it answers 503 + Retry-After


class _Entry:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0


_entries: dict[str, _Entry] = {}
_guard = threading.Lock()


@contextmanager
def queued(resource: str, wait: float | None = None) -> Iterator[None]:
    """Hold the process-local turn for ``resource`` (raises :class:`Busy` after ``wait`` seconds,
    by default :data:`WAIT_SECONDS`, or at the request's deadline if that comes first)."""
    with _guard:
        entry = _entries.setdefault(resource, _Entry())
        entry.users += 1
    try:
        if not entry.lock.acquire(timeout=min(WAIT_SECONDS if wait is None else wait, deadline.left())):
            raise Busy(f"too many requests are changing {resource} at once; retry", retry_after=1)
        try:
            yield
        finally:
            entry.lock.release()
    finally:
        with _guard:
            entry.users -= 1
            if entry.users == 0:
                _entries.pop(resource, None)


def waiting() -> int:
    """How many resources have requests queued or in their turn (for tests)."""
    with _guard:
        return len(_entries)
