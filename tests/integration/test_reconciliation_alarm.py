"""A reconciliation that finds a ledger out of balance emits ``ReconciliationMismatches``, the
metric the template's alarm watches (#24 "Deliver": alarms on reconciliation failures)."""

import pytest

from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger import reconciliation
from chalicelib.points.tables import PostingItem
from chalicelib.shared import clock
from chalicelib.shared.events import DomainEvent
from tests.integration.test_points_features import T0, earn


@pytest.fixture
def emitted(monkeypatch):
    """The counts the reconciliations emit (metrics are off in the tests: Powertools would print)."""
    counts: list[tuple[str, int]] = []
    monkeypatch.setattr(reconciliation, "count", lambda name, value=1: counts.append((name, value)))
    return counts


def test_the_points_reconciliation_job_counts_the_accounts_out_of_balance(api, emitted):
    clock.freeze(T0)
    mid = api.member("13800150091")
    for i in range(3):
        earn(api, mid, f"o{i}", 10_000)
    assert api.run_job("points-reconcile")["balanced"] is True
    assert emitted == [("ReconciliationMismatches", 0)]           # every run reports, 0 when balanced
    uow = UnitOfWork()
    posting = uow.get(PostingItem, (PostingItem.partition(mid), PostingItem.sort_key("points", 2)))
    fix = UnitOfWork("test")
    fix.delete(posting)
    fix.commit()
    assert api.run_job("points-reconcile")["balanced"] is False
    assert emitted[-1] == ("ReconciliationMismatches", 2)          # points, and the growth its posting carried


def test_every_program_counts_each_mismatch_of_every_program_that_fails(aws, emitted):
    results = {"p1": {"checked": 3, "balanced": True, "figures_agree": True, "mismatches": []},
               "p2": {"checked": 5, "balanced": False, "figures_agree": True, "mismatches": [{"a": 1}, {"a": 2}]},
               "p3": {"checked": 1, "balanced": False, "figures_agree": False, "mismatches": []}}
    summary = reconciliation.every_program(
        "job:test", list(results), lambda uow: results[uow.program], "checked",
        lambda result: DomainEvent("test.reconciliation_failed", "program:test", {}))
    assert summary["failed_programs"] == ["p2", "p3"]
    assert emitted == [("ReconciliationMismatches", 3)]             # two accounts, and one total that differs
