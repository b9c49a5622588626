"""``refundCheckout``: a completed checkout refunded by lines or by amount, every part in its share.

Each line gives back every part in its refunded share (:mod:`.refund_shares`: cumulative, rounded
down, exact at the last unit), and each money store gives its part back through **its own
existing refund operation**, reached through its service module:

* points: ``refundOrder`` on the checkout's order (the amount refunded of the order's amount,
  by line): it claws back what the order earned and gives back the points it spent, in the share;
* stored value: its payment's refund (principal and bonus as its rules split them);
* gift cards: each card's payment refund;
* coupons: the write-off's undo (back to unused or void by the template's policy), once every line
  the coupon discounted is refunded in full;
* cash: the reply says how much the till gives back (``cash_fen``); nothing here moves it.

A refund spans several transactions, so it is a **recorded saga**, as the commit is: the refund
(``CHECKOUT#<id> / REFUND#<refund_id>``) is recorded with its plan, and the checkout's refunded
shares and status moved, in one transaction (two refunds never both pass what is left); then each
store's refund is made in a transaction of its own under an id derived from the checkout and the
refund id (:func:`ref`), **with the mark that it is done on the refund record in the same
transaction**, so a retry after a crash (the same ``refund_id``, under any Idempotency-Key) makes
only the ones not done and nothing is refunded twice. Last, the refund is marked refunded with
``checkout.refunded``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from chalicelib.checkout import records, saga
from chalicelib.checkout import refund_shares as shares
from chalicelib.checkout.schemas import RefundCheckout
from chalicelib.checkout.tables import CheckoutItem, CheckoutRefundItem
from chalicelib.coupons import service as coupons
from chalicelib.db.uow import UnitOfWork
from chalicelib.gift_cards import service as gift_cards
from chalicelib.ledger import holds
from chalicelib.orders import service as orders
from chalicelib.points import service as points
from chalicelib.shared import clock
from chalicelib.shared.errors import Conflict, ValidationProblem, changed
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import Principal
from chalicelib.stored_value import service as stored_value

REFUNDING, DONE = "refunding", "refunded"
REFUNDABLE = (saga.COMPLETED, saga.PARTIALLY_REFUNDED)


class RefundExceedsPaid(Conflict):
    slug, title = "refund-exceeds-paid", "The refund asks for more than the checkout has left: nothing was applied"


class RefundIdReused(Conflict):
    slug, title = "refund-id-reused", "This refund_id was used for another refund of the checkout"


def ref(checkout_id: str, refund_id: str, part: str) -> str:
    """The id a store's refund of ``part`` is made under: the same on every try of the refund."""
    return holds.step_id("R", checkout_id, refund_id, part)


def _asked(cmd: RefundCheckout) -> str:
    what = {"lines": sorted((x.line, x.quantity) for x in cmd.lines)} if cmd.lines else {"amount_fen": cmd.amount_fen}
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:32]


def _find(uow: UnitOfWork, checkout_id: str, refund_id: str) -> CheckoutRefundItem | None:
    return uow.get(CheckoutRefundItem, CheckoutRefundItem.key(checkout_id, refund_id), consistent=True)


def refund(checkout_id: str, cmd: RefundCheckout, by: Principal, uow: UnitOfWork) -> dict[str, Any]:
    """``refundCheckout``: the lines (or the amount) given back, every part in its share, each
    store's part by its own refund; a refund id once (see the module)."""
    c = records.visible(uow, checkout_id, by)
    r = _find(UnitOfWork(by.ref, program=uow.program), c.checkout_id, cmd.refund_id)
    if r is None:
        c, r = _begin(c, cmd, by, uow.program)
    elif r.asked != _asked(cmd):
        raise RefundIdReused(f"refund {cmd.refund_id} of checkout {c.checkout_id} asked for something else",
                             refund_id=cmd.refund_id)
    if r.status == DONE:
        return view(r, c)                            # a retry whose first reply was lost: nothing twice
    r = _steps(c, r, by, uow.program)
    r.status, r.refunded_at = DONE, clock.iso(clock.now())
    uow.save_versioned(r, int(r.version), changed(f"refund {r.refund_id} of checkout {c.checkout_id}"))
    reply = view(r, c)
    uow.emit(DomainEvent("checkout.refunded", **records.about(c, {
        "refund_id": r.refund_id, "reason": r.reason, "checkout_status": c.status,
        **{k: reply[k] for k in ("amount_fen", "points_fen", "stored_value_fen", "gift_cards_fen", "cash_fen")},
        "coupons_restored": [s["part"].split(":", 1)[1] for s in reply["steps"] if s.get("coupon_restored")]})))
    return reply


def _state(c: CheckoutItem, lines: list[dict[str, Any]]) -> list[Fraction]:
    if not c.refunded:
        return [Fraction(0)] * len(lines)
    return [Fraction(x["share"]) for x in c.refunded["lines"]]


def _begin(c: CheckoutItem, cmd: RefundCheckout, by: Principal, program: str) -> tuple[CheckoutItem, CheckoutRefundItem]:
    """The refund recorded with its plan, and the checkout's refunded shares and status moved, in
    one transaction (on the checkout's version: two refunds never both pass what is left)."""
    if c.status not in REFUNDABLE:
        raise records.CheckoutState(f"checkout {c.checkout_id} is {c.status}: only a completed checkout is refunded"
                                    + (" (cancel it instead)" if c.status in (saga.OPEN, saga.COMMITTED) else ""),
                                    status_now=c.status)
    plan = c.plan
    lines = plan["lines"]
    before = _state(c, lines)
    try:
        after = shares.by_lines(lines, before, {x.line: x.quantity for x in cmd.lines}) if cmd.lines else \
            shares.by_amount(lines, before, int(cmd.amount_fen or 0))
    except shares.BeyondPaid as e:
        raise RefundExceedsPaid(str(e), left_fen=sum(shares.left_fen(lines, before))) from None
    except ValueError as e:
        raise ValidationProblem(str(e)) from None
    gives = [{"line": i, "share": str(a), **shares.minus(shares.at(x, a), shares.at(x, b))}
             for i, (x, b, a) in enumerate(zip(lines, before, after, strict=True)) if a != b]
    freed = sorted(shares.coupons_freed(lines, after) - shares.coupons_freed(lines, before))
    now = clock.iso(clock.now())
    r = CheckoutRefundItem(*CheckoutRefundItem.key(c.checkout_id, cmd.refund_id), checkout_id=c.checkout_id,
                           refund_id=cmd.refund_id, asked=_asked(cmd), status=REFUNDING, reason=cmd.reason,
                           caller=by.ref, created_at=now,
                           plan={"lines": gives, "steps": _plan_steps(c, plan, gives, freed, cmd.refund_id,
                                                                      _points_back(plan, lines, before, after))})
    totals = [shares.at(x, a) for x, a in zip(lines, after, strict=True)]
    refunds = c.refunded["refunds"] if c.refunded else 0
    c.refunded = {"refunds": refunds + 1, "fen": sum(t["fen"] for t in totals),
                  "cash_fen": sum(t["cash_fen"] for t in totals),
                  "lines": [{"line": i, "share": str(a), **t} for i, (a, t) in enumerate(zip(after, totals, strict=True))]}
    saga.move(c, saga.REFUNDED if all(a == 1 for a in after) else saga.PARTIALLY_REFUNDED)
    uow = UnitOfWork(by.ref, program=program)
    uow.save_versioned(c, int(c.version), changed(f"checkout {c.checkout_id}"))
    uow.save_versioned(r, 0, lambda: RefundIdReused(f"refund {cmd.refund_id} was made meanwhile; retry to read it"))
    uow.commit()
    return c, r


def _points_back(plan: dict[str, Any], lines: list[dict[str, Any]], before: list[Fraction],
                 after: list[Fraction]) -> int:
    """The spent points this refund gives back: what the refunds' points parts are worth after it
    less before it (:func:`.refund_shares.points_back`, cumulative: nothing drifts)."""
    spent = plan.get("points")
    if not spent:
        return 0

    def worth(s: list[Fraction]) -> int:
        fen_back = sum(shares.at(x, a)["points_fen"] for x, a in zip(lines, s, strict=True))
        return shares.points_back(int(spent["points"]), int(spent["fen"]), fen_back, spent.get("points_per_yuan"))
    return worth(after) - worth(before)


def _plan_steps(c: CheckoutItem, plan: dict[str, Any], gives: list[dict[str, Any]], freed: list[str],
                refund_id: str, points_back: int) -> list[dict[str, Any]]:
    """Each store's refund this refund makes: points (on the order's amount, by line, giving back
    ``points_back`` spent points), stored value, each gift card, each coupon freed; each with its
    derived id."""
    steps: list[dict[str, Any]] = []
    by_line = [{"line": g["line"], "amount_fen": g["fen"]} for g in gives if g["fen"]]
    if c.member_id and by_line and (plan.get("points") or c.earned):
        steps.append({"part": "points", "fen": sum(x["amount_fen"] for x in by_line), "lines": by_line,
                      "restore_points": points_back})
    if sum(g["stored_value_fen"] for g in gives):
        steps.append({"part": "stored_value", "fen": sum(g["stored_value_fen"] for g in gives)})
    for card in sorted({n for g in gives for n in g["gift_cards"]}):
        fen = sum(g["gift_cards"].get(card, 0) for g in gives)
        if fen:
            steps.append({"part": f"gift_card:{card}", "fen": fen})
    saving = {x["coupon_id"]: x["fen"] for x in plan["coupons"]}
    steps += [{"part": f"coupon:{cid}", "fen": saving.get(cid, 0)} for cid in freed]
    return [{**s, "ref": ref(c.checkout_id, refund_id, s["part"])} for s in steps]


def _steps(c: CheckoutItem, r: CheckoutRefundItem, by: Principal, program: str) -> CheckoutRefundItem:
    """Each store's refund not done yet, each in a transaction of its own with the mark that it is
    done (so a retry never makes it twice). A store's refusal stops here (the refund stays
    ``refunding``; its retry goes on from there)."""
    for step in r.plan["steps"]:
        uow = UnitOfWork(by.ref, program=program)
        r = _find(uow, c.checkout_id, r.refund_id) or r
        done = dict(r.done or {})
        if step["part"] in done:
            continue                                 # made by an earlier try
        done[step["part"]] = _STORES[step["part"].split(":", 1)[0]](uow, c, step, by, r.reason)
        r.done = done
        uow.save_versioned(r, int(r.version), changed(f"refund {r.refund_id} of checkout {c.checkout_id}"))
        uow.commit()
    return _find(UnitOfWork(by.ref, program=program), c.checkout_id, r.refund_id) or r


def _points(uow: UnitOfWork, c: CheckoutItem, step: dict[str, Any], by: Principal, reason: str) -> dict[str, Any]:
    cmd = points.Refund(refund_id=step["ref"], amount_fen=step["fen"], merchant_id=c.merchant_id,
                        lines=[orders.RefundLine(**x) for x in step["lines"]])
    got = points.refund(c.order_id, cmd, by, uow, None, give_back=step.get("restore_points"))
    clawed = got["clawed_back"]
    return {"points_restored": int(got["restored"]), "points_clawed_back": int(clawed.get("points", 0)),
            "growth_clawed_back": int(clawed.get("growth", 0))}


def _stored_value(uow: UnitOfWork, c: CheckoutItem, step: dict[str, Any], by: Principal, reason: str) -> dict[str, Any]:
    cmd = stored_value.RefundPayment(refund_id=step["ref"], amount_fen=step["fen"], merchant_id=c.merchant_id)
    got = stored_value.refund(c.order_id, cmd, by, uow, None)
    return {"principal_fen": int(got["principal_fen"]), "bonus_fen": int(got["bonus_fen"])}


def _gift_card(uow: UnitOfWork, c: CheckoutItem, step: dict[str, Any], by: Principal, reason: str) -> dict[str, Any]:
    cmd = gift_cards.RefundCardPayment(card_number=step["part"].split(":", 1)[1], refund_id=step["ref"],
                                       amount_fen=step["fen"], merchant_id=c.merchant_id)
    gift_cards.refund_payment(c.order_id, cmd, by, uow, None)
    return {}


def _coupon(uow: UnitOfWork, c: CheckoutItem, step: dict[str, Any], by: Principal, reason: str) -> dict[str, Any]:
    got = coupons.undo_for_refund(uow, str(c.member_id), step["part"].split(":", 1)[1], c.order_id, by,
                                  f"refund: {reason}"[:200])
    return {"coupon_restored": bool(got and got["restored"])}


_STORES: dict[str, Callable[[UnitOfWork, CheckoutItem, dict[str, Any], Principal, str], dict[str, Any]]] = {
    "points": _points, "stored_value": _stored_value, "gift_card": _gift_card, "coupon": _coupon}


def view(r: CheckoutRefundItem, c: CheckoutItem) -> dict[str, Any]:
    """A refund as its till sees it: what each line and each store gives back, and the cash."""
    plan, done = r.plan, r.done or {}
    lines = plan["lines"]

    def total(name: str) -> int:
        return sum(x[name] for x in lines)
    return {"checkout_id": c.checkout_id, "refund_id": r.refund_id, "order_id": c.order_id, "status": r.status,
            "checkout_status": c.status if c.status in (saga.PARTIALLY_REFUNDED, saga.REFUNDED) else
            saga.PARTIALLY_REFUNDED, "reason": r.reason, "amount_fen": total("fen"), "points_fen": total("points_fen"),
            "stored_value_fen": total("stored_value_fen"),
            "gift_cards_fen": sum(sum(x["gift_cards"].values()) for x in lines), "cash_fen": total("cash_fen"),
            "lines": lines,
            "steps": [{"part": s["part"], "ref": s["ref"], "fen": s["fen"], "done": s["part"] in done,
                       **done.get(s["part"], {})} for s in plan["steps"]],
            "created_at": r.created_at, "refunded_at": r.refunded_at}
