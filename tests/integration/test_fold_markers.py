"""#24 "Cost": one exactly-once marker for all the folding consumers of a batch's event, committed
with all their rows, and the deploy across the change (events folded under the old per-consumer
markers are not folded again). The records here hold one event each (the outbox's old shape), so
their marker is the record's (``APPLIED#fold-record#<id>``, :data:`folding.FOLDED`): records of
several events are ``test_fold_records.py``'s.

Every fold is checked against the from-scratch sum: each row the consumers' folds of the events
give (:meth:`Folding.deltas`, the pure part), added up in Python, against the row as read back
(its shards summed)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.db.uow import UnitOfWork
from chalicelib.events import cutover, dispatch, folding
from chalicelib.events.dispatch import AppliedMarker
from chalicelib.events.folding import Deltas, Folding, folds, read_shards
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.ids import new_id
from tests.integration import machines
from tests.outbox import fail_fold_commit

DAY = "2026-05-01T04:00:00+00:00"
NEXT = "2026-05-02T04:00:00+00:00"


def _earn(i: int, at: str = DAY, merchant: str = "m1") -> DomainEvent:
    points = 10 + i
    return DomainEvent("points.earned", f"member:m{i % 7}", {
        "point_type": "points", "kind": "earn", "amount": points, "member_id": f"m{i % 7}",
        "lots": [{"delta": points, "expires_on": f"2027-0{1 + i % 3}-28"}]}, id=new_id(), occurred_at=at,
        program_id="default", merchant_id=merchant)


def _redeem(i: int, at: str = DAY) -> DomainEvent:
    points = 1 + i % 5
    return DomainEvent("points.redeemed", f"member:m{i % 7}", {
        "point_type": "points", "kind": "redeem", "amount": points, "member_id": f"m{i % 7}",
        "lots": [{"delta": -points, "expires_on": "2027-01-28"}]}, id=new_id(), occurred_at=at,
        program_id="default", merchant_id="m2")


def _top_up(i: int, at: str = DAY) -> DomainEvent:
    fen = 100 * (i + 1)
    return DomainEvent("stored_value.topped_up", f"member:m{i % 7}", {
        "principal_delta": fen, "bonus_delta": 0,
        "entries": [{"account": "member:principal", "fen": -fen}, {"account": "cash_clearing", "fen": fen}]},
        id=new_id(), occurred_at=at, program_id="default", merchant_id="m1")


def _registered(i: int, at: str = DAY) -> DomainEvent:
    return DomainEvent("member.registered", f"member:r{i}", {"member_id": f"r{i}", "merchant_id": "m1"},
                       id=new_id(), occurred_at=at, program_id="default", merchant_id="m1")


MAKERS = (_earn, _redeem, _top_up, _registered)


def _pool(n: int) -> list[DomainEvent]:
    """``n`` events of every folded kind in turn, on two days."""
    return [MAKERS[i % len(MAKERS)](i, DAY if i % 3 else NEXT) for i in range(n)]


def _records(events: list[DomainEvent]) -> list[dict]:
    return [{"eventName": "INSERT", "dynamodb": {"SequenceNumber": f"{n:021d}", "NewImage": {
        "payload": {"S": json.dumps(e.as_dict())}}}} for n, e in enumerate(events)]


def _expected(events: Iterable[DomainEvent]) -> dict[tuple, dict[str, int]]:
    """The from-scratch sum: per row, each counter over every event and folding consumer."""
    rows: dict[tuple, dict[str, int]] = {}
    for event in events:
        for consumer in dispatch.folding_consumers(event.type):
            for row, (adds, _sets) in consumer.deltas(event).rows.items():
                total = rows.setdefault(row, {})
                for name, delta in adds.items():
                    total[name] = total.get(name, 0) + delta
    return rows


def _stored(rows: Iterable[tuple]) -> dict[tuple, dict[str, int]]:
    """The same rows as the table holds them, their shards summed."""
    uow = UnitOfWork(program="default")
    out: dict[tuple, dict[str, int]] = {}
    for model, pk, sk in rows:
        merged = {row.sk: row for row in read_shards(uow, model, pk)}
        out[(model, pk, sk)] = {}
        if sk in merged:
            out[(model, pk, sk)] = {name: int(getattr(merged[sk], name) or 0)
                                    for name in _expected_fields(model, pk, sk)}
    return out


_FIELDS: dict[tuple, set[str]] = {}


def _expected_fields(model, pk, sk) -> set[str]:
    return _FIELDS[(model, pk, sk)]


def assert_folded_once(events: list[DomainEvent]) -> None:
    """Every folded row equals the sum of the events' deltas: each event folded exactly once."""
    expected = _expected(events)
    for row, adds in expected.items():
        _FIELDS[row] = set(adds)
    stored = _stored(expected)
    wrong = {row: (stored[row], want) for row, want in expected.items()
             if {k: v for k, v in stored[row].items() if v} != {k: v for k, v in want.items() if v}}
    assert not wrong, wrong


@pytest.fixture(autouse=True)
def only_folds(monkeypatch):
    """The folding consumers alone (the per-member ones need members, and are not the subject)."""
    import app  # noqa: F401  (registers every consumer)
    dispatch.PROVIDERS.load()
    real = dispatch.subscribers_of
    monkeypatch.setattr(dispatch, "subscribers_of", lambda event_type: [
        (name, fn) for name, fn in real(event_type) if isinstance(fn, Folding)])
    cutover.cutover.cache_clear()
    yield
    cutover.cutover.cache_clear()


def _markers(uow: UnitOfWork, events: list[DomainEvent], scope: str) -> list[bool]:
    found = uow.get_many(AppliedMarker, [AppliedMarker.key(scope, e.id) for e in events])
    return [m is not None for m in found]


# --- step 1: one marker per event ------------------------------------------------------------------
def test_an_earn_is_folded_by_its_three_consumers_under_one_marker(aws):
    from devstack import emulator
    earns = [_earn(i) for i in range(10)]
    assert {c.name for c in dispatch.folding_consumers("points.earned")} == {        # (in import order)
        "points-figures", "balance-sheet-history", "dashboard"}
    before = emulator.usage()
    assert dispatch.handle_records(_records(earns)) == {"batchItemFailures": []}
    used = emulator.usage().minus(before)
    assert_folded_once(earns)
    uow = UnitOfWork(program="default")
    assert all(_markers(uow, earns, folding.FOLDED))
    for name in ("points-figures", "balance-sheet-history", "dashboard"):
        assert not any(_markers(uow, earns, name))                   # no per-consumer marker any more
    # one transaction: 10 markers (2 WCU each) and the rows of the three consumers (liability
    # months, the points day, the balance sheet's months, the dashboard's program and merchant days)
    assert used.by_operation["TransactWriteItems"][0] == 1
    rows = len(_expected(earns))
    assert used.wcu == 2 * (10 + rows)


def test_a_part_that_fails_leaves_its_events_in_no_consumer_and_the_retry_folds_them_once(aws, monkeypatch):
    events = _pool(240)                              # more rows and markers than one transaction holds
    records = _records(events)
    real = fail_fold_commit(monkeypatch, nth=2)
    result = dispatch.handle_records(records)
    [failure] = result["batchItemFailures"]
    first_failed = [r["dynamodb"]["SequenceNumber"] for r in records].index(failure["itemIdentifier"])
    uow = UnitOfWork(program="default")
    marked = _markers(uow, events[:100], folding.FOLDED) + _markers(uow, events[100:200], folding.FOLDED) \
        + _markers(uow, events[200:], folding.FOLDED)
    assert not all(marked) and any(marked) and not marked[first_failed]
    # all or none per event: the folded rows are exactly the marked events' sum, in every consumer
    assert_folded_once([e for e, done in zip(events, marked, strict=True) if done])
    monkeypatch.setattr(folding, "_commit", real)
    assert dispatch.handle_records(records[first_failed:]) == {"batchItemFailures": []}
    assert_folded_once(events)


def test_a_consumer_that_fails_for_one_event_stops_every_consumer_there(aws, monkeypatch):
    events = [_earn(i) for i in range(20)]
    from chalicelib.reports import dashboard
    real = break_fold(monkeypatch, dashboard.fold, events[12].id)
    records = _records(events)
    assert dispatch.handle_records(records) == {"batchItemFailures": [
        {"itemIdentifier": records[12]["dynamodb"]["SequenceNumber"]}]}
    assert_folded_once(events[:12])                  # the others' rows too: none has event 12 or after
    monkeypatch.setattr(dashboard.fold, "fold", real)
    assert dispatch.handle_records(records[12:]) == {"batchItemFailures": []}
    assert_folded_once(events)


def break_fold(monkeypatch, consumer: Folding, event_id: str) -> Any:
    """``consumer``'s fold raises for the event ``event_id`` (a bug, or an event it cannot read);
    returns the real fold, to put back."""
    real = consumer.fold

    def breaks_on_one(event):
        if event.id == event_id:
            raise KeyError("amount")
        return real(event)

    monkeypatch.setattr(consumer, "fold", breaks_on_one)
    return real


def test_an_event_too_large_for_one_transaction_is_folded_consumer_by_consumer_once(aws, monkeypatch):
    """An event whose rows in all its consumers pass 99: each consumer's rows with its own marker,
    then the event's marker; a retry at any point folds each consumer once."""
    from chalicelib.events.stats import DailyStatsItem
    wide = folds("test-wide-a", "test.wide")(lambda e: _rows(DailyStatsItem, "WIDEA", 60))
    other = folds("test-wide-b", "test.wide")(lambda e: _rows(DailyStatsItem, "WIDEB", 60))
    try:
        event = DomainEvent("test.wide", "program:x", {}, id=new_id(), occurred_at=DAY, program_id="default")
        fail_fold_commit(monkeypatch, nth=2)                        # the second consumer's commit, once
        records = _records([event])
        assert dispatch.handle_records(records)["batchItemFailures"]
        uow = UnitOfWork(program="default")
        assert _markers(uow, [event], "test-wide-a") == [True] and _markers(uow, [event], folding.FOLDED) == [False]
        for _ in range(2):                                          # the retry, then a redelivery
            assert dispatch.handle_records(records) == {"batchItemFailures": []}
        assert _markers(uow, [event], folding.FOLDED) == [True]
        assert_folded_once([event])
    finally:
        for fn in (wide, other):
            dispatch.SUBSCRIBERS["test.wide"].remove((fn.name, fn))


def _rows(model, prefix: str, n: int) -> Deltas:
    deltas = Deltas()
    for i in range(n):
        deltas.add(model, (f"{prefix}#{i}", "DAY#2026-05-01"), {"members_registered": 1}, scope=prefix,
                   day="2026-05-01")
    return deltas


def test_two_shards_batches_on_the_same_rows_at_once_fold_each_event_once(aws, conflicts):
    """Two stream shards' batches fold into the same program rows side by side (and collide now
    and then), each redelivered once: every row is the sum of both."""
    conflicts.times = 4
    left, right = _pool(120), _pool(120)
    side_by_side([_records(left), _records(right)])
    assert_folded_once(left + right)


def side_by_side(batches: list[list[dict]]) -> None:
    """Each batch of stream records handled twice in a thread of its own, all at once (stream
    shards side by side): every delivery handles the whole batch."""
    errors: list[BaseException] = []

    def shard(records):
        try:
            for _ in range(2):
                assert dispatch.handle_records(records) == {"batchItemFailures": []}
        except BaseException as error:        # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=shard, args=(records,)) for records in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


def test_a_redrive_of_a_batch_folded_in_part_folds_the_rest_once(aws):
    from chalicelib.events import redrive
    events = _pool(60)
    assert dispatch.handle_records(_records(events[:25])) == {"batchItemFailures": []}
    handled, stopped = redrive.dispatch_batch(events)                # what redrive-events runs
    assert (handled, stopped) == (60, None)
    assert_folded_once(events)


# --- step 2: the deploy across the change ----------------------------------------------------------
def test_an_event_with_an_old_marker_is_skipped_by_that_consumer_and_one_without_is_folded_once(aws, monkeypatch):
    """Before the deploy the old code folded ``old`` into two of its three consumers (their
    per-consumer markers) and then failed; after it the batch is retried: each consumer folds each
    event once. Events after the cutover are not checked (no read)."""
    from devstack import emulator
    monkeypatch.setenv("FOLD_MARKERS_CUTOVER", "2999-01-01T00:00:00Z")       # every event before it
    cutover.cutover.cache_clear()
    old, fresh = _earn(1), _earn(2)
    consumers = {c.name: c for c in dispatch.folding_consumers("points.earned")}
    consumers["points-figures"](old)                           # the old code: a marker per consumer
    consumers["dashboard"](old)
    assert dispatch.handle_records(_records([old, fresh])) == {"batchItemFailures": []}
    assert dispatch.handle_records(_records([old, fresh])) == {"batchItemFailures": []}   # and again
    assert_folded_once([old, fresh])

    later = _earn(3)
    monkeypatch.setenv("FOLD_MARKERS_CUTOVER", "2000-01-01T00:00:00Z")       # every event after it
    cutover.cutover.cache_clear()
    before = emulator.usage()
    assert dispatch.handle_records(_records([later])) == {"batchItemFailures": []}
    assert "BatchGetItem" not in emulator.usage().minus(before).by_operation
    assert_folded_once([old, fresh, later])


def test_the_cutover_dates_an_event_by_its_ulid_and_else_by_its_time(monkeypatch):
    monkeypatch.setenv("FOLD_MARKERS_CUTOVER", "2026-06-01T00:00:00+08:00")
    cutover.cutover.cache_clear()
    ulid_now = DomainEvent("x", "s", {}, occurred_at="2020-01-01T00:00:00+00:00")   # the id's time is now
    assert not cutover.may_have_old_markers(ulid_now)
    assert cutover.may_have_old_markers(DomainEvent("x", "s", {}, id="e-1", occurred_at=DAY))
    assert not cutover.may_have_old_markers(DomainEvent("x", "s", {}, id="e-1", occurred_at="2026-06-01T00:00:00Z"))
    assert cutover.may_have_old_markers(DomainEvent("x", "s", {}, id="e-1", occurred_at="not a time"))
    monkeypatch.delenv("FOLD_MARKERS_CUTOVER")
    cutover.cutover.cache_clear()
    assert cutover.may_have_old_markers(ulid_now)               # unset: every event is checked


# --- the property: any mix of deliveries folds every event once ------------------------------------
STEP = st.one_of(
    st.tuples(st.just("deliver"), st.integers(0, 39), st.integers(1, 40)),
    st.tuples(st.just("fail_part"), st.integers(0, 39), st.integers(1, 40)),
    st.tuples(st.just("fail_event"), st.integers(0, 39), st.integers(1, 40)),
    st.tuples(st.just("redrive"), st.integers(0, 39), st.integers(1, 40)),
)
OLD = st.lists(st.tuples(st.integers(0, 39), st.sampled_from(
    ["points-figures", "balance-sheet-history", "dashboard", "prepaid-figures", "daily-stats"])), max_size=12)


@settings(max_examples=machines.examples(25, False, 3), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(old=OLD, steps=st.lists(STEP, max_size=8))
def test_any_mix_of_redeliveries_failures_and_redrives_folds_every_event_once(monkeypatch, old, steps):
    """Before the deploy the old code folded some events into some consumers (per-consumer
    markers); then the new code gets the batch's parts delivered, redelivered, half-failed (a
    transaction or one consumer's fold of one event) and redriven in any order; once the whole
    batch went through, every folded row is the from-scratch sum."""
    restore = machines.use("memory")
    try:
        events = _pool(40)
        for index, name in old:
            consumer = {c.name: c for c in dispatch.folding_consumers(events[index].type)}.get(name)
            if consumer is not None:
                consumer(events[index])
        for kind, start, length in steps:
            part = events[start:start + length]
            step(monkeypatch, kind, part, _records(part), 1 + length % 3, part[length % len(part)].id)
        assert dispatch.handle_records(_records(events)) == {"batchItemFailures": []}
        assert_folded_once(events)
    finally:
        restore()


def step(monkeypatch, kind: str, part: list, records: list[dict], nth: int, victim: str) -> None:
    """One step of a property: the part's stream ``records`` delivered, redriven (``part``, as the
    redrive passes it), or half-failed: its ``nth`` folding transaction, or the dashboard's fold
    of the event ``victim``."""
    if kind == "deliver":
        assert dispatch.handle_records(records) == {"batchItemFailures": []}
    elif kind == "redrive":
        assert dispatch.dispatch_batch(part)[1] is None
    elif kind == "fail_part":
        with monkeypatch.context() as m:
            m.setattr(folding, "_commit", _fails_at(folding._commit, nth))
            dispatch.handle_records(records)
    else:
        with monkeypatch.context() as m:
            m.setattr(Folding, "deltas", _fails_for(Folding.deltas, victim))
            dispatch.handle_records(records)


def _fails_at(real, n: int):
    calls = {"n": 0}

    def commit(scope, part):
        calls["n"] += 1
        if calls["n"] == n:
            raise RuntimeError("throttled")
        real(scope, part)
    return commit


def _fails_for(real, event_id: str):
    def deltas(self, event):
        if event.id == event_id and self.name == "dashboard":
            raise RuntimeError("cannot fold")
        return real(self, event)
    return deltas
