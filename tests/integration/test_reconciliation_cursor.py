"""Reconciliations at a real program's scale (#24 item 8): the jobs check a page of every shard
per run from where the last run stopped, so successive runs cover every account exactly once per
pass, whatever the program's size (what a proof compares is read by key: the listings name the
accounts; ``test_reconciliation_index_lag.py`` shows why)."""

from __future__ import annotations

import zlib
from collections import defaultdict
from datetime import UTC, datetime

from chalicelib.db.uow import UnitOfWork
from chalicelib.points.tables import ACCOUNT_SHARDS, AccountItem
from chalicelib.shared import clock

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
PER_16 = ACCOUNT_SHARDS // 16          # the accounts below were counted for 16 shards: as many per shard


def shard_of(member_id: str) -> int:
    return zlib.crc32(member_id.encode()) % ACCOUNT_SHARDS


def test_successive_runs_check_every_account_exactly_once_per_pass_and_wrap_around(db, monkeypatch):
    """40 accounts per 16 shards, a page of 2: each run checks at most 2 accounts of each
    shard, from where the last run stopped; each shard's checks are its accounts in listing order,
    over and over (a pass each), and the progress shows a full pass once every shard has done one."""
    from chalicelib.points import reconcile
    clock.freeze(T0)
    members = [f"01JRECON{i:04d}" for i in range(40 * PER_16)]
    uow = UnitOfWork("test")
    for m in members:
        uow.put(AccountItem.new(m, "points"))
    by_shard: dict[int, list[str]] = defaultdict(list)
    for m in sorted(members):
        by_shard[shard_of(m)].append(m)
    assert len(by_shard) > 8 and max(len(v) for v in by_shard.values()) > 2      # several pages, several shards
    checked: dict[int, list[str]] = defaultdict(list)
    real = reconcile.account
    monkeypatch.setattr(reconcile, "account", lambda uow, member_id, point_type: (
        checked[shard_of(member_id)].append(member_id), real(uow, member_id, point_type))[1])
    runs = max(len(v) for v in by_shard.values()) // 2 + 1       # the largest shard's pass ends in this many
    for run in range(1, 2 * runs + 1):
        before = {s: len(v) for s, v in checked.items()}
        result = reconcile.next_pages(UnitOfWork("job:points-reconcile", program="default"), page=2)
        assert result["balanced"], result
        assert all(len(checked[s]) - before.get(s, 0) <= 2 for s in checked)
        if run == runs:
            full = result["progress"]["last_full_pass"]
            assert full is not None and full["checked"] == len(members), result["progress"]
    for shard, accounts in by_shard.items():           # in order, once each per pass, wrapping around
        assert checked[shard] == [accounts[i % len(accounts)] for i in range(len(checked[shard]))], shard
        assert len(checked[shard]) >= len(accounts)              # at least one whole pass
    assert set().union(*checked.values()) == set(members)
    last = by_shard[max(by_shard)][-1]                  # the last account of the last shard listed
    uow = UnitOfWork("test")
    tampered = uow.get(AccountItem, AccountItem.key(last, "points"), consistent=True)
    tampered.available = 7                              # no posting says so
    uow.put(tampered)
    last_pass = -(-len(by_shard[max(by_shard)]) // 2)    # runs of a page of 2 that check each of its accounts once
    found = [m["member_id"] for _ in range(last_pass)
             for m in reconcile.next_pages(UnitOfWork("job:points-reconcile", program="default"), page=2)["mismatches"]]
    assert found == [last]                              # within one pass, once
    clock.freeze(None)


def test_a_discrepancy_on_the_last_shard_of_a_large_program_is_found_within_a_pass(memory, monkeypatch):
    """Shard 0 lists 10,001 accounts and the last shard one account that does not add up. The
    old job always began at shard 0 and stopped at 10,000: it never reached the last shard. Now
    each run checks a page of every shard, so the first run finds it, and shard 0's pass ends
    after 11 runs of 1,000. (Accounts and their proofs are stand-ins: what is counted is the cursor.)"""
    from chalicelib.points import jobs, reconcile
    from chalicelib.points.repository import PointsRepository
    listed = {0: [f"M{i:05d}#points" for i in range(10_001)], ACCOUNT_SHARDS - 1: ["OFF#points"]}

    def accounts_in_shard(self, shard, after=None, limit=None):
        return [key for key in listed.get(shard, []) if after is None or key > after][:limit]
    monkeypatch.setattr(PointsRepository, "accounts_in_shard", accounts_in_shard)
    monkeypatch.setattr(reconcile, "account", lambda uow, member_id, point_type: {
        "member_id": member_id, "point_type": point_type, "balanced": member_id != "OFF"})
    first = jobs.reconcile_all(T0)
    assert first["mismatched_accounts"] == [("default", "OFF", "points")] and first["accounts_checked"] == 1_001
    counts = [jobs.reconcile_all(T0)["accounts_checked"] for _ in range(10)]
    assert counts == [1_001] * 9 + [2]                 # shard 0's last account; the last shard's next pass
    progress = reconcile.everything(UnitOfWork("test", program="default"), 1)["progress"]
    assert progress["last_full_pass"]["checked"] == 10_002
    assert [s["passes"] for s in progress["shards"]][:1] + [progress["shards"][-1]["passes"]] == [1, 11]


def test_a_run_that_reaches_its_deadline_mid_page_stops_there_and_the_next_run_carries_on(memory, monkeypatch):
    """The deadline comes after five accounts, in the second shard the run reads: the run records
    where it stopped; the next runs carry on from there (none skipped, none checked twice in the
    pass), the shards the first run never read first."""
    from chalicelib.ledger import reconciliation
    from chalicelib.points import reconcile
    clock.freeze(T0)
    members = [f"01JDEAD{i:04d}" for i in range(48 * PER_16)]
    uow = UnitOfWork("test")
    for m in members:
        uow.put(AccountItem.new(m, "points"))
    order: list[str] = []
    monkeypatch.setattr(reconcile, "account", lambda uow, member_id, point_type: (
        order.append(member_id), {"member_id": member_id, "point_type": point_type, "balanced": True})[1])
    left = iter([1.0] * 7 + [0.0] * 1000)       # one check per shard and per account: 5 accounts, then time is up
    monkeypatch.setattr(reconciliation.deadline, "left", lambda: next(left))
    first = reconcile.next_pages(UnitOfWork("job:points-reconcile", program="default"), page=8)
    assert first["accounts_checked"] == len(order) == 5
    monkeypatch.setattr(reconciliation.deadline, "left", lambda: 1.0)
    for _ in range(6):
        reconcile.next_pages(UnitOfWork("job:points-reconcile", program="default"), page=8)
    by_shard: dict[int, list[str]] = defaultdict(list)
    for m in order:
        by_shard[shard_of(m)].append(m)
    assert set(order) == set(members)
    for shard, seen in by_shard.items():
        accounts = sorted(m for m in members if shard_of(m) == shard)
        assert seen[:len(accounts)] == accounts, shard             # the first pass: each once, in order
    progress = reconcile.everything(UnitOfWork("test", program="default"), 1)["progress"]
    assert progress["last_full_pass"]["checked"] == len(members)
    clock.freeze(None)
