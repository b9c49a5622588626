"""Edges of the shared versioned account: reconciliation's sums and checks at their boundaries (a
bucket exactly at zero, one below, a missing or extra posting), a bucket never written yet, and
an account staged once per unit of work."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger.account import VersionedAccount, reconcile
from chalicelib.shared.events import DomainEvent
from tests.unit.test_ledger_mechanism import WalletItem, WalletPosting, fake  # noqa: F401

BUCKETS = ["cash", "debt"]


def posting(cash, debt=0):
    return SimpleNamespace(cash_delta=cash, debt_delta=debt)


def test_reconciliation_sums_every_posting_and_counts_them():
    result = reconcile({"cash": 75, "debt": 0, "version": 3}, [posting(100), posting(-30, 2), posting(5, -2)], BUCKETS)
    assert result["sums"] == {"cash": 75, "debt": 0}
    assert result["postings"] == 3
    assert result["checks"] == {"cash = postings": True, "debt = postings": True, "postings are gap-free": True,
                                "nothing negative": True}


def test_an_account_with_no_postings_reconciles_at_zero():
    result = reconcile({"cash": 0, "debt": 0, "version": 0}, [], BUCKETS)
    assert result["sums"] == {"cash": 0, "debt": 0} and result["postings"] == 0
    assert all(result["checks"].values())


def test_a_balance_off_by_one_from_its_postings_is_named():
    result = reconcile({"cash": 76, "debt": 0, "version": 2}, [posting(70), posting(5)], BUCKETS)
    assert result["checks"]["cash = postings"] is False
    assert result["checks"]["debt = postings"] is True


@pytest.mark.parametrize("version,gap_free", [(1, False), (2, True), (3, False)])
def test_postings_are_gap_free_only_when_they_number_the_version(version, gap_free):
    result = reconcile({"cash": 75, "debt": 0, "version": version}, [posting(70), posting(5)], BUCKETS)
    assert result["checks"]["postings are gap-free"] is gap_free


@pytest.mark.parametrize("cash,debt,ok", [(0, 0, True), (1, 0, True), (5, -1, False), (-1, 5, False)])
def test_nothing_negative_allows_zero_and_refuses_any_bucket_below(cash, debt, ok):
    result = reconcile({"cash": cash, "debt": debt, "version": 1}, [posting(cash, debt)], BUCKETS)
    assert result["checks"]["nothing negative"] is ok


def test_a_bucket_never_written_counts_as_zero(fake):  # noqa: F811
    item = WalletItem("WALLET#2", "ACCOUNT", cash=None)
    account = VersionedAccount(UnitOfWork("test"), item, ["cash"], ["paid"])
    assert account.balance("cash") == 0 and account.read_version == 0 and account.next_version == 1
    account.move("cash", 7)
    account.move("cash", -2)
    assert account.balance("cash") == 5
    account.count("paid", 3)
    account.count("paid", 4)
    assert account.totals == {"paid": 7}


def test_an_account_is_staged_once_per_unit_of_work(fake):  # noqa: F811
    uow = UnitOfWork("test")
    account = VersionedAccount(uow, WalletItem("WALLET#3", "ACCOUNT"), ["cash"])
    account.move("cash", 1)
    account.stage(WalletPosting("WALLET#3", "POST#000001", cash_delta=1), DomainEvent("wallet.changed", "wallet:3", {}))
    with pytest.raises(RuntimeError):
        account.stage(WalletPosting("WALLET#3", "POST#000002", cash_delta=1),
                      DomainEvent("wallet.changed", "wallet:3", {}))


def test_staging_adds_the_deltas_to_what_the_item_held(fake):  # noqa: F811
    uow = UnitOfWork("test")
    item = WalletItem("WALLET#4", "ACCOUNT", cash=10, version=4)
    account = VersionedAccount(uow, item, ["cash"])
    account.move("cash", 3)
    account.stage(WalletPosting("WALLET#4", "POST#000005", cash_delta=3), DomainEvent("wallet.changed", "wallet:4", {}))
    assert (int(item.cash), int(item.version)) == (13, 5)
