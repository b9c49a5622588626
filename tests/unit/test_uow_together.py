"""Issue #10 item 13: a spend on an order makes its two reads at once (one round trip)."""

import threading

import pytest

from chalicelib.db.memory import MemoryBackend
from chalicelib.db.uow import UnitOfWork


def test_reads_made_together_run_at_the_same_time_and_keep_their_order():
    both = threading.Barrier(2, timeout=10)      # passes only when both reads are under way at once

    def read(value):
        def run():
            both.wait()
            return value
        return run
    assert UnitOfWork(backend=MemoryBackend()).together(read("batch"), read("query")) == ["batch", "query"]


def test_a_failing_read_fails_the_whole_and_the_others_finish_first():
    finished = []

    def slow():
        threading.Event().wait(0.05)
        finished.append("slow")
        return 1

    def broken():
        raise LookupError("the table is gone")
    with pytest.raises(LookupError):
        UnitOfWork(backend=MemoryBackend()).together(broken, slow)
    assert finished == ["slow"]
