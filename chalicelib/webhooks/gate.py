"""A container's posts in flight to each endpoint: a failing or slow endpoint gets at most
:data:`MAX_IN_FLIGHT` at once, so its timeouts hold up two of a batch's posts, never a batch's
worth (nor every batch's) before its circuit breaker has seen enough failures to open.

An endpoint is *proven* once a post to it from this container succeeded, and stays so until one
fails or one has been in flight longer than :data:`SLOW_SECONDS` (a dead endpoint shows nothing
until the read timeout: without this, every message taken in those seconds would post into the
same silence). Beyond :data:`MAX_IN_FLIGHT` posts at once:

* to a proven endpoint: no limit (a batch's ten posts go side by side);
* to an endpoint not yet proven (a new container, a new subscription): the post waits up to
  :data:`PROVING_SECONDS` for the first posts' outcome, so a healthy endpoint's batch goes on within
  one post's time;
* to a failing or slow one, or still unproven after the wait: the message is not tried. The
  handler sends it again with a short delay (:func:`busy_seconds`) and lets the original go, so it
  costs no DynamoDB request, no attempt and no receive of its message (the receive count still
  counts attempts, towards the dead-letter queue).

Per container, as Lambda runs it: deliver-webhooks' reserved concurrency bounds the whole.
"""

from __future__ import annotations

import itertools
import random
import threading
import time

MAX_IN_FLIGHT = 2             # posts at once to a suspect endpoint, per container
SLOW_SECONDS = 3.0            # a post unanswered this long makes its endpoint suspect (a healthy one
                              # answers well within it; a dead one shows nothing until 5 s)
PROVING_SECONDS = 1.0         # how long a post to an endpoint not yet proven waits for the first outcomes
BUSY_SECONDS = (5, 15)        # a held message is sent again with a delay in this range: about the time
                              # the posts in flight take to answer or time out (3 s + 5 s)

_changed = threading.Condition()
_posts: dict[str, dict[int, float]] = {}      # endpoint -> ticket -> started (monotonic)
_proven: set[str] = set()                     # endpoints whose last post from here succeeded
_failing: set[str] = set()                    # endpoints whose last post from here failed
_tickets = itertools.count(1)


def enter(endpoint: str) -> int | None:
    """A ticket to post to ``endpoint`` now, or None: not to be tried now (above)."""
    deadline = time.monotonic() + PROVING_SECONDS
    with _changed:
        while True:
            now = time.monotonic()
            posts = _posts.setdefault(endpoint, {})
            slow = any(now - t > SLOW_SECONDS for t in posts.values())
            if len(posts) < MAX_IN_FLIGHT or (endpoint in _proven and not slow):
                ticket = next(_tickets)
                posts[ticket] = now
                return ticket
            if endpoint in _failing or slow or now >= deadline:
                return None
            _changed.wait(deadline - now)


def leave(endpoint: str, ticket: int, ok: bool | None) -> None:
    """The post of ``ticket`` is over: ``ok`` its outcome (None: nothing was posted)."""
    with _changed:
        posts = _posts.get(endpoint, {})
        posts.pop(ticket, None)
        if not posts:
            _posts.pop(endpoint, None)
        if ok:
            _failing.discard(endpoint)
            _proven.add(endpoint)
        elif ok is not None:
            _failing.add(endpoint)
            _proven.discard(endpoint)
        _changed.notify_all()


def in_flight(endpoint: str) -> int:
    """Posts to ``endpoint`` in flight from this container."""
    with _changed:
        return len(_posts.get(endpoint, {}))


def busy_seconds() -> int:
    """The delay of a message held back: a few seconds, jittered so a backlog does not return at once."""
    return random.randint(*BUSY_SECONDS)


def reset() -> None:
    """Forget every endpoint (tests)."""
    with _changed:
        _posts.clear()
        _failing.clear()
        _proven.clear()
