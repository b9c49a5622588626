"""The stream pump's delivery semantics, against a fake stream and fake handlers."""

from devstack.pump import Pump


def records(n, start=1):
    return [{"eventName": "INSERT", "dynamodb": {"SequenceNumber": str(i), "NewImage": {}}} for i in range(start, start + n)]


class FakeStream:
    def __init__(self, items):
        self.items = list(items)

    def __call__(self, limit):
        out, self.items = self.items[:limit], self.items[limit:]
        return out


def seqs(batch):
    return [r["dynamodb"]["SequenceNumber"] for r in batch["Records"]]


def test_a_clean_batch_is_delivered_once():
    seen = []
    pump = Pump("arn", FakeStream(records(5)), lambda b: seen.append(seqs(b)) or {"batchItemFailures": []}, lambda i: None)
    assert pump.drain() == 5
    assert seen == [["1", "2", "3", "4", "5"]]


def test_a_reported_failure_retries_from_that_record():
    seen = []
    fail_once = {"3"}

    def handler(batch):
        seen.append(seqs(batch))
        for s in seqs(batch):
            if s in fail_once:
                fail_once.discard(s)
                return {"batchItemFailures": [{"itemIdentifier": s}]}
        return {"batchItemFailures": []}

    pump = Pump("arn", FakeStream(records(5)), handler, lambda i: None, backoff=0)
    pump.drain()
    assert seen == [["1", "2", "3", "4", "5"], ["3", "4", "5"]]
    assert pump.delivered == 5 and pump.dead_lettered == 0


def test_a_poison_record_is_dead_lettered_after_the_retries_and_the_rest_flows():
    dead = []
    delivered = []

    def handler(batch):
        for s in seqs(batch):
            if s == "2":
                return {"batchItemFailures": [{"itemIdentifier": s}]}
            delivered.append(s)
        return {"batchItemFailures": []}

    pump = Pump("arn:stream", FakeStream(records(4)), handler, dead.append, max_retries=2, backoff=0)
    pump.drain()
    assert pump.dead_lettered == 1
    assert dead[0]["DDBStreamBatchInfo"]["startSequenceNumber"] == "2"
    assert dead[0]["DDBStreamBatchInfo"]["streamArn"] == "arn:stream"
    assert "3" in delivered and "4" in delivered


def test_a_raising_handler_is_bisected_down_to_the_poison_record():
    sizes = []
    dead = []

    def handler(batch):
        sizes.append(len(batch["Records"]))
        if "6" in seqs(batch):
            raise RuntimeError("poison")
        return None

    pump = Pump("arn", FakeStream(records(8)), handler, dead.append, max_retries=1, backoff=0)
    pump.drain()
    assert sizes[:3] == [8, 4, 2] or sizes[0] == 8
    assert [d["DDBStreamBatchInfo"]["startSequenceNumber"] for d in dead] == ["6"]
    assert pump.delivered + pump.dead_lettered == 8


def test_an_unknown_item_identifier_fails_the_whole_batch():
    calls = []

    def handler(batch):
        calls.append(seqs(batch))
        return {"batchItemFailures": [{"itemIdentifier": "nope"}]} if len(calls) == 1 else {}

    pump = Pump("arn", FakeStream(records(2)), handler, lambda i: None, backoff=0)
    pump.drain()
    assert calls[0] == ["1", "2"] and calls[1][0] == "1"


def test_records_the_filter_leaves_out_are_done_without_a_delivery():
    """Issue #24 item 7: the mapping's FilterCriteria (INSERT only) holds locally too."""
    seen = []
    removes = [{"eventName": "REMOVE", "dynamodb": {"SequenceNumber": s}} for s in ("3", "5")]
    stream = FakeStream(records(2) + [removes[0]] + records(1, start=4) + [removes[1]])
    pump = Pump("arn", stream, lambda b: seen.append(seqs(b)) or {"batchItemFailures": []}, lambda i: None)
    assert pump.drain() == 3
    assert seen == [["1", "2", "4"]] and pump.delivered == 5


def test_an_idle_pump_waits_for_a_write_and_delivers_what_it_wrote_at_once():
    """With the emulator's write count, a pump that found its stream empty does not poll again
    until a write (or its longest idle wait), and what the write put on the stream is delivered
    as soon as a polling pump would have (0.1 s after it)."""
    import threading
    import time

    from devstack.emulator import Writes

    class Counting(FakeStream):
        polls = 0

        def __call__(self, limit):
            self.polls += 1
            return super().__call__(limit)

    writes, stream, seen = Writes(), Counting([]), []
    delivered = threading.Event()
    pump = Pump("arn", stream, lambda b: seen.append(seqs(b)) or delivered.set() or {}, lambda i: None)
    pump.start(writes=writes, idle_most=30.0)
    try:
        time.sleep(1.0)
        assert stream.polls <= 2                 # polling at 0.1 s, it would have polled about ten times
        stream.items.extend(records(3))
        wrote_at = time.monotonic()
        writes.wrote()
        assert delivered.wait(5.0)
        assert time.monotonic() - wrote_at < 1.0 and seen == [["1", "2", "3"]]
    finally:
        pump.stop()


def test_a_write_between_a_look_and_the_wait_is_not_missed():
    """The count is read before the stream is: a write that lands after the look and before the
    wait ends the wait at once."""
    import time

    from devstack.emulator import Writes

    writes = Writes()
    seen = writes.count
    writes.wrote()                               # after the look, before the wait
    started = time.monotonic()
    assert writes.wait_past(seen, 30.0) is True
    assert time.monotonic() - started < 1.0
    assert writes.wait_past(writes.count, 0.05) is False
