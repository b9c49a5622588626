"""A checkout's saga: the holds it takes, confirms and releases, one store at a time.

A commit cannot be one DynamoDB transaction (a points spend alone may touch 80 lots), so it is a
recorded saga over the holds every money store already has (:mod:`chalicelib.ledger.holds`): the
coupons' locks, the points hold, the stored value hold, a hold per gift card. Each is a **step**
with an id derived from the commit's Idempotency-Key (:func:`step_id`), taken in a unit of work
of its own; the checkout record (``tables.CheckoutItem``) holds the plan. So:

* a retry after a crash finds the steps already taken (by their ids) and goes on from there;
* a step refused (a coupon used meanwhile, a balance spent) releases every step taken, and the
  commit answers 409 with what differs: all or nothing;
* a checkout never completed lapses with its holds (each store's own hold job would release
  its hold too; the checkout's job also marks the record).

Statuses (:data:`MOVES`)::

    open ──commit──▶ committed ──complete──▶ completing ──▶ completed ──refund──▶ partially_refunded ──▶ refunded
     │                   │                                      └──────refund (all of it)────────────────▲
     └──refused──▶ failed└──cancel / lapse──▶ cancelled

``open`` while the steps are being taken (a crash leaves it open; the retry, or the lapse, ends it).
A completion and a cancel each first claim the checkout (``completing``, ``cancelled``: a move
conditioned on the version read), then confirm or release its holds: of a completion and a cancel
racing, one claims it and the other is refused, so no checkout is ever part spent, part released.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.coupons import service as coupons
from chalicelib.db.uow import UnitOfWork
from chalicelib.gift_cards import service as gift_cards
from chalicelib.ledger import holds
from chalicelib.points import service as points
from chalicelib.shared.principal import Principal
from chalicelib.stored_value import service as stored_value

OPEN, COMMITTED, COMPLETING, COMPLETED = "open", "committed", "completing", "completed"
CANCELLED, FAILED = "cancelled", "failed"
PARTIALLY_REFUNDED, REFUNDED = "partially_refunded", "refunded"          # refunds: :mod:`.refunds`
MOVES: dict[str, tuple[str, ...]] = {
    OPEN: (COMMITTED, FAILED, CANCELLED),
    COMMITTED: (COMPLETING, CANCELLED),
    COMPLETING: (COMPLETED, COMMITTED),            # committed again: a completion refused, nothing spent
    COMPLETED: (PARTIALLY_REFUNDED, REFUNDED),
    CANCELLED: (),
    FAILED: (),
    PARTIALLY_REFUNDED: (PARTIALLY_REFUNDED, REFUNDED),
    REFUNDED: (),
}


def move(c: Any, to: str) -> None:
    """Set the checkout's status to ``to``, if :data:`MOVES` has that move (else a programming
    error: the callers condition each move on the version they read)."""
    if to not in MOVES.get(c.status, ()) and not (c.status is None and to == OPEN):
        raise AssertionError(f"a checkout {c.status} cannot become {to}")
    c.status = to


def step_id(scope: str, key: str, part: str) -> str:
    """The id of the hold a commit (the caller's ``scope`` and Idempotency-Key) takes for ``part``."""
    return holds.step_id("C", scope, key, part)


@dataclass(frozen=True)
class Step:
    """One hold of a checkout: what it is (``part``), its id, and how to read, take, confirm and
    release it (each staged in the unit given)."""

    part: str                                            # coupon:<id> | points | stored_value | gift_card:<number>
    hold_id: str
    status: Callable[[UnitOfWork], str | None]           # the hold's status (None: not taken)
    take: Callable[[UnitOfWork], Any]
    confirm: Callable[[UnitOfWork], Any]
    release: Callable[[UnitOfWork, str], Any]


def steps(checkout: dict[str, Any], by: Principal | None, cards_given: dict[str, str] | None = None,
          expires: datetime | None = None) -> Iterator[Step]:
    """The checkout's steps in the order they are taken (coupons, points, stored value, gift
    cards); ``checkout``: the record's fields and plan. ``by``: the caller (None: the lapse job,
    which only releases). ``cards_given``: card number -> secret, which only the commit has (a
    card's hold needs it; nothing stores it); ``expires``: when the commit's holds lapse."""
    plan = checkout["plan"]
    for c in plan["coupons"]:
        yield _coupon(checkout, c, by, expires)
    if plan.get("points"):
        yield _points(checkout, plan["points"], by)
    if plan.get("stored_value"):
        yield _stored_value(checkout, plan["stored_value"], by)
    for g in plan["gift_cards"]:
        yield _card(checkout, g, by, (cards_given or {}).get(g["card_number"], ""))


def _must(by: Principal | None) -> Principal:
    assert by is not None, "only releasing is done without a caller"
    return by


def _coupon(k: dict[str, Any], c: dict[str, Any], by: Principal | None, expires: datetime | None) -> Step:
    hid = c["hold_id"]

    def status(uow: UnitOfWork) -> str | None:
        return coupons.holds.status_of(uow, hid)

    def take(uow: UnitOfWork) -> Any:
        assert expires is not None, "a step is taken only by the commit, which says when it lapses"
        use = coupons.holds.Use(k["order_id"], k["merchant_id"], k["store_id"], _must(by).ref, c["fen"], {}, k["order_amount_fen"])
        return coupons.holds.lock_quoted(uow, k["member_id"], c["coupon_id"], use, hid, expires, k["checkout_id"])

    return Step(f"coupon:{c['coupon_id']}", hid, status, take,
                lambda uow: coupons.holds.confirm(hid, _must(by), uow, via_checkout=True),
                lambda uow, why: coupons.holds.release(hid, by, uow, why, via_checkout=True))


def _points(k: dict[str, Any], p: dict[str, Any], by: Principal | None) -> Step:
    hid, member = p["hold_id"], k["member_id"]

    def status(uow: UnitOfWork) -> str | None:
        return points.hold_status(uow, member, "points", hid)

    def take(uow: UnitOfWork) -> Any:
        cmd = points.Hold(points=p["points"], order_id=k["order_id"], order_amount_fen=k["order_amount_fen"],
                   merchant_id=k["merchant_id"], ttl_seconds=k["ttl_seconds"])
        return points.hold(member, cmd, _must(by), uow, None, hid, k["checkout_id"])

    return Step("points", hid, status, take,
                lambda uow: points.confirm_hold(member, hid, "points", _must(by), uow, None, via_checkout=True),
                lambda uow, why: points.release_hold(member, hid, "points", by, uow, None, why, via_checkout=True))


def _stored_value(k: dict[str, Any], v: dict[str, Any], by: Principal | None) -> Step:
    hid, member = v["hold_id"], k["member_id"]

    def status(uow: UnitOfWork) -> str | None:
        return stored_value.holds.status_of(uow, member, hid)

    def take(uow: UnitOfWork) -> Any:
        cmd = stored_value.holds.HoldRequest(amount_fen=v["fen"], order_id=k["order_id"], merchant_id=k["merchant_id"],
                          store_id=k["store_id"], ttl_seconds=k["ttl_seconds"])
        return stored_value.holds.hold(member, cmd, _must(by), uow, None, hid, k["checkout_id"])

    return Step("stored_value", hid, status, take,
                lambda uow: stored_value.holds.confirm(member, hid, _must(by), uow, None, via_checkout=True),
                lambda uow, why: stored_value.holds.release(member, hid, by, uow, None, why, via_checkout=True))


def _card(k: dict[str, Any], g: dict[str, Any], by: Principal | None, secret: str) -> Step:
    hid = g["hold_id"]

    def status(uow: UnitOfWork) -> str | None:
        return gift_cards.holds.status_of(uow, hid)

    def take(uow: UnitOfWork) -> Any:
        cmd = gift_cards.holds.HoldWithCard(card_number=g["card_number"], secret=secret, amount_fen=g["fen"], order_id=k["order_id"],
                           merchant_id=k["merchant_id"], store_id=k["store_id"], ttl_seconds=k["ttl_seconds"])
        return gift_cards.holds.hold(cmd, _must(by), uow, None, hid, k["checkout_id"])

    return Step(f"gift_card:{g['card_number']}", hid, status, take,
                lambda uow: gift_cards.holds.confirm(hid, _must(by), uow, None, via_checkout=True),
                lambda uow, why: gift_cards.holds.release(hid, by, uow, None, why, via_checkout=True))


def in_unit(program: str, actor: str, stage: Callable[[UnitOfWork], Any]) -> Any:
    """Stage one step in a unit of work of its own and commit it."""
    uow = UnitOfWork(actor, program=program)
    result = stage(uow)
    uow.commit()
    return result


def release_all(program: str, actor: str, taken: list[Step], why: str) -> list[str]:
    """Release every step still open (a refused commit, a cancel, a lapse), last taken first; the
    parts released. A hold settled meanwhile (released by its own lapse) is left alone."""
    released = []
    for step in reversed(taken):
        uow = UnitOfWork(actor, program=program)
        if step.status(uow) not in (holds.OPEN, holds.FILLING, holds.RELEASING):
            continue
        try:
            step.release(uow, why)
            uow.commit()
        except holds.HoldNotOpen:
            continue
        released.append(step.part)
    return released
