"""The checkout capability's service API: ``quoteCheckout`` and ``getCheckoutQuote``.

A quote identifies the member (a member id, a member code resolved once, the member's own
token, a payer's identity (支付即会员: registered with the quote if no member has it and the
program enables it, :func:`chalicelib.members.service.register_payer`), or nobody: a walk-in customer at list
prices with no coupons, points or stored value),
prices the cart (:mod:`chalicelib.pricing`), chooses the member's best coupons on the member
prices (:mod:`chalicelib.coupons`), offers the most points the rules and the balance allow on
what is left (:mod:`chalicelib.points`), shows the stored value that could pay the rest, and
splits every line to the fen (:mod:`.domain`). It is stored as one item (:mod:`.quotes`) for
five minutes; it writes nothing else but the member code's use (and the request's idempotency
record), in one transaction.

Cost, whatever the member's history: the merchant and store (a read each, cached), the member
code's guard and handle, one batch read (member, tier, paid plan, points account, stored value
account), the configuration in force (price lists, benefit rules, points rules: versioned, cached),
one Query of the member's coupons (at most 200), and one transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.checkout import domain, quotes
from chalicelib.checkout.schemas import QuoteCheckout
from chalicelib.coupons import service as coupons
from chalicelib.db.uow import UnitOfWork
from chalicelib.member_codes import service as member_codes
from chalicelib.members import service as members
from chalicelib.merchants import service as merchants
from chalicelib.points import service as points
from chalicelib.pricing import service as pricing
from chalicelib.shared import clock
from chalicelib.shared.errors import Forbidden, NotFound
from chalicelib.shared.ids import new_id
from chalicelib.shared.principal import Principal
from chalicelib.stored_value import service as stored_value
from chalicelib.tiers import service as tiers

ROUNDING = ("points are worth floor(points × 100 / points_per_yuan) fen (rounded down), taken as the fewest points "
            "worth those fen; the share cap is floor(amount after coupons × max_share_percent / 100) fen in points")


def _member(uow: UnitOfWork, cmd: QuoteCheckout, by: Principal, merchant: str,
            store: str | None) -> tuple[members.Member | None, str, bool]:
    """The member quoted for, how they were named, and whether this quote registered them
    (a payer no member has, where the program enables pay-as-member); None: a walk-in customer."""
    if by.kind == "member":
        if cmd.member_code is not None or cmd.payer is not None:
            raise Forbidden("a member's app names its member by its token, not by a member code or a payer")
        member_id, how = cmd.member_id or "me", "token"
    elif cmd.member_code is not None:
        member_id, how = member_codes.resolve(uow, cmd.member_code, by), "member_code"   # its use staged here
    elif cmd.member_id is not None:
        member_id, how = cmd.member_id, "member_id"
    elif cmd.payer is not None:
        payer = members.payer_identity(cmd.payer.type, cmd.payer.value)          # a bad phone: 422, nothing read
        found = members.payer_member(uow, payer)
        if found is None:
            if not members.pay_as_member(uow):
                return None, "walk_in", False                            # the payer is not kept
            member = members.register_payer(uow, payer, merchant, store, by)          # staged with the quote
            uow.prefetch(tiers.tier_keys(member.member_id))       # none yet: their prices are the first tier's
            return member, "payer", True
        member_id, how = found, "payer"
    else:
        return None, "walk_in", False
    own, wanted = members.record_key(member_id, by)
    uow.prefetch([*wanted, *tiers.tier_keys(own), *points.balance_keys(own, "points"),
                  stored_value.account_key(own)])            # one request for everything the quote reads of them
    return members.acting_on(uow, member_id, by), how, False


def quote(cmd: QuoteCheckout, by: Principal, uow: UnitOfWork) -> dict[str, Any]:
    """``quoteCheckout``: the cart's member prices, best coupons, points offset, stored value and
    every line's parts, stored as an offer for five minutes."""
    now = clock.now()
    merchant, store = merchants.place(uow, by, cmd.merchant_id, cmd.store_id, merchant_required=True)
    assert merchant is not None
    member, how, created = _member(uow, cmd, by, merchant, store)
    cart = [(x.sku, x.category, x.quantity, x.unit_price_fen) for x in cmd.lines]
    priced = pricing.price(uow, [pricing.Line(sku, q, unit, cat) for sku, cat, q, unit in cart], member, now)
    member_totals = [(p["list_total_fen"], p["member_total_fen"]) for p in priced["lines"]]
    chosen: list[domain.CouponPart] = []
    points_view: dict[str, Any] | None = None
    sv_view: dict[str, Any] | None = None
    coupons_view: dict[str, Any] | None = None
    if created:
        assert member is not None                     # a new member: no coupons, points or stored value yet
        coupons_view = {"considered": 0, "chosen": [], "not_chosen": [], "saving_fen": 0}
        points_view = _points(uow, now, cmd.use_points, 0, priced["member_total_fen"])
    elif member is not None:
        found = coupons.best_for_cart(uow, member.member_id, merchant, store, cmd.channel,
                                      [(x.sku, x.category, x.quantity, p["member_total_fen"])
                                       for x, p in zip(cmd.lines, priced["lines"], strict=True)], now,
                                      cmd.coupon_codes)
        chosen = [domain.CouponPart(c["coupon_id"], c["saving_fen"], c["lines"]) for c in found["chosen"]]
        coupons_view = {**found, "chosen": [{**c, "lines": _parts(c["lines"])} for c in found["chosen"]]}
        after = domain.after_coupons(priced["member_total_fen"], chosen)
        points_view = _points(uow, now, cmd.use_points, points.balance(uow, member.member_id, "points"), after)
    settled = domain.settle(member_totals, chosen, points_view["fen"] if points_view else 0)
    to_pay = settled.total("to_pay_fen")
    if member is not None:
        assert points_view is not None
        points_view["lines"] = _parts({p.line: p.points_fen for p in settled.lines})
        sv = {"principal": 0, "bonus": 0} if created else stored_value.account(uow, member.member_id)
        principal, bonus = int(sv["principal"]), int(sv["bonus"])
        sv_view = {"principal_fen": principal, "bonus_fen": bonus, "balance_fen": principal + bonus,
                   "could_pay_fen": min(to_pay, principal + bonus)}
    expires = now + quotes.VALID
    body = {"quote_id": new_id(), "created_at": clock.iso(now), "expires_at": clock.iso(expires),
            "merchant_id": merchant, "store_id": store, "channel": cmd.channel,
            "member_id": member.member_id if member else None, "identified_by": how, "member_created": created,
            "tier": priced["tier"],
            "price_list": priced["price_list"], "price_list_version": priced["price_list_version"],
            "discount_percent": priced["discount_percent"], "cart_hash": domain.cart_hash(cart),
            "lines": [_line(p, parts) for p, parts in zip(priced["lines"], settled.lines, strict=True)],
            "coupons": coupons_view, "points": points_view, "stored_value": sv_view,
            "totals": {"list_total_fen": settled.total("list_total_fen"),
                       "member_total_fen": settled.total("member_total_fen"),
                       "member_discount_fen": settled.total("member_discount_fen"),
                       "coupons_fen": settled.total("coupons_fen"), "points_fen": settled.total("points_fen"),
                       "to_pay_fen": to_pay}}
    quotes.put(uow, body, by.ref, expires)
    return _view(body, now)


def _points(uow: UnitOfWork, now: datetime, use: bool, available: int, after_coupons: int) -> dict[str, Any]:
    """The points offer: the most the rules' share cap of ``after_coupons`` and ``available`` allow."""
    version, rules = points.rules_at(uow, now)
    redeemable = rules.type_config("points").redeemable
    limit = points.redeem_limit_points(rules, after_coupons) if redeemable else 0
    offer = domain.points_offset(available, limit, lambda n: points.points_value_fen(rules, n),
                                 rules.redeem.points_per_yuan)
    return {"rules_version": version, "points_per_yuan": rules.redeem.points_per_yuan,
            "max_share_percent": rules.redeem.max_share_percent if redeemable else 0,
            "available_points": offer.available_points, "limit_points": offer.limit_points,
            "max_points": offer.points, "max_fen": offer.fen, "used": use,
            "points": offer.points if use else 0, "fen": offer.fen if use else 0, "rounding": ROUNDING}


def _parts(by_line: dict[int, int]) -> list[dict[str, int]]:
    return [{"line": i, "fen": fen} for i, fen in sorted(by_line.items()) if fen]


def _line(p: dict[str, Any], parts: domain.LineParts) -> dict[str, Any]:
    return {"line": p["line"], "sku": p["sku"], "category": p["category"], "quantity": p["quantity"],
            "unit_price_fen": p["unit_price_fen"], "list_total_fen": parts.list_total_fen,
            "member_total_fen": parts.member_total_fen, "member_discount_fen": parts.member_discount_fen,
            "rule": p["rule"], "benefit_rule": p["benefit_rule"], "price_list": p["price_list"],
            "coupons": parts.coupons, "coupons_fen": parts.coupons_fen, "points_fen": parts.points_fen,
            "to_pay_fen": parts.to_pay_fen}


def _view(body: dict[str, Any], now: datetime) -> dict[str, Any]:
    status = "open" if clock.parse_iso(body["expires_at"]) > now else "expired"
    return {**body, "status": status}


def get_quote(uow: UnitOfWork, quote_id: str, by: Principal) -> dict[str, Any]:
    """``getCheckoutQuote``: the quote, if the caller may see it (its merchant's callers, a store's
    its store's, HQ any, the member their own); anyone else's is 404, as one never made."""
    item = quotes.get(uow, quote_id)
    if item is None or not _sees(by, item):
        raise NotFound(f"no quote {quote_id[:64]}")
    return _view(item.body, clock.now())


def _sees(by: Principal, item: Any) -> bool:
    if by.kind == "member":
        return item.member_id is not None and item.member_id == members.own_id("me", by)
    return merchants.acts_for(by, item.merchant_id, item.store_id)
