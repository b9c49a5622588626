"""The sources of the exports of gift cards, coupon uses and checkouts (see
:mod:`chalicelib.reports.exports_sources` for what a source is). Each reads only what its period
holds, a page at a time, from a cursor:

* ``gift_cards``: the cards of the batches made in the period (the batches' listing by creation
  time, then each batch's cards by serial: :mod:`chalicelib.gift_cards.listing`), with their state
  today, balances, sale and activation; an issuing merchant's export, the batches it issued. The
  cursor is ``{batch, after}`` (a batch id, a serial). The card number is masked; the secret and
  its hash are never read into a row.
* ``coupon_uses``: every write-off and every undo of the period, each its own row (an undo's
  discount and cost negative), from their listing by day (``POSTDAY#coupon_uses#<day>#<shard>``).
  A merchant's export: the write-offs made at it (and their undos).
* ``checkouts``: the checkouts made in the period, from their listing by day
  (``POSTDAY#checkouts#<day>#<shard>``), each read (a BatchGetItem per page) for its state now,
  its amounts by tender and its refunds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from chalicelib.db.uow import UnitOfWork
from chalicelib.gift_cards import service as gift_cards
from chalicelib.reports.exports_sources import Asked, by_day, mine
from chalicelib.reports.exports_tables import CheckoutDayRow, CheckoutRow, CouponUseRow
from chalicelib.shared import clock

GIFT_CARD_COLUMNS = ("card", "batch_id", "serial", "issuer_merchant_id", "state", "face_value_fen", "balance_fen",
                     "spent_fen", "redeemed_fen", "refunded_fen", "voided_fen", "held_fen", "breakage_fen",
                     "valid_until", "sold_invoice", "sold_at", "activated_at", "member_id", "batch_created_at")


@dataclass(frozen=True)
class GiftCards:
    """The cards of the batches made in the period, batch by batch, by serial."""

    def header(self, asked: Asked) -> list[str]:
        """The columns (``card``: the number masked)."""
        return list(GIFT_CARD_COLUMNS)

    def estimate(self, uow: UnitOfWork, asked: Asked) -> int | None:
        """Exactly: the cards of the batches made in the period."""
        return sum(int(b.cards) for b in gift_cards.batches_made(uow, asked.start, asked.end, asked.merchant_id))

    def rows(self, uow: UnitOfWork, asked: Asked, cursor: Any) -> Iterator[tuple[list[Any], Any]]:
        """The cards after ``cursor`` (``{batch, after}``)."""
        at, today = cursor or {}, clock.program_date()
        batches = gift_cards.batches_made(uow, asked.start, asked.end, asked.merchant_id)
        ids = [b.batch_id for b in batches]
        first = ids.index(at["batch"]) if at.get("batch") in ids else 0
        for batch in batches[first:]:
            after = int(at.get("after") or 0) if batch.batch_id == at.get("batch") else 0
            for card in gift_cards.cards_after(uow, batch, after, today):
                yield ([_cell(card[c]) for c in GIFT_CARD_COLUMNS],
                       {"batch": batch.batch_id, "after": card["serial"]})


COUPON_USE_COLUMNS = ("at", "use_id", "kind", "coupon_id", "template_id", "template_owner", "member_id",
                      "merchant_id", "store_id", "order_id", "discount_fen", "order_amount_fen", "cost_bearers",
                      "by")


@dataclass(frozen=True)
class CouponUses:
    """The write-offs and undos of the period, in time order."""

    def header(self, asked: Asked) -> list[str]:
        """The columns (``cost_bearers``: JSON ``{bearer: fen}``)."""
        return list(COUPON_USE_COLUMNS)

    def estimate(self, uow: UnitOfWork, asked: Asked) -> int | None:
        """Unknown: counted as the rows come."""
        return None

    def rows(self, uow: UnitOfWork, asked: Asked, cursor: Any) -> Iterator[tuple[list[Any], Any]]:
        """The period's uses and undos after ``cursor`` (``{day, after}``) made at the export's merchant."""
        for u, position in by_day(uow, CouponUseRow, "coupon_uses", asked, cursor):
            if mine(asked, u.merchant_id, u.store_id):
                yield [u.at, u.use_id, u.kind, u.coupon_id, u.template_id, _cell(u.owner_merchant_id), u.member_id,
                       _cell(u.merchant_id), _cell(u.store_id), _cell(u.order_id), int(u.saving_fen),
                       int(u.order_amount_fen or 0), _bearers(u.cost), _cell(u.by)], position


CHECKOUT_COLUMNS = ("created_at", "checkout_id", "order_id", "status", "merchant_id", "store_id", "member_id",
                    "channel", "guide_id", "list_total_fen", "member_discount_fen", "coupons_fen", "points",
                    "points_fen", "stored_value_fen", "gift_cards_fen", "cash_fen", "order_amount_fen", "payment_ref",
                    "committed_at", "completed_at", "cancelled_at", "refunds", "refunded_fen", "refunded_cash_fen")
TENDERS = ("list_total_fen", "member_discount_fen", "coupons_fen", "points", "points_fen", "stored_value_fen",
           "gift_cards_fen", "cash_fen", "order_amount_fen")
BATCH = 100             # keys one BatchGetItem reads


@dataclass(frozen=True)
class Checkouts:
    """The checkouts made in the period, in time order, as they stand now."""

    def header(self, asked: Asked) -> list[str]:
        """The columns (amounts in fen by tender; refunds so far)."""
        return list(CHECKOUT_COLUMNS)

    def estimate(self, uow: UnitOfWork, asked: Asked) -> int | None:
        """Unknown: counted as the rows come."""
        return None

    def rows(self, uow: UnitOfWork, asked: Asked, cursor: Any) -> Iterator[tuple[list[Any], Any]]:
        """The period's checkouts after ``cursor`` (``{day, after}``) of the export's merchant and store."""
        listed = ((e, p) for e, p in by_day(uow, CheckoutDayRow, "checkouts", asked, cursor)
                  if mine(asked, e.merchant_id, e.store_id))
        while page := list(islice(listed, BATCH)):
            found = uow.get_many(CheckoutRow, [CheckoutRow.key(e.checkout_id) for e, _ in page])
            for (_, position), c in zip(page, found, strict=True):
                if c is not None:
                    yield _checkout(c), position


def _checkout(c: CheckoutRow) -> list[Any]:
    totals, refunded = c.totals or {}, c.refunded or {}
    return [c.created_at, c.hold_id, _cell(c.order_id), c.status, _cell(c.merchant_id), _cell(c.store_id),
            _cell(c.member_id), _cell(c.channel), _cell(c.guide_id), *(int(totals.get(t) or 0) for t in TENDERS),
            _cell(c.payment_ref), _cell(c.committed_at), _cell(c.completed_at), _cell(c.cancelled_at),
            int(refunded.get("refunds") or 0), int(refunded.get("fen") or 0), int(refunded.get("cash_fen") or 0)]


def _cell(value: Any) -> Any:
    return "" if value is None else value


def _bearers(cost: str | None) -> str:
    return json.dumps(json.loads(cost) if cost else {}, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
