"""A checkout's record as its callers read it: found (``getCheckout``, ``listMemberCheckouts``),
shown (:func:`view`), named in its events (:func:`about`), and what the saga's steps read of it
(:func:`for_steps`). The commit (:mod:`.commits`), its end (:mod:`.completion`) and the refunds
(:mod:`.refunds`) read it here.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.checkout.tables import CheckoutItem
from chalicelib.db.backend import SortKey
from chalicelib.db.uow import UnitOfWork
from chalicelib.members import service as members
from chalicelib.merchants import service as merchants
from chalicelib.shared.errors import Conflict, NotFound
from chalicelib.shared.principal import Principal


class CheckoutState(Conflict):
    slug, title = "checkout-state", "The checkout cannot do that in its state"


def find(uow: UnitOfWork, checkout_id: str) -> CheckoutItem | None:
    """The checkout (consistent), whoever may see it, or None."""
    return uow.get(CheckoutItem, CheckoutItem.key(checkout_id[:64]), consistent=True)


def for_steps(c: CheckoutItem) -> dict[str, Any]:
    """What the saga's steps read of the checkout."""
    plan = c.plan
    return {"checkout_id": c.checkout_id, "member_id": c.member_id, "merchant_id": c.merchant_id, "store_id": c.store_id, "order_id": c.order_id,
            "order_amount_fen": c.totals["order_amount_fen"], "ttl_seconds": plan["ttl_seconds"],
            "plan": plan}


def visible(uow: UnitOfWork, checkout_id: str, by: Principal | None) -> CheckoutItem:
    """The checkout, if the caller may see it (``by`` None: a job); else 404, as one never made."""
    c = find(uow, checkout_id)
    if c is None or (by is not None and not _sees(by, c)):
        raise NotFound(f"no checkout {checkout_id[:64]}")
    return c


def _sees(by: Principal, c: CheckoutItem) -> bool:
    if by.kind == "member":
        return c.member_id is not None and c.member_id == members.own_id("me", by)
    return merchants.acts_for(by, c.merchant_id, c.store_id)


def get(uow: UnitOfWork, checkout_id: str, by: Principal) -> dict[str, Any]:
    """``getCheckout``: the checkout, to its merchant's (and store's) callers, HQ and its member."""
    return view(visible(uow, checkout_id, by))


def list_of_member(uow: UnitOfWork, member_id: str, by: Principal, limit: int, before: str | None) -> dict[str, Any]:
    """``listMemberCheckouts``: the member's checkouts, newest first (a merchant's callers see
    their own merchant's), ``limit`` a page, from ``before`` (the last page's ``next``)."""
    member_id = members.acting_on(uow, member_id, by).member_id
    sort = SortKey.below(before) if before else None
    rows, last = [], None
    for c in uow.query(CheckoutItem, f"CHECKOUTS#{member_id}", sort, index="gsi1", forward=False,
                       limit=limit * 3 + 1):
        last = c.gsi1sk
        if by.kind == "member" or _sees(by, c):
            rows.append(view(c))
        if len(rows) == limit:
            break
    return {"items": rows, "next": last if len(rows) == limit else None}


def view(c: CheckoutItem) -> dict[str, Any]:
    """A checkout as its callers see it (no card secret: none is stored)."""
    plan = c.plan
    return {"checkout_id": c.checkout_id, "quote_id": c.quote_id, "order_id": c.order_id, "status": c.status,
            "merchant_id": c.merchant_id, "store_id": c.store_id, "member_id": c.member_id, "channel": c.channel,
            "guide_id": c.guide_id, "totals": c.totals, "lines": plan["lines"],
            "holds": {"coupons": [{k: x[k] for k in ("coupon_id", "template_id", "fen", "hold_id")}
                                  for x in plan["coupons"]],
                      "points": {k: plan["points"][k] for k in ("points", "fen", "hold_id")} if plan["points"] else None,
                      "stored_value": plan["stored_value"],
                      "gift_cards": plan["gift_cards"]},
            "holds_expire_at": c.hold_expires_at, "created_at": c.created_at, "committed_at": c.committed_at,
            "completed_at": c.completed_at, "cancelled_at": c.cancelled_at, "payment_ref": c.payment_ref,
            "earned": json.loads(c.earned) if c.earned else None, "why": c.why,
            "problem": json.loads(c.problem) if c.problem else None,
            "refunded": c.refunded}


def about(c: CheckoutItem, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A checkout event's subject, data and merchant (ids and figures, no personal data)."""
    return {"subject": f"member:{c.member_id}" if c.member_id else f"checkout:{c.checkout_id}",
            "data": {"checkout_id": c.checkout_id, "order_id": c.order_id, "member_id": c.member_id,
                     "store_id": c.store_id, "channel": c.channel, "guide_id": c.guide_id,
                     "totals": c.totals, **(extra or {})},
            "merchant_id": c.merchant_id}
