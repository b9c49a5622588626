"""A member's best coupons for a cart, for checkout's quote: the member's coupons (one Query of at
most :data:`~chalicelib.coupons.service.MAX_LISTED`), each one usable now at this merchant or why
not, then the best combination under the stacking rules (:func:`.stacking.best_combination`) with
each chosen coupon's saving spread over the lines (:func:`.stacking.savings_in_order`). Reads
only; the commit locks the coupons chosen (:mod:`.holds`) and refuses any that changed.

The cart is the member-priced one. A coupon line is ``quantity`` units at a whole-fen unit price:
a line whose member total does not divide by its quantity (a tier percentage rounded on the line
total) is offered at ``member_total // quantity`` a unit, the odd fen (fewer than ``quantity``)
paid and never discounted (a coupon never takes off more than the member pays).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from chalicelib.coupons import domain, stacking
from chalicelib.coupons.service import MAX_LISTED, at_merchant, terms_of, usable_now
from chalicelib.coupons.tables import CouponItem
from chalicelib.coupons.terms import Terms
from chalicelib.db.backend import SortKey
from chalicelib.db.uow import UnitOfWork


@dataclass(frozen=True)
class CartLine:
    """A member-priced line: what the coupons' SKU and category lists read, and its member total."""

    sku: str
    category: str | None
    quantity: int
    member_total_fen: int


def cart(merchant_id: str | None, store_id: str | None, channel: str | None,
         lines: Sequence[CartLine]) -> domain.Cart:
    """The coupons' cart of member-priced lines (see the module on a total that does not divide)."""
    return domain.Cart(merchant_id, store_id, channel, tuple(
        domain.Line(x.sku, x.category, x.quantity, x.member_total_fen // x.quantity) for x in lines))


def choose(coupons: Sequence[tuple[CouponItem, Terms]], on: domain.Cart, merchant_id: str | None,
           now: datetime) -> dict:
    """The best combination of ``coupons`` on the cart (pure: no I/O): ``chosen`` (coupon id,
    template, kind, terms version, version read, saving, its parts per line, in the order
    applied), ``not_chosen`` (coupon id, template, why) and ``saving_fen``."""
    why: dict[str, str] = {}
    usable: list[tuple[str, Terms]] = []
    by_id = {c.coupon_id: (c, terms) for c, terms in coupons}
    for c, terms in coupons:
        reason = usable_now(c, terms, now) or at_merchant(c, merchant_id)
        if reason is not None:
            why[c.coupon_id] = reason
        else:
            usable.append((c.coupon_id, terms))
    chosen, fen, more = stacking.best_combination(usable, on)
    why.update(more)
    applied = stacking.savings_in_order([(i, by_id[i][1]) for i in chosen], on)
    assert sum(s.total_fen for _, s in applied) == fen, "the combination's savings add up to its total"
    out = []
    for coupon_id, s in applied:
        c, terms = by_id[coupon_id]
        out.append({"coupon_id": coupon_id, "template_id": c.template_id, "kind": terms.kind,
                    "terms_version": int(c.terms_version), "version": int(c.version or 0), "saving_fen": s.fen,
                    "lines": {i: part for i, part in sorted(s.lines.items()) if part},
                    "gift_sku": s.gift_sku, "stacking": terms.stacking.category})
    return {"chosen": out, "saving_fen": sum(s.fen for _, s in applied),
            "not_chosen": [{"coupon_id": i, "template_id": by_id[i][0].template_id, "why": w}
                           for i, w in sorted(why.items())]}


def member_coupons(uow: UnitOfWork, member_id: str, codes: Sequence[str] | None) -> tuple[list[tuple[CouponItem, Terms]],
                                                                                         list[str]]:
    """The member's unused and locked coupons (one Query, at most MAX_LISTED of the partition's
    coupons), each with its terms; ``codes``: only those (and the codes that are none of them)."""
    found = []
    for c in uow.query(CouponItem, f"MEMBER#{member_id}", SortKey.prefix("COUPON#"), limit=MAX_LISTED):
        if c.state in ("unused", "locked") and (codes is None or c.code in codes):
            found.append((c, terms_of(c)))
    missing = [] if codes is None else sorted(set(codes) - {c.code for c, _ in found})
    return found, missing
