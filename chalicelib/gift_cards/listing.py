"""The cards of the batches made in a period, a page at a time, as reports list them (the
``gift_cards`` export): never a secret, its hash or a card number in clear.

Reads only what the period holds: the batches' listing (``GCBATCHES`` on gsi1, by creation time)
between the period's first and last instants, then each batch's cards on its own listing
(``GCBATCH#<batch>`` on gsi1, by serial) a page at a time, and for each page the sale ranges
covering its serials (one Query of the last range starting at or before the page's first serial,
one of those starting within the page) and the unsold cards voided in it: memory holds a page,
whatever the size of the batch or the number of its sales.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from chalicelib.db.backend import SortKey
from chalicelib.db.uow import UnitOfWork
from chalicelib.gift_cards import cards as C
from chalicelib.gift_cards import repository
from chalicelib.gift_cards.tables import SALE_RANGE, GiftCardBatchItem, GiftCardItem, GiftCardSaleRangeItem
from chalicelib.shared import clock

PAGE = 500


def masked(number: str) -> str:
    """A card number as a report shows it: its first four and last four digits."""
    return number[:4] + "*" * max(len(number) - 8, 0) + number[-4:]


def batches_made(uow: UnitOfWork, start: date, end: date, issuer: str | None) -> list[GiftCardBatchItem]:
    """The batches made in the program days ``start`` to ``end``, oldest first (an issuing
    merchant's only, if ``issuer``: None is the whole program's, whoever issued them)."""
    low = clock.iso(clock.day_start(start))
    high = clock.iso(clock.day_start(end + timedelta(days=1)))
    found = uow.query(GiftCardBatchItem, "GCBATCHES", SortKey.between(low, high), index="gsi1")
    return [b for b in found if b.created_at < high and (issuer is None or b.issuer_merchant_id == issuer)]


def cards_after(uow: UnitOfWork, batch: GiftCardBatchItem, after: int, today: date) -> Iterator[dict[str, Any]]:
    """The batch's cards after serial ``after`` (0: from the first), by serial, each as a report row."""
    while True:
        page = list(repository.of(uow).cards_of(batch.batch_id, f"{after:08d}" if after else None, PAGE))
        if not page:
            return
        first, last = int(page[0].serial), int(page[-1].serial)
        sales = _ranges(uow, batch, first, last)
        for card in page:
            yield _row(card, batch, sales, today)
        if len(page) < PAGE:
            return
        after = last


def _ranges(uow: UnitOfWork, batch: GiftCardBatchItem, first: int, last: int) -> C.Ranges:
    """The sale ranges that may hold a serial from ``first`` to ``last`` (never the whole batch's)."""
    before = repository.of(uow).sale_range_at(batch.batch_id, first)
    # (a page of one card: no range starts after it within the page; DynamoDB refuses a BETWEEN
    # whose bounds are the wrong way round, which moto let through)
    within = uow.query(GiftCardSaleRangeItem, f"GCBATCH#{batch.batch_id}",
                       SortKey.between(f"{SALE_RANGE}{first + 1:08d}", f"{SALE_RANGE}{last:08d}"),
                       consistent=True) if last > first else []
    found = [*batch.legacy_sales(), *([before.view()] if before else []), *(r.view() for r in within)]
    return C.Ranges(uow, batch, list({int(s["first"]): s for s in found}.values()))


def _row(card: GiftCardItem, batch: GiftCardBatchItem, sales: C.Ranges, today: date) -> dict[str, Any]:
    sales.resolve(card)
    sale = sales.covering(int(card.serial)) if card.sold_in else None
    sold_at = sale["at"] if sale and sale.get("invoice") == card.sold_in else None
    activated_at = card.activated_at or (sold_at if card.sold_activated else None)
    return {"card": masked(str(card.number)), "batch_id": batch.batch_id, "serial": int(card.serial),
            "issuer_merchant_id": batch.issuer_merchant_id, "state": C.state(card, batch, today),
            "face_value_fen": int(card.face_value_fen), "balance_fen": C.balance(card),
            "spent_fen": int(card.spent or 0), "redeemed_fen": int(card.redeemed or 0),
            "refunded_fen": int(card.refunded or 0), "voided_fen": int(card.voided_fen or 0),
            "held_fen": int(card.held or 0), "breakage_fen": int(card.breakage or 0),
            "valid_until": C.last_day(card, batch).isoformat(), "sold_invoice": card.sold_in, "sold_at": sold_at,
            "activated_at": activated_at, "member_id": card.member_id, "batch_created_at": batch.created_at}
