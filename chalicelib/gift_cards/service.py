"""The gift card capability's service API: sell ranges of a batch, activate, redeem into a
member's stored value, pay at a till and refund such a payment onto the card, void; cards and
batches as HQ sees them.

A card's balance is a versioned account (the shared one: its ``version`` is the lock, one posting
per change, each with double-entry lines). The program's accounts: a sale debits cash clearing
(and a discount) and credits ``gift_cards:<issuer>``, the liability of the issuing merchant (or
of the program); a redemption moves that liability to the member's principal, a payment to the
merchant's settlement (a refund of it back), a void of a sold card to ``gift_cards_voided:<issuer>`` (owed back to the
buyer, still held). What happens to value a card can no longer be used for is in ``closing.py``.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, NamedTuple

from pynamodb.expressions.update import Action

from chalicelib.db.uow import UnitOfWork
from chalicelib.gift_cards import cards as C
from chalicelib.gift_cards import keys, repository
from chalicelib.gift_cards.listing import batches_made, cards_after, masked  # noqa: F401  (the reports' reads)
from chalicelib.gift_cards.schemas import CardSecret, PayWithCard, RefundCardPayment, SellCards, VoidCard
from chalicelib.gift_cards.tables import (
    GiftCardBatchItem,
    GiftCardItem,
    GiftCardPaymentItem,
    GiftCardPostingItem,
    GiftCardSaleItem,
    GiftCardSaleRangeItem,
    GiftCardVoidItem,
)
from chalicelib.ledger.account import JournalAccount
from chalicelib.ledger.journal import Journal
from chalicelib.ledger.refunds import within_payment
from chalicelib.members import service as members
from chalicelib.merchants import service as merchants
from chalicelib.orders import service as orders
from chalicelib.shared import clock, lazy
from chalicelib.shared.errors import ConcurrentUpdate, Conflict, Forbidden, NotFound, ValidationProblem, changed
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import Principal
from chalicelib.stored_value import service as stored_value
from chalicelib.stored_value.service import InsufficientBalance, settlement

# The holds (take, confirm, release, status_of), which checkout's saga takes as steps: that module
# imports this one, so it is reached lazily.
holds = lazy.module("chalicelib.gift_cards.holds")

CASH, DISCOUNT = "cash_clearing", "gift_card_discount"


class InvoiceReused(Conflict):
    slug, title = "invoice-reused", "This invoice was used for another sale"


class RangeUnavailable(Conflict):
    slug, title = "gift-card-range-unavailable", "Some cards of the range are sold or void"


class NotAccepted(Conflict):
    slug, title = "gift-card-not-accepted", "The card is not accepted here"


def liability(batch: GiftCardBatchItem) -> str:
    """The account of the batch's cards' outstanding value."""
    return f"gift_cards:{batch.issuer_merchant_id or 'program'}"


def voided(batch: GiftCardBatchItem) -> str:
    """The account of what voided sold cards of the batch's issuer still owe their buyers (the
    issuer's liability until paid out)."""
    return f"gift_cards_voided:{batch.issuer_merchant_id or 'program'}"


def find_batch(uow: UnitOfWork, batch_id: str) -> GiftCardBatchItem:
    """The program's batch, or 404."""
    batch = repository.of(uow).batch(batch_id)
    if batch is None:
        raise NotFound(f"no gift card batch {batch_id[:32]}")
    return batch


# sales --------------------------------------------------------------------------------------------
def sell(batch_id: str, cmd: SellCards, by: Principal, uow: UnitOfWork) -> dict[str, Any]:
    """Sell a range of a batch (or all of it) to a purchaser against an invoice, once per invoice."""
    batch = find_batch(uow, batch_id)
    if batch.status != "ready":
        raise Conflict("the batch is still being generated")
    first, last = _range(batch, cmd)
    seen = repository.of(uow).sale(batch_id, cmd.invoice_ref)
    if seen is not None:
        if (int(seen.first), int(seen.last)) != (first, last):
            raise InvoiceReused(f"invoice {cmd.invoice_ref} was used for cards {seen.first}-{seen.last}")
        return {**_sale_view(batch, seen), "already_applied": True}
    repo = repository.of(uow)
    below = repo.sale_range_at(batch_id, last)        # ranges never overlap: only this one can reach first
    if (below is not None and int(below.last) >= first
            or any(s["first"] <= last and first <= s["last"] for s in batch.legacy_sales())):
        raise RangeUnavailable("the range overlaps a sale")
    void = batch.legacy_voided() | {int(v.serial) for v in repo.voids(batch_id, first, last)}
    count = last - first + 1 - len({s for s in void if first <= s <= last})
    if count <= 0:
        raise RangeUnavailable("every card of the range is void")
    face = count * int(batch.face_value_fen)
    price = face if cmd.price_fen is None else cmd.price_fen
    if price > face:
        raise ValidationProblem(f"price_fen may not exceed the face value of the cards sold ({face} fen)")
    journal = Journal()
    journal.move(CASH, liability(batch), price)
    journal.move(DISCOUNT, liability(batch), face - price)
    stored_value.count_issued(uow, journal.lines, spread=batch_id)      # the issuer's limit, held in this transaction
    now = clock.iso(clock.now())
    _counted(uow, batch, [GiftCardBatchItem.sold_count.add(count), GiftCardBatchItem.sold_fen.add(face)], now)
    uow.create(GiftCardSaleRangeItem(*GiftCardSaleRangeItem.key(batch_id, first), first=first, last=last,
                                     invoice=cmd.invoice_ref, activated=cmd.activate, at=now),
               on_conflict=changed("the batch"))
    sale = GiftCardSaleItem(*GiftCardSaleItem.key(batch_id, cmd.invoice_ref), invoice_ref=cmd.invoice_ref,
                            purchaser=cmd.purchaser, first=first, last=last, cards=count, face_fen=face,
                            price_fen=price, activated=cmd.activate, entries=journal.dump(), actor=by.ref,
                            created_at=now)
    uow.create(sale, on_conflict=lambda: ConcurrentUpdate("the invoice was used just now"))
    uow.emit(DomainEvent("gift_card.sold", f"gift_card_batch:{batch_id}", {
        "batch_id": batch_id, "invoice_ref": cmd.invoice_ref, "purchaser": cmd.purchaser,
        "first_number": keys.card_number(int(batch.batch_no), first),
        "last_number": keys.card_number(int(batch.batch_no), last), "count": count, "face_fen": face,
        "price_fen": price, "activated": cmd.activate, "entries": journal.lines},
        merchant_id=batch.issuer_merchant_id))
    return _sale_view(batch, sale)


def _counted(uow: UnitOfWork, batch: GiftCardBatchItem, actions: list[Action], now: str) -> None:
    """Stage a change of the batch's stock (a sale, an unsold card voided) as the next version of
    the batch as read (of two read at one version only one commits: a sale never counts a card
    voided meanwhile, nor two sales one card), without rewriting the item: it does not grow."""
    read = int(batch.version or 0)
    uow.update(batch, [*actions, GiftCardBatchItem.version.set(read + 1), GiftCardBatchItem.updated_at.set(now)],
               GiftCardBatchItem.version == read, on_conflict=changed("the batch"))


def _range(batch: GiftCardBatchItem, cmd: SellCards) -> tuple[int, int]:
    if cmd.first_number is None or cmd.last_number is None:
        return 1, int(batch.cards)
    ends = []
    for number in (cmd.first_number, cmd.last_number):
        if not keys.valid_number(number) or keys.batch_no_of(number) != int(batch.batch_no):
            raise ValidationProblem(f"{number} is not a card number of batch {batch.batch_id}")
        ends.append(keys.serial_of(number))
    if not 1 <= ends[0] <= ends[1] <= int(batch.cards):
        raise ValidationProblem("first_number must come before last_number, both in the batch")
    return ends[0], ends[1]


def _sale_view(batch: GiftCardBatchItem, sale: GiftCardSaleItem) -> dict[str, Any]:
    return {"batch_id": batch.batch_id, "invoice_ref": sale.invoice_ref, "purchaser": sale.purchaser,
            "first_number": keys.card_number(int(batch.batch_no), int(sale.first)),
            "last_number": keys.card_number(int(batch.batch_no), int(sale.last)), "count": int(sale.cards),
            "face_fen": int(sale.face_fen), "price_fen": int(sale.price_fen), "activated": bool(sale.activated),
            "entries": json.loads(sale.entries), "created_at": sale.created_at}


# one card -----------------------------------------------------------------------------------------
def find_card(uow: UnitOfWork, number: str) -> tuple[GiftCardItem, GiftCardBatchItem]:
    """The program's card with its batch, or 404."""
    card = repository.of(uow).card(number) if keys.valid_number(number) else None
    batch = repository.of(uow).batch_metadata(card.batch_id) if card is not None else None
    if card is None or batch is None:
        raise NotFound("no such gift card")
    C.resolve(uow, card, batch)
    return card, batch


def get_card(uow: UnitOfWork, number: str) -> dict[str, Any]:
    """A card as HQ sees it, with its postings."""
    card, batch = find_card(uow, number)
    postings = [{"sequence": int(p.sequence), "kind": p.kind, "amount_fen": int(p.amount),
                 "balance_after": int(p.balance_after), "entries": json.loads(p.entries), "ref": p.ref,
                 "merchant_id": p.merchant_id, "member_id": p.member_id, "actor": p.actor, "created_at": p.created_at}
                for p in repository.of(uow).postings(number)]
    return {**C.view(card, batch, clock.program_date()), "failures": int(card.failures or 0), "postings": postings}


NOT_ACTIVATABLE = "no sold card with this number that you may activate"


def activate(number: str, by: Principal, uow: UnitOfWork) -> dict[str, Any]:
    """Make a sold card usable (a till: of its own merchant's batches, or the program's).

    Numbers are sequential with a public check digit, so a till's answer must not tell which
    exist: to a till, an unknown number, another merchant's card and a card in any state but sold
    (unsold stock, activated, used, voided...) are the same 404, and it counts as a wrong try of
    the till's credential (20 in 15 minutes lock it), so probing numbers for the sold-but-inactive
    ones is as slow as guessing secrets. HQ is told the state."""
    now = clock.now()
    guard = None if by.is_hq else C.unlocked_caller(uow, by, now)
    try:
        card, batch = find_card(uow, number)
    except NotFound:
        card = None
    now_state = C.state(card, batch, clock.program_date()) if card is not None else "unknown"
    if card is None or not by.is_hq and (batch.issuer_merchant_id and batch.issuer_merchant_id != by.merchant_id
                                         or now_state != "sold"):
        if not by.is_hq:
            C.refused_probe(uow, guard, number, by, now)
        raise NotFound(NOT_ACTIVATABLE)
    if now_state != "sold":
        raise C.CardNotUsable(f"only a sold card is activated; this one is {now_state}", state=now_state)
    card.activated_at = clock.iso(clock.now())
    uow.save(card, (GiftCardItem.version == int(card.version or 0)) & GiftCardItem.activated_at.does_not_exist(),
             on_conflict=changed("the card", "meanwhile"))
    uow.emit(DomainEvent("gift_card.activated", f"gift_card:{number}", {"card_number": number,
                         "batch_id": batch.batch_id}, merchant_id=by.merchant_id))
    return C.view(card, batch, clock.program_date())


def redeem(member_id: str, cmd: CardSecret, by: Principal, uow: UnitOfWork, key: str | None) -> dict[str, Any]:
    """Move a card's whole balance into the member's stored value, as principal."""
    own, wanted = members.record_key(member_id, by)
    uow.prefetch([*wanted, stored_value.account_key(own), *C.wanted(cmd.card_number, by)])
    member_id = members.acting_on(uow, member_id, by).member_id
    shown = C.present(uow, cmd.card_number, cmd.secret, by)
    card, batch = shown.card, shown.batch
    if shown.state not in C.USABLE:
        raise C.CardNotUsable(f"the card is {shown.state}", state=shown.state)
    if batch.scope() is not None:
        raise NotAccepted("a card accepted only at some merchants is paid with there, not redeemed into an account")
    fen = C.balance(card)
    change = CardChange(uow, card)
    change.take(fen, "redeemed")
    change.journal.move(liability(batch), "member:principal", fen)
    card.state, card.member_id = "redeemed", member_id
    sv = stored_value.receive_card(uow, member_id, fen, liability(batch), card.number)
    change.stage("redeem", fen, "gift_card.redeemed", member_id=member_id)
    return {"card_number": card.number, "redeemed_fen": fen, "stored_value": stored_value.view(sv)}


class Tendered(NamedTuple):
    """A card a till may take an order's amount from, and where."""
    merchant: str
    store: str | None
    card: GiftCardItem
    batch: GiftCardBatchItem
    paid_key: tuple[str, str]


def tendered(cmd: PayWithCard, by: Principal, uow: UnitOfWork, what: str) -> Tendered:
    """The card of a payment (or a hold) of ``cmd.amount_fen`` for ``cmd.order_id`` at the caller's
    till, checked as every use of a card is: its secret (and the guessing locks), usable, accepted
    at the merchant, not used for the order already, holding the amount."""
    if by.kind == "member":
        raise Forbidden(f"{what} are taken by the merchant's till")
    merchant, store = merchants.place(uow, by, cmd.merchant_id, cmd.store_id, merchant_required=True)
    assert merchant is not None
    paid_key = GiftCardPaymentItem.key(merchant, cmd.order_id, cmd.card_number)
    uow.prefetch([*C.wanted(cmd.card_number, by), (GiftCardPaymentItem, paid_key), orders.order_key(merchant, cmd.order_id)])
    shown = C.present(uow, cmd.card_number, cmd.secret, by)
    card, batch = shown.card, shown.batch
    if repository.of(uow).payment(merchant, cmd.order_id, card.number) is not None:   # another store's order: 404
        raise orders.explained(uow, merchant, cmd.order_id, None, by,
                               lambda: Conflict(f"order {cmd.order_id} was paid with this card already"))()
    if shown.state not in C.USABLE:
        raise C.CardNotUsable(f"the card is {shown.state}", state=shown.state)
    scope = batch.scope()
    if scope is not None and merchant not in scope:
        raise NotAccepted(f"this card is accepted at {', '.join(scope)} only")
    if cmd.amount_fen > C.balance(card):
        raise InsufficientBalance(f"{cmd.amount_fen} fen needed, {C.balance(card)} on the card",
                                  balance_fen=C.balance(card))
    return Tendered(merchant, store, card, batch, paid_key)


PART = "gift_card"             # a card payment's part of its order (``orders``), by card number


def pay(cmd: PayWithCard, by: Principal, uow: UnitOfWork, key: str | None) -> dict[str, Any]:
    """Pay for an order at a till with a card; what is left stays on the card."""
    merchant, store, card, batch, paid_key = tendered(cmd, by, uow, "payments")
    change = CardChange(uow, card)
    change.take(cmd.amount_fen, "spent")
    change.journal.move(liability(batch), settlement(merchant), cmd.amount_fen)
    left = C.balance(card) - cmd.amount_fen
    card.state = "exhausted" if left == 0 else "partially_used"
    uow.create(GiftCardPaymentItem(*paid_key, number=card.number, amount_fen=cmd.amount_fen, store_id=store,
                                   created_at=clock.iso(clock.now())),
               on_conflict=lambda: Conflict(f"order {cmd.order_id} was paid with this card already"))
    orders.record_part(uow, merchant, cmd.order_id, PART, cmd.amount_fen, ref=card.number, store_id=store, by=by)
    change.stage("payment", cmd.amount_fen, "gift_card.paid", merchant_id=merchant, store_id=store,
                 ref=f"order:{merchant}:{cmd.order_id}", data={"order_id": cmd.order_id})
    return {"card_number": card.number, "order_id": cmd.order_id, "amount_fen": cmd.amount_fen,
            "balance_fen": left, "state": card.state}


REFUNDABLE = ("activated", "partially_used", "exhausted", "expired")   # an expired card's balance is still owed


def refund_payment(order_id: str, cmd: RefundCardPayment, by: Principal, uow: UnitOfWork,
                   key: str | None) -> dict[str, Any]:
    """Give (part of) what a card paid for an order back onto the card: by the merchant that took
    the payment (its store, for a store's till), cumulative, never more than was paid, each
    ``refund_id`` once. An expired card takes it (its balance is still its holder's, held until
    the issuer extends the card or recognises breakage); a card redeemed into a member's stored
    value passes it on to that account as principal (the card is closed; its value lives there);
    a voided card takes none: the till refunds by another route."""
    if by.kind == "member":
        raise Forbidden("refunds are made by the merchant's till or staff")
    merchant, store = merchants.place(uow, by, cmd.merchant_id, cmd.store_id, merchant_required=True)
    assert merchant is not None
    paid_key = GiftCardPaymentItem.key(merchant, order_id, cmd.card_number)
    uow.prefetch([(GiftCardItem, GiftCardItem.key(cmd.card_number)), (GiftCardPaymentItem, paid_key),
                  orders.part_key(merchant, order_id, PART, cmd.card_number), orders.order_key(merchant, order_id)])
    payment = repository.of(uow).payment(merchant, order_id, cmd.card_number)
    if payment is None or not merchants.acts_for(by, merchant, payment.store_id):   # another store's: not yours
        raise NotFound(f"no payment of order {order_id} with this card at merchant {merchant}")
    refunds = json.loads(payment.refunds or "{}")
    if cmd.refund_id in refunds:
        raise Conflict(f"refund {cmd.refund_id} was applied already")
    before = int(payment.refunded_fen or 0)
    within_payment(before, cmd.amount_fen, int(payment.amount_fen))
    orders.refund_part(uow, merchant, order_id, PART, cmd.amount_fen, ref=cmd.card_number,
                       paid_fen=int(payment.amount_fen), refunded_before=before, store_id=payment.store_id)
    card, batch = find_card(uow, cmd.card_number)
    now_state = C.state(card, batch, clock.program_date())
    if now_state == "redeemed" and card.member_id:
        return _refund_to_member(card, order_id, payment, refunds, cmd, merchant, store, uow)
    if now_state not in REFUNDABLE:
        raise C.CardNotUsable(f"the card is {now_state}: refund this payment by another route", state=now_state)
    change = CardChange(uow, card)
    change.give_back(cmd.amount_fen)
    change.journal.move(settlement(merchant), liability(batch), cmd.amount_fen)
    card.state = "partially_used" if change.state.balance("used") else "activated"
    payment.refunds = json.dumps({**refunds, cmd.refund_id: cmd.amount_fen})
    payment.refunded_fen = before + cmd.amount_fen
    uow.save(payment)         # its lock is the card's version: every change of a payment changes its card too
    change.stage("payment_refund", cmd.amount_fen, "gift_card.payment_refunded", merchant_id=merchant,
                 store_id=store, ref=f"order:{merchant}:{order_id}",
                 data={"order_id": order_id, "refund_id": cmd.refund_id, "payment_refunded_fen": before + cmd.amount_fen})
    return {"card_number": card.number, "order_id": order_id, "refund_id": cmd.refund_id,
            "amount_fen": cmd.amount_fen, "payment_fen": int(payment.amount_fen),
            "payment_refunded_fen": before + cmd.amount_fen, "balance_fen": C.balance(card), "state": card.state}


def void(number: str, cmd: VoidCard, by: Principal, uow: UnitOfWork, key: str | None) -> dict[str, Any]:
    """Void a card: an unsold one leaves the batch's stock; a sold one's balance is owed back to
    its buyer (``gift_cards_voided:<issuer>``, still the issuer's prepaid money held until a
    pay-out, :func:`chalicelib.gift_cards.closing.pay_out_voided`). The batch is read (its
    version) before the card's sale is looked for, so a sale committed in between fails the void."""
    stock = find_batch(uow, C.batch_id_of(number)) if keys.valid_number(number) else None
    card, batch = find_card(uow, number)
    now_state = C.state(card, batch, clock.program_date())
    if now_state in ("voided", "redeemed", "exhausted"):
        raise C.CardNotUsable(f"the card is {now_state}: there is nothing to void", state=now_state)
    if now_state == "issued":
        now = clock.iso(clock.now())
        assert stock is not None
        _counted(uow, stock, [], now)
        uow.create(GiftCardVoidItem(*GiftCardVoidItem.key(batch.batch_id, int(card.serial)), serial=int(card.serial),
                                    reason=cmd.reason, created_at=now), on_conflict=changed("the card", "meanwhile"))
        card.state = "voided"
        uow.save(card, GiftCardItem.version == int(card.version or 0), on_conflict=changed("the card", "meanwhile"))
        uow.emit(DomainEvent("gift_card.voided", f"gift_card:{number}", {
            "card_number": number, "batch_id": batch.batch_id, "sold": False, "voided_fen": 0, "reason": cmd.reason}))
        return C.view(card, batch, clock.program_date())
    fen = C.balance(card)
    change = CardChange(uow, card)
    change.take(fen, "voided_fen")
    change.journal.move(liability(batch), voided(batch), fen)
    card.state = "voided"
    change.stage("void", fen, "gift_card.voided", reason=cmd.reason,
                 data={"sold": True, "voided_fen": fen, "was": now_state})
    return {**C.view(card, batch, clock.program_date()), "voided_fen": fen}


TOTALS = ("spent", "redeemed", "voided_fen", "refunded", "voided_paid", "breakage")


def _refund_to_member(card: GiftCardItem, order_id: str, payment: GiftCardPaymentItem,
                      refunds: dict[str, int], cmd: RefundCardPayment, merchant: str, store: str | None,
                      uow: UnitOfWork) -> dict[str, Any]:
    """A refund of a payment made with a card since redeemed: to the member's principal (the
    balance cap applies), recorded on the payment and (without lines) on the card, whose version
    is the payment's lock."""
    assert card.member_id is not None
    before = int(payment.refunded_fen or 0)
    sv = stored_value.receive_refund(uow, card.member_id, cmd.amount_fen, merchant, card.number, cmd.refund_id)
    payment.refunds = json.dumps({**refunds, cmd.refund_id: cmd.amount_fen})
    payment.refunded_fen = before + cmd.amount_fen
    uow.save(payment)
    CardChange(uow, card).stage("payment_refund_to_member", 0, "gift_card.payment_refunded_to_member",
                                member_id=card.member_id, merchant_id=merchant, store_id=store,
                                ref=f"order:{merchant}:{order_id}",
                                data={"refund_id": cmd.refund_id, "refunded_fen": cmd.amount_fen,
                                      "payment_refunded_fen": before + cmd.amount_fen})
    return {"card_number": card.number, "order_id": order_id, "refund_id": cmd.refund_id,
            "amount_fen": cmd.amount_fen, "payment_fen": int(payment.amount_fen),
            "payment_refunded_fen": before + cmd.amount_fen, "balance_fen": C.balance(card), "state": "redeemed",
            "refunded_to": {"member_id": card.member_id, **stored_value.view(sv)}}


class CardChange:
    """One change of a card's balance: the shared journal account with the one bucket ``used``."""

    def __init__(self, uow: UnitOfWork, card: GiftCardItem) -> None:
        self.uow, self.card = uow, card
        self.state = JournalAccount(uow, card, ("used",), TOTALS, on_conflict=changed("the card"), stored=True)
        self.journal = self.state.journal

    def take(self, fen: int, total: str) -> None:
        """``fen`` off the card, counted in ``total``."""
        self.state.move("used", fen)
        self.state.count(total, fen)

    def give_back(self, fen: int) -> None:
        """A refund of a payment: the card holds ``fen`` more."""
        self.state.move("used", -fen)
        self.state.count("refunded", fen)

    def stage(self, kind: str, fen: int, event_type: str, *, member_id: str | None = None,
              merchant_id: str | None = None, store_id: str | None = None, ref: str | None = None,
              reason: str | None = None, data: dict[str, Any] | None = None) -> None:
        """Stage the card, its posting, its event (:meth:`JournalAccount.post`: who and under which
        key are the unit's) and what its lines change in the issuer's money."""
        card, version = self.card, self.state.next_version
        after = int(card.face_value_fen) - self.state.balance("used")
        self.state.post(GiftCardPostingItem, GiftCardPostingItem.key(card.number, version), kind, fen,
                        balance_after=after, event_type=event_type, subject=f"gift_card:{card.number}", data={
                            "card_number": card.number, "batch_id": card.batch_id, "kind": kind, "amount_fen": fen,
                            "balance_fen": after, "sequence": version, "member_id": member_id,
                            "entries": self.journal.lines, **(data or {})},
                        reason=reason, merchant_id=merchant_id, store_id=store_id, number=card.number,
                        sequence=version, entries=self.journal.dump(), ref=ref, member_id=member_id)
        if event_type != "gift_card.redeemed":      # a redemption's lines are counted on the member's account
            stored_value.count_issued(self.uow, self.journal.lines, limited=kind != "payment_refund",
                                      spread=card.number)


def counts(uow: UnitOfWork, batch: GiftCardBatchItem) -> dict[str, Any]:
    """The batch's cards by state, and the value outstanding (reads every card of the batch)."""
    today = clock.program_date()
    by_state: Counter = Counter()
    outstanding = 0
    ranges = C.Ranges(uow, batch)
    for card in map(ranges.resolve, repository.of(uow).cards_of(batch.batch_id)):
        now_state = C.state(card, batch, today)
        by_state[now_state] += 1
        if now_state in ("sold", "activated", "partially_used", "expired"):
            outstanding += C.balance(card)
    return {"by_state": dict(sorted(by_state.items())), "outstanding_fen": outstanding}
