"""Every read of gift card data: ``repository.of(uow)``.

A card use (a payment, a hold, a redemption...) reads its batch for what never changes on it
(face value, last day, scope, issuer: nothing updates them; a card's own extension is on the
card) from :data:`_METADATA`, a per-container cache, instead of a consistent read of the batch
item at every use: the batch key is read once per container and :data:`METADATA_SECONDS`. What
does change on a batch (generation progress, export, the sales' counters and version) is read
with :meth:`GiftCardRepository.batch` by the paths that change it or show it.
"""

from __future__ import annotations

from collections.abc import Iterator

from chalicelib.db.backend import SortKey
from chalicelib.db.uow import UnitOfWork
from chalicelib.gift_cards.tables import (
    SALE_RANGE,
    VOID,
    GiftCardBatchItem,
    GiftCardHoldItem,
    GiftCardItem,
    GiftCardPaymentItem,
    GiftCardPostingItem,
    GiftCardSaleItem,
    GiftCardSaleRangeItem,
    GiftCardVoidItem,
    GuardItem,
)
from chalicelib.shared.cache import TtlCache

BATCH_READ = 100            # keys one BatchGetItem reads
METADATA_SECONDS = 3600     # how long a container keeps a batch's metadata (it never changes)
_METADATA: TtlCache[GiftCardBatchItem] = TtlCache(METADATA_SECONDS, max_entries=4096)


class GiftCardRepository:
    """Reads of batches, cards, their postings, sales, payments, holds and callers' guards."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def batch(self, batch_id: str) -> GiftCardBatchItem | None:
        """A batch, or None."""
        return self.uow.get(GiftCardBatchItem, GiftCardBatchItem.key(batch_id), consistent=True)

    def batch_metadata(self, batch_id: str) -> GiftCardBatchItem | None:
        """A batch for what never changes on it (face value, last day, scope, issuer, and the
        frozen lists of batches written before #24 item 6), from the container's cache: never
        changed by its readers, never used for its counters or version."""
        key = (self.uow.program, batch_id)
        found = _METADATA.peek(key)
        if found is None:
            found = self.uow.get(GiftCardBatchItem, GiftCardBatchItem.key(batch_id))
            if found is not None:           # a batch exists before its cards: an absent one is not kept
                _METADATA.put(key, found)
        return found

    def sale_range_at(self, batch_id: str, serial: int) -> GiftCardSaleRangeItem | None:
        """The sale range of the batch that starts at or before ``serial`` last (one consistent
        Query of at most one item): it holds ``serial`` when its ``last`` reaches it."""
        found = self.uow.query(GiftCardSaleRangeItem, f"GCBATCH#{batch_id}",
                               SortKey.between(SALE_RANGE, f"{SALE_RANGE}{serial:08d}"), forward=False, limit=1,
                               consistent=True)
        return next(iter(found), None)

    def sale_ranges(self, batch_id: str) -> Iterator[GiftCardSaleRangeItem]:
        """Every sale range of a batch, by first serial (reports: O(sales))."""
        return self.uow.query(GiftCardSaleRangeItem, f"GCBATCH#{batch_id}", SortKey.prefix(SALE_RANGE),
                              consistent=True)

    def voids(self, batch_id: str, first: int = 1, last: int = 99_999_999) -> Iterator[GiftCardVoidItem]:
        """The unsold cards of a batch voided, from serial ``first`` to ``last`` (O(voids there))."""
        return self.uow.query(GiftCardVoidItem, f"GCBATCH#{batch_id}",
                              SortKey.between(f"{VOID}{first:08d}", f"{VOID}{last:08d}"), consistent=True)

    def batches(self, limit: int | None) -> Iterator[GiftCardBatchItem]:
        """The program's batches, newest first (at most ``limit``; None: all)."""
        return self.uow.query(GiftCardBatchItem, "GCBATCHES", None, index="gsi1", forward=False, limit=limit)

    def card(self, number: str) -> GiftCardItem | None:
        """A card, or None."""
        return self.uow.get(GiftCardItem, GiftCardItem.key(number), consistent=True)

    def cards_of(self, batch_id: str, after: str | None = None, limit: int | None = None) -> Iterator[GiftCardItem]:
        """Every card of a batch (reports: O(batch)) by serial, those after the listing key ``after``
        (a reconciliation's cursor), at most ``limit``. Index copies: read what to compare by key."""
        sort = SortKey.above(after) if after else None
        return self.uow.query(GiftCardItem, f"GCBATCH#{batch_id}", sort, index="gsi1", limit=limit)

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
