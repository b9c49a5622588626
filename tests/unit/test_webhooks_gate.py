"""The in-flight gate (chalicelib/webhooks/gate.py): a failing or slow endpoint gets at most two
posts at once per container; a proven one is not limited; an unproven one waits for its first
posts' outcome."""

from __future__ import annotations

import threading
import time

import pytest

from chalicelib.webhooks import gate


@pytest.fixture(autouse=True)
def fresh():
    gate.reset()
    yield
    gate.reset()


def test_a_proven_endpoint_is_not_limited():
    first = gate.enter("p/a")
    gate.leave("p/a", first, True)
    tickets = [gate.enter("p/a") for _ in range(10)]
    assert all(tickets) and gate.in_flight("p/a") == 10


def test_a_failing_endpoint_gets_two_posts_at_once_and_no_wait():
    t = gate.enter("p/a")
    gate.leave("p/a", t, False)
    held = [gate.enter("p/a"), gate.enter("p/a")]
    started = time.monotonic()
    assert all(held) and gate.enter("p/a") is None
    assert time.monotonic() - started < 0.2              # refused at once: known to fail
    gate.leave("p/a", held[0], None)                     # nothing posted: still failing, one slot free
    assert gate.enter("p/a") is not None and gate.enter("p/a") is None


def test_an_unproven_endpoint_waits_for_its_first_posts_and_goes_on_when_they_succeed():
    first = [gate.enter("p/a"), gate.enter("p/a")]
    got: list[int | None] = []
    waiter = threading.Thread(target=lambda: got.append(gate.enter("p/a")))
    waiter.start()
    time.sleep(0.2)
    assert not got                                       # waiting for the first outcomes
    gate.leave("p/a", first[0], True)
    waiter.join(1)
    assert got and got[0] is not None
    assert gate.enter("p/b") is not None                 # other endpoints are never held by this one


def test_an_endpoint_whose_post_is_slow_is_limited_even_when_proven(monkeypatch):
    monkeypatch.setattr(gate, "SLOW_SECONDS", 0.1)
    t = gate.enter("p/a")
    gate.leave("p/a", t, True)
    slow = [gate.enter("p/a"), gate.enter("p/a")]
    time.sleep(0.15)                                     # unanswered past SLOW_SECONDS
    assert gate.enter("p/a") is None
    assert all(slow)


def test_an_unproven_endpoint_that_stays_silent_is_refused_after_the_wait(monkeypatch):
    monkeypatch.setattr(gate, "PROVING_SECONDS", 0.2)
    assert gate.enter("p/a") and gate.enter("p/a")
    started = time.monotonic()
    assert gate.enter("p/a") is None
    assert 0.15 <= time.monotonic() - started < 1.0
    assert 5 <= gate.busy_seconds() <= 15
