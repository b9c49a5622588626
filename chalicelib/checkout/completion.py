"""How a committed checkout ends: ``completeCheckout``, ``cancelCheckout`` and the lapse.

* **Complete** (the payment confirmed) confirms each hold (coupons written off, points spent,
  stored value and gift cards paid: each a payment of the order, refundable as any), then earns
  points and growth on the order as the points rules say (not on what points or stored value
  bonus paid), records ``completed`` and ``checkout.completed``. A completion that finds the
  order earned by another try of it (any key, the same ``payment_ref``) answers the completed
  checkout, as that try did.
* **Cancel** (or the lapse, when the holds' time is up) releases every hold, ``cancelled``.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from typing import Any

from chalicelib.checkout import saga
from chalicelib.checkout.records import CheckoutState, about, find, for_steps, view, visible
from chalicelib.checkout.schemas import CancelCheckout, CompleteCheckout
from chalicelib.checkout.tables import CheckoutItem
from chalicelib.db.uow import UnitOfWork
from chalicelib.jobs import job
from chalicelib.ledger import holds
from chalicelib.orders import service as orders
from chalicelib.points import service as points
from chalicelib.shared import clock
from chalicelib.shared.errors import ConcurrentUpdate, Problem, ValidationProblem, changed
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import Principal

JOB = "checkout-lapse"
CLAIM_MARGIN = timedelta(seconds=30)     # a completion starts only with this long left before its holds lapse
LAPSE_ACTOR = f"job:{JOB}"


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
        if (refused := points.order_refunded(uow, c.merchant_id, c.order_id, 0, c.member_id, by)) is not None:
            raise refused                    # refunded since the commit: still committed, cancel it
        _claim(uow.program, by.ref, c, saga.COMPLETING, payment_ref=cmd.payment_ref)
    elif c.status != saga.COMPLETING:                # a retry of a completion that stopped goes on
        raise CheckoutState(f"checkout {c.checkout_id} is {c.status}: only a committed checkout completes",
                            status_now=c.status)
    fields = for_steps(c)
    _confirm_all(uow.program, by, list(saga.steps(fields, by)), c.checkout_id)
    point = uow.savepoint()
    try:
        earned = _earn(uow, c, fields, by) if c.member_id else None
    except points.OrderAlreadyEarned:            # by another try of this completion (any key) meanwhile?
        done = find(UnitOfWork(by.ref, program=uow.program), c.checkout_id)
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


def _confirm_all(program: str, by: Principal, steps: list[saga.Step], checkout_id: str) -> None:
    """Confirm every hold not confirmed yet, each in a transaction of its own, after checking that
    every one is still there (a hold released under a stopped completion spends none of the rest).
    A hold another try of the completion confirmed meanwhile is passed over. A confirm refused
    before any hold was spent leaves the checkout ``committed`` again (:func:`_unclaim`)."""
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
            if _unclaim(program, by.ref, checkout_id, steps):
                raise CheckoutState(f"{step.part}: {refused}; nothing was spent: the checkout is committed again "
                                    "(cancel it)", part=step.part, status_now=saga.COMMITTED) from None
            raise CheckoutState(f"{step.part}: {refused}; the checkout needs an operator", part=step.part) from None


def _unclaim(program: str, actor: str, checkout_id: str, steps: list[saga.Step]) -> bool:
    """A completion refused before it spent anything (its order refunded meanwhile): the checkout
    ``committed`` again, back on the due index (its cancel, or the lapse, gives every hold back),
    in a transaction of its own on the version read. Whether it was (not once a hold is spent)."""
    uow = UnitOfWork(actor, program=program)
    c = find(uow, checkout_id)
    if c is None or c.status != saga.COMPLETING or any(
            step.status(UnitOfWork(actor, program=program)) == holds.CONFIRMED for step in steps):
        return False
    saga.move(c, saga.COMMITTED)
    c.payment_ref = None
    holds.due_at(c, clock.parse_iso(c.hold_expires_at), c.hold_id)
    uow.save_versioned(c, int(c.version), changed(f"checkout {checkout_id}"))
    uow.commit()
    return True


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
    else:                                            # cancelled before: a replay is answered here, and a
        uow.before_own_work()                        # retry of a stopped cancel releases what it left
    saga.release_all(uow.program, actor, list(saga.steps(for_steps(c), by)), c.why or "cancelled")
    return view(c)


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
