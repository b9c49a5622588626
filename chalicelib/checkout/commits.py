"""The checkout's ``commitCheckout``: a quote applied, every part of it held or none.

A commit applies a quote (or the quote less its points offset, with stored value and gift cards
paying some of the rest): the checkout record is made (``open``) and the quote marked committed
by it, in one transaction; then each hold is taken in a transaction of its own, its id derived
from the Idempotency-Key; then the record becomes ``committed`` with the request's idempotency
record and ``checkout.committed``. A hold refused releases every one taken, the record becomes
``failed`` (the quote free again) and the answer is 409 with what differs. Each hold (and each
step of a points spend in steps) is taken only while the request's deadline holds it and the rest
at the pace of its slowest step so far; else 503 ``busy``: this try stopped at its deadline, and
the retry under the same key carries on from the holds taken. What follows (complete, cancel,
the lapse) is :mod:`.completion`; the saga's steps, :mod:`.saga`.

Cost: a commit with c coupons, points, stored value and g cards is 2 + c + 1 + 1 + g
transactions (each hold's own, as when a till takes them one by one) and the reads each hold
makes; nothing grows with the member's history but the points spend's lots (chunked past 80).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from chalicelib.checkout import domain, quotes, saga
from chalicelib.checkout.records import CheckoutState, about, find, for_steps, view
from chalicelib.checkout.schemas import CommitCheckout
from chalicelib.checkout.tables import CheckoutDayItem, CheckoutItem
from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger import holds
from chalicelib.merchants import service as merchants
from chalicelib.points import service as points
from chalicelib.shared import clock, deadline
from chalicelib.shared.errors import Busy, ConcurrentUpdate, Conflict, NotFound, Problem, ValidationProblem, changed
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import Principal

STEPS_AHEAD = 2       # a hold is taken only with time left for it and the record, each as slow as the slowest step


class QuoteExpired(Conflict):
    slug, title = "quote-expired", "The quote has expired: quote again"


class QuoteCommitted(Conflict):
    slug, title = "quote-committed", "The quote was committed already"


class CheckoutChanged(Conflict):
    slug, title = "checkout-changed", "Something the quote offered has changed: nothing was applied"


def commit(cmd: CommitCheckout, by: Principal, uow: UnitOfWork, key: str | None) -> dict[str, Any]:
    """``commitCheckout``: every part of the quote held, or none (see the module)."""
    if not key:
        raise ValidationProblem("commitCheckout needs an Idempotency-Key: its steps are named by it")
    checkout_id = holds.step_id("K", by.scope, key)
    found = find(UnitOfWork(by.ref, program=uow.program), checkout_id)
    if found is None:
        found = _begin(cmd, by, uow.program, key, checkout_id)
    elif found.quote_id != cmd.quote_id:
        raise Conflict("this Idempotency-Key committed another quote; send another key")
    if found.status == saga.FAILED:
        raise CheckoutState(f"this commit failed and released everything: {json.loads(found.problem or '{}').get('detail')}"
                            "; quote again and commit under another Idempotency-Key", status_now=found.status)
    if found.status == saga.CANCELLED:
        uow.before_own_work()                        # a replay is answered: what is left to release is not its
        saga.release_all(uow.program, by.ref, list(saga.steps(for_steps(found), by)), "cancelled")
        raise CheckoutState(f"checkout {checkout_id} was cancelled", status_now=found.status)
    if found.status != saga.OPEN:
        return view(found)                           # committed: a retry whose first reply was lost
    _take_steps(uow.program, by, found, {c.card_number: c.secret for c in cmd.gift_cards})
    saga.move(found, saga.COMMITTED)
    found.committed_at = clock.iso(clock.now())
    uow.save_versioned(found, int(found.version), changed(f"checkout {checkout_id}"))
    uow.emit(DomainEvent("checkout.committed", **about(found)))
    return view(found)


def _take_steps(program: str, by: Principal, found: CheckoutItem, cards: dict[str, str]) -> None:
    """Take every hold an earlier try did not, each in a transaction of its own while the deadline
    holds it (else 503 busy: the retry under the key carries on); a hold refused fails the commit."""
    expires = clock.parse_iso(found.hold_expires_at)
    taken: list[saga.Step] = []
    for step in saga.steps(for_steps(found), by, cards, expires):
        taken.append(step)
        if step.status(UnitOfWork(by.ref, program=program)) == holds.OPEN:
            continue                                 # taken by an earlier try
        if not deadline.room_for(STEPS_AHEAD, 0):
            raise Busy(f"this try stopped at its deadline before taking the {step.part} hold ({len(taken) - 1} "
                       "taken so far); retry with the same Idempotency-Key to carry on from them", retry_after=1)
        try:
            with deadline.measured():
                saga.in_unit(program, by.ref, step.take)
        except (ConcurrentUpdate, Busy):
            raise                                    # Busy: a spend in steps stopped at the deadline, kept
        except Problem as refused:
            if step.status(UnitOfWork(by.ref, program=program)) in (holds.OPEN, holds.FILLING):
                raise ConcurrentUpdate(f"the {step.part} hold was taken by another try of this commit sent "
                                       "meanwhile; retry") from None
            _fail(program, by, found, taken, step, refused)


def _begin(cmd: CommitCheckout, by: Principal, program: str, key: str, checkout_id: str) -> CheckoutItem:
    """The checkout record made ``open`` with its plan, and the quote marked committed by it, in a
    transaction of its own (the steps follow)."""
    uow = UnitOfWork(by.ref, program=program)
    q = quotes.get(uow, cmd.quote_id)
    if q is None or not merchants.acts_for(by, q.merchant_id, q.store_id):
        raise NotFound(f"no quote {cmd.quote_id[:64]}")
    now = clock.now()
    if clock.parse_iso(q.valid_until) <= now:
        raise QuoteExpired(f"quote {q.quote_id} expired at {q.valid_until}")
    if q.checkout_id == checkout_id:        # this very commit, in flight in another request (a double click)
        raise ConcurrentUpdate(f"checkout {checkout_id} is being committed; retry")
    if q.checkout_id:
        raise QuoteCommitted(f"quote {q.quote_id} was committed by checkout {q.checkout_id}")
    body = q.body
    if cmd.lines is not None and domain.cart_hash(
            [(x.sku, x.category, x.quantity, x.unit_price_fen) for x in cmd.lines]) != q.cart_hash:
        raise CheckoutChanged("the cart differs from the quote's: quote it again", differs=[{"part": "cart"}])
    plan, totals = _plan(body, cmd, by, key)
    if cmd.order_id and (refused := points.order_refunded(uow, q.merchant_id, cmd.order_id, totals["points"], q.member_id,
                                                         by)):
        raise refused                        # refunded in full, or no room for its points: nothing held
    if q.member_id is None and (totals["stored_value_fen"] or totals["points_fen"]):
        raise ValidationProblem("a walk-in customer has no stored value or points to pay with")
    expires = now + timedelta(seconds=cmd.ttl_seconds)
    c = CheckoutItem(*CheckoutItem.key(checkout_id), hold_id=checkout_id, quote_id=q.quote_id,
                     order_id=cmd.order_id or checkout_id, merchant_id=q.merchant_id, store_id=q.store_id,
                     member_id=q.member_id, channel=body.get("channel"), caller=by.ref, guide_id=cmd.guide_id,
                     plan=plan, totals=totals,
                     created_at=clock.iso(now))
    if q.member_id:
        c.gsi1pk, c.gsi1sk = f"CHECKOUTS#{q.member_id}", f"{c.created_at}#{checkout_id}"
    holds.due_at(c, expires, checkout_id)     # its holds' time: the lapse releases them all (each store's job too)
    saga.move(c, saga.OPEN)
    uow.save_versioned(c, 0, changed(f"checkout {checkout_id}"))
    uow.create(CheckoutDayItem.of(c, clock.program_date(now).isoformat()))     # the exports' listing by day
    q.checkout_id = checkout_id
    uow.save(q, type(q).checkout_id.does_not_exist(),
             on_conflict=lambda: QuoteCommitted(f"quote {q.quote_id} was committed by another checkout"))
    uow.commit()
    return c


def _plan(quote: dict[str, Any], cmd: CommitCheckout, by: Principal, key: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every hold the commit takes (its id derived from the key) and every line's parts."""
    lines = quote["lines"]
    coupons = [c for c in ((quote.get("coupons") or {}).get("chosen") or [])]
    pts = quote.get("points") or {}
    use_points = cmd.use_points and bool(pts.get("points"))
    chosen = [domain.CouponPart(c["coupon_id"], c["saving_fen"], {x["line"]: x["fen"] for x in c["lines"]})
              for c in coupons]
    settled = domain.settle([(x["list_total_fen"], x["member_total_fen"]) for x in lines], chosen,
                            pts["fen"] if use_points else 0)
    to_pay = [p.to_pay_fen for p in settled.lines]
    given = [("stored_value", cmd.stored_value_fen)] + [(f"gift_card:{g.card_number}", g.amount_fen)
                                                        for g in cmd.gift_cards]
    try:
        paid, cash = domain.tenders(to_pay, given)
    except ValueError:
        raise ValidationProblem(f"stored value and gift cards pay {sum(f for _, f in given)} fen; the order has "
                                f"{sum(to_pay)} fen to pay after coupons and points") from None
    plan: dict[str, Any] = {
        "ttl_seconds": cmd.ttl_seconds,
        "coupons": [{"coupon_id": c["coupon_id"], "template_id": c["template_id"], "version": c["version"],
                     "fen": c["saving_fen"], "hold_id": saga.step_id(by.scope, key, f"coupon:{c['coupon_id']}")}
                    for c in coupons],
        "points": ({"points": pts["points"], "fen": pts["fen"], "hold_id": saga.step_id(by.scope, key, "points"),
                    "points_per_yuan": pts.get("points_per_yuan")}      # what a refund's points are worth at
                   if use_points else None),
        "stored_value": ({"fen": cmd.stored_value_fen, "hold_id": saga.step_id(by.scope, key, "stored_value")}
                         if cmd.stored_value_fen else None),
        "gift_cards": [{"card_number": g.card_number, "fen": g.amount_fen,
                        "hold_id": saga.step_id(by.scope, key, f"gift_card:{g.card_number}")} for g in cmd.gift_cards],
        "lines": [{"line": p.line, "sku": x["sku"], "category": x["category"], "quantity": x["quantity"],
                   "list_total_fen": p.list_total_fen, "member_total_fen": p.member_total_fen,
                   "member_discount_fen": p.member_discount_fen, "coupons": p.coupons, "points_fen": p.points_fen,
                   "stored_value_fen": paid[p.line].get("stored_value", 0),
                   "gift_cards": {k.split(":", 1)[1]: v for k, v in paid[p.line].items() if k.startswith("gift_card:")},
                   "cash_fen": cash[p.line]} for x, p in zip(lines, settled.lines, strict=True)],
    }
    totals = {"list_total_fen": settled.total("list_total_fen"), "member_total_fen": settled.total("member_total_fen"),
              "member_discount_fen": settled.total("member_discount_fen"), "coupons_fen": settled.total("coupons_fen"),
              "points": plan["points"]["points"] if use_points else 0, "points_fen": settled.total("points_fen"),
              "stored_value_fen": cmd.stored_value_fen, "gift_cards_fen": sum(g.amount_fen for g in cmd.gift_cards),
              "cash_fen": sum(cash), "order_amount_fen": settled.total("points_fen") + settled.total("to_pay_fen")}
    return plan, totals


def _fail(program: str, by: Principal, c: CheckoutItem, taken: list[saga.Step], step: saga.Step,
          refused: Problem) -> None:
    """A step refused: release every step taken, the record ``failed`` and the quote free again;
    raise what differs (409), or the step's own refusal when it is not a conflict (a card's secret
    wrong: 422)."""
    released = saga.release_all(program, by.ref, taken, "commit refused")
    uow = UnitOfWork(by.ref, program=program)
    fresh = find(uow, c.checkout_id)
    assert fresh is not None
    problem = {"part": step.part, "type": refused.type, "detail": str(refused)}
    saga.move(fresh, saga.FAILED)
    fresh.problem, fresh.duepk, fresh.duesk = json.dumps(problem), None, None
    uow.save_versioned(fresh, int(fresh.version), changed(f"checkout {c.checkout_id}"))
    q = quotes.get(uow, fresh.quote_id)
    if q is not None and q.checkout_id == fresh.checkout_id:
        q.checkout_id = None
        uow.save(q, type(q).checkout_id == fresh.checkout_id)
    uow.emit(DomainEvent("checkout.failed", **about(fresh, {"problem": problem, "released": released})))
    uow.commit()
    if refused.status != 409:
        raise refused
    raise CheckoutChanged(f"{step.part}: {refused}; nothing was applied", differs=[problem]) from None
