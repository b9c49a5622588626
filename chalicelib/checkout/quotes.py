"""The quotes' store: one put per quote, one consistent get to read it back."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chalicelib.checkout.tables import QuoteItem
from chalicelib.db.uow import UnitOfWork
from chalicelib.shared import clock
from chalicelib.shared.errors import changed

VALID = timedelta(minutes=5)        # a quote is an offer for this long
KEPT = timedelta(days=1)            # and its item for a day after (TTL)


def put(uow: UnitOfWork, quote: dict[str, Any], caller: str, expires: datetime) -> None:
    """Stage the quote's item (created only if absent: a quote id is never reused)."""
    uow.create(QuoteItem(*QuoteItem.key(quote["quote_id"]), quote_id=quote["quote_id"],
                         merchant_id=quote["merchant_id"], store_id=quote["store_id"], member_id=quote["member_id"],
                         caller=caller, cart_hash=quote["cart_hash"], created_at=quote["created_at"],
                         valid_until=clock.iso(expires), body=quote,
                         expires_at=int((expires + KEPT).timestamp())),
               on_conflict=changed("the quote"))


def get(uow: UnitOfWork, quote_id: str) -> QuoteItem | None:
    """The quote of that id, if stored (read consistently: a commit follows its quote at once)."""
    return uow.get(QuoteItem, QuoteItem.key(quote_id[:64]), consistent=True)
