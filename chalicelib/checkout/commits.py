"""The checkout's service API after the quote: ``commitCheckout``, ``completeCheckout``,
``cancelCheckout``, ``getCheckout``, ``listMemberCheckouts`` and the lapse (the saga: :mod:`.saga`).

* **Commit** applies a quote (or the quote less its points offset, with stored value and gift
  cards paying some of the rest): the checkout record is made (``open``) and the quote marked
  committed by it, in one transaction; then each hold is taken in a transaction of its own, its
  id derived from the Idempotency-Key; then the record becomes ``committed`` with the request's
  idempotency record and ``checkout.committed``. A hold refused releases every one taken, the
  record becomes ``failed`` (the quote free again) and the answer is 409 with what differs. Each
  hold (and each step of a points spend in steps) is taken only while the request's deadline
  holds it and the rest at the pace of its slowest step so far; else 503 ``busy``: this try
  stopped at its deadline, and the retry under the same key carries on from the holds taken.
* **Complete** (the payment confirmed) confirms each hold (coupons written off, points spent,
  stored value and gift cards paid: each a payment of the order, refundable as any), then earns
  points and growth on the order as the points rules say (not on what points or stored value
  bonus paid), records ``completed`` and ``checkout.completed``. A completion that finds the
  order earned by another try of it (any key, the same ``payment_ref``) answers the completed
  checkout, as that try did.
* **Cancel** (or the lapse, when the holds' time is up) releases every hold, ``cancelled``.

Cost: a commit with c coupons, points, stored value and g cards is 2 + c + 1 + 1 + g
transactions (each hold's own, as when a till takes them one by one) and the reads each hold
makes; nothing grows with the member's history but the points spend's lots (chunked past 80).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from typing import Any

from chalicelib.checkout import domain, quotes, saga
from chalicelib.checkout.schemas import CancelCheckout, CommitCheckout, CompleteCheckout
from chalicelib.checkout.tables import CheckoutDayItem, CheckoutItem
from chalicelib.db.backend import SortKey
from chalicelib.db.uow import UnitOfWork
from chalicelib.jobs import job
from chalicelib.ledger import holds
from chalicelib.members import service as members
from chalicelib.merchants import service as merchants
from chalicelib.orders import service as orders
from chalicelib.points import service as points
from chalicelib.shared import clock, deadline
from chalicelib.shared.errors import Busy, ConcurrentUpdate, Conflict, NotFound, Problem, ValidationProblem, changed
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import Principal

JOB = "checkout-lapse"
CLAIM_MARGIN = timedelta(seconds=30)     # a completion starts only with this long left before its holds lapse
LAPSE_ACTOR = f"job:{JOB}"
STEPS_AHEAD = 2       # a hold is taken only with time left for it and the record, each as slow as the slowest step


class QuoteExpired(Conflict):
    slug, title = "quote-expired", "The quote has expired: quote again"


class QuoteCommitted(Conflict):
    slug, title = "quote-committed", "The quote was committed already"


class CheckoutChanged(Conflict):
    slug, title = "checkout-changed", "Something the quote offered has changed: nothing was applied"


class CheckoutState(Conflict):
    slug, title = "checkout-state", "The checkout cannot do that in its state"


def _get(uow: UnitOfWork, checkout_id: str) -> CheckoutItem | None:
    return uow.get(CheckoutItem, CheckoutItem.key(checkout_id[:64]), consistent=True)


def _fields(c: CheckoutItem) -> dict[str, Any]:
    """What the saga's steps read of the checkout."""
    plan = c.plan
    return {"member_id": c.member_id, "merchant_id": c.merchant_id, "store_id": c.store_id, "order_id": c.order_id,
            "order_amount_fen": c.totals["order_amount_fen"], "ttl_seconds": plan["ttl_seconds"],
            "plan": plan}


def commit(cmd: CommitCheckout, by: Principal, uow: UnitOfWork, key: str | None) -> dict[str, Any]:
    """``commitCheckout``: every part of the quote held, or none (see the module)."""
    if not key:
        raise ValidationProblem("commitCheckout needs an Idempotency-Key: its steps are named by it")
    checkout_id = holds.step_id("K", by.scope, key)
    found = _get(UnitOfWork(by.ref, program=uow.program), checkout_id)
    if found is None:
        found = _begin(cmd, by, uow.program, key, checkout_id)
    elif found.quote_id != cmd.quote_id:
        raise Conflict("this Idempotency-Key committed another quote; send another key")
    if found.status == saga.FAILED:
        raise CheckoutState(f"this commit failed and released everything: {json.loads(found.problem or '{}').get('detail')}"
                            "; quote again and commit under another Idempotency-Key", status_now=found.status)
    if found.status == saga.CANCELLED:
        saga.release_all(uow.program, by.ref, list(saga.steps(_fields(found), by)), "cancelled")
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
    for step in saga.steps(_fields(found), by, cards, expires):
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
    fresh = _get(uow, c.checkout_id)
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


def complete(checkout_id: str, cmd: CompleteCheckout, by: Principal, uow: UnitOfWork) -> dict[str, Any]:
    """``completeCheckout``: the payment is confirmed: the checkout claimed (``completing``), every
    hold confirmed, points earned, ``completed``."""
    c = visible(uow, checkout_id, by)
    if c.status in (saga.COMPLETED, saga.COMPLETING) and c.payment_ref != cmd.payment_ref:
        raise CheckoutState(f"checkout {c.checkout_id} is {c.status} with another payment reference",
                            status_now=c.status)
    if c.status == saga.COMPLETED:
        return view(c)                               # a retry whose first reply was lost
    if c.status == saga.COMMITTED:
        totals = c.totals
        if totals["cash_fen"] and not cmd.payment_ref:
            raise ValidationProblem(f"{totals['cash_fen']} fen are paid outside: say the payment's reference "
                                    "(payment_ref)")
        if clock.parse_iso(c.hold_expires_at) <= clock.now() + CLAIM_MARGIN:
            raise CheckoutState(f"checkout {c.checkout_id}'s holds lapse at {c.hold_expires_at}: too late to "
                                "complete; cancel it and commit again", status_now=c.status)
        _claim(uow.program, by.ref, c, saga.COMPLETING, payment_ref=cmd.payment_ref)
    elif c.status != saga.COMPLETING:                # a retry of a completion that stopped goes on
        raise CheckoutState(f"checkout {c.checkout_id} is {c.status}: only a committed checkout completes",
                            status_now=c.status)
    fields = _fields(c)
    _confirm_all(uow.program, by, list(saga.steps(fields, by)))
    point = uow.savepoint()
    try:
        earned = _earn(uow, c, fields, by) if c.member_id else None
    except points.OrderAlreadyEarned:            # by another try of this completion (any key) meanwhile?
        done = _get(UnitOfWork(by.ref, program=uow.program), c.checkout_id)
        if done is None or done.status != saga.COMPLETED or done.payment_ref != cmd.payment_ref:
            raise
        uow.rollback_to(point)
        return view(done)                            # as that completion answered
    saga.move(c, saga.COMPLETED)
    c.completed_at = clock.iso(clock.now())
    c.earned = json.dumps(earned) if earned else None
    uow.save_versioned(c, int(c.version), changed(f"checkout {c.checkout_id}"))
    uow.emit(DomainEvent("checkout.completed", **about(c, {"payment_ref": cmd.payment_ref, "earned": earned})))
    return view(c)


def _confirm_all(program: str, by: Principal, steps: list[saga.Step]) -> None:
    """Confirm every hold not confirmed yet, each in a transaction of its own, after checking that
    every one is still there (a hold released under a stopped completion spends none of the rest).
    A hold another try of the completion confirmed meanwhile is passed over."""
    statuses = [step.status(UnitOfWork(by.ref, program=program)) for step in steps]
    for step, status in zip(steps, statuses, strict=True):     # every hold still there before any is spent
        if status not in (holds.OPEN, holds.CONFIRMED):
            raise CheckoutState(f"{step.part}'s hold is {status}: the completion stopped and its time ran out; "
                                "the checkout needs an operator (getCheckout shows what was spent)", part=step.part)
    for step, status in zip(steps, statuses, strict=True):
        if status == holds.CONFIRMED:
            continue                                 # confirmed by the first try
        try:
            saga.in_unit(program, by.ref, step.confirm)
        except Problem as refused:                   # another try of this completion confirmed it meanwhile?
            if step.status(UnitOfWork(by.ref, program=program)) == holds.CONFIRMED:
                continue
            if isinstance(refused, ConcurrentUpdate):
                raise
            raise CheckoutState(f"{step.part}: {refused}; the checkout needs an operator", part=step.part) from None


def _claim(program: str, actor: str, c: CheckoutItem, status: str, **fields: Any) -> None:
    """Move the checkout to ``status`` in a transaction of its own, on its version being the one
    read (of a completion and a cancel racing, one claims it), off the due index."""
    claim = UnitOfWork(actor, program=program)
    saga.move(c, status)
    c.duepk, c.duesk = None, None
    for name, value in fields.items():
        setattr(c, name, value)
    claim.save_versioned(c, int(c.version), changed(f"checkout {c.checkout_id}"))
    if status == saga.CANCELLED:
        claim.emit(DomainEvent("checkout.cancelled", **about(c, {"why": c.why})))
    claim.commit()


def _earn(uow: UnitOfWork, c: CheckoutItem, fields: dict[str, Any], by: Principal) -> dict[str, Any] | None:
    """Points and growth on the order, as an earn of it would give (points and stored value bonus
    paid earn nothing: the order records both)."""
    amount = fields["order_amount_fen"]
    if amount <= 0:
        return None
    lines = [orders.OrderLine(sku=x["sku"], category=x["category"],
                       amount_fen=x["member_total_fen"] - sum(x["coupons"].values())) for x in fields["plan"]["lines"]]
    reply = points.earn(str(c.member_id), points.EarnForOrder(
        order_id=c.order_id, merchant_id=c.merchant_id, store_id=c.store_id, amount_fen=amount,
        paid_with_points_fen=c.totals["points_fen"], lines=lines), by, uow, None)
    return {"points": reply["points"], "growth": reply["growth"]}


def cancel(checkout_id: str, cmd: CancelCheckout, by: Principal | None, uow: UnitOfWork,
           c: CheckoutItem | None = None, actor: str | None = None) -> dict[str, Any]:
    """``cancelCheckout`` (or the lapse, ``by`` None): the checkout claimed (``cancelled``), then
    every hold released (a retry releases what a stopped one left)."""
    c = c or visible(uow, checkout_id, by)
    actor = actor or (by.ref if by else LAPSE_ACTOR)
    if c.status in (saga.OPEN, saga.COMMITTED):
        why = cmd.reason or ("expired" if by is None else "cancelled")
        _claim(uow.program, actor, c, saga.CANCELLED, why=why, cancelled_at=clock.iso(clock.now()))
    elif c.status != saga.CANCELLED:
        raise CheckoutState(f"checkout {c.checkout_id} is {c.status}: "
                            + ("refund it instead" if c.status in (saga.COMPLETED, saga.COMPLETING)
                               else "nothing is held"), status_now=c.status)
    saga.release_all(uow.program, actor, list(saga.steps(_fields(c), by)), c.why or "cancelled")
    return view(c)


def visible(uow: UnitOfWork, checkout_id: str, by: Principal | None) -> CheckoutItem:
    """The checkout, if the caller may see it (``by`` None: a job); else 404, as one never made."""
    c = _get(uow, checkout_id)
    if c is None or (by is not None and not _sees(by, c)):
        raise NotFound(f"no checkout {checkout_id[:64]}")
    return c


def _sees(by: Principal, c: CheckoutItem) -> bool:
    if by.kind == "member":
        return c.member_id is not None and c.member_id == members.own_id("me", by)
    return merchants.acts_for(by, c.merchant_id, c.store_id)


def get(uow: UnitOfWork, checkout_id: str, by: Principal) -> dict[str, Any]:
    """``getCheckout``: the checkout, to its merchant's (and store's) callers, HQ and its member."""
    return view(visible(uow, checkout_id, by))


def list_of_member(uow: UnitOfWork, member_id: str, by: Principal, limit: int, before: str | None) -> dict[str, Any]:
    """``listMemberCheckouts``: the member's checkouts, newest first (a merchant's callers see
    their own merchant's), ``limit`` a page, from ``before`` (the last page's ``next``)."""
    member_id = members.acting_on(uow, member_id, by).member_id
    sort = SortKey.below(before) if before else None
    rows, last = [], None
    for c in uow.query(CheckoutItem, f"CHECKOUTS#{member_id}", sort, index="gsi1", forward=False,
                       limit=limit * 3 + 1):
        last = c.gsi1sk
        if by.kind == "member" or _sees(by, c):
            rows.append(view(c))
        if len(rows) == limit:
            break
    return {"items": rows, "next": last if len(rows) == limit else None}


def view(c: CheckoutItem) -> dict[str, Any]:
    """A checkout as its callers see it (no card secret: none is stored)."""
    plan = c.plan
    return {"checkout_id": c.checkout_id, "quote_id": c.quote_id, "order_id": c.order_id, "status": c.status,
            "merchant_id": c.merchant_id, "store_id": c.store_id, "member_id": c.member_id, "channel": c.channel,
            "guide_id": c.guide_id, "totals": c.totals, "lines": plan["lines"],
            "holds": {"coupons": [{k: x[k] for k in ("coupon_id", "template_id", "fen", "hold_id")}
                                  for x in plan["coupons"]],
                      "points": {k: plan["points"][k] for k in ("points", "fen", "hold_id")} if plan["points"] else None,
                      "stored_value": plan["stored_value"],
                      "gift_cards": plan["gift_cards"]},
            "holds_expire_at": c.hold_expires_at, "created_at": c.created_at, "committed_at": c.committed_at,
            "completed_at": c.completed_at, "cancelled_at": c.cancelled_at, "payment_ref": c.payment_ref,
            "earned": json.loads(c.earned) if c.earned else None, "why": c.why,
            "problem": json.loads(c.problem) if c.problem else None,
            "refunded": c.refunded}


def about(c: CheckoutItem, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A checkout event's subject, data and merchant (ids and figures, no personal data)."""
    return {"subject": f"member:{c.member_id}" if c.member_id else f"checkout:{c.checkout_id}",
            "data": {"checkout_id": c.checkout_id, "order_id": c.order_id, "member_id": c.member_id,
                     "store_id": c.store_id, "channel": c.channel, "guide_id": c.guide_id,
                     "totals": c.totals, **(extra or {})},
            "merchant_id": c.merchant_id}


def _lapse_one(program_id: str, c: CheckoutItem) -> Counter:
    uow = UnitOfWork(LAPSE_ACTOR, program=program_id)
    try:
        cancel(c.checkout_id, CancelCheckout(reason="expired"), None, uow, c, LAPSE_ACTOR)
    except CheckoutState:
        return Counter()
    uow.commit()
    return Counter(released=1)


lapse = holds.lapse_job(JOB, CheckoutItem, _lapse_one, register=job, lapsing=(saga.OPEN, saga.COMMITTED),
                        named=lambda c: c.hold_id)
