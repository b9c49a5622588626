"""Who a targeted issue goes to when it names a tier instead of a list: the members of the tier,
read from the tiers capability's listing (a higher layer: it provides them through this hook,
registered by :func:`chalicelib.coupons.service.on_tier_members`, named in ``app.py``)."""

from __future__ import annotations

from typing import Protocol

from chalicelib.db.uow import UnitOfWork
from chalicelib.shared.lazy import Hook


class TierMembers(Protocol):
    """A tier's members, listed in ``shards`` partitions, each in member id order."""

    shards: int

    def check(self, uow: UnitOfWork, tier: str) -> None:
        """Refuse (a 4xx problem) a tier an issue cannot go to."""

    def page(self, uow: UnitOfWork, tier: str, shard: int, after: str | None, limit: int) -> list[tuple[str, str]]:
        """Up to ``limit`` members ``(member id, since)`` of the tier's shard, after ``after``."""


TIER_MEMBERS: Hook[TierMembers] = Hook()


def tier_members() -> TierMembers:
    """The provider (the tiers capability); a deployment without one cannot issue to a tier."""
    source = TIER_MEMBERS.get()
    if source is None:
        raise RuntimeError("no provider of tier members (app.py names chalicelib.tiers.listing)")
    return source
