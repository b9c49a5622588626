"""Paid membership (PLUS): purchase, renewal, cancellation and expiry.

One item per member (``MEMBER#<id> / PLUS``, ``version`` its lock) holds the plan, the paid
periods and the end date; each change also writes a history entry and an event. A purchase is
applied once per external payment reference (``PLUSPAY#<ref>``, created in the same
transaction): the same reference again answers with the membership as it stands and changes
nothing; with another amount, plan or member it is refused. A paid membership stacks with the
growth tier (a member can be Gold V3 and PLUS at once).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.db.due import due_keys
from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger import once
from chalicelib.ledger.journal import Journal
from chalicelib.members import service as members
from chalicelib.shared import clock
from chalicelib.shared.errors import Conflict, NotFound, ValidationProblem, changed
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import Principal
from chalicelib.tiers import repository
from chalicelib.tiers.plans import PLANS, Plan, next_period, refund_fen
from chalicelib.tiers.schemas import Cancellation, Purchase, Renewal
from chalicelib.tiers.tables import MembershipHistoryItem, MembershipItem, PaymentRefItem

_changed = changed("the membership")          # the lost race the endpoint retries


class PaymentRefReused(Conflict):
    slug, title = "payment-ref-reused", "This payment reference was applied to another purchase"


class NoMembership(NotFound):
    slug, title = "no-membership", "The member has no paid membership"


class AlreadyCancelled(Conflict):
    slug, title = "membership-cancelled", "The paid membership was cancelled already"


def purchase(member_id: str, cmd: Purchase, by: Principal, uow: UnitOfWork, key: str | None) -> dict[str, Any]:
    """Buy a period of a plan (or start its trial); bought while a membership runs, it stacks."""
    member_id = members.acting_on(uow, member_id, by).member_id
    plan = _plan(uow, cmd.plan, selling=True)
    item = repository.of(uow).membership(member_id)
    trials = json.loads(item.trials or "[]") if item else []
    if cmd.trial:
        if not plan.trial_days:
            raise ValidationProblem(f"plan {plan.code} has no trial")
        if plan.code in trials:
            raise Conflict(f"the trial of plan {plan.code} was used already")
        return _add_period(uow, member_id, item, plan, None, 0, by, [*trials, plan.code])
    if cmd.payment_ref is None or cmd.amount_fen is None:       # the schema refuses it; never a free period
        raise ValidationProblem("a purchase outside a trial names payment_ref and amount_fen")
    applied = _applied(uow, cmd.payment_ref, member_id, plan.code, cmd.amount_fen)
    if applied is not None:
        return applied
    if cmd.amount_fen != plan.price_fen:
        raise ValidationProblem(f"plan {plan.code} costs {plan.price_fen} fen, not {cmd.amount_fen}")
    return _add_period(uow, member_id, item, plan, cmd.payment_ref, plan.price_fen, by, trials)


def renew(member_id: str, cmd: Renewal, by: Principal, uow: UnitOfWork, key: str | None) -> dict[str, Any]:
    """Another period of the member's plan, after the current end (or from today, if it ended)."""
    member_id = members.acting_on(uow, member_id, by).member_id
    item = repository.of(uow).membership(member_id)
    if item is None:
        raise NoMembership(f"member {member_id} has no membership to renew")
    plan = _plan(uow, item.plan, selling=False)
    applied = _applied(uow, cmd.payment_ref, member_id, plan.code, cmd.amount_fen)
    if applied is not None:
        return applied
    if cmd.amount_fen != plan.price_fen:
        raise ValidationProblem(f"plan {plan.code} costs {plan.price_fen} fen, not {cmd.amount_fen}")
    return _add_period(uow, member_id, item, plan, cmd.payment_ref, plan.price_fen, by,
                       json.loads(item.trials or "[]"))


def cancel(member_id: str, cmd: Cancellation, by: Principal, uow: UnitOfWork, key: str | None) -> dict[str, Any]:
    """End the membership today; what to refund to the payment route follows the refund policy."""
    member_id = members.acting_on(uow, member_id, by).member_id
    item = repository.of(uow).membership(member_id)
    today = clock.program_date()
    if item is not None and item.status == "cancelled":
        raise AlreadyCancelled(f"member {member_id}'s membership was cancelled already (its last day {item.until})")
    if item is None or item.status != "active" or item.until < today.isoformat():
        raise NoMembership(f"member {member_id} has no running membership")
    _, plans = PLANS.at(uow, clock.now())
    periods = json.loads(item.periods)

    def refunded(some: list[dict[str, Any]]) -> int:
        return refund_fen(some, today) if plans.refund_policy == "prorated" else 0
    refund = refunded(periods)
    read = int(item.version)
    item.status, item.until = "cancelled", today.isoformat()
    item.periods = json.dumps([{**p, "end": min(p["end"], today.isoformat())} for p in periods
                               if p["start"] <= today.isoformat()], separators=(",", ":"))
    # The paid periods that ran past today are cut: their fees leave the deferral, each refunded
    # or, what it keeps (``kept_fen``), earned today (the balance sheet's fold,
    # chalicelib/reports/balance_history.py).
    cut = [{"start": p["start"], "end": p["end"], "price_fen": int(p.get("price_fen") or 0),
            "kept_fen": int(p.get("price_fen") or 0) - refunded([p])} for p in periods
           if p["end"] > today.isoformat() and int(p.get("price_fen") or 0) > 0]
    lines = Journal()
    lines.move("membership_fees_deferred", "cash_clearing", refund)
    _record(uow, item, "cancelled", refund, None, by.ref, {"reason": cmd.reason, "refund_fen": refund,
                                                             "refund_policy": plans.refund_policy,
                                                             "cut_periods": cut, "entries": lines.lines})
    _save(uow, item, read)
    return {**view(item, today), "refund_fen": refund, "refund_policy": plans.refund_policy}


def expire(uow: UnitOfWork, member_id: str, today: date, actor: str) -> bool:
    """The membership's last day has passed: it expires (the membership-expiry job)."""
    item = repository.of(uow).membership(member_id)
    if item is None or item.status != "active" or item.until >= today.isoformat():
        return False
    read = int(item.version)
    item.status = "expired"
    _record(uow, item, "expired", 0, None, actor, {})
    _save(uow, item, read)
    return True


def view(item: MembershipItem | None, today: date) -> dict[str, Any]:
    """The membership as a member or the till sees it."""
    if item is None:
        return {"status": "none", "active": False}
    return {"member_id": item.member_id, "plan": item.plan, "status": item.status, "started": item.started,
            "until": item.until, "active": runs(item, today), "periods": json.loads(item.periods)}


def runs(item: MembershipItem, day: date) -> bool:
    """Its benefits apply on ``day``: from its first day to its last, a membership cancelled that
    day included (the cancellation charged that day: its last, to midnight)."""
    return item.status != "expired" and item.started <= day.isoformat() <= item.until


def history(uow: UnitOfWork, member_id: str) -> list[dict[str, Any]]:
    """Every purchase, renewal, cancellation and expiry, newest first."""
    return [{"number": int(h.number), "at": h.at, "action": h.action, "plan": h.plan, "until": h.until,
             "amount_fen": int(h.amount_fen or 0), "payment_ref": h.payment_ref, "actor": h.actor}
            for h in repository.of(uow).membership_history(member_id)]


def _plan(uow: UnitOfWork, code: str, selling: bool) -> Plan:
    version, plans = PLANS.at(uow, clock.now())
    plan = plans.get(code)
    if plan is None or (selling and not plan.on_sale):
        raise ValidationProblem(f"no plan '{code}' on sale (plans version {version})")
    return plan


def _applied(uow: UnitOfWork, payment_ref: str, member_id: str, plan: str, amount: int) -> dict[str, Any] | None:
    """The membership as it stands if this payment was applied already (the same purchase)."""
    seen = once.applied(uow, PaymentRefItem, PaymentRefItem.key(payment_ref),
                        {"member_id": member_id, "plan": plan, "amount_fen": amount},
                        lambda: PaymentRefReused(f"payment {payment_ref} was applied to another purchase"))
    if seen is None:
        return None
    return {**view(repository.of(uow).membership(member_id), clock.program_date()), "already_applied": True}


def _add_period(uow: UnitOfWork, member_id: str, item: MembershipItem | None, plan: Plan, payment_ref: str | None,
                price: int, by: Principal, trials: list[str]) -> dict[str, Any]:
    today = clock.program_date()
    # a membership cancelled today still runs to midnight (today is paid for): the new period
    # starts tomorrow, after it, as after any running one
    running = item is not None and runs(item, today)
    start = date.fromisoformat(item.until) + timedelta(days=1) if running and item else today
    trial = payment_ref is None
    if trial == (price > 0):
        raise ValueError("a paid period has a payment reference and a price; a trial has neither")
    first, last = next_period(plan, start, trial=trial)
    read = int(item.version) if item else 0
    if item is None:
        item = MembershipItem(*MembershipItem.key(member_id), member_id=member_id, changes=0, version=0)
    periods = json.loads(item.periods) if running else []
    periods.append({"start": first.isoformat(), "end": last.isoformat(), "price_fen": price, "plan": plan.code,
                    **({"payment_ref": payment_ref} if payment_ref else {"trial": True})})
    item.plan, item.status, item.until = plan.code, "active", last.isoformat()
    item.started = item.started if running else first.isoformat()
    item.periods, item.trials = json.dumps(periods, separators=(",", ":")), json.dumps(trials)
    if payment_ref:
        once.apply(uow, PaymentRefItem(*PaymentRefItem.key(payment_ref), member_id=member_id, plan=plan.code,
                                       amount_fen=price, at=clock.iso(clock.now())), payment_ref)
    # The fee is received as deferred revenue, earned day by day over the period (the balance
    # sheet's read computes the earned part: chalicelib/reports/balance.py).
    lines = Journal()
    lines.move("cash_clearing", "membership_fees_deferred", price)
    _record(uow, item, "renewed" if running else "purchased", price, payment_ref, by.ref,
            {"period": [first.isoformat(), last.isoformat()], "trial": price == 0, "entries": lines.lines})
    _save(uow, item, read)
    return view(item, today)


def _record(uow: UnitOfWork, item: MembershipItem, action: str, amount: int, payment_ref: str | None,
            actor: str | None, detail: dict[str, Any]) -> None:
    item.changes = int(item.changes or 0) + 1
    now = clock.now()
    uow.create(MembershipHistoryItem(*MembershipHistoryItem.key(item.member_id, int(item.changes)),
                                     member_id=item.member_id, number=int(item.changes), at=clock.iso(now),
                                     action=action, plan=item.plan, until=item.until, amount_fen=amount,
                                     payment_ref=payment_ref, actor=actor), on_conflict=_changed)
    uow.emit(DomainEvent(f"membership.{action}", f"member:{item.member_id}", {
        "member_id": item.member_id, "plan": item.plan, "until": item.until, "amount_fen": amount,
        "payment_ref": payment_ref, **detail}))


def _save(uow: UnitOfWork, item: MembershipItem, read: int) -> None:
    item.updated_at = clock.iso(clock.now())
    if item.status == "active":
        item.duepk, item.duesk = due_keys("membership-expiry", date.fromisoformat(item.until) + timedelta(days=1),
                                          item.member_id)
    else:
        item.duepk = item.duesk = None
    uow.save_versioned(item, read, _changed)



def at(uow: UnitOfWork, member_id: str, when: datetime) -> MembershipItem | None:
    """The member's membership if it is running on the day of ``when``."""
    item = repository.of(uow).membership(member_id)
    return item if item is not None and runs(item, clock.program_date(when)) else None
