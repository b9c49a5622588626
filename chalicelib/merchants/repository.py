"""Reads of merchants, stores and API keys: ``repository.of(uow)``."""

from __future__ import annotations

from chalicelib.db.backend import SortKey
from chalicelib.db.uow import UnitOfWork
from chalicelib.merchants.tables import LISTING, ApiKeyItem, MerchantItem, StoreItem


class MerchantsRepository:
    """Merchants, their stores, and the API keys they sign requests with."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def merchant(self, merchant_id: str) -> MerchantItem | None:
        """A merchant, or None."""
        return self.uow.get(MerchantItem, MerchantItem.key(merchant_id))

    def store(self, merchant_id: str, store_id: str) -> StoreItem | None:
        """One store of a merchant, or None."""
        return self.uow.get(StoreItem, StoreItem.key(merchant_id, store_id))

    def merchants_page(self, after: str | None, limit: int) -> list[MerchantItem]:
        """At most ``limit`` of the program's merchants in id order, after the id ``after``: one
        Query of the listing (gsi1)."""
        sort = SortKey.above(after) if after else None
        return list(self.uow.query(MerchantItem, LISTING, sort, index="gsi1", limit=limit))

    def stores_page(self, merchant_id: str, after: str | None, limit: int) -> list[StoreItem]:
        """At most ``limit`` of the merchant's stores in id order, after the id ``after``: one
        Query of the merchant's partition (store ids sort below '~')."""
        low = f"STORE#{after}!" if after else "STORE#"          # '!' sorts below every character of an id
        return list(self.uow.query(StoreItem, MerchantItem.key(merchant_id)[0], SortKey.between(low, "STORE#~"),
                                   limit=limit, consistent=True))

    def api_key(self, key_id: str, consistent: bool = False) -> ApiKeyItem | None:
        """An API key by id, or None."""
        return self.uow.get(ApiKeyItem, ApiKeyItem.key(key_id), consistent=consistent)


def of(uow: UnitOfWork) -> MerchantsRepository:
    """The unit's merchants repository."""
    return uow.repo(MerchantsRepository)
