"""The time by which a unit of work must have answered: every retry loop stops at it.

API Gateway gives up on a request after 29 seconds, whatever its Lambda is still doing, and
answers the caller a 504 that says nothing about whether the change was made. So a request must
answer first: the endpoint opens a deadline for each request (:func:`within`), from the Lambda's
remaining time less the time it needs to answer, and never later than the configured budget, and
every loop that waits and tries again (:class:`chalicelib.shared.retry.Contention`, the wait for
a turn on a contended member, the back-off of a batch read) gives up at it, answering 503 with
``Retry-After`` instead. Outside a request (a job, a test) there is no deadline unless one is
opened.

Work done in steps (a spend from a thousand lots, a checkout's holds, a request's tries after
lost races) also measures its steps (:func:`measured`) and takes another only if the time left
holds it and what must follow, at the pace of the slowest step this request has measured
(:func:`room_for`): under load a step may take seconds, so no fixed margin or count answers in
time.

The deadline is a context variable: each request's thread (the local server) or invocation (a
Lambda) sees its own.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class _Pace:
    slowest: float = 0.0      # the slowest step measured in this request (seconds)
    nested: float = 0.0       # time of the steps measured inside the one being measured


_AT: ContextVar[float | None] = ContextVar("deadline", default=None)
_PACE: ContextVar[_Pace | None] = ContextVar("deadline_pace", default=None)


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
    pace = _PACE.set(_PACE.get() if outer is not None else _Pace())
    try:
        yield
    finally:
        _PACE.reset(pace)
        _AT.reset(token)


@contextmanager
def measured() -> Iterator[None]:
    """Time one step of work (its reads and its transaction) for :func:`room_for`. A step measured
    inside another counts for itself only: the outer one counts the rest of its time."""
    pace = _PACE.get()
    if pace is None:
        yield
        return
    outer_nested, pace.nested = pace.nested, 0.0
    started = time.monotonic()
    try:
        yield
    finally:
        spent = time.monotonic() - started
        pace.slowest = max(pace.slowest, spent - pace.nested)
        pace.nested = outer_nested + spent


def slowest() -> float:
    """The slowest step measured in this request so far (0 before any)."""
    pace = _PACE.get()
    return pace.slowest if pace is not None else 0.0


def room_for(steps: float, margin: float) -> bool:
    """Whether ``steps`` more steps, each as slow as the slowest measured in this request, and
    ``margin`` seconds still end before the deadline. True before any step is measured: a request
    always takes its first step (so each try of a change in steps gets further)."""
    pace = slowest()
    return pace == 0.0 or steps * pace + margin <= left()


def request_budget(remaining_ms: float | None, budget: float, margin: float) -> float:
    """Seconds a request may work: its Lambda's remaining time (``remaining_ms``, None without a
    Lambda context) less ``margin`` to answer, and at most ``budget`` (the gateway's clock starts
    before the Lambda's: a cold start is on it too)."""
    if remaining_ms is None:
        return budget
    return max(0.0, min(budget, remaining_ms / 1000 - margin))
