"""A member's coupons: claimed by the member (or issued to them), listed usable first, read one
by one. A claim is one transaction: a unit of the template's stock (:mod:`chalicelib.ledger.stock`,
sharded: a flash claim is spread over partitions), the member's counts bounded by the template's
limits (:mod:`chalicelib.ledger.counters`), the coupon, its code, and its event. Concurrent claims
can never take more than the stock nor give a member more than the limits: each bound is a
condition the table checks at commit, and a refused claim changes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from chalicelib.coupons import codes, domain, templates
from chalicelib.coupons.tables import CodeItem, CouponItem, MemberCountItem, TemplateItem
from chalicelib.coupons.terms import Terms
from chalicelib.db.backend import SortKey
from chalicelib.db.due import due_keys
from chalicelib.db.items import expiry_in
from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger import counters, stock
from chalicelib.members import service as members
from chalicelib.shared import clock, lazy
from chalicelib.shared.errors import Conflict, NotFound, changed
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.ids import new_id
from chalicelib.shared.principal import Principal

# The holds (take, confirm, release, status_of), which checkout's saga takes as steps: that module
# imports this one, so it is reached lazily.
holds = lazy.module("chalicelib.coupons.holds")

EXPIRY = "coupon-expiry"
REMIND_DAYS = 3                    # coupon.expiring this many days before a coupon ends
KEEP_DAYS = 90                     # a used, expired or void coupon stays in the member's list this long
MAX_LISTED = 200


class NotClaimable(Conflict):
    slug, title = "coupon-not-claimable", "This coupon cannot be claimed now"


class LimitReached(Conflict):
    slug, title = "coupon-limit-reached", "The member has as many of these coupons as the template allows"


def claim(member_id: str, template_id: str, by: Principal, uow: UnitOfWork, source: str = "claim") -> dict[str, Any]:
    """Give the member one coupon of the template (a claim of their own, or an issue by staff or
    a merchant's till)."""
    member = members.acting_on(uow, member_id, by)
    head = templates.find(uow, template_id, by)
    if by.kind == "member" and head.claimable != "yes":
        raise NotClaimable(f"template {template_id} is issued to members, not claimed")
    return issue(uow, member.member_id, head, 1, source)[0]


def issue(uow: UnitOfWork, member_id: str, head: TemplateItem, count: int, source: str,
          coupon_ids: list[str] | None = None) -> list[dict[str, Any]]:
    """Stage ``count`` coupons of an active template for the member: their units of stock (one
    take), the member's counts (one add each), each coupon, its code and its event. ``coupon_ids``:
    the coupons' ids (a job that may run again derives them), else new ones."""
    if head.state != "active":
        raise NotClaimable(f"template {head.template_id} is {head.state}")
    terms = templates.terms_of(uow, head.template_id, int(head.terms_version))
    if terms.kind == "third_party":        # its stock is its platform's codes: each issued at its first use
        raise NotClaimable(f"template {head.template_id}'s coupons are a platform's codes, issued when one is "
                           "written off: never claimed, issued, granted or bought with points")
    now = clock.now()
    ids = coupon_ids or [new_id() for _ in range(count)]
    coupons = [_coupon(member_id, head, terms, now, source, cid) for cid in ids]
    try:
        parts = stock.take(uow, templates.stock_name(head.template_id), count).parts
    except stock.StockExhausted:
        raise stock.StockExhausted(f"template {head.template_id} has not {count} coupon(s) left to issue",
                                   left=0) from None
    take = json.dumps([list(p) for p in parts])
    _count(uow, member_id, head, now, count)
    for coupon in coupons:
        coupon.stock_take = take
        uow.create(coupon, on_conflict=changed("the coupon"))
        uow.create(CodeItem(*CodeItem.key(coupon.code), member_id=member_id, coupon_id=coupon.coupon_id),
                   on_conflict=changed("the coupon's code"))         # a code drawn twice: the retry draws another
        subject, data = f"member:{member_id}", {
            "member_id": member_id, "coupon_id": coupon.coupon_id, "template_id": head.template_id,
            "terms_version": int(head.terms_version), "source": source, "valid_until": coupon.valid_until}
        uow.emit(DomainEvent("coupon.claimed", subject, data, merchant_id=head.merchant_id) if source == "claim"
                 else DomainEvent("coupon.issued", subject, data, merchant_id=head.merchant_id))
    return [view(c, terms, now) for c in coupons]


def stage_pack(uow: UnitOfWork, member_id: str, pack_id: str, why: str, seed: str | None = None) -> list[str] | None:
    """Stage the coupons of the pack ``pack_id`` in force for the member (every one within its
    template's stock and limits, or the unit fails); None when no such pack is in force. ``seed``:
    the grant's own key, from which the coupons' ids are derived (a retry never issues twice)."""
    from chalicelib.coupons import packs
    found = packs.pack(uow, pack_id)
    if found is None:
        return None
    return [c["coupon_id"] for c in packs.stage(uow, member_id, found, why, seed)]


def grant_pack(uow: UnitOfWork, member_id: str, pack_id: str, owner: str, ref: str, why: str,
               owe_because: str | None = None) -> tuple[list[str], str | None]:
    """A grant's coupon pack (``owner``: benefit | top_up, ``ref``: the grant's own key), staged in
    the grant's unit: ``(coupon ids, None)``, or ``([], reason)`` when the pack is owed instead
    (``owe_because`` given: the caller's first unit was refused, see :func:`pack_refusals`; or no
    such pack is in force): the ``coupon-owed`` job issues it later (:mod:`.owed`)."""
    from chalicelib.coupons import owed
    if owe_because is None:
        point = uow.savepoint()
        try:
            issued = stage_pack(uow, member_id, pack_id, why, owed.seed_of(owner, ref, member_id))
            if issued is None:
                owe_because = f"no coupon pack {pack_id[:64]} in force"
            else:
                _within_limits(uow, member_id, pack_id)
                return issued, None
        except owed.refusals() as refused:             # refused while staging: none of the pack, owed
            uow.rollback_to(point)
            owe_because = refused.detail
    owed.owe(uow, member_id, pack_id, owner, ref, why, owe_because)
    return [], owe_because


def _within_limits(uow: UnitOfWork, member_id: str, pack_id: str) -> None:
    """Refuse a pack that would take the member past a template's limits, as its commit would: read
    first, so the grant owes the pack instead of failing (a concurrent claim can still pass it:
    then the commit refuses, and the caller's retry owes it)."""
    from chalicelib.coupons import packs
    found = packs.pack(uow, pack_id)
    day = clock.program_date().isoformat()
    for item in found.items if found else []:
        head = templates.find(uow, item.template_id, None)
        for limit, key in ((head.per_member_limit, MemberCountItem.key(member_id, head.template_id)),
                           (head.per_member_daily_limit, MemberCountItem.key(member_id, head.template_id, day))):
            if limit and counters.total(uow, MemberCountItem, key) + item.count > int(limit):
                raise LimitReached(f"at most {int(limit)} of template {head.template_id} a member")


def pack_owed(uow: UnitOfWork, member_id: str, owner: str, ref: str) -> dict[str, Any] | None:
    """The pack owed for the grant ``owner``/``ref`` (its status, reason, tries), or None."""
    from chalicelib.coupons import owed
    found = owed.find(uow, member_id, owner, ref)
    return owed.view(found) if found else None


def pack_refusals() -> tuple[type[Exception], ...]:
    """What a grant's pack may be refused for (out of stock, a limit, a template not active): the
    granting caller records its grant again with the pack owed (:func:`grant_pack`)."""
    from chalicelib.coupons import owed
    return owed.refusals()


def on_pack_settled(owner: str, tell: Callable[[UnitOfWork, Any], None]) -> None:
    """Register what ``owner`` stages when one of its owed packs is issued or expires:
    ``tell(uow, owed_item)`` (the item's ``status``, ``reason``, ``member_id`` and ``ref``)."""
    from chalicelib.coupons.pack_rules import SETTLED
    SETTLED[owner].use(tell)


def on_tier_members(source: Any) -> None:
    """Register where a targeted issue to a tier reads the tier's members
    (:class:`chalicelib.coupons.audience.TierMembers`: the tiers capability's listing)."""
    from chalicelib.coupons.audience import TIER_MEMBERS
    TIER_MEMBERS.use(source)


class NotForPoints(Conflict):
    slug, title = "coupon-not-for-points", "This coupon is not exchanged for points"


def points_price(uow: UnitOfWork, template_id: str, by: Principal) -> int:
    """What one coupon of the template costs in points (its current terms' ``points_price``), if
    it is active and the caller sees it; else a refusal, before anything is spent."""
    head = templates.find(uow, template_id, by)
    if head.state != "active":
        raise NotClaimable(f"template {head.template_id} is {head.state}")
    price = templates.terms_of(uow, head.template_id, int(head.terms_version)).points_price
    if price is None:
        raise NotForPoints(f"template {head.template_id} has no points_price")
    return price


def exchange(uow: UnitOfWork, member_id: str, template_id: str) -> dict[str, Any]:
    """Stage one coupon of the template for points spent in the same unit (``points``: its source):
    its stock, the member's limits, the coupon, its code and ``coupon.issued``, all checked at
    the commit that also takes the points."""
    return issue(uow, member_id, templates.find(uow, template_id, None), 1, "points")[0]


def _coupon(member_id: str, head: TemplateItem, terms: Terms, now: datetime, source: str, cid: str) -> CouponItem:
    tz = clock.program_zone()
    until = domain.valid_until(terms, now, tz)
    if until is not None and until <= now:
        raise NotClaimable(f"template {head.template_id}'s coupons are valid until {clock.iso(until)}: past")
    c = CouponItem(*CouponItem.key(member_id, cid), coupon_id=cid, member_id=member_id,
                   template_id=head.template_id, terms_version=int(head.terms_version),
                   terms=terms.model_dump_json(exclude_none=True), merchant_id=head.merchant_id,
                   code=codes.new_code(), state="unused", source=source,
                   valid_from=clock.iso(domain.valid_from(terms, now)),
                   valid_until=clock.iso(until) if until else None, claimed_at=clock.iso(now), version=1)
    if until is not None:
        due_at(c, until, reminded=until - timedelta(days=REMIND_DAYS) <= now)
    return c


def due_at(c: CouponItem, until: datetime, reminded: bool) -> None:
    """Put an unused coupon on the expiry index: :data:`REMIND_DAYS` before its end (then its
    reminder moves it to its end), or at its end once reminded (or too close to it for one)."""
    when = until if reminded else until - timedelta(days=REMIND_DAYS)
    tag = "E" if reminded else "R"
    c.duepk, c.duesk = due_keys(EXPIRY, clock.program_date(when), f"{clock.iso(when)}#{tag}#{c.coupon_id}")


def _count(uow: UnitOfWork, member_id: str, head: TemplateItem, now: datetime, count: int) -> None:
    limit = int(head.per_member_limit) if head.per_member_limit else None
    counters.add(uow, MemberCountItem(*MemberCountItem.key(member_id, head.template_id)), count, limit,
                 lambda: LimitReached(f"at most {limit} of template {head.template_id} a member"))
    if head.per_member_daily_limit:
        daily = int(head.per_member_daily_limit)
        day = clock.program_date(now).isoformat()
        counters.add(uow, MemberCountItem(*MemberCountItem.key(member_id, head.template_id, day)), count, daily,
                     lambda: LimitReached(f"at most {daily} of template {head.template_id} a member a day"),
                     also=[MemberCountItem.expires_at.set(expiry_in(3))])


def terms_of(c: CouponItem) -> Terms:
    """The terms a coupon was issued under (parsed once per template version in a container: a
    version's terms never change, and a member's list of 50 coupons parses a few, not 50)."""
    return templates.parsed(c.template_id, int(c.terms_version), c.terms)


def at_merchant(c: CouponItem, merchant: str | None) -> str | None:
    """None if the coupon may be used at ``merchant`` (a merchant's template: its own only), else why not."""
    if c.merchant_id is not None and merchant != c.merchant_id:
        return f"merchant: the coupon is used at merchant {c.merchant_id} only"
    return None


def usable_now(c: CouponItem, terms: Terms, now: datetime) -> str | None:
    """None if the coupon can be used now (its cart aside), else why not."""
    if c.state != "unused":
        return f"{c.state}: the coupon is {c.state}"
    if clock.parse_iso(c.valid_from) > now:
        return f"not_yet_valid: valid from {c.valid_from}"
    if c.valid_until and clock.parse_iso(c.valid_until) <= now:
        return f"expired: valid until {c.valid_until}"
    return domain.in_window(terms, now, clock.program_zone())


def view(c: CouponItem, terms: Terms | None = None, now: datetime | None = None, *,
         with_code: bool = True) -> dict[str, Any]:
    """A coupon as its member (and the program's callers) see it."""
    terms = terms or terms_of(c)
    now = now or clock.now()
    why = usable_now(c, terms, now)
    return {"coupon_id": c.coupon_id, "member_id": c.member_id, "template_id": c.template_id,
            "terms_version": int(c.terms_version), "terms": terms.model_dump(mode="json", exclude_none=True),
            "code": c.code if with_code else None, "state": c.state, "source": c.source,
            "valid_from": c.valid_from, "valid_until": c.valid_until, "claimed_at": c.claimed_at,
            "usable_now": why is None, "why_not": why, "used_at": c.used_at, "used_order_id": c.used_order_id,
            "used_merchant_id": c.used_merchant_id, "used_store_id": c.used_store_id,
            "saving_fen": int(c.saving_fen) if c.saving_fen is not None else None,
            "cost": json.loads(c.cost) if c.cost else None, "merchant_id": c.merchant_id}


def _shows_code(by: Principal, c: CouponItem) -> bool:
    """The member and HQ see a coupon's code; a merchant's caller only on its own template's."""
    return by.kind == "member" or by.is_hq or (c.merchant_id is not None and by.merchant_id == c.merchant_id)


def member_coupons(uow: UnitOfWork, member_id: str, by: Principal, state: str | None) -> dict[str, Any]:
    """The member's coupons (kept :data:`KEEP_DAYS` after use or expiry), usable first (soonest
    to expire first), then the rest with why not."""
    member = members.acting_on(uow, member_id, by)
    now = clock.now()
    shown = []
    for c in uow.query(CouponItem, f"MEMBER#{member.member_id}", SortKey.prefix("COUPON#"), limit=MAX_LISTED):
        if state is None or c.state == state:
            shown.append(view(c, None, now, with_code=_shows_code(by, c)))
    shown.sort(key=lambda v: (not v["usable_now"], v["valid_until"] or "9999", v["coupon_id"]))
    return {"member_id": member.member_id, "coupons": shown,
            "usable": sum(1 for v in shown if v["usable_now"])}


def get(uow: UnitOfWork, member_id: str, coupon_id: str, by: Principal) -> dict[str, Any]:
    """One of the member's coupons."""
    member = members.acting_on(uow, member_id, by)
    c = uow.get(CouponItem, CouponItem.key(member.member_id, coupon_id[:64]))
    if c is None:
        raise NotFound(f"no coupon {coupon_id[:64]} of member {member.member_id}")
    return view(c, with_code=_shows_code(by, c))


def retire(c: CouponItem, state: str) -> None:
    """The coupon leaves ``unused``: off the expiry index, kept :data:`KEEP_DAYS` in the list."""
    c.state, c.duepk, c.duesk = state, None, None
    c.expires_at = expiry_in(KEEP_DAYS)


def best_for_cart(uow: UnitOfWork, member_id: str, merchant_id: str | None, store_id: str | None,
                  channel: str | None, lines: list[Any], now: datetime, codes: list[str] | None = None) -> dict[str, Any]:
    """A member's best coupons for a member-priced cart (checkout's quote; reads only): see
    :mod:`chalicelib.coupons.choice`. ``lines``: (sku, category, quantity, member total fen)."""
    from chalicelib.coupons import choice
    coupons, missing = choice.member_coupons(uow, member_id, codes)
    on = choice.cart(merchant_id, store_id, channel, [choice.CartLine(*line) for line in lines])
    found = choice.choose(coupons, on, merchant_id, now)
    found["not_chosen"] += [{"coupon_id": None, "template_id": None, "code": code,
                             "why": "not_found: no unused coupon of this member has this code"} for code in missing]
    found["considered"] = len(coupons)
    return found


# The write-off and its undo (that module imports this one, so it is reached lazily): a checkout's
# refund gives its coupons back through the undo.
use = lazy.module("chalicelib.coupons.use")


def undo_for_refund(uow: UnitOfWork, member_id: str, coupon_id: str, order_id: str, by: Principal,
                    reason: str | None) -> dict[str, Any] | None:
    """Undo the write-off of the member's coupon on ``order_id`` (a refund of the order that used
    it): back to unused or void by its template's policy (``use.undo``, checked and guarded as a
    till's undo). None: the coupon is not written off on that order (undone already)."""
    from chalicelib.coupons.schemas import UndoWriteOff
    c = uow.get(CouponItem, CouponItem.key(member_id, coupon_id[:64]), consistent=True)
    if c is None or c.state != "used" or c.used_order_id != order_id:
        return None
    return dict(use.undo(UndoWriteOff(code=c.code, order_id=order_id, reason=reason), by, uow))


# --- for the balance sheet (chalicelib/reports/balance.py) ---------------------------------------

def template_listing(uow: UnitOfWork, by: Principal, limit: int, after: str | None) -> dict[str, Any]:
    """The caller's templates, a page at a time (``listCouponTemplates``)."""
    return templates.listing(uow, by, limit, after)


def template_figures(uow: UnitOfWork, template_id: str) -> dict[str, int]:
    """A template's figures in all (claimed, issued, used, undone, expired, saving_fen...: ``getCouponStats``)."""
    from chalicelib.coupons import stats
    return stats.totals(uow, template_id)


def figures_fold() -> Any:  # noqa: ANN401
    """The coupon figures' folding consumer (what one event adds to a template's rows)."""
    from chalicelib.coupons import stats
    return stats.project
