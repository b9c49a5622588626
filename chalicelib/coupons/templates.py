"""Coupon templates: created by HQ (the program's, or any merchant's) or by a merchant for itself;
each change of terms is a new version that only coupons issued from then on carry; states
``draft`` → ``active`` ⇄ ``paused`` → ``ended`` (claims and issues need ``active``; coupons already
issued stay usable within their own validity whatever the template's state)."""

from __future__ import annotations

from typing import Any

from chalicelib.coupons.schemas import CreateTemplate, SetState, UpdateTemplate
from chalicelib.coupons.tables import LISTING, BudgetItem, TemplateItem, TermsItem
from chalicelib.coupons.terms import Terms
from chalicelib.db.backend import SortKey
from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger import counters, stock
from chalicelib.merchants import service as merchants
from chalicelib.shared import clock
from chalicelib.shared.cache import TtlCache
from chalicelib.shared.errors import Conflict, Forbidden, NotFound, ValidationProblem, changed
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.ids import new_id
from chalicelib.shared.principal import Principal

MOVES = {"draft": ("active", "ended"), "active": ("paused", "ended"), "paused": ("active", "ended"), "ended": ()}
_TERMS: TtlCache[Terms] = TtlCache(3600.0, 4096)      # a version's terms never change (ids: ULIDs, unique)


class StateNotAllowed(Conflict):
    slug, title = "coupon-template-state", "The template cannot move to that state"


def stock_name(template_id: str) -> str:
    """The name of the template's stock (:mod:`chalicelib.ledger.stock`)."""
    return f"COUPON#{template_id}"


def _own_merchant(uow: UnitOfWork, by: Principal, merchant_id: str | None, terms: Terms) -> str | None:
    if by.store_id and not by.is_hq:
        raise Forbidden("a store's credentials cannot change its merchant's coupon templates")
    merchant, _ = merchants.place(uow, by, merchant_id)
    wanted = terms.applicability.merchants
    if merchant and wanted is not None and set(wanted) != {merchant}:
        raise ValidationProblem(f"a template of merchant {merchant} is used at that merchant only: "
                                "terms.applicability.merchants may name it alone")
    return merchant


def _limits_agree(total: float | None, daily: float | None, field: str) -> None:
    """Refuse a per-member daily limit above the per-member limit in all (the cap: the day could
    never reach it), naming ``field``, the one the request set."""
    if total is not None and daily is not None and daily > total:
        raise ValidationProblem(f"per_member_daily_limit {daily} is above per_member_limit {total}, a member's cap "
                                "in all", errors=[{"field": field, "message": "per_member_daily_limit may not be "
                                                  "above per_member_limit"}])


def create(cmd: CreateTemplate, by: Principal, uow: UnitOfWork) -> dict[str, Any]:
    """A new template, its first terms version and its stock."""
    _limits_agree(cmd.per_member_limit, cmd.per_member_daily_limit, "per_member_daily_limit")
    merchant = _own_merchant(uow, by, cmd.merchant_id, cmd.terms)
    tid, at = new_id(), clock.iso(clock.now())
    head = TemplateItem(*TemplateItem.key(tid), template_id=tid, merchant_id=merchant, state=cmd.state,
                        terms_version=1, title=cmd.terms.title, kind=cmd.terms.kind, stock=cmd.stock,
                        per_member_limit=cmd.per_member_limit, per_member_daily_limit=cmd.per_member_daily_limit,
                        budget_fen=cmd.budget_fen, store_budget_fen=cmd.store_budget_fen,
                        store_budget_period=cmd.store_budget_period, on_refund=cmd.on_refund,
                        claimable="yes" if cmd.claimable else "no", version=1, created_by=by.ref, created_at=at)
    head.gsi1pk, head.gsi1sk = TemplateItem.listed(merchant, tid)
    uow.create(head)
    uow.create(_terms_item(tid, 1, cmd.terms, by, at))
    stock.create(uow, stock_name(tid), cmd.stock)
    uow.emit(DomainEvent("coupon.template_created", f"coupon_template:{tid}", {
        "template_id": tid, "kind": cmd.terms.kind, "stock": cmd.stock, "state": cmd.state}, merchant_id=merchant))
    return view(uow, head, cmd.terms, level={"total": cmd.stock, "left": cmd.stock, "taken": 0})


def _terms_item(tid: str, version: int, terms: Terms, by: Principal, at: str) -> TermsItem:
    return TermsItem(*TermsItem.key(tid, version), template_id=tid, terms_version=version,
                     terms=terms.model_dump_json(exclude_none=True), saved_by=by.ref, saved_at=at)


def find(uow: UnitOfWork, template_id: str, by: Principal | None, consistent: bool = False) -> TemplateItem:
    """The template, if the caller may see it (a merchant's caller: its own merchant's; HQ and
    members: all; ``by`` None: the program's own work); else 404."""
    head = uow.get(TemplateItem, TemplateItem.key(template_id[:64]), consistent) if len(template_id) <= 64 else None
    if head is None or (by is not None and not visible(by, head)):
        raise NotFound(f"no coupon template {template_id[:64]}")
    return head


def visible(by: Principal, head: TemplateItem) -> bool:
    """Whether the caller sees the template: HQ all, members those out of draft, a merchant's
    caller its own."""
    if by.is_hq or by.kind == "member":
        return by.is_hq or head.state != "draft"
    return by.kind in ("merchant", "staff") and by.merchant_id is not None and by.merchant_id == head.merchant_id


def terms_of(uow: UnitOfWork, template_id: str, version: int) -> Terms:
    """A version's terms (cached: a version never changes)."""
    def load() -> Terms:
        item = uow.get(TermsItem, TermsItem.key(template_id, version), consistent=True)
        if item is None:
            raise NotFound(f"no terms version {version} of coupon template {template_id}")
        return Terms.model_validate_json(item.terms)
    return _TERMS.get((template_id, version), load)


def parsed(template_id: str, version: int, text: str) -> Terms:
    """A version's terms from the copy a coupon keeps (parsed once a container, as above)."""
    return _TERMS.get((template_id, version), lambda: Terms.model_validate_json(text))


def update(template_id: str, cmd: UpdateTemplate, by: Principal, uow: UnitOfWork) -> dict[str, Any]:
    """Change a template: new terms (a new version), its stock, limits or budgets."""
    head = find(uow, template_id, by, consistent=True)
    if by.store_id and not by.is_hq:
        raise Forbidden("a store's credentials cannot change its merchant's coupon templates")
    if head.state == "ended":
        raise StateNotAllowed(f"template {template_id} has ended")
    read, at = int(head.version or 0), clock.iso(clock.now())
    terms = None
    if cmd.terms is not None:
        terms = cmd.terms
        _own_merchant(uow, by, head.merchant_id, terms)
        head.terms_version = int(head.terms_version) + 1
        head.title, head.kind = terms.title, terms.kind
        uow.create(_terms_item(template_id, int(head.terms_version), terms, by, at),
                   on_conflict=changed("the template"))
    if cmd.add_stock:
        stock.add(uow, stock_name(template_id), cmd.add_stock)
        head.stock = int(head.stock) + cmd.add_stock
    if cmd.remove_stock:
        try:
            stock.remove(uow, stock_name(template_id), cmd.remove_stock)
        except stock.StockExhausted as short:
            raise stock.StockExhausted(f"template {template_id} has {short.extensions.get('left')} coupon(s) not yet "
                                       f"issued: {cmd.remove_stock} cannot be removed",
                                       left=short.extensions.get("left")) from None
        head.stock = int(head.stock) - cmd.remove_stock
    for name in ("per_member_limit", "per_member_daily_limit", "budget_fen", "store_budget_fen"):
        if name in cmd.model_fields_set:
            setattr(head, name, getattr(cmd, name))
    limits = {"per_member_daily_limit", "per_member_limit"} & cmd.model_fields_set
    if limits:                               # the field set names the refusal (daily first)
        _limits_agree(head.per_member_limit, head.per_member_daily_limit, sorted(limits)[0])
    if cmd.claimable is not None:
        head.claimable = "yes" if cmd.claimable else "no"
    head.updated_at = at
    uow.save_versioned(head, read, changed("the template"))
    level = stock.level(uow, stock_name(template_id))           # as read: the change is staged, not yet made
    moved = (cmd.add_stock or 0) - (cmd.remove_stock or 0)
    level = {**level, "total": level["total"] + moved, "left": level["left"] + moved}
    uow.emit(DomainEvent("coupon.template_updated", f"coupon_template:{template_id}", {
        "template_id": template_id, "terms_version": int(head.terms_version),
        "changed": sorted(cmd.model_fields_set)}, merchant_id=head.merchant_id))
    return view(uow, head, terms, level=level)


def set_state(template_id: str, cmd: SetState, by: Principal, uow: UnitOfWork) -> dict[str, Any]:
    """Move the template along :data:`MOVES` (the same state again: no change)."""
    head = find(uow, template_id, by, consistent=True)
    if by.store_id and not by.is_hq:
        raise Forbidden("a store's credentials cannot change its merchant's coupon templates")
    if cmd.state == head.state:
        return view(uow, head)
    if cmd.state not in MOVES[head.state]:
        raise StateNotAllowed(f"a {head.state} template cannot become {cmd.state}")
    read, before = int(head.version or 0), head.state
    head.state, head.updated_at = cmd.state, clock.iso(clock.now())
    uow.save_versioned(head, read, changed("the template"))
    uow.emit(DomainEvent("coupon.template_state_changed", f"coupon_template:{template_id}", {
        "template_id": template_id, "from": before, "to": cmd.state}, merchant_id=head.merchant_id))
    return view(uow, head)


def listing(uow: UnitOfWork, by: Principal, limit: int, after: str | None) -> dict[str, Any]:
    """The caller's templates (a merchant's: its own; HQ: all), in id order within each owner."""
    if by.is_hq:
        sort = SortKey.above(after) if after else None
    else:
        prefix = f"{by.merchant_id}#"
        sort = SortKey.above(after) if after and after.startswith(prefix) else SortKey.prefix(prefix)
    heads = []
    for head in uow.query(TemplateItem, LISTING, sort, index="gsi1", limit=limit + 1):
        if not by.is_hq and head.merchant_id != by.merchant_id:
            break
        heads.append(head)
        if len(heads) > limit:
            break
    more = len(heads) > limit
    heads = heads[:limit]
    return {"templates": [view(uow, h, levels=False) for h in heads],
            "next": heads[-1].gsi1sk if more and heads else None}


def _budget_used(uow: UnitOfWork, head: TemplateItem) -> int | None:
    if not head.budget_fen:
        return None
    return counters.total(uow, BudgetItem, BudgetItem.key(head.template_id))


def view(uow: UnitOfWork, head: TemplateItem, terms: Terms | None = None, *, levels: bool = True,
         level: dict[str, int] | None = None) -> dict[str, Any]:
    """A template as its owner sees it (with its stock's level unless ``levels`` is False)."""
    terms = terms or terms_of(uow, head.template_id, int(head.terms_version))
    if levels and level is None:
        level = stock.level(uow, stock_name(head.template_id))
    return {"template_id": head.template_id, "merchant_id": head.merchant_id, "state": head.state,
            "terms_version": int(head.terms_version), "terms": terms.model_dump(mode="json", exclude_none=True),
            "stock": {k: int(level[k]) for k in ("total", "left", "taken")} if level else None,
            "per_member_limit": head.per_member_limit, "per_member_daily_limit": head.per_member_daily_limit,
            "budget_fen": head.budget_fen, "budget_used_fen": _budget_used(uow, head) if levels else None,
            "store_budget_fen": head.store_budget_fen,
            "store_budget_period": head.store_budget_period, "on_refund": head.on_refund,
            "claimable": head.claimable == "yes", "created_at": head.created_at, "updated_at": head.updated_at}
