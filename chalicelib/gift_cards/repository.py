"""Every read of gift card data: ``repository.of(uow)``."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

from chalicelib.db.uow import UnitOfWork
from chalicelib.gift_cards.tables import (
    GiftCardBatchItem,
    GiftCardHoldItem,
    GiftCardItem,
    GiftCardPaymentItem,
    GiftCardPostingItem,
    GiftCardSaleItem,
    GuardItem,
)

BATCH_READ = 100            # keys one BatchGetItem reads


class GiftCardRepository:
    """Reads of batches, cards, their postings, sales, payments, holds and callers' guards."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def batch(self, batch_id: str) -> GiftCardBatchItem | None:
        """A batch, or None."""
        return self.uow.get(GiftCardBatchItem, GiftCardBatchItem.key(batch_id), consistent=True)

    def batches(self, limit: int) -> Iterator[GiftCardBatchItem]:
        """The program's batches, newest first."""
        return self.uow.query(GiftCardBatchItem, "GCBATCHES", None, index="gsi1", forward=False, limit=limit)

    def card(self, number: str) -> GiftCardItem | None:
        """A card, or None."""
        return self.uow.get(GiftCardItem, GiftCardItem.key(number), consistent=True)

    def cards_of(self, batch_id: str) -> Iterator[GiftCardItem]:
        """Every card of a batch (reports: O(batch))."""
        return self.uow.query(GiftCardItem, f"GCBATCH#{batch_id}", None, index="gsi1")

    def cards_as_stored(self, batch_id: str) -> Iterator[GiftCardItem]:
        """Every card of a batch as stored (reconciliation: O(batch)): the index names the cards and
        each page of them is read by key (a consistent BatchGetItem), so what an index has not yet
        caught up with (it is eventually consistent) is never compared with a consistent read."""
        listed = self.cards_of(batch_id)
        while page := list(islice(listed, BATCH_READ)):
            yield from (c for c in self.uow.get_many(GiftCardItem, [GiftCardItem.key(i.number) for i in page]) if c)

    def postings(self, number: str) -> Iterator[GiftCardPostingItem]:
        """A card's postings in order."""
        return self.uow.query(GiftCardPostingItem, f"GCLEDGER#{number}", None, consistent=True)

    def sale(self, batch_id: str, invoice_ref: str) -> GiftCardSaleItem | None:
        """A batch's sale under an invoice, or None."""
        return self.uow.get(GiftCardSaleItem, GiftCardSaleItem.key(batch_id, invoice_ref), consistent=True)

    def payment(self, merchant_id: str, order_id: str, number: str) -> GiftCardPaymentItem | None:
        """What a card paid for an order, or None."""
        return self.uow.get(GiftCardPaymentItem, GiftCardPaymentItem.key(merchant_id, order_id, number),
                            consistent=True)

    def guard(self, caller: str) -> GuardItem | None:
        """A caller's wrong secrets and lock, or None."""
        return self.uow.get(GuardItem, GuardItem.key(caller), consistent=True)

    def hold(self, hold_id: str) -> GiftCardHoldItem | None:
        """A till's hold on a card, or None."""
        return self.uow.get(GiftCardHoldItem, GiftCardHoldItem.key(hold_id), consistent=True)

def of(uow: UnitOfWork) -> GiftCardRepository:
    """The unit's gift cards repository."""
    return uow.repo(GiftCardRepository)
