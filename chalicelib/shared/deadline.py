"""The time by which a unit of work must have answered: every retry loop stops at it.

API Gateway gives up on a request after 29 seconds, whatever its Lambda is still doing, and
answers the caller a 504 that says nothing about whether the change was made. So a request must
answer first: the endpoint opens a deadline for each request (:func:`within`), from the Lambda's
remaining time less the time it needs to answer, and never later than the configured budget, and
every loop that waits and tries again (:class:`chalicelib.shared.retry.Contention`, the wait for
a turn on a contended member, the back-off of a batch read) gives up at it, answering 503 with
``Retry-After`` instead. Outside a request (a job, a test) there is no deadline unless one is
opened.

The deadline is a context variable: each request's thread (the local server) or invocation (a
Lambda) sees its own.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_AT: ContextVar[float | None] = ContextVar("deadline", default=None)


def left() -> float:
    """Seconds before the current deadline (``inf`` when none is open; never below 0)."""
    at = _AT.get()
    return math.inf if at is None else max(0.0, at - time.monotonic())


def allows(seconds: float) -> bool:
    """Whether a pause (or a wait) of ``seconds`` from now still ends before the deadline."""
    return seconds < left()


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """Work to a deadline ``seconds`` from now (an earlier deadline already open still holds)."""
    at = time.monotonic() + seconds
    outer = _AT.get()
    token = _AT.set(at if outer is None else min(at, outer))
    try:
        yield
    finally:
        _AT.reset(token)


def request_budget(remaining_ms: float | None, budget: float, margin: float) -> float:
    """Seconds a request may work: its Lambda's remaining time (``remaining_ms``, None without a
    Lambda context) less ``margin`` to answer, and at most ``budget`` (the gateway's clock starts
    before the Lambda's: a cold start is on it too)."""
    if remaining_ms is None:
        return budget
    return max(0.0, min(budget, remaining_ms / 1000 - margin))
