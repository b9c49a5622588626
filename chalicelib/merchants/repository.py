"""Reads of merchants, stores and API keys: ``repository.of(uow)``."""

from __future__ import annotations

from chalicelib.db.uow import UnitOfWork
from chalicelib.merchants.tables import ApiKeyItem, MerchantItem, StoreItem


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

    def api_key(self, key_id: str) -> ApiKeyItem | None:
        """An API key by id, or None."""
        return self.uow.get(ApiKeyItem, ApiKeyItem.key(key_id))


def of(uow: UnitOfWork) -> MerchantsRepository:
    """The unit's merchants repository."""
    return uow.repo(MerchantsRepository)
