"""Coupon packs as HQ saves them (``putCouponPacks``): a versioned configuration whose names the
benefits engine's ``coupon_pack`` entitlements use; granting them: :mod:`chalicelib.coupons.packs`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import Field, StrictInt, field_validator

from chalicelib.db.uow import UnitOfWork
from chalicelib.db.versioned import VersionedConfig
from chalicelib.shared.lazy import Hook
from chalicelib.shared.types import PlainText, Strict, unique_by

MAX_COUPONS = 10                  # a pack's coupons: each is about five items of its transaction


class PackItem(Strict):
    template_id: str = Field(min_length=1, max_length=64)
    count: StrictInt = Field(1, ge=1, le=MAX_COUPONS)


class CouponPack(Strict):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-.]+$")
    name: PlainText = Field(min_length=1, max_length=60)
    items: list[PackItem] = Field(min_length=1, max_length=MAX_COUPONS)

    @field_validator("items")
    @classmethod
    def _small(cls, items: list[PackItem]) -> list[PackItem]:
        unique_by(items, "template_id", "a pack's templates")
        if sum(i.count for i in items) > MAX_COUPONS:
            raise ValueError(f"a pack holds at most {MAX_COUPONS} coupons")
        return items


class CouponPacks(Strict):
    packs: list[CouponPack] = Field([], max_length=100)

    @field_validator("packs")
    @classmethod
    def _unique(cls, packs: list[CouponPack]) -> list[CouponPack]:
        unique_by(packs, "id", "pack ids")
        return packs


def _unknown_templates(uow: UnitOfWork, packs: CouponPacks) -> list[str]:
    from chalicelib.coupons.tables import TemplateItem  # (not at a cold start: a save asks)
    found = {t: uow.get(TemplateItem, TemplateItem.key(t)) for t in sorted({i.template_id for p in packs.packs
                                                                        for i in p.items})}
    return [f"coupon template {t} does not exist" if head is None else f"coupon template {t} has ended"
            for t, head in found.items() if head is None or head.state == "ended"]


PACKS = VersionedConfig("coupon-packs", CouponPacks, CouponPacks, "coupon.packs_changed", "program:coupons",
                        provides={"coupon_pack": lambda packs: {p.id for p in packs.packs}},
                        records=_unknown_templates)

# What a grant's owner (benefit, top_up) stages when a pack owed to one of its grants is issued or
# expires (chalicelib/coupons/owed.py): set by the owner's service, named in app.py.
PACK_OWNERS = ("benefit", "top_up")
SETTLED: dict[str, Hook[Callable[[UnitOfWork, Any], None]]] = {owner: Hook() for owner in PACK_OWNERS}
