"""Every API request works to a deadline under API Gateway's 29 s, and no AWS call can outlast it
(#24 item 4): the deadline, the retry loops that stop at it, the clients' timeouts and attempts."""

from __future__ import annotations

import math
import time

import pytest

from chalicelib.shared import deadline, retry
from chalicelib.shared.config import settings


def test_a_request_works_to_its_lambdas_remaining_time_less_an_answer_and_never_past_the_budget():
    assert deadline.request_budget(None, 20, 3) == 20                  # no Lambda context: the budget
    assert deadline.request_budget(25_000, 20, 3) == 20                 # the budget first
    assert deadline.request_budget(12_000, 20, 3) == 9                  # the Lambda's end first, less the margin
    assert deadline.request_budget(1_000, 20, 3) == 0                   # nothing left: answer now


def test_a_deadline_is_only_open_within_its_block_and_an_inner_one_never_extends_it():
    assert deadline.left() == math.inf and deadline.allows(10**6)
    with deadline.within(5):
        assert 4 < deadline.left() <= 5
        with deadline.within(60):
            assert deadline.left() <= 5                                  # the outer one still holds
        with deadline.within(1):
            assert deadline.left() <= 1
        assert not deadline.allows(6)
    assert deadline.left() == math.inf


class Clock:
    """Time that passes only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now, self.pauses = 100.0, []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def test_a_retry_loop_gives_up_rather_than_pause_past_the_deadline(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(retry, "time", clock)
    monkeypatch.setattr(deadline, "time", clock)
    monkeypatch.setattr(retry.random, "uniform", lambda low, high: high)      # the longest pause each time
    contention = retry.Contention(100, first=0.1)
    with deadline.within(1.0):
        while contention.lost():
            pass
    assert clock.pauses == [0.2, 0.4] and contention.losses == 3      # 0.6 s gone: the next 0.8 s would pass 1 s
    assert retry.Contention(100, first=0.1).lost()                    # no deadline: it goes on


def test_every_aws_client_has_short_timeouts_and_a_bounded_number_of_attempts(monkeypatch):
    from chalicelib.db import items
    from chalicelib.shared import aws
    from infra.build import API_TIMEOUT_SECONDS
    for name in ("AWS_CONNECT_TIMEOUT_SECONDS", "AWS_READ_TIMEOUT_SECONDS", "AWS_CALL_ATTEMPTS",
                 "REQUEST_BUDGET_SECONDS"):
        monkeypatch.delenv(name, raising=False)            # the deployed values
    settings.cache_clear()
    try:
        dynamodb = items.connection("cn-north-1", "http://127.0.0.1:9").client.meta.config   # the one client
        secrets = aws.client("secretsmanager", region_name="cn-north-1").meta.config
        for made in (dynamodb, secrets, aws.config()):
            assert (made.connect_timeout, made.read_timeout) == (1, 2)
            assert made.retries == {"mode": "standard", "total_max_attempts": 3}
        # every attempt timing out, with botocore's longest pauses between them (1 s, then 2 s)
        assert aws.worst_call_seconds() == 3 * (1 + 2) + 1 + 2
        # a request stops retrying when one more call could outlast its Lambda, which API Gateway outlasts
        from chalicelib.api import endpoint
        budget = endpoint._seconds_to_work(_blueprint(API_TIMEOUT_SECONDS * 1000))
        assert budget == API_TIMEOUT_SECONDS - aws.worst_call_seconds() == 13
        assert budget + aws.worst_call_seconds() <= API_TIMEOUT_SECONDS < 29
    finally:
        settings.cache_clear()
        items.rebind()


def _blueprint(remaining_ms: int | None):
    class Context:
        def get_remaining_time_in_millis(self) -> int:
            assert remaining_ms is not None
            return remaining_ms

    class Blueprint:
        lambda_context = Context() if remaining_ms is not None else None
    return Blueprint()


@pytest.mark.parametrize("remaining_ms", [None, 60_000, 14_000])
def test_the_endpoint_opens_the_requests_deadline_from_the_lambda_context(remaining_ms):
    from chalicelib.api import endpoint
    from chalicelib.shared import aws
    budget = endpoint._seconds_to_work(_blueprint(remaining_ms))
    s = settings()
    assert budget == {None: s.request_budget_seconds, 60_000: s.request_budget_seconds,
                      14_000: 14 - aws.worst_call_seconds()}[remaining_ms]
    started = time.monotonic()
    with deadline.within(budget):
        assert deadline.left() <= budget and time.monotonic() - started < 1


def test_a_job_works_to_its_lambdas_time_less_a_minute_or_its_requests_and_at_most_the_setting(monkeypatch):
    """#24 item 2: a job run's deadline (chalicelib/jobs.py budget)."""
    from chalicelib import jobs
    monkeypatch.delenv("JOB_BUDGET_SECONDS", raising=False)
    assert jobs.budget(900_000) == 840 and jobs.budget(30_000) == 0          # a Lambda: its time less 60 s
    assert jobs.budget() == jobs.DEFAULT_BUDGET_SECONDS                       # a shell, a test
    with deadline.within(20):                                  # runJob: half the request's time left,
        assert 9.5 < jobs.budget() <= 10                       # the other half finishes and answers
    monkeypatch.setenv("JOB_BUDGET_SECONDS", "15")                            # locally
    assert jobs.budget(900_000) == 15 and jobs.budget() == 15
    monkeypatch.setenv("JOB_BUDGET_SECONDS", "7200")                          # the benchmark: one whole run
    assert jobs.budget() == 7200 and jobs.budget(900_000) == 840


def test_steps_are_measured_each_for_itself_and_another_is_taken_only_while_the_deadline_holds_it(monkeypatch):
    """A change in steps stops at the pace of its slowest step so far (chunked spends, checkout
    holds): a step measured inside another counts for itself only; before any step, the first is
    always allowed; outside a request nothing is measured and every step is allowed."""
    now = [1_000.0]
    monkeypatch.setattr(deadline, "time", type("Clock", (), {"monotonic": staticmethod(lambda: now[0])}))
    with deadline.measured():
        now[0] += 50
    assert deadline.slowest() == 0.0 and deadline.room_for(100, 100)      # no request: nothing measured
    with deadline.within(20):
        assert deadline.room_for(3, 5) and deadline.slowest() == 0.0       # the first step is always taken
        with deadline.measured():                                        # 1 s of its own around a 4 s step
            now[0] += 1
            with deadline.measured():
                now[0] += 4
        assert deadline.slowest() == 4.0                                 # not 5: each counts for itself
        assert deadline.room_for(3, 3) and not deadline.room_for(3, 4)   # 15 s left: 3 x 4 + 3 fits, + 4 not
        with deadline.measured():
            now[0] += 6
        assert deadline.slowest() == 6.0 and not deadline.room_for(1, 3.5)   # 9 s left
    with deadline.within(20):
        assert deadline.slowest() == 0.0                                 # each request measures its own
