"""Every read of tier data: ``repository.of(uow)``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from itertools import chain

from chalicelib.db import backend as backends
from chalicelib.db.backend import SortKey
from chalicelib.db.due import due_items
from chalicelib.db.uow import UnitOfWork
from chalicelib.tiers.tables import MembershipHistoryItem, MembershipItem, TierHistoryItem, TierItem


class TiersRepository:
    """Reads of members' tiers and their history."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def tier(self, member_id: str) -> TierItem | None:
        """The member's tier item (consistent), or None before the first growth."""
        return self.uow.get(TierItem, TierItem.key(member_id), consistent=True)

    def history(self, member_id: str, before: int | None, limit: int) -> list[TierHistoryItem]:
        """Tier changes, newest first, numbered below ``before``."""
        sort = (SortKey.between("TIERHIST#", f"TIERHIST#{before - 1:08d}") if before
                else SortKey.prefix("TIERHIST#"))
        return list(self.uow.query(TierHistoryItem, f"MEMBER#{member_id}", sort, forward=False, limit=limit))

    def due_reviews(self, as_of: datetime) -> Iterator[tuple[str, TierItem]]:
        """Tiers whose review day has come, with their program (every program)."""
        return due_items(backends.current(), TierItem, "tier-review", as_of)

    def due_reminders(self, as_of: datetime) -> Iterator[tuple[str, TierItem]]:
        """Tiers whose next reminder falls by ``as_of``, with their program: on ``keys1`` (each read
        by key), then those still on ``gsi1`` from before (index copies) until their next write."""
        return chain(due_items(backends.current(), TierItem, "tier-reminder", as_of, index="keys1"),
                     due_items(backends.current(), TierItem, "tier-remind", as_of, index="gsi1"))

    def membership(self, member_id: str) -> MembershipItem | None:
        """The member's paid membership (consistent), or None if never bought."""
        return self.uow.get(MembershipItem, MembershipItem.key(member_id), consistent=True)

    def membership_history(self, member_id: str, limit: int = 100) -> list[MembershipHistoryItem]:
        """Purchases, renewals, cancellations and expiries, newest first."""
        return list(self.uow.query(MembershipHistoryItem, f"MEMBER#{member_id}", SortKey.prefix("PLUSHIST#"),
                                   forward=False, limit=limit, consistent=True))

    def due_memberships(self, as_of: datetime) -> Iterator[tuple[str, MembershipItem]]:
        """Memberships whose last day passed by ``as_of``, with their program."""
        return due_items(backends.current(), MembershipItem, "membership-expiry", as_of)


def of(uow: UnitOfWork) -> TiersRepository:
    """The unit's tiers repository."""
    return uow.repo(TiersRepository)
