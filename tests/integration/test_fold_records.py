"""#24 "Cost": one exactly-once marker per stream record for all the folding consumers of all its
events (``APPLIED#fold-record#<record id>``, the record's id its outbox item's key: its first
event's id), the batch cut between records, never inside one, and the deploy across the change
(events folded under the per-event or per-consumer markers of before are not folded again).

A record here is what the outbox writes for one transaction and subject: an earn's points, growth
and order events in one packed item. Every fold is checked against the from-scratch sum of the
events' deltas (``assert_folded_once``, shared with ``test_fold_markers.py``)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.db.items import expiry_in
from chalicelib.db.outbox import EventItem
from chalicelib.db.uow import UnitOfWork
from chalicelib.events import cutover, dispatch, folding
from chalicelib.events.folding import Deltas, folds
from chalicelib.events.stats import DailyStatsItem
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.ids import new_id
from tests.integration import machines
from tests.integration.test_fold_markers import (
    DAY,
    _expected,
    _markers,
    _pool,
    assert_folded_once,
    break_fold,
    only_folds,  # noqa: F401  (autouse: the folding consumers alone)
    side_by_side,
    step,
)
from tests.outbox import fail_fold_commit


def _earn(i: int) -> list[DomainEvent]:
    """An earn's record: its points, growth and order events, of one member, in staging order."""
    member, points = f"m{i}", 10 + i

    def event(kind: str, data: dict) -> DomainEvent:
        return DomainEvent(kind, f"member:{member}", {"member_id": member, **data}, id=new_id(), occurred_at=DAY,
                           program_id="default", merchant_id="m1")
    lots = [{"delta": points, "expires_on": f"2027-0{1 + i % 3}-28"}]
    return [event("points.earned", {"point_type": "points", "kind": "earn", "amount": points, "lots": lots}),
            event("growth.earned", {"point_type": "growth", "kind": "earn", "amount": points,
                                    "lots": [{"delta": points, "expires_on": "9999-12-31"}]}),
            event("order.earned", {"merchant_id": "m1", "order_id": f"o{i}", "amount_fen": 100 * points})]


def _records(batch: list[list[DomainEvent]]) -> list[dict]:
    """Lambda-shaped stream records: each an outbox item packing one record's events (keyed as the
    outbox keys it: its first event's subject and id)."""
    records = []
    for n, events in enumerate(batch):
        item = EventItem(events[0].subject, events[0].id, packed=[e.as_dict() for e in events], expires_at=expiry_in(1))
        image = item.serialize()
        image["events"] = {"B": base64.b64encode(image["events"]["B"]).decode()}
        records.append({"eventName": "INSERT", "dynamodb": {"SequenceNumber": f"{n:021d}", "NewImage": image}})
    return records


def _flat(batch: list[list[DomainEvent]]) -> list[DomainEvent]:
    return [event for record in batch for event in record]


def _record_markers(uow: UnitOfWork, batch: list[list[DomainEvent]]) -> list[bool]:
    firsts = [record[0] for record in batch]
    return [found for start in range(0, len(firsts), 100)               # BatchGetItem's 100 keys
            for found in _markers(uow, firsts[start:start + 100], folding.FOLDED)]


def _sequence(records: list[dict], n: int) -> dict:
    return {"itemIdentifier": records[n]["dynamodb"]["SequenceNumber"]}


def test_an_earns_record_is_folded_by_every_consumer_of_its_events_under_one_marker(aws):
    from devstack import emulator
    earns = [_earn(i) for i in range(10)]
    assert [bool(dispatch.folding_consumers(e.type)) for e in earns[0]] == [True, False, True]
    before = emulator.usage()
    assert dispatch.handle_records(_records(earns)) == {"batchItemFailures": []}
    used = emulator.usage().minus(before)
    assert_folded_once(_flat(earns))
    uow = UnitOfWork(program="default")
    assert all(_record_markers(uow, earns))
    assert not any(_markers(uow, _flat(earns), cutover.EVENT_FOLDS))       # no marker an event any more
    assert not any(_markers(uow, [record[2] for record in earns], folding.FOLDED))
    # one transaction: 10 markers (one a record, 2 WCU each; there were 20) and the consumers' rows
    assert used.by_operation["TransactWriteItems"][0] == 1
    assert used.wcu == 2 * (10 + len(_expected(_flat(earns))))


def test_a_batch_is_cut_between_records_and_a_failed_part_leaves_each_record_whole(db, monkeypatch):
    earns = [_earn(i) for i in range(120)]               # about 2 items a record: three transactions
    records = _records(earns)
    real = fail_fold_commit(monkeypatch, nth=2)
    [failure] = dispatch.handle_records(records)["batchItemFailures"]
    first_failed = [r["dynamodb"]["SequenceNumber"] for r in records].index(failure["itemIdentifier"])
    marked = _record_markers(UnitOfWork(program="default"), earns)
    assert any(marked) and not all(marked) and not marked[first_failed]
    assert all(marked[:first_failed])
    # each record all or none, in every consumer of every one of its events
    assert_folded_once(_flat([record for record, done in zip(earns, marked, strict=True) if done]))
    monkeypatch.setattr(folding, "_commit", real)
    assert dispatch.handle_records(records[first_failed:]) == {"batchItemFailures": []}
    assert_folded_once(_flat(earns))


def test_a_record_one_of_whose_events_fails_in_a_consumer_is_not_folded_at_all(db, monkeypatch):
    """The order event of the fifth earn cannot be folded: its points event (which can) is not
    folded either, the four records before it are, and the failure is reported from its record."""
    from chalicelib.orders import spend
    earns = [_earn(i) for i in range(10)]
    real = break_fold(monkeypatch, spend.fold, earns[4][2].id)
    records = _records(earns)
    assert dispatch.handle_records(records) == {"batchItemFailures": [_sequence(records, 4)]}
    assert_folded_once(_flat(earns[:4]))                 # no row holds any of the fifth record's events
    assert _record_markers(UnitOfWork(program="default"), earns) == [True] * 4 + [False] * 6
    monkeypatch.setattr(spend.fold, "fold", real)
    assert dispatch.handle_records(records[4:]) == {"batchItemFailures": []}
    assert_folded_once(_flat(earns))


def test_a_redelivered_retried_bisected_or_redriven_batch_of_records_folds_once(db):
    earns = [_earn(i) for i in range(60)]
    records = _records(earns)
    assert dispatch.handle_records(records[:20]) == {"batchItemFailures": []}     # a bisected half
    assert dispatch.handle_records(records[35:45]) == {"batchItemFailures": []}
    assert dispatch.handle_records(records) == {"batchItemFailures": []}          # the whole batch
    assert dispatch.handle_records(records[17:]) == {"batchItemFailures": []}     # retried from a record
    assert dispatch.dispatch_batch(earns[:50]) == (150, None)                     # what redrive-events runs
    assert_folded_once(_flat(earns))


def test_two_shards_conflicting_batches_of_records_fold_each_record_once(aws, conflicts):
    conflicts.times = 4
    left, right = [_earn(i) for i in range(40)], [_earn(i) for i in range(40)]
    side_by_side([_records(left), _records(right)])
    assert conflicts.sent == 4
    assert_folded_once(_flat(left + right))


@pytest.fixture
def wide():
    """Two folding consumers of ``test.wide`` events, 40 rows of an event's own each: an event
    fits in a transaction (80 rows), a record of two does not (160)."""
    def rows(prefix):
        def fold(event):
            deltas = Deltas()
            for i in range(40):
                deltas.add(DailyStatsItem, (f"{prefix}#{event.id}#{i}", "DAY#2026-05-01"), {"members_registered": 1},
                           scope=prefix, day="2026-05-01")
            return deltas
        return fold
    consumers = [folds("test-wide-a", "test.wide")(rows("WIDEA")), folds("test-wide-b", "test.wide")(rows("WIDEB"))]
    yield consumers
    for fn in consumers:
        dispatch.SUBSCRIBERS["test.wide"].remove((fn.name, fn))


def test_a_record_too_large_for_one_transaction_is_folded_consumer_by_consumer_once(db, monkeypatch, wide):
    record = [DomainEvent("test.wide", "program:x", {}, id=new_id(), occurred_at=DAY, program_id="default")
              for _ in range(2)]
    records = _records([record])
    fail_fold_commit(monkeypatch, nth=2)                 # the second consumer's transaction, once
    assert dispatch.handle_records(records) == {"batchItemFailures": [_sequence(records, 0)]}
    uow = UnitOfWork(program="default")
    assert _markers(uow, record, "test-wide-a") == [True, True]       # the first consumer, both events
    assert _markers(uow, record, "test-wide-b") == [False, False]
    assert _record_markers(uow, [record]) == [False]
    for _ in range(2):                                   # the retry, then a redelivery
        assert dispatch.handle_records(records) == {"batchItemFailures": []}
    assert _record_markers(uow, [record]) == [True]
    assert_folded_once(record)


# --- the deploy: markers of before ---------------------------------------------------------------
def _fold_as_the_per_event_code(event: DomainEvent) -> None:
    """What the code of one marker an event did: all the event's consumers that no per-consumer
    marker holds, under APPLIED#folds#<id>."""
    part = folding._Part("default")
    part.add(folding._Fold(0, event.id, event.occurred_at, {event.id: event},
                           {(c.name, event.id): c.deltas(event) for c in dispatch.folding_consumers(event.type)}))
    left = folding._without_old_markers(part)
    if left:
        folding._commit(cutover.EVENT_FOLDS, folding._Part("default", left))


def test_a_record_the_per_event_code_folded_in_part_folds_the_rest_once(db, monkeypatch):
    """Before the deploy the per-event code folded the first record's points event (its order
    event's part failed), and the per-consumer code one consumer of the second's; after it the
    batch is retried: every consumer folds every event once. Records after the cutover read nothing."""
    monkeypatch.setenv("FOLD_MARKERS_CUTOVER", "2999-01-01T00:00:00Z")       # every event before it
    cutover.cutover.cache_clear()
    earns = [_earn(i) for i in range(3)]
    _fold_as_the_per_event_code(earns[0][0])
    {c.name: c for c in dispatch.folding_consumers("points.earned")}["dashboard"](earns[1][0])
    for _ in range(2):
        assert dispatch.handle_records(_records(earns)) == {"batchItemFailures": []}
    assert_folded_once(_flat(earns))
    assert all(_record_markers(UnitOfWork(program="default"), earns))

    later = [_earn(3)]
    monkeypatch.setenv("FOLD_MARKERS_CUTOVER", "2000-01-01T00:00:00Z")       # every event after it
    cutover.cutover.cache_clear()
    read, get_many = [], UnitOfWork.get_many
    monkeypatch.setattr(UnitOfWork, "get_many", lambda self, model, keys: read.append(keys) or get_many(self, model, keys))
    assert dispatch.handle_records(_records(later)) == {"batchItemFailures": []}
    assert read == []
    assert_folded_once(_flat(earns + later))


# --- the property: any mix of deliveries folds every record once ---------------------------------
STEP = st.tuples(st.sampled_from(["deliver", "fail_part", "fail_event", "redrive"]), st.integers(0, 19),
                 st.integers(1, 20))
OLD = st.lists(st.tuples(st.integers(0, 39), st.sampled_from(["per-event", "points-figures", "dashboard",
                                                              "prepaid-figures", "daily-stats"])), max_size=10)


@settings(max_examples=machines.examples(25, False, 3), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(sizes=st.lists(st.integers(1, 3), min_size=20, max_size=20), old=OLD, steps=st.lists(STEP, max_size=8))
def test_any_mix_of_records_redeliveries_failures_and_redrives_folds_every_event_once(monkeypatch, sizes, old,
                                                                                      steps):
    """The pool's events grouped into records of one to three; before the deploy older code folded
    some events (all their consumers under a per-event marker, or one consumer under its own);
    then the records are delivered, redelivered, half-failed (a transaction, or one consumer's
    fold of one event) and redriven in any order; once the whole batch went through, every folded
    row is the from-scratch sum."""
    restore = machines.use("memory")
    try:
        events = _pool(sum(sizes))
        batch, start = [], 0
        for size in sizes:
            batch.append(events[start:start + size])
            start += size
        for index, kind in sorted(old, key=lambda entry: entry[1] == "per-event"):   # in the deploys' order
            event = events[index % len(events)]
            consumer = {c.name: c for c in dispatch.folding_consumers(event.type)}.get(kind)
            if kind == "per-event":
                _fold_as_the_per_event_code(event)
            elif consumer is not None:
                consumer(event)
        for kind, first, length in steps:
            part = batch[first:first + length]
            flat = _flat(part)
            step(monkeypatch, kind, part, _records(part), 1 + length % 3, flat[length % len(flat)].id)
        assert dispatch.handle_records(_records(batch)) == {"batchItemFailures": []}
        assert_folded_once(events)
    finally:
        restore()

