"""The local stack's environment (devstack/stack.py ``local_environment``), which the stack puts in
its own process, where the API, the stream pumps and the jobs run (#24 item 4's read timeouts)."""

from __future__ import annotations

import pytest

from chalicelib.shared import aws
from chalicelib.shared.config import settings
from devstack.stack import local_environment


@pytest.fixture
def reread():
    settings.cache_clear()
    yield
    settings.cache_clear()


def test_the_stack_keeps_the_callers_read_timeout_for_what_it_runs(monkeypatch, reread):
    """A caller's AWS_READ_TIMEOUT_SECONDS (the benchmarks set 120 s) was replaced by the stack's
    5 s: a slow first query of the emulator after a bulk fill timed out."""
    monkeypatch.setenv("AWS_READ_TIMEOUT_SECONDS", "120")
    env = local_environment("http://127.0.0.1:4566")
    assert env["AWS_READ_TIMEOUT_SECONDS"] == "120"
    for name, value in env.items():                   # as LocalStack.start puts it in its process
        monkeypatch.setenv(name, value)
    settings.cache_clear()
    assert settings().aws_read_timeout == 120 and aws.config().read_timeout == 120
    monkeypatch.delenv("AWS_READ_TIMEOUT_SECONDS")
    assert local_environment("http://127.0.0.1:4566")["AWS_READ_TIMEOUT_SECONDS"] == "5"   # else the stack's
