"""Coupon packs: several templates' coupons granted together (a welcome pack, a tier's monthly
pack, 储值赠券). Saved by HQ as a versioned configuration (``putCouponPacks``); granted to a member
by HQ or a merchant's till (``grantCouponPack``) and, where the benefits engine grants a
``coupon_pack`` entitlement whose ``ref`` names a pack, as coupons in the entitlement's own
transaction. A pack's coupons are issued in one transaction: every template's stock and the
member's limits hold for all of them, or none is issued."""

from __future__ import annotations

import hashlib
from typing import Any

from chalicelib.coupons import service, templates
from chalicelib.coupons.pack_rules import PACKS, CouponPack
from chalicelib.db.uow import UnitOfWork
from chalicelib.members import service as members
from chalicelib.shared import clock
from chalicelib.shared.errors import NotFound
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import Principal


def pack(uow: UnitOfWork, pack_id: str) -> CouponPack | None:
    """The pack in force now, or None."""
    _, packs = PACKS.at(uow, clock.now())
    return next((p for p in packs.packs if p.id == pack_id), None)


def coupon_id_of(seed: str, template_id: str, n: int) -> str:
    """The ``n``-th coupon of a template a grant named ``seed`` gives: the same every time the
    grant is tried (an entitlement's key, a top-up's), so a retry never issues a second set."""
    return "P" + hashlib.sha256(f"{seed}/{template_id}/{n}".encode()).hexdigest()[:25].upper()


def stage(uow: UnitOfWork, member_id: str, p: CouponPack, why: str, seed: str | None = None) -> list[dict[str, Any]]:
    """Stage the pack's coupons for the member (every template active, within stock and limits);
    with ``seed``, coupon ids derived from it (:func:`coupon_id_of`), else new ones."""
    issued = []
    for item in p.items:
        head = templates.find(uow, item.template_id, None)
        ids = [coupon_id_of(seed, item.template_id, n) for n in range(item.count)] if seed else None
        issued += service.issue(uow, member_id, head, item.count, "pack", coupon_ids=ids)
    uow.emit(DomainEvent("coupon.pack_granted", f"member:{member_id}", {
        "member_id": member_id, "pack_id": p.id, "coupons": [c["coupon_id"] for c in issued], "why": why}))
    return issued


def grant(member_id: str, pack_id: str, by: Principal, uow: UnitOfWork) -> dict[str, Any]:
    """``grantCouponPack``: the pack's coupons to the member, all or none."""
    member = members.acting_on(uow, member_id, by)
    found = pack(uow, pack_id)
    if found is None:
        raise NotFound(f"no coupon pack {pack_id[:64]} in force")
    for item in found.items:                       # a merchant's caller grants only packs of its own templates
        templates.find(uow, item.template_id, by)
    coupons = stage(uow, member.member_id, found, f"granted by {by.ref}")
    return {"member_id": member.member_id, "pack_id": found.id, "coupons": coupons}
