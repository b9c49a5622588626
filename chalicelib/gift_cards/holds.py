"""Two-phase gift card checkouts on the one hold mechanism (:mod:`chalicelib.ledger.holds`): a till
reserves an amount on a card (number and secret, checked and guarded exactly as for a payment),
then confirms it (a payment of the order, refundable as any card payment) or cancels it; a hold
never settled lapses by itself (the ``gift-card-holds`` job, reading only the holds that are due).

The held amount leaves the card's balance at once (it is counted in ``used``, and in ``held`` on
the card), so two holds can never take more than the card has. Each step is one version of the
card, one posting and one event, with its lines: a hold moves the amount from the issuer's
liability ``gift_cards:<issuer>`` to ``gift_cards_held:<issuer>`` (still the issuer's prepaid
money), a confirmation from there to the merchant's settlement, a release back (to
``gift_cards_voided:<issuer>`` when the card was voided meanwhile: its buyer is owed it).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalicelib.db.uow import UnitOfWork
from chalicelib.gift_cards import cards as C
from chalicelib.gift_cards import repository
from chalicelib.gift_cards.schemas import HoldWithCard
from chalicelib.gift_cards.service import PART, CardChange, find_card, liability, tendered, voided
from chalicelib.gift_cards.tables import GiftCardBatchItem, GiftCardHoldItem, GiftCardItem, GiftCardPaymentItem
from chalicelib.jobs import job
from chalicelib.ledger import holds
from chalicelib.merchants import service as merchants
from chalicelib.orders import service as orders
from chalicelib.shared import clock
from chalicelib.shared.errors import Conflict
from chalicelib.shared.ids import new_id
from chalicelib.shared.principal import Principal
from chalicelib.stored_value.service import settlement

JOB = "gift-card-holds"
LAPSE_ACTOR = f"job:{JOB}"                   # who releases a lapsed hold


def held(batch: GiftCardBatchItem) -> str:
    """The account of what open holds reserve on the batch's cards (the issuer's money still)."""
    return f"gift_cards_held:{batch.issuer_merchant_id or 'program'}"


def hold(cmd: HoldWithCard, by: Principal, uow: UnitOfWork, key: str | None,
         hold_id: str | None = None, checkout_id: str | None = None) -> dict[str, Any]:
    """Reserve an amount on a card for an order: the card is checked as for a payment
    (``hold_id``: a step's id, as for points; default: new; ``checkout_id``: the checkout it is a
    step of, whose completion alone confirms it)."""
    merchant, store, card, batch, _ = tendered(cmd, by, uow, "holds")
    orders.check_use(uow, merchant, cmd.order_id, cmd.amount_fen, by=by)          # another store's order: 404, as a payment
    change = CardChange(uow, card)
    change.state.move("used", cmd.amount_fen)
    card.held = int(card.held or 0) + cmd.amount_fen
    change.journal.move(liability(batch), held(batch), cmd.amount_fen)
    hold_id, now = hold_id or new_id(), clock.now()
    h = GiftCardHoldItem(*GiftCardHoldItem.key(hold_id), hold_id=hold_id, number=card.number, merchant_id=merchant,
                         store_id=store, order_id=cmd.order_id, amount_fen=cmd.amount_fen, created_at=clock.iso(now),
                         of_checkout=checkout_id)
    holds.due_at(h, now + timedelta(seconds=cmd.ttl_seconds), hold_id)
    holds.create(uow, h, holds.OPEN)
    change.stage("hold", cmd.amount_fen, "gift_card.held", merchant_id=merchant, store_id=store,
                 ref=f"hold:{hold_id}", data={"hold_id": hold_id, "order_id": cmd.order_id})
    return {**view(h), "balance_fen": C.balance(card)}


def status_of(uow: UnitOfWork, hold_id: str) -> str | None:
    """The status of a hold (None: none of that id), for a caller that took it as a step of its own."""
    h = repository.of(uow).hold(hold_id)
    return None if h is None else str(h.status)


def get_hold(hold_id: str, by: Principal, uow: UnitOfWork) -> dict[str, Any]:
    """A hold, to the merchant (and store) that took it."""
    return view(holds.visible(repository.of(uow).hold(hold_id), hold_id, by, merchants.acts_for))


def _open(uow: UnitOfWork, hold_id: str, by: Principal | None, unexpired: bool = False) -> \
        tuple[GiftCardHoldItem, GiftCardItem, GiftCardBatchItem]:
    h = holds.settleable(holds.visible(repository.of(uow).hold(hold_id), hold_id, by, merchants.acts_for),
                         unexpired=unexpired)
    return (h, *find_card(uow, h.number))


def confirm(hold_id: str, by: Principal, uow: UnitOfWork, key: str | None,
            via_checkout: bool = False) -> dict[str, Any]:
    """Spend the held amount: the order is paid with the card, recorded as a payment is (and so
    refundable by ``refundGiftCardPayment``); a checkout's hold only by its checkout's completion."""
    h, card, batch = _open(uow, hold_id, by, unexpired=True)
    holds.confirmable(h, via_checkout)
    fen = int(h.amount_fen)
    paid_key = GiftCardPaymentItem.key(h.merchant_id, h.order_id, card.number)
    change = CardChange(uow, card)
    change.state.count("spent", fen)
    card.held = int(card.held or 0) - fen
    change.journal.move(held(batch), settlement(h.merchant_id), fen)
    if card.state not in ("voided", "redeemed"):
        card.state = "exhausted" if C.balance(card) == 0 and not card.held else "partially_used"
    holds.move(uow, h, holds.CONFIRMED)
    uow.create(GiftCardPaymentItem(*paid_key, number=card.number, amount_fen=fen, store_id=h.store_id,
                                   created_at=clock.iso(clock.now())),
               on_conflict=lambda: Conflict(f"order {h.order_id} was paid with this card already"))
    orders.record_part(uow, h.merchant_id, h.order_id, PART, fen, ref=card.number, store_id=h.store_id, by=by)
    change.stage("hold_confirmed", fen, "gift_card.paid", merchant_id=h.merchant_id, store_id=h.store_id,
                 ref=f"order:{h.merchant_id}:{h.order_id}", data={"order_id": h.order_id, "hold_id": hold_id})
    return {**view(h), "balance_fen": C.balance(card), "state": card.state}


def release(hold_id: str, by: Principal | None, uow: UnitOfWork, key: str | None,
            why: str = "cancelled", via_checkout: bool = False) -> dict[str, Any]:
    """Give the held amount back to the card (a cancel, or the lapse job with ``by=None``; a
    checkout's hold only by its checkout, ``via_checkout``, or the lapse); to what its buyer is
    owed if the card was voided meanwhile."""
    h, card, batch = _open(uow, hold_id, by)
    holds.releasable(h, by, via_checkout)
    fen = int(h.amount_fen)
    change = CardChange(uow, card)
    card.held = int(card.held or 0) - fen
    if C.state(card, batch, clock.program_date()) == "voided":
        change.state.count("voided_fen", fen)
        change.journal.move(held(batch), voided(batch), fen)
    else:
        change.state.move("used", -fen)
        change.journal.move(held(batch), liability(batch), fen)
        if card.state == "exhausted":                # paid down to what was held: something is left again
            card.state = "partially_used"
    holds.move(uow, h, holds.RELEASED)
    change.stage("hold_released", fen, "gift_card.hold_released", merchant_id=h.merchant_id,
                 store_id=h.store_id, ref=f"hold:{hold_id}",
                 data={"hold_id": hold_id, "order_id": h.order_id, "why": why})
    return {**view(h), "balance_fen": C.balance(card)}


def view(h: GiftCardHoldItem) -> dict[str, Any]:
    """A hold as its merchant sees it."""
    return {"hold_id": h.hold_id, "card_number": h.number, "order_id": h.order_id, "merchant_id": h.merchant_id,
            "store_id": h.store_id, "amount_fen": int(h.amount_fen), "status": h.status,
            "expires_at": h.hold_expires_at, "created_at": h.created_at}


lapse = holds.lapse_job(JOB, GiftCardHoldItem, holds.released_in_unit(
    LAPSE_ACTOR, lambda uow, h: release(h.hold_id, None, uow, None, why="expired")), register=job)
