"""The stored value capability's service API: top-ups (with the best bonus), payments and their
refunds at merchants, cash-out, the account and its ledger, and the rules.

Each operation reads the account (the shared versioned account: its version is the lock) and
stages the account, one posting with its double-entry lines and one event on the request's unit
of work, with its payment reference, order or refund record, all committed together.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.coupons import service as coupons
from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger import once
from chalicelib.ledger.refunds import within_payment
from chalicelib.members import service as members
from chalicelib.merchants import service as merchants
from chalicelib.orders import service as orders
from chalicelib.shared import clock, lazy
from chalicelib.shared.errors import ConcurrentUpdate, Conflict, Forbidden, NotFound
from chalicelib.shared.principal import Principal
from chalicelib.stored_value import bonus_lots, counters, figures, repository
from chalicelib.stored_value import rules as R
from chalicelib.stored_value.account import InsufficientBalance, SvChange, settlement
from chalicelib.stored_value.counters import IssuanceLimit
from chalicelib.stored_value.schemas import Pay, RefundPayment, TopUp
from chalicelib.stored_value.tables import SvAccountItem, SvCounterItem, SvPaymentItem, SvRefundItem, SvTopUpRefItem

# The holds (take, confirm, release, status_of), which checkout's saga takes as steps: that module
# imports this one, so it is reached lazily.
holds = lazy.module("chalicelib.stored_value.holds")


class LimitExceeded(Conflict):
    slug, title = "stored-value-limit", "The top-up would break a stored value limit"


class PaymentRefReused(Conflict):
    slug, title = "payment-ref-reused", "This payment reference was applied to another top-up"


def top_up(member_id: str, cmd: TopUp, by: Principal, uow: UnitOfWork, key: str | None) -> dict[str, Any]:
    """Add principal paid by an external payment (applied once per reference) and the best bonus.
    The program issues every member's stored value (one account, spent at any merchant); the
    merchant named is the one that took the payment, and its (and its key's) daily limits count it."""
    merchant, store = merchants.place(uow, by, cmd.merchant_id, cmd.store_id, merchant_required=False)
    _, rules = R.RULES.at(uow, clock.now())
    own = members.record_key(member_id, by)[0]
    counters_read = [f"DAY#{clock.program_date().isoformat()}"] if rules.daily_top_up_max_fen is not None else []
    counters_read += [f"BONUS#{r.id}" for r in rules.bonus_rules if r.per_member_limit is not None]
    shards = counters.outflow_keys(counters.PROGRAM_ISSUER) if counters.PROGRAM_ISSUER in rules.issuance_limits_fen \
        else []                                     # what the limit's condition reads, in the same request
    _prefetch(uow, member_id, by, (SvTopUpRefItem, SvTopUpRefItem.key(cmd.payment_ref)),
              *[(SvCounterItem, SvCounterItem.key(own, name)) for name in counters_read],
              *[(SvCounterItem, key) for key in shards])
    member_id = members.acting_on(uow, member_id, by).member_id
    seen = once.applied(uow, SvTopUpRefItem, SvTopUpRefItem.key(cmd.payment_ref),
                        {"member_id": member_id, "amount_fen": cmd.amount_fen},
                        lambda: PaymentRefReused(f"payment {cmd.payment_ref} was applied to another top-up"))
    if seen is not None:
        return {**account(uow, member_id), "already_applied": True, "bonus_fen": int(seen.bonus_fen),
                "issuer": counters.PROGRAM_ISSUER}
    now = clock.now()
    _, rules = R.RULES.at(uow, now)
    if cmd.amount_fen > rules.single_top_up_max_fen:
        raise LimitExceeded(f"one top-up is at most {rules.single_top_up_max_fen} fen",
                            limit_fen=rules.single_top_up_max_fen)
    change = SvChange(uow, member_id)
    bonus, rule = _bonus(uow, member_id, rules, cmd.amount_fen, now, first=int(change.account.topped_up or 0) == 0)
    if change.principal + change.bonus + cmd.amount_fen + bonus > rules.balance_cap_fen:
        raise LimitExceeded(f"the balance would be {change.principal + change.bonus + cmd.amount_fen + bonus} fen; "
                            f"at most {rules.balance_cap_fen} fen may be held", cap_fen=rules.balance_cap_fen)
    _daily(uow, member_id, rules, cmd.amount_fen)
    _daily_at(uow, by, merchant, rules, cmd.amount_fen)
    valid = next((r.valid_days for r in rules.bonus_rules if r.id == rule), None)
    until = clock.program_date(now) + timedelta(days=valid) if valid and bonus else None
    change.top_up(cmd.amount_fen, bonus, until)
    once.apply(uow, SvTopUpRefItem(*SvTopUpRefItem.key(cmd.payment_ref), member_id=member_id,
                                   amount_fen=cmd.amount_fen, bonus_fen=bonus, at=clock.iso(now)), cmd.payment_ref)
    pack = _pack(uow, member_id, rules, rule, cmd.payment_ref)
    posting = change.stage("top_up", cmd.amount_fen + bonus, ref=cmd.payment_ref,
                           event_type="stored_value.topped_up", merchant_id=merchant, store_id=store,
                           data={"bonus_fen": bonus, "bonus_rule": rule, "issuer": counters.PROGRAM_ISSUER,
                                 "bonus_until": until.isoformat() if until else None,
                                 **({"coupon_pack": pack} if pack else {})})
    return {**_view(change), "posting_id": posting.posting_id, "bonus_fen": bonus, "bonus_rule": rule,
            "bonus_until": until.isoformat() if until else None, "issuer": counters.PROGRAM_ISSUER,
            **({"coupon_pack": pack} if pack else {})}


def _pack(uow: UnitOfWork, member_id: str, rules: R.StoredValueRules, rule: str | None,
          payment_ref: str) -> dict[str, Any] | None:
    """The bonus rule's coupon pack (储值赠券), staged with the top-up: its coupons (ids derived from
    the payment, so the top-up applied once grants it once), or, when they cannot be issued now,
    owed. The member has paid: a pack is never a reason to refuse the money (docs/operators/coupons.md)."""
    pack_id = next((r.coupon_pack for r in rules.bonus_rules if r.id == rule), None)
    if pack_id is None:
        return None
    issued, owed = coupons.grant_pack(uow, member_id, pack_id, "top_up", payment_ref, f"top-up {payment_ref}")
    return {"pack_id": pack_id, "coupons": issued, "owed": owed}


def count_issued(uow: UnitOfWork, lines: list[dict[str, Any]], *, limited: bool = True, spread: str = "") -> None:
    """Stage what a movement's lines change in its issuers' outstanding prepaid money, bounded by
    their limits (for another capability: a gift card sale, payment, refund or void; ``spread``
    names the card or batch, which spreads outflows over the counter's shards)."""
    _, rules = R.RULES.at(uow, clock.now())
    counters.count_issued(uow, lines, rules.issuance_limits_fen, limited=limited, spread=spread)


def receive_card(uow: UnitOfWork, member_id: str, fen: int, card_account: str, card_number: str) -> SvChange:
    """A gift card's balance into the member's principal (the balance cap applies), staged."""
    _, rules = R.RULES.at(uow, clock.now())
    change = SvChange(uow, member_id)
    if change.principal + change.bonus + fen > rules.balance_cap_fen:
        raise LimitExceeded(f"the balance would be {change.principal + change.bonus + fen} fen; at most "
                            f"{rules.balance_cap_fen} fen may be held", cap_fen=rules.balance_cap_fen)
    change.from_card(fen, card_account)
    change.stage("gift_card", fen, ref=f"gift_card:{card_number}",
                 event_type="stored_value.card_redeemed", data={"card_number": card_number})
    return change


def receive_refund(uow: UnitOfWork, member_id: str, fen: int, merchant_id: str, card_number: str,
                   refund_id: str) -> SvChange:
    """A refund of a gift card payment whose card was since redeemed into this account, as
    principal (the balance cap applies), staged."""
    _, rules = R.RULES.at(uow, clock.now())
    change = SvChange(uow, member_id)
    if change.principal + change.bonus + fen > rules.balance_cap_fen:
        raise LimitExceeded(f"the balance would be {change.principal + change.bonus + fen} fen; at most "
                            f"{rules.balance_cap_fen} fen may be held: refund by another route",
                            cap_fen=rules.balance_cap_fen)
    change.refund_card_payment(fen, merchant_id)
    change.stage("card_refund", fen, ref=f"gift_card:{card_number}:{refund_id}",
                 event_type="stored_value.card_payment_refunded", merchant_id=merchant_id,
                 data={"card_number": card_number, "refund_id": refund_id})
    return change


def _bonus(uow: UnitOfWork, member_id: str, rules: R.StoredValueRules, amount: int, at: datetime,
           first: bool) -> tuple[int, str | None]:
    """The best bonus among the rules that apply, and its rule; its use is counted if limited."""
    best, chosen = 0, None
    for rule in rules.bonus_rules:
        if rule.first_top_up_only and not first:
            continue
        bonus = rule.bonus(amount, at)
        if bonus <= best:
            continue
        if rule.per_member_limit is not None:
            used = repository.of(uow).counter(member_id, f"BONUS#{rule.id}")
            if used is not None and int(used.total) >= rule.per_member_limit:
                continue
        best, chosen = bonus, rule
    if chosen is not None and chosen.per_member_limit is not None:      # a concurrent top-up took the last use:
        counters.add(uow, SvCounterItem.key(member_id, f"BONUS#{chosen.id}"), 1, chosen.per_member_limit,
                     lambda: ConcurrentUpdate("a bonus rule's last use was just taken; retry"))   # no bonus then
    return best, chosen.id if chosen else None


def _daily(uow: UnitOfWork, member_id: str, rules: R.StoredValueRules, amount: int) -> None:
    if rules.daily_top_up_max_fen is None:
        return
    name = f"DAY#{clock.program_date().isoformat()}"
    today = repository.of(uow).counter(member_id, name)                   # prefetched: the message's figure
    if int(today.total if today else 0) + amount > rules.daily_top_up_max_fen:
        raise LimitExceeded(f"top-ups today would exceed {rules.daily_top_up_max_fen} fen",
                            limit_fen=rules.daily_top_up_max_fen)
    counters.add(uow, SvCounterItem.key(member_id, name), amount, rules.daily_top_up_max_fen,
                 lambda: LimitExceeded(f"top-ups today would exceed {rules.daily_top_up_max_fen} fen",
                                       limit_fen=rules.daily_top_up_max_fen))


def _daily_at(uow: UnitOfWork, by: Principal, merchant: str | None, rules: R.StoredValueRules, amount: int) -> None:
    """The day's top-ups taken by the merchant and by the calling API key, each within its limit
    (a key mints stored value against a payment reference nobody here can verify: these bound
    what one leaked or misused key, or one merchant, can mint in a day)."""
    day = clock.program_date().isoformat()
    limits = [("MERCHANT", merchant, rules.merchant_daily_top_up_limits_fen.get(merchant or "",
                                                                              rules.merchant_daily_top_up_max_fen)),
              ("KEY", by.id if by.kind == "merchant" else None, rules.key_daily_top_up_max_fen)]
    for kind, owner, limit in limits:
        if owner is None or limit is None:
            continue
        counters.add(uow, SvCounterItem.of(kind, owner, f"DAY#{day}"), amount, limit,
                     _over(f"top-ups taken today by {kind.lower()} {owner} would exceed {limit} fen", limit))


def _over(detail: str, limit: int) -> Callable[[], LimitExceeded]:
    return lambda: LimitExceeded(detail, limit_fen=limit)


def pay(member_id: str, cmd: Pay, by: Principal, uow: UnitOfWork, key: str | None) -> dict[str, Any]:
    """Pay for an order at a merchant, principal and bonus split by the configured order."""
    merchant, store = merchants.place(uow, by, cmd.merchant_id, cmd.store_id, merchant_required=True)
    assert merchant is not None
    if by.kind == "member":
        raise Forbidden("payments are taken by the merchant's till")
    member_id, change, principal, bonus = checkout(uow, member_id, by, merchant, cmd.order_id, cmd.amount_fen)
    change.spend(principal, bonus, merchant)
    uow.create(SvPaymentItem(*SvPaymentItem.key(merchant, cmd.order_id), member_id=member_id, merchant_id=merchant,
                             order_id=cmd.order_id, store_id=store, amount_fen=cmd.amount_fen, principal=principal,
                             bonus=bonus, refunded_principal=0, refunded_bonus=0,
                             lots_taken=bonus_lots.dump(change.taken), created_at=clock.iso(clock.now())),
               on_conflict=orders.explained(uow, merchant, cmd.order_id, member_id, by, lambda: Conflict(
                   f"order {cmd.order_id} was paid with stored value already")))
    orders.record_part(uow, merchant, cmd.order_id, PART, cmd.amount_fen, member_id=member_id, store_id=store, by=by,
                       bonus_fen=bonus)
    posting = change.stage("payment", cmd.amount_fen, ref=f"order:{merchant}:{cmd.order_id}",
                           event_type="stored_value.paid", merchant_id=merchant, store_id=store,
                           data={"order_id": cmd.order_id, "principal_fen": principal, "bonus_fen": bonus})
    return {**_view(change), "order_id": cmd.order_id, "amount_fen": cmd.amount_fen, "principal_fen": principal,
            "bonus_fen": bonus, "posting_id": posting.posting_id}


PART = "stored_value"          # a stored value payment's part of its order (``orders``)


def checkout(uow: UnitOfWork, member_id: str, by: Principal, merchant: str, order_id: str,
             amount: int) -> tuple[str, SvChange, int, int]:
    """What a payment or a hold for an unpaid order takes: the member, a change on the account,
    and the principal and bonus parts (the order is read with the account, in one request)."""
    _prefetch(uow, member_id, by, (SvPaymentItem, SvPaymentItem.key(merchant, order_id)),
              orders.order_key(merchant, order_id))
    member_id = members.acting_on(uow, member_id, by).member_id
    if repository.of(uow).payment(merchant, order_id) is not None:   # another store's or member's order: that first
        raise orders.explained(uow, merchant, order_id, member_id, by,
                               lambda: Conflict(f"order {order_id} was paid with stored value already"))()
    _, rules = R.RULES.at(uow, clock.now())
    change = SvChange(uow, member_id)
    if amount > change.principal + change.bonus:
        raise InsufficientBalance(f"{amount} fen needed, {change.principal + change.bonus} held",
                                  balance_fen=change.principal + change.bonus)
    principal, bonus = R.split(amount, change.principal, change.bonus, rules.spend_order)
    return member_id, change, principal, bonus


def refund(order_id: str, cmd: RefundPayment, by: Principal, uow: UnitOfWork, key: str | None) -> dict[str, Any]:
    """Give back part or all of a payment to the same split of principal and bonus; refunds add
    up and never pass what was paid."""
    merchant, _ = merchants.place(uow, by, cmd.merchant_id, None, merchant_required=True)
    assert merchant is not None
    uow.prefetch([(SvPaymentItem, SvPaymentItem.key(merchant, order_id)), orders.part_key(merchant, order_id, PART),
                  orders.order_key(merchant, order_id)])
    paid = repository.of(uow).payment(merchant, order_id)
    if paid is None or not merchants.acts_for(by, paid.merchant_id, paid.store_id):   # another store's: not yours
        raise NotFound(f"no stored value payment for order {order_id} at merchant {merchant}")
    before = int(paid.refunded_principal) + int(paid.refunded_bonus)
    within_payment(before, cmd.amount_fen, int(paid.amount_fen))
    orders.refund_part(uow, merchant, order_id, PART, cmd.amount_fen, paid_fen=int(paid.amount_fen),
                       refunded_before=before, member_id=paid.member_id, store_id=paid.store_id)
    principal, bonus = R.refund_split(int(paid.principal), int(paid.bonus), int(paid.amount_fen), before,
                                      int(paid.refunded_principal), int(paid.refunded_bonus), cmd.amount_fen)
    change = SvChange(uow, paid.member_id)
    paid.lots_taken = bonus_lots.dump(change.give_back(principal, bonus, merchant, bonus_lots.load(paid.lots_taken)))
    uow.create(SvRefundItem(*SvRefundItem.key(merchant, order_id, cmd.refund_id), amount_fen=cmd.amount_fen,
                            created_at=clock.iso(clock.now())),
               on_conflict=lambda: Conflict(f"refund {cmd.refund_id} was applied already"))
    read = (int(paid.refunded_principal), int(paid.refunded_bonus))
    paid.refunded_principal, paid.refunded_bonus = read[0] + principal, read[1] + bonus
    uow.save(paid, (SvPaymentItem.refunded_principal == read[0]) & (SvPaymentItem.refunded_bonus == read[1]),
             on_conflict=lambda: Conflict("the payment changed meanwhile; retry"))
    posting = change.stage("refund", cmd.amount_fen, ref=f"order:{merchant}:{order_id}:{cmd.refund_id}",
                           event_type="stored_value.refunded", merchant_id=merchant,
                           store_id=paid.store_id, data={"order_id": order_id, "refund_id": cmd.refund_id, "principal_fen": principal,
                                 "bonus_fen": bonus})
    return {**_view(change), "order_id": order_id, "refund_id": cmd.refund_id, "principal_fen": principal,
            "bonus_fen": bonus, "refunded_fen": before + cmd.amount_fen, "posting_id": posting.posting_id}


def account(uow: UnitOfWork, member_id: str) -> dict[str, Any]:
    """The account's balances and totals; bonus past its last day (``lapsed_bonus_fen``) is out of
    the bonus, the balance and the lots shown, as the expiry job will leave them."""
    item = repository.of(uow).account(member_id)
    view = item.view()
    lapsed, lots = bonus_lots.lapse(bonus_lots.load(item.bonus_lots), clock.program_date(), view["bonus"])
    view["bonus"], view["bonus_expiring"] = view["bonus"] - lapsed, lots
    return {"member_id": member_id, "balance_fen": view["principal"] + view["bonus"], **view,
            "lapsed_bonus_fen": lapsed}


def member(uow: UnitOfWork, member_id: str, by: Principal) -> str:
    """The member a request names, checked (404 outside the caller's program)."""
    return members.acting_on(uow, member_id, by).member_id


def get_account(uow: UnitOfWork, member_id: str, by: Principal) -> dict[str, Any]:
    """The member's stored value account (the member, the till, staff)."""
    _prefetch(uow, member_id, by)
    return account(uow, members.acting_on(uow, member_id, by).member_id)


def ledger(uow: UnitOfWork, member_id: str, by: Principal, before: int | None, limit: int) -> dict[str, Any]:
    """The account's postings with their double-entry lines, newest first."""
    member_id = members.acting_on(uow, member_id, by).member_id
    items = list(repository.of(uow).postings(member_id, before, limit, newest_first=True))
    postings = [_posting(p, merchants.sees_references(by, p.merchant_id, p.store_id)) for p in items]
    last = postings[-1]["sequence"] if len(postings) == limit else None
    return {"member_id": member_id, "postings": postings, "next_before": last if last and last > 1 else None}


def _posting(p: Any, references: bool) -> dict[str, Any]:
    """A posting; without ``references`` (another merchant's or store's entry) no order, payment
    reference, reason or caller: balances only."""
    view = {"sequence": int(p.sequence), "kind": p.kind, "amount_fen": int(p.amount),
            "principal_delta": int(p.principal_delta), "bonus_delta": int(p.bonus_delta),
            "balance_after": int(p.balance_after), "entries": json.loads(p.entries), "ref": p.ref,
            "merchant_id": p.merchant_id, "reason": p.reason, "actor": p.actor, "created_at": p.created_at}
    return view if references else {**view, "ref": None, "reason": None, "actor": None, "references_hidden": True}


def _prefetch(uow: UnitOfWork, member_id: str, by: Principal, *more: tuple[Any, tuple[str, str]]) -> None:
    """The member, the account and ``more`` in one request: the operation's reads of them are free."""
    own, wanted = members.record_key(member_id, by)
    uow.prefetch([*wanted, (SvAccountItem, SvAccountItem.key(own)), *more])


__all__ = ["InsufficientBalance", "IssuanceLimit", "settlement"]      # for other capabilities (gift cards)


MEMBER_ACCOUNTS = (*figures.MEMBER_PRINCIPAL, *figures.MEMBER_BONUS)   # what members hold, in the figures
MEMBER_PRINCIPAL_ACCOUNTS, MEMBER_BONUS_ACCOUNTS = figures.MEMBER_PRINCIPAL, figures.MEMBER_BONUS


def figure_movements(uow: UnitOfWork, day: date) -> dict[str, Any]:
    """Each prepaid journal account's opening, debits, credits and closing on ``day`` (the figures)."""
    return figures.movements(uow, day)


def prepaid_event_types() -> tuple[str, ...]:
    """The events the prepaid figures fold."""
    return tuple(sorted(figures.project.event_types))


def figure_balances(uow: UnitOfWork) -> dict[str, int]:
    """The prepaid figures' journal account balances (for another capability's reconciliation)."""
    return figures.balances(uow)


def account_key(member_id: str) -> tuple[type, tuple[str, str]]:
    """The model and key of a member's account, for another capability's prefetch."""
    return SvAccountItem, SvAccountItem.key(member_id)


def view(change: SvChange) -> dict[str, Any]:
    """The balances a change leaves."""
    return _view(change)


def _view(change: SvChange) -> dict[str, Any]:
    return {"member_id": change.member_id, "principal": change.principal, "bonus": change.bonus,
            "balance_fen": change.principal + change.bonus, "lapsed_bonus_fen": change.lapsed_bonus}
