"""Every read of benefits data: ``repository.of(uow)``."""

from __future__ import annotations

from chalicelib.benefits.tables import EntitlementItem
from chalicelib.db.backend import SortKey
from chalicelib.db.uow import UnitOfWork


class BenefitsRepository:
    """Reads of members' entitlements."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def entitlements(self, member_id: str, limit: int) -> list[EntitlementItem]:
        """The member's entitlements, newest period last (by key)."""
        return list(self.uow.query(EntitlementItem, f"MEMBER#{member_id}", SortKey.prefix("ENTITLE#"),
                                   limit=limit, consistent=True))


def of(uow: UnitOfWork) -> BenefitsRepository:
    """The unit's benefits repository."""
    return uow.repo(BenefitsRepository)
