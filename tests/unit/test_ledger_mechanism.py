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


# lots kept on one item (stored value's bonus) ---------------------------------------------------

def kept(*pairs):
    return [L.KeptLot(day, amount) for day, amount in pairs]


def test_kept_lots_are_one_per_day_and_past_the_most_the_latest_two_merge():
    lots = L.keep(L.keep(kept(("2026-03-31", 5)), "2026-01-31", 1, 3), "2026-03-31", 2, 3)
    assert lots == kept(("2026-01-31", 1), ("2026-03-31", 7))
    assert L.keep(lots, "2026-02-28", 4, 2) == kept(("2026-01-31", 1), ("2026-03-31", 11))
    assert L.next_due(lots) == date(2026, 2, 1) and L.next_due([]) is None


def test_a_spend_takes_valid_lots_then_the_amount_in_no_lot_and_lapsed_lots_last():
    """On 02-01 the 01-31 lot has lapsed: it is reached only when the valid lots and the 3 in no
    lot (never expiring) do not cover the amount (a hold reserved while it was valid)."""
    lots, today = kept(("2026-01-31", 4), ("2026-03-31", 5)), date(2026, 2, 1)
    left, taken = L.take_kept(lots, 7, today, beyond=3)            # 5 of the valid lot, 2 in no lot
    assert (left, taken) == (kept(("2026-01-31", 4)), kept(("2026-03-31", 5)))
    left, taken = L.take_kept(lots, 10, today, beyond=3)
    assert (left, taken) == (kept(("2026-01-31", 2)), kept(("2026-01-31", 2), ("2026-03-31", 5)))
    left, taken = L.take_kept(lots, 5, beyond=3)                   # no day given: soonest first
    assert (left, taken) == (kept(("2026-03-31", 4)), kept(("2026-01-31", 4), ("2026-03-31", 1)))
    assert L.take_kept(lots, 20)[0] == []                          # beyond the lots: never expiring


def test_what_lapses_is_what_expired_but_never_what_is_reserved():
    lots, today = kept(("2026-01-31", 4), ("2026-01-31", 0), ("2026-03-31", 5)), date(2026, 2, 1)
    assert L.expired_in(lots, today) == 4 and L.expired_in(lots, date(2026, 1, 31)) == 0
    assert (L.lapsing(4, 10), L.lapsing(4, 3), L.lapsing(4, 0), L.lapsing(0, 9)) == (4, 3, 0, 0)
    assert L.expire_kept(kept(("2026-01-31", 4), ("2026-03-31", 5)), today, 3) == kept(("2026-01-31", 1),
                                                                                       ("2026-03-31", 5))
    with pytest.raises(L.ShortOfLots):                             # only lapsed lots expire
        L.expire_kept(kept(("2026-01-31", 4), ("2026-03-31", 5)), today, 5)


def test_a_give_back_goes_to_the_kept_lots_latest_first_and_says_what_is_still_taken():
    lots, still = L.give_back_kept(kept(("2026-03-31", 1)), kept(("2026-01-31", 3), ("2026-03-31", 2)), 4, 60)
    assert (lots, still) == (kept(("2026-01-31", 2), ("2026-03-31", 3)), kept(("2026-01-31", 1)))


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
