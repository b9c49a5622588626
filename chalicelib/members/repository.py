"""Every read of members and identities, and the keys it uses: ``repository.of(uow)``."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import datetime
from itertools import islice

from chalicelib.db.audit import AuditItem
from chalicelib.db.backend import SortKey
from chalicelib.db.due import due_items
from chalicelib.db.uow import UnitOfWork
from chalicelib.members.domain import Identity, Member
from chalicelib.members.tables import LISTING_SHARDS, IdentityItem, MemberItem, listing_keys


class MembersRepository:
    """Profiles by id, the identity index, the audit trail and the lifecycle due list."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.active: dict[str, Member] = {}         # id named -> the member acted on (service._active)

    def load(self, member_id: str, consistent: bool = False) -> Member | None:
        """The member stored under ``member_id`` (merges not followed), or None."""
        item = self.uow.get(MemberItem, MemberItem.key(member_id), consistent)
        return item.domain() if item else None

    def resolve(self, identity: Identity, consistent: bool = False) -> str | None:
        """The member id an identity belongs to, in one read."""
        item = self.uow.get(IdentityItem, IdentityItem.key(identity), consistent)
        return item.member_id if item else None

    def registered_at(self, merchant_id: str | None, start: str, end: str, after: str | None,
                      limit: int) -> list[MemberItem]:
        """Members a merchant registered from the instant ``start`` until (not at) ``end`` (ISO
        times), oldest first, a page of ``limit`` after the cursor ``after`` (``<time>#<id>`` of
        the last one seen).

        The listing's shards are read side by side and merged by that sort key, which is unique
        and the same in every shard, so the cursor pages across them as it did over one
        partition; each shard is read a few items at a time, as the merge takes them (a page
        reads about ``limit`` items in all when members spread evenly, one Query per shard)."""
        low = f"{after}~" if after else start
        chunk = limit // LISTING_SHARDS + 1
        shards = [self.uow.query(MemberItem, key, SortKey.between(low, end), index="gsi1", limit=limit,
                                 page_size=chunk) for key in listing_keys(merchant_id)]
        return list(islice(heapq.merge(*shards, key=lambda item: item.gsi1sk), limit))

    def audit_trail(self, member_id: str) -> Iterator[AuditItem]:
        """The member's copies of its audit entries (:mod:`chalicelib.db.audit`), oldest first."""
        return self.uow.query(AuditItem, f"AUDIT#{member_id}")

    def due_for_review(self, as_of: datetime) -> Iterator[tuple[str, MemberItem]]:
        """Members whose lifecycle stage may change by ``as_of``."""
        return due_items(self.uow.backend, MemberItem, "lifecycle", as_of)


def of(uow: UnitOfWork) -> MembersRepository:
    """The unit's members repository."""
    return uow.repo(MembersRepository)
