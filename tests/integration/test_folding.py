"""Issue #24 item 5: the program-wide projections fold a stream batch at once, one update per row,
on sharded rows, exactly once whatever the stream does with the batch (redelivered, retried from
a reported record, bisected) and through transaction conflicts."""

from __future__ import annotations

import json
from datetime import date

import pytest

from chalicelib.db.uow import UnitOfWork
from chalicelib.events import dispatch, folding
from chalicelib.points import projection
from chalicelib.points import repository as points_repository
from chalicelib.points.tables import LiabilityItem
from chalicelib.shared.events import DomainEvent
from chalicelib.stored_value import figures
from devstack import emulator
from tests.outbox import fail_fold_commit

DAY = "2026-05-01T04:00:00+00:00"


def _earn(i: int) -> DomainEvent:
    points = 10 + i
    return DomainEvent("points.earned", f"member:m{i}", {
        "point_type": "points", "kind": "earn", "amount": points, "member_id": f"m{i}",
        "lots": [{"delta": points, "expires_on": "2026-12-31"}]}, id=f"earn-{i:03d}", occurred_at=DAY,
        program_id="default", merchant_id="m1")


def _top_up(i: int) -> DomainEvent:
    fen = 100 * (i + 1)
    return DomainEvent("stored_value.topped_up", f"member:m{i}", {
        "entries": [{"account": "member:principal", "fen": -fen}, {"account": "cash_clearing", "fen": fen}]},
        id=f"topup-{i:03d}", occurred_at=DAY, program_id="default", merchant_id="m1")


def _records(events: list[DomainEvent]) -> list[dict]:
    return [{"eventName": "INSERT", "dynamodb": {"SequenceNumber": f"{n:021d}", "NewImage": {
        "payload": {"S": json.dumps(e.as_dict())}}}} for n, e in enumerate(events)]


EARNS = [_earn(i) for i in range(100)]
TOP_UPS = [_top_up(i) for i in range(100)]
POINTS = sum(10 + i for i in range(100))            # 5,950
FEN = sum(100 * (i + 1) for i in range(100))        # 505,000


def _figures() -> tuple[int, int, int, int]:
    uow = UnitOfWork()
    outstanding = sum(int(r.points or 0) for r in points_repository.of(uow).liability("points"))
    issued = projection.daily_totals(uow, "points", date(2026, 5, 1), date(2026, 5, 1))["issued"]
    balances = figures.balances(uow)
    return outstanding, issued, -balances.get("member:principal", 0), balances.get("cash_clearing", 0)


@pytest.fixture(autouse=True)
def only_these_projections(monkeypatch):
    """Only the two projections measured here: the other consumers of these events (the
    dashboard's, the balance sheet's history) are registered once anything in the session imported
    the app, and add transactions of their own."""
    real = dispatch.subscribers_of
    monkeypatch.setattr(dispatch, "subscribers_of", lambda event_type: [
        (name, fn) for name, fn in real(event_type) if name in (projection.CONSUMER, figures.CONSUMER)])


def test_a_batch_folds_into_one_update_per_row_and_equals_the_sum_of_its_events(aws):
    before = emulator.usage()
    assert dispatch.handle_records(_records(EARNS + TOP_UPS)) == {"batchItemFailures": []}
    used = emulator.usage().minus(before)
    assert _figures() == (POINTS, POINTS, FEN, FEN)
    # Both consumers at once: a marker an event (200) and their rows (points: the month's liability
    # and the day; prepaid: two accounts, their days and the issuer's day) in three transactions of
    # at most 100 items (two a consumer with a marker per consumer and event; before folding, a
    # transaction per event, 200 of them).
    assert used.by_operation["TransactWriteItems"][0] == 3
    assert used.wcu <= 2 * (200 + 2 * (2 + 5))


def test_a_redelivered_retried_or_bisected_batch_folds_exactly_once(aws):
    records = _records(EARNS + TOP_UPS)
    assert dispatch.handle_records(records[:30]) == {"batchItemFailures": []}      # a bisected half
    assert dispatch.handle_records(records[120:150]) == {"batchItemFailures": []}
    assert dispatch.handle_records(records) == {"batchItemFailures": []}           # then the whole batch
    assert dispatch.handle_records(records[57:]) == {"batchItemFailures": []}      # retried from a record
    assert dispatch.handle_records(records) == {"batchItemFailures": []}           # and redelivered
    assert _figures() == (POINTS, POINTS, FEN, FEN)


def test_a_failed_part_is_reported_from_its_first_event_and_the_retry_folds_once(aws, monkeypatch):
    records = _records(EARNS)
    fail_fold_commit(monkeypatch, nth=2)
    result = dispatch.handle_records(records)
    # the first part held 98 events (98 markers and 2 rows): the report starts at the 99th
    assert result == {"batchItemFailures": [{"itemIdentifier": records[98]["dynamodb"]["SequenceNumber"]}]}
    assert _figures()[0] == sum(10 + i for i in range(98))
    assert dispatch.handle_records(records[98:]) == {"batchItemFailures": []}
    assert _figures()[:2] == (POINTS, POINTS)


def test_a_conflicting_row_update_is_retried_in_the_consumer_and_folds_once(conflicts):
    conflicts.times = 3                      # the first transactions collide with another in flight
    assert dispatch.handle_records(_records(EARNS + TOP_UPS)) == {"batchItemFailures": []}
    assert conflicts.sent == 3
    assert _figures() == (POINTS, POINTS, FEN, FEN)


def test_conflicts_past_the_retries_fail_the_batch_and_its_retry_folds_once(conflicts):
    conflicts.times = folding.CONFLICT_TRIES
    records = _records(EARNS)
    assert dispatch.handle_records(records) == {"batchItemFailures": [
        {"itemIdentifier": records[0]["dynamodb"]["SequenceNumber"]}]}
    assert dispatch.handle_records(records) == {"batchItemFailures": []}
    assert _figures()[:2] == (POINTS, POINTS)


def test_rows_are_sharded_and_read_whole_with_the_unsharded_row_as_shard_zero(aws):
    # a liability row written before sharding (the old key) still counts
    UnitOfWork().put(LiabilityItem(*LiabilityItem.key("points", "2026-12"), month="2026-12", points=1_000))
    for n in range(0, 100, 10):                          # ten batches: ten transactions on random shards
        dispatch.handle_records(_records(EARNS[n:n + 10]))
    uow = UnitOfWork()
    shards = [list(uow.query(LiabilityItem, folding.shard_pk("PTSLIAB#points", s))) for s in range(folding.FOLD_SHARDS)]
    assert sum(1 for rows in shards if rows) > 2                  # spread over shards
    assert _figures()[0] == POINTS + 1_000
    [row] = points_repository.of(uow).liability("points")
    assert (row.pk, row.sk, row.points) == ("PTSLIAB#points", "EXP#2026-12", POINTS + 1_000)


def test_an_event_that_cannot_be_folded_is_reported_itself_and_those_before_it_are_folded(aws):
    broken = DomainEvent("points.earned", "member:x", {"point_type": "points", "kind": "earn"}, id="broken",
                         occurred_at=DAY, program_id="default")        # no amount: it cannot be folded
    records = _records(EARNS[:40] + [broken] + EARNS[40:])
    assert dispatch.handle_records(records) == {"batchItemFailures": [
        {"itemIdentifier": records[40]["dynamodb"]["SequenceNumber"]}]}
    assert _figures()[0] == sum(10 + i for i in range(40))
    assert dispatch.handle_records(records[41:]) == {"batchItemFailures": []}       # once it is dead-lettered
    assert _figures()[:2] == (POINTS, POINTS)


def test_the_issuance_migration_reads_every_shard_of_the_prepaid_accounts(aws):
    """The issuance counters start at what the figures hold: a stream that caught up on this code
    before the migration ran wrote the figures on every shard."""
    from chalicelib.db import migration
    from chalicelib.db.tables import MAIN
    from chalicelib.shared.config import settings
    from chalicelib.stored_value import counters
    assert [folding.shard_pk("PREPAID#ACCOUNTS", s) for s in range(folding.FOLD_SHARDS)] == migration.PREPAID_ACCOUNTS
    for n in range(0, 100, 10):
        dispatch.handle_records(_records(TOP_UPS[n:n + 10]))
    result = migration.migrate_issuance_counters(aws, MAIN.physical_name(settings()), counters.issuer_of)
    assert result["seeded"] == {"default/program": FEN}
