"""The shared ledger mechanism on plain data and on the in-memory fake: lot arithmetic with no I/O,
and the versioned account's lock, postings and reconciliation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.db import backend
from chalicelib.db.backend import SortKey
from chalicelib.db.items import MainModel
from chalicelib.db.memory import MemoryBackend
from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger import lots as L
from chalicelib.ledger.account import VersionedAccount, reconcile
from chalicelib.shared.errors import ConcurrentUpdate
from chalicelib.shared.events import DomainEvent


@dataclass
class Lot:
    lot_id: str
    expires_on: str | None
    remaining: int


def test_take_soonest_reads_only_until_covered():
    offered = iter([Lot("a", "2026-01-31", 5), Lot("b", "2026-02-28", 0), Lot("c", "2026-03-31", 10),
                    Lot("d", None, 10)])
    plan = L.take_soonest(offered, 12)
    assert [(lot.lot_id, part) for lot, part in plan] == [("a", 5), ("c", 7)]
    assert next(offered).lot_id == "d"            # the never-expiring lot was not read


def test_take_soonest_refuses_what_the_lots_do_not_hold():
    with pytest.raises(L.ShortOfLots) as short:
        L.take_soonest([Lot("a", None, 3), Lot("b", None, 4)], 8)
    assert (short.value.wanted, short.value.found) == (8, 7)


def test_give_back_goes_latest_expiry_first_and_never_beyond_what_was_taken():
    spent = [{"lot_id": "a", "expires_on": "2026-01-31", "points": 5},
             {"lot_id": "b", "expires_on": None, "points": 2},
             {"lot_id": "a", "expires_on": "2026-01-31", "points": 1},
             {"lot_id": "c", "expires_on": "2026-06-30", "points": 3}]
    assert L.give_back_plan(spent, 7) == [("b", None, 2), ("c", "2026-06-30", 3), ("a", "2026-01-31", 2)]
    assert sum(part for *_, part in L.give_back_plan(spent, 100)) == 11


def test_expiry_days_and_lot_ids():
    assert not L.is_expired("2026-01-31", date(2026, 1, 31))
    assert L.is_expired("2026-01-31", date(2026, 2, 1))
    assert not L.is_expired(None, date(2999, 1, 1))
    assert L.expiry_due_day("2026-12-31") == date(2027, 1, 1)
    assert L.sequence_lot_id(7, 2) < L.sequence_lot_id(7, 10) < L.sequence_lot_id(8, 1)
    assert [list(c) for c in L.chunks([1, 2, 3, 4, 5], 2)] == [[1, 2], [3, 4], [5]]


class WalletItem(MainModel):
    """A made-up money store: the mechanism is not points-specific."""

    cash = NumberAttribute(default=0)
    version = NumberAttribute(default=0)
    updated_at = UnicodeAttribute(null=True)


class WalletPosting(MainModel):
    cash_delta = NumberAttribute()


@pytest.fixture
def fake():
    previous = backend.use(MemoryBackend())
    yield backend.current()
    backend.use(previous)


def _change(amount: int) -> None:
    uow = UnitOfWork("test")
    item = uow.get(WalletItem, ("WALLET#1", "ACCOUNT"), consistent=True) or WalletItem("WALLET#1", "ACCOUNT")
    account = VersionedAccount(uow, item, ["cash"])
    account.move("cash", amount)
    account.stage(WalletPosting("WALLET#1", f"POST#{account.next_version:06d}", cash_delta=amount),
                  DomainEvent("wallet.changed", "wallet:1", {"amount": amount}))
    uow.commit()


def test_versioned_account_numbers_postings_and_reconciles(fake):
    for amount in (100, -30, 5):
        _change(amount)
    uow = UnitOfWork()
    state = uow.get(WalletItem, ("WALLET#1", "ACCOUNT"))
    postings = list(uow.query(WalletPosting, "WALLET#1", SortKey.prefix("POST#")))
    assert [p.sk for p in postings] == ["POST#000001", "POST#000002", "POST#000003"]
    result = reconcile({"cash": int(state.cash), "version": int(state.version)}, postings, ["cash"])
    assert result["checks"] == {"cash = postings": True, "postings are gap-free": True, "nothing negative": True}
    assert int(state.cash) == 75


def test_a_stale_account_loses_the_race(fake):
    _change(10)
    first, second = UnitOfWork(), UnitOfWork()
    for uow in (first, second):
        item = uow.get(WalletItem, ("WALLET#1", "ACCOUNT"), consistent=True)
        account = VersionedAccount(uow, item, ["cash"])
        account.move("cash", 1)
        account.stage(WalletPosting("WALLET#1", f"POST#{account.next_version:06d}", cash_delta=1),
                      DomainEvent("wallet.changed", "wallet:1", {}))
    first.commit()
    with pytest.raises(ConcurrentUpdate):
        second.commit()
    assert int(UnitOfWork().get(WalletItem, ("WALLET#1", "ACCOUNT")).cash) == 11
