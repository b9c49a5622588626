"""Every read of stored value data: ``repository.of(uow)``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from chalicelib.db.backend import SortKey
from chalicelib.db.uow import UnitOfWork
from chalicelib.events.folding import read_shards
from chalicelib.stored_value.tables import (
    ACCOUNT_SHARDS,
    LISTING,
    PrepaidAccountItem,
    PrepaidDayItem,
    SvAccountItem,
    SvCounterItem,
    SvPaymentItem,
    SvPostingItem,
)


class StoredValueRepository:
    """Reads of prepaid accounts, postings, payments and counters."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def account(self, member_id: str) -> SvAccountItem:
        """The account (consistent), or a new one at version 0."""
        found = self.uow.get(SvAccountItem, SvAccountItem.key(member_id), consistent=True)
        return found or SvAccountItem.new(member_id)

    def postings(self, member_id: str, before: int | None = None, limit: int | None = None,
                 newest_first: bool = False) -> Iterator[SvPostingItem]:
        """The account's postings in sequence order (or newest first), below ``before``."""
        sort = SortKey.below(f"{before:010d}") if before else None
        return self.uow.query(SvPostingItem, f"SVLEDGER#{member_id}", sort, forward=not newest_first, limit=limit,
                              consistent=True)

    def payment(self, merchant_id: str, order_id: str) -> SvPaymentItem | None:
        """What a payment took, and its refunds so far."""
        return self.uow.get(SvPaymentItem, SvPaymentItem.key(merchant_id, order_id), consistent=True)

    def counter(self, member_id: str, name: str) -> SvCounterItem | None:
        """A member's counter (the day's top-ups, a bonus rule's uses)."""
        return self.uow.get(SvCounterItem, SvCounterItem.key(member_id, name), consistent=True)

    def accounts_in_shard(self, shard: int, after: str | None = None, limit: int | None = None) -> list[str]:
        """The members whose accounts one shard lists (reconciliation), in listing order, those
        after ``after`` (a cursor), at most ``limit``, on keys1 and on gsi1 until every account
        has moved (ledger/listing.py). Read what to compare by key."""
        return LISTING.page(self.uow, SvAccountItem, shard, after, limit)

    def prepaid_accounts(self) -> Iterator[PrepaidAccountItem]:
        """The program's journal accounts with their balances (a projection, summed over its shards)."""
        return read_shards(self.uow, PrepaidAccountItem, "PREPAID#ACCOUNTS", None, consistent=True)

    def prepaid_days(self, account: str, start: date) -> Iterator[PrepaidDayItem]:
        """A journal account's movements on ``start`` and every later day."""
        return read_shards(self.uow, PrepaidDayItem, f"PREPAIDDAY#{account}",
                           SortKey.between(start.isoformat(), "9999"), consistent=True)

    @staticmethod
    def shards() -> range:
        """The listing's shards."""
        return range(ACCOUNT_SHARDS)


def of(uow: UnitOfWork) -> StoredValueRepository:
    """The unit's stored value repository."""
    return uow.repo(StoredValueRepository)
