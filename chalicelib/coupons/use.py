"""Coupons at the till: validate a code against a cart, write it off, undo a write-off.

A till (a signed POS request, or a clerk writing off on the member's behalf, 导购代客核销: the
caller is recorded) presents the code with the cart. The code is looked up in one read (a wrong
or unknown code counts toward the caller's lockout, :mod:`chalicelib.coupons.guard`); the coupon
must be unused, of the member identified (if one is), valid now (its window in the program's time
zone), and apply to the cart (merchant, store, channel, SKUs, categories, threshold). The
write-off is one transaction: the coupon ``unused`` → ``used`` on the condition that it is still
unused at the version read (eight tills writing off one coupon at once: one wins, seven get 409),
the template's budgets (in all, and per store per period) bounded at commit, and
``coupon.used`` with the saving and who bears it. An undo (a refund) gives the coupon back if the
template says so and it is still valid, or voids it, and returns its saving to the budgets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.coupons import codes, domain, guard, templates, third_party, verifiers
from chalicelib.coupons.schemas import UndoWriteOff, UseCoupon
from chalicelib.coupons.service import REMIND_DAYS, at_merchant, due_at, retire, terms_of, usable_now, view
from chalicelib.coupons.tables import BudgetItem, CodeItem, CouponItem, CouponUseItem
from chalicelib.coupons.terms import Terms
from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger import counters
from chalicelib.members import service as members
from chalicelib.merchants import service as merchants
from chalicelib.shared import clock
from chalicelib.shared.errors import Conflict, NotFound, ValidationProblem, changed
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.ids import new_id
from chalicelib.shared.principal import Principal


class CouponNotUsable(Conflict):
    slug, title = "coupon-not-usable", "The coupon cannot be used on this order now"


class CouponUsed(Conflict):
    slug, title = "coupon-used", "The coupon was used already"


class BudgetExhausted(Conflict):
    slug, title = "coupon-budget-exhausted", "The coupon's budget has no room for this saving"


class NotWrittenOff(Conflict):
    slug, title = "coupon-not-written-off", "The coupon was not written off on this order"


def _present(uow: UnitOfWork, code: str, by: Principal, member_id: str | None = None,
             template_id: str | None = None) -> CouponItem:
    """The coupon of ``code``, its lookup counted against the caller first (:mod:`guard`). A code
    unknown, mistyped or another merchant's gets the same answer after the same reads. A code that
    is not ours may be a platform's (:mod:`third_party`): found by its keyed hash, its coupon made
    at its first use (held by ``member_id``, or walk-in)."""
    place = guard.admit(uow, by)
    try:
        found = uow.get(CodeItem, CodeItem.key(code), consistent=True) if codes.well_formed(code) else None
        if found is not None:
            c = uow.get(CouponItem, CouponItem.key(found.member_id, found.coupon_id), consistent=True)
        else:
            theirs = third_party.find(uow, code)
            holder = _holder(uow, member_id, by)
            c = third_party.coupon_of(uow, theirs, holder) if theirs is not None \
                else third_party.live_coupon(uow, code, template_id, holder)
    except Exception:
        guard.done(uow, place, right=True)          # no answer: the flight back, no wrong code counted
        raise
    if c is None or not _may_use(by, c):
        raise guard.rejected(uow, place)
    guard.done(uow, place, right=True)
    return c


def _holder(uow: UnitOfWork, member_id: str | None, by: Principal) -> str | None:
    """The member named at the till, if any (a third-party code's coupon is made in their partition)."""
    return members.acting_on(uow, member_id, by).member_id if member_id else None


def _may_use(by: Principal, c: CouponItem) -> bool:
    """A merchant's caller uses coupons of its own templates or of the program's."""
    return by.is_hq or c.merchant_id is None or by.merchant_id == c.merchant_id


def _cart(cmd: UseCoupon, merchant: str, store: str | None) -> domain.Cart:
    lines = tuple(domain.Line(x.sku, x.category, x.quantity, x.unit_price_fen) for x in cmd.lines) if cmd.lines \
        else (domain.Line(None, None, 1, int(cmd.order_amount_fen or 0)),)
    return domain.Cart(merchant, store, cmd.channel, lines, shipping_fen=cmd.shipping_fen,
                       parking_hours=cmd.parking_hours)


def order_amount(cmd: UseCoupon) -> int:
    """The order's amount as the till sent it: its lines' sum, or ``order_amount_fen``."""
    return sum(line.amount_fen for line in _cart(cmd, "", None).lines)


def check(uow: UnitOfWork, cmd: UseCoupon, by: Principal) -> tuple[CouponItem, Terms, str, str | None,
                                                                    domain.Saving | None, str | None]:
    """The coupon of the code, its terms, the merchant and store, its saving on the cart, and why
    it is not usable (None: usable)."""
    c = _present(uow, cmd.code, by, cmd.member_id, cmd.template_id)
    merchant, store = merchants.place(uow, by, cmd.merchant_id, cmd.store_id, merchant_required=True)
    assert merchant is not None
    terms = terms_of(c)
    now = clock.now()
    why = usable_now(c, terms, now)
    if why is None and cmd.member_id is not None and cmd.member_id != c.member_id and terms.kind != "third_party":
        why = "another_member: the coupon is another member's"
    why = why or at_merchant(c, merchant)
    if why is None:
        why = domain.applies_to(terms, _cart(cmd, merchant, store))
    saving = domain.saving(terms, _cart(cmd, merchant, store)) if why is None else None
    return c, terms, merchant, store, saving, why


def validate(cmd: UseCoupon, by: Principal, uow: UnitOfWork) -> dict[str, Any]:
    """Whether the coupon applies to the cart now, and what it would take off (nothing changes)."""
    c, terms, _, _, saving, why = check(uow, cmd, by)
    return {"usable": why is None, "why_not": why, "saving": saving_view(saving), "coupon": view(c, terms)}


def saving_view(s: domain.Saving | None) -> dict[str, Any] | None:
    """A saving as the replies show it: ``fen`` all it saves (a free-shipping coupon's is the fee
    waived, on no line), as the budgets, the cost split and the figures count it."""
    if s is None:
        return None
    return {"fen": s.total_fen, "lines": [{"line": i, "fen": f} for i, f in sorted(s.lines.items())],
            "shipping_fen": s.shipping_fen, "parking_hours": s.parking_hours, "gift_sku": s.gift_sku}


def cost_split(terms: Terms, fen: int) -> dict[str, int]:
    """Who bears ``fen``: the template's shares in percent, largest remainder (sums exactly)."""
    shares = terms.cost_bearer.shares
    exact = {who: fen * pct for who, pct in shares.items()}
    split: dict[str, int] = {who: v // 100 for who, v in exact.items()}
    for who in sorted(exact, key=lambda w: (-(exact[w] % 100), w))[:fen - sum(split.values())]:
        split[who] += 1
    return split


def period_of(period: str, now: datetime) -> str:
    """The store budget's period holding ``now``: a program day, ISO week or month."""
    day = clock.program_date(now)
    if period == "month":
        return day.strftime("%Y-%m")
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return day.isoformat()


@dataclass(frozen=True)
class Taken:
    """A coupon the till may use on the order, its saving counted in the budgets (staged)."""

    coupon: CouponItem
    terms: Terms
    merchant_id: str
    store_id: str | None
    saving: domain.Saving


def take(uow: UnitOfWork, cmd: UseCoupon, by: Principal, now: datetime) -> Taken:
    """The coupon, if it can be used on the order now (else 409), its saving staged on the budgets:
    what a write-off and a checkout's lock both begin with."""
    c, terms, merchant, store, saving, why = check(uow, cmd, by)
    if why is not None or saving is None:
        raise (CouponUsed if c.state == "used" else CouponNotUsable)(why or "it applies to nothing", why_not=why)
    budgets(uow, templates.find(uow, c.template_id, None), store, saving.total_fen, now, c)
    if third_party.is_first_use(c):
        third_party.stage_first_use(uow, c, CouponUsed, terms.platform if terms.codes == "live" else None)
    return Taken(c, terms, merchant, store, saving)


def write_off(cmd: UseCoupon, by: Principal, uow: UnitOfWork) -> dict[str, Any]:
    """Use the coupon on the order: once, within its budgets."""
    now = clock.now()
    t = take(uow, cmd, by, now)
    fen = t.saving.total_fen                     # a free-shipping coupon's saving is the fee it waives
    mark_used(uow, t.coupon, t.terms, Use(cmd.order_id, t.merchant_id, t.store_id, by.ref, fen,
                                          cost_split(t.terms, fen), order_amount(cmd)), now)
    if t.terms.codes == "live" and t.terms.platform:     # last: a platform that fails leaves nothing staged used
        verifiers.current().consume(t.terms.platform, third_party.normalise(cmd.code) or cmd.code, cmd.order_id)
    return {"written_off": True, "saving": saving_view(t.saving), "coupon": view(t.coupon, t.terms, now)}


@dataclass(frozen=True)
class Use:
    """A write-off: the order, where, by whom, the saving and who bears it, the order's amount."""

    order_id: str
    merchant_id: str
    store_id: str | None
    by: str
    fen: int
    cost: dict[str, int]
    order_amount_fen: int


def mark_used(uow: UnitOfWork, c: CouponItem, terms: Terms, use: Use, now: datetime) -> None:
    """Stage the coupon used (at the version read: a coupon changed meanwhile is 409) and
    ``coupon.used``."""
    read = int(c.version or 0)
    retire(c, "used")
    c.hold_id = None
    c.used_at, c.used_order_id, c.used_merchant_id, c.used_store_id = clock.iso(now), use.order_id, use.merchant_id, \
        use.store_id
    c.used_by, c.saving_fen, c.cost, c.order_amount_fen = use.by, use.fen, json.dumps(use.cost), use.order_amount_fen
    uow.save_versioned(c, read, lambda: CouponUsed("the coupon was used (or changed) meanwhile"))
    _listed(uow, c, "use", use, now)
    uow.emit(DomainEvent("coupon.used", f"member:{c.member_id}", {
        "member_id": c.member_id, "coupon_id": c.coupon_id, "template_id": c.template_id, "order_id": use.order_id,
        "store_id": use.store_id, "saving_fen": use.fen, "cost": use.cost, "by": use.by, "kind": terms.kind,
        "order_amount_fen": use.order_amount_fen}, merchant_id=use.merchant_id))


def _listed(uow: UnitOfWork, c: CouponItem, kind: str, use: Use, now: datetime) -> None:
    """Stage the write-off's (or undo's) own record, listed under its program day (exports)."""
    at, use_id = clock.iso(now), new_id()
    row = CouponUseItem(*CouponUseItem.key(c.coupon_id, at, use_id), use_id=use_id, kind=kind, coupon_id=c.coupon_id,
                        template_id=c.template_id, owner_merchant_id=c.merchant_id, member_id=c.member_id,
                        merchant_id=use.merchant_id or None, store_id=use.store_id, order_id=use.order_id or None,
                        saving_fen=use.fen, order_amount_fen=use.order_amount_fen, cost=json.dumps(use.cost),
                        by=use.by, at=at)
    row.list_on(clock.program_date(now).isoformat())
    uow.create(row)


def budgets(uow: UnitOfWork, head: Any, store: str | None, fen: int, now: datetime, c: CouponItem) -> None:
    """Stage ``fen`` on the template's budgets (in all, and the store's for the period), each
    bounded at commit."""
    if head.budget_fen:
        limit = int(head.budget_fen)
        counters.add(uow, BudgetItem(*BudgetItem.key(head.template_id)), fen, limit,
                     lambda: BudgetExhausted(f"template {head.template_id}'s budget of {limit} fen has no room "
                                             f"for {fen} fen more"))
    if head.store_budget_fen and not store:
        raise ValidationProblem("store_id is required: the coupon's template has a budget per store")
    if head.store_budget_fen and store:
        limit, period = int(head.store_budget_fen), period_of(head.store_budget_period or "day", now)
        c.budget_period = period
        counters.add(uow, BudgetItem(*BudgetItem.key(head.template_id, store, period)), fen, limit,
                     lambda: BudgetExhausted(f"store {store}'s budget of {limit} fen for {period} has no room "
                                             f"for {fen} fen more"))


def give_back(uow: UnitOfWork, head: Any, store: str | None, period: str | None, fen: int) -> None:
    """Stage ``fen`` back off the budgets :func:`budgets` counted it in (a use undone, a lock released)."""
    if head.budget_fen:
        counters.add(uow, BudgetItem(*BudgetItem.key(head.template_id)), -fen, None, changed("the coupon's budget"))
    if head.store_budget_fen and store and period:
        counters.add(uow, BudgetItem(*BudgetItem.key(head.template_id, store, period)), -fen, None,
                     changed("the coupon's budget"))


def undo(cmd: UndoWriteOff, by: Principal, uow: UnitOfWork) -> dict[str, Any]:
    """Undo the coupon's write-off on the order (a refund): it comes back if the template says so
    and it is still valid, else it is void; its saving leaves the budgets."""
    c = _present(uow, cmd.code, by)
    if c.state == "used" and not merchants.acts_for(by, c.used_merchant_id, c.used_store_id):
        raise NotFound("no write-off of this coupon by your merchant or store")   # another's record (errors.md)
    if c.state != "used" or c.used_order_id != cmd.order_id:
        raise NotWrittenOff(f"the coupon was not written off on order {cmd.order_id}")
    terms = terms_of(c)
    now = clock.now()
    if terms.kind == "third_party":
        window = terms.undo_window_minutes
        if (now - clock.parse_iso(c.used_at)).total_seconds() > window * 60:
            raise NotWrittenOff(f"a third-party code's write-off can be undone within {window} minutes only")
    if terms.codes == "live" and terms.platform:         # first: a platform that fails changes nothing
        verifiers.current().cancel(terms.platform, third_party.normalise(cmd.code) or cmd.code, cmd.order_id)
    fen, read = int(c.saving_fen or 0), int(c.version or 0)
    changed_meanwhile = lambda: NotWrittenOff("the coupon changed meanwhile")  # noqa: E731
    head = templates.find(uow, c.template_id, None)
    give_back(uow, head, c.used_store_id, c.budget_period, fen)
    valid = c.valid_until is None or clock.parse_iso(c.valid_until) > now
    back = (head.on_refund == "restore" or terms.kind == "third_party") and valid   # the platform refunds its voucher
    order, merchant, store, cost, amount = c.used_order_id, c.used_merchant_id, c.used_store_id, c.cost, \
        c.order_amount_fen                       # (merchant: where it was used)
    if back:
        c.state, c.expires_at = "unused", None
        if c.valid_until:
            until = clock.parse_iso(c.valid_until)
            due_at(c, until, reminded=until - timedelta(days=REMIND_DAYS) <= now)
    else:
        retire(c, "void")
    c.undone_at = clock.iso(now)
    if back:                               # the use is in the event and the order's history; the coupon is fresh
        for name in ("used_at", "used_order_id", "used_merchant_id", "used_store_id", "used_by", "saving_fen",
                     "cost", "budget_period", "order_amount_fen"):
            setattr(c, name, None)
    uow.save_versioned(c, read, changed_meanwhile)
    spent = json.loads(cost) if cost else {}
    _listed(uow, c, "undo", Use(order or "", merchant or "", store, by.ref, -fen, {k: -v for k, v in spent.items()},
                                int(amount or 0)), now)
    uow.emit(DomainEvent("coupon.write_off_undone", f"member:{c.member_id}", {
        "member_id": c.member_id, "coupon_id": c.coupon_id, "template_id": c.template_id, "order_id": order,
        "saving_fen": fen, "restored": back, "reason": cmd.reason, "by": by.ref, "store_id": store,
        "cost": spent, "order_amount_fen": int(amount or 0), "used_merchant_id": merchant,
        "owner_merchant_id": c.merchant_id},
        # the merchant where it was used, as on coupon.used: the merchant's figures and webhooks are
        # its own (found from outside: the template's owner, null for the program's, left a
        # merchant's dashboard counting undone uses and sent A's undo to B's subscription)
        merchant_id=merchant))
    return {"restored": back, "coupon": view(c, terms, now)}
