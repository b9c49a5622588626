"""Every kind of export and its source: adding a kind is one line here (its source reads the
period a page at a time from a cursor, :class:`chalicelib.reports.exports_sources.Source`)."""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.reports import export_hooks
from chalicelib.reports.exports_kinds import Checkouts, CouponUses, GiftCards
from chalicelib.reports.exports_sources import (
    POINTS_COLUMNS,
    STORED_VALUE_COLUMNS,
    Members,
    Postings,
    Source,
)
from chalicelib.shared import lazy

# kind -> (what it holds, its source for a program)
SOURCES: dict[str, tuple[str, Callable[[str], Source]]] = {
    "members": ("the members registered in the period at one merchant (personal data masked unless the caller may "
                "reveal it, as the header row says)", Members),
    "points_ledger": ("the points postings of the period", lambda _: Postings("points", POINTS_COLUMNS)),
    "stored_value_ledger": ("the stored value postings of the period",
                            lambda _: Postings("stored_value", STORED_VALUE_COLUMNS)),
    "gift_cards": ("the cards of the batches made in the period (an issuing merchant's: its batches), their state, "
                   "balances, sale and activation; the number masked, never a secret", lambda _: GiftCards()),
    "coupon_uses": ("every coupon write-off of the period and every undo, each its own row (a merchant's: those made "
                    "at it)", lambda _: CouponUses()),
    "checkouts": ("the checkouts made in the period, their state, amounts by tender and refunds",
                  lambda _: Checkouts()),
}
KINDS = tuple(SOURCES)
NO_STORE = ["gift_cards"]           # kinds whose records belong to a merchant, never to a store
MERCHANT_REQUIRED = ("members",)    # kinds listed by merchant only


def register(kind: str, about: str, make: Callable[[str], Source], *, no_store: bool = False) -> None:
    """Add a kind another capability reads (a capability ranked above reports, which cannot import
    it: the mall settlement's lines; :func:`_provided`)."""
    global KINDS
    SOURCES[kind] = (about, make)
    KINDS = tuple(SOURCES)
    if no_store and kind not in NO_STORE:
        NO_STORE.append(kind)


def _provided() -> None:
    """The kinds the app's other capabilities provide (:mod:`chalicelib.reports.export_hooks`)."""
    for name in export_hooks.PROVIDERS:
        kind, about, make, no_store = lazy.module(name).EXPORT
        if kind not in SOURCES:
            register(kind, about, make, no_store=no_store)


def kinds() -> dict[str, str]:
    """Every kind and what it holds, those the app named since this module was first imported
    included (read when a request is validated or the document built, never frozen at import)."""
    _provided()
    return {kind: about for kind, (about, _) in SOURCES.items()}


_provided()


def source(kind: str, program: str) -> Source:
    """The source of ``kind`` for ``program``."""
    if kind not in SOURCES:
        raise ValueError(f"no export source for {kind}")
    return SOURCES[kind][1](program)
