"""The pricing capability's service API: the member's prices for a cart (what checkout's quote
calls, and ``priceCart`` answers a till or a member app), from the price lists and the benefits
in force at one moment. Reads only; changes nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.benefits import service as benefits
from chalicelib.db.uow import UnitOfWork
from chalicelib.members import service as members
from chalicelib.pricing import domain
from chalicelib.pricing.lists import PRICE_LISTS
from chalicelib.pricing.schemas import PriceCart
from chalicelib.shared import clock
from chalicelib.shared.principal import Principal
from chalicelib.tiers import service as tiers


def terms_at(uow: UnitOfWork, member: members.Member | None, when: datetime) -> tuple[domain.MemberTerms, dict[str, Any]]:
    """The member's pricing benefits at ``when`` (none for a walk-in customer) and what they were
    taken from (tier, rules, price list version)."""
    lists_version, lists = PRICE_LISTS.at(uow, when)
    if member is None:
        return domain.MemberTerms(), {"member_id": None, "tier": None, "price_list_version": lists_version}
    found = benefits.in_force(uow, member, when)
    best = found.best
    chosen = lists.find(best["price_list"])
    list_rule = next((g["rule"] for g in found.given if g["kind"] == "price_list" and g["ref"] == best["price_list"]),
                     None)
    terms = domain.MemberTerms(price_list=chosen.id if chosen else None, price_list_rule=list_rule if chosen else None,
                               prices=chosen.prices if chosen else {}, discount_percent=best["discount_percent"],
                               discount_rule=best["discount_rule"])
    return terms, {"member_id": member.member_id, "tier": found.facts.codes[found.facts.tier],
                   "price_list_version": lists_version}


def price(uow: UnitOfWork, lines: list[domain.Line], member: members.Member | None, when: datetime) -> dict[str, Any]:
    """The cart at the member's prices at ``when``, as the replies show it."""
    terms, source = terms_at(uow, member, when)
    cart = domain.price_cart(lines, terms)
    return {**source, "at": clock.iso(when), "price_list": terms.price_list, "discount_percent": terms.discount_percent,
            "lines": [view(p) for p in cart.lines], "list_total_fen": cart.list_total_fen,
            "member_total_fen": cart.member_total_fen, "discount_fen": cart.discount_fen}


def view(p: domain.PricedLine) -> dict[str, Any]:
    """A priced line as the replies show it."""
    return {"line": p.line, "sku": p.sku, "category": p.category, "quantity": p.quantity,
            "unit_price_fen": p.unit_price_fen, "member_unit_price_fen": p.member_unit_price_fen,
            "list_total_fen": p.list_total_fen, "member_total_fen": p.member_total_fen,
            "discount_fen": p.discount_fen, "rule": p.rule, "benefit_rule": p.benefit_rule,
            "price_list": p.price_list}


def price_cart(cmd: PriceCart, by: Principal, uow: UnitOfWork) -> dict[str, Any]:
    """``priceCart``: the member named (a member's own token: themselves; none: a walk-in) and the
    cart at their prices now, or at ``cmd.at``."""
    when = cmd.at or clock.now()
    member_id = cmd.member_id or ("me" if by.kind == "member" else None)
    member = None
    if member_id is not None:
        own, wanted = members.record_key(member_id, by)
        uow.prefetch([*wanted, *tiers.tier_keys(own)])          # the member, tier and plan: one read
        member = members.acting_on(uow, member_id, by)
    lines = [domain.Line(line.sku, line.quantity, line.unit_price_fen, line.category) for line in cmd.lines]
    return price(uow, lines, member, when)


Line = domain.Line          # a cart line as :func:`price` takes it (for checkout's quote)
