"""Gift card edges through the app on every backend: races between a read and its save (another
request commits in between: the stale write is refused, retried from fresh state, and nothing is
lost), HQ's activation while its credentials are locked, a card whose version moved before its
activation, voids of every state, what the void events say, refunds reaching a member that add
up, and the exact instants at which a lock ends and a caller's window of wrong secrets closes.
Figures by hand."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.db.uow import UnitOfWork
from chalicelib.gift_cards import generation, keys
from chalicelib.gift_cards import service as gift_cards
from chalicelib.gift_cards.repository import GiftCardRepository
from chalicelib.gift_cards.schemas import SellCards, VoidCard
from chalicelib.shared import clock
from chalicelib.shared.principal import Principal
from tests.integration.test_gift_cards import (
    FACE,
    T0,
    as_caller,
    events,
    make_batch,
    pay,
    redeem,
    refund,
    secrets_of,
    sell,
)

HQ = Principal("staff", "other-hq", role="super_admin", merchant_id="m1")


@pytest.fixture
def cards(api, monkeypatch):
    """Small chunks, so that ten cards are three chunks."""
    clock.freeze(T0)
    monkeypatch.setattr(generation, "CHUNK", 4)
    return api


def meanwhile(monkeypatch, read: str, *changes) -> list[int]:
    """Let ``changes`` (other requests, each committed on a unit of work of its own, in turn)
    happen right after the next read of a card or batch (``read``: "card" or "batch"), before the
    reader saves; once."""
    original = getattr(GiftCardRepository, read)
    done: list[int] = []

    def interleaved(self, key):
        item = original(self, key)
        if not done:
            done.append(1)
            for change in changes:
                other = UnitOfWork("other-request")
                change(other)
                other.commit()
        return item

    monkeypatch.setattr(GiftCardRepository, read, interleaved)
    return done


def test_hq_activates_a_card_while_its_credentials_are_locked_for_wrong_secrets(cards):
    """Only a till's refused activations count as guesses; HQ's activation is not held up by a lock
    its credentials earned guessing secrets."""
    batch = make_batch(cards, count=2)
    s = secrets_of(batch)
    n1, n2 = keys.card_number(1, 1), keys.card_number(1, 2)
    assert sell(cards, batch, 1, 2, "INV-H", activate=False)[0] == 201
    mid = cards.member("13800139601")
    wrong = "1" * 16 if s[n1] != "1" * 16 else "2" * 16
    assert [redeem(cards, mid, n1, wrong)[0] for _ in range(5)] == [422] * 5
    assert redeem(cards, mid, n1, s[n1])[0] == 429                            # HQ's credentials are locked
    status, done = cards.call("POST", f"/v1/gift-cards/{n2}/activate")
    assert status == 200 and done["state"] == "activated", done
    assert len(events("gift_card.activated")) == 1


def test_an_activation_racing_a_void_is_refused_and_the_void_stands(cards, monkeypatch):
    """The card is voided (its balance owed back to the buyer) between the activation's read and
    its save: the stale activation is refused, retried on the voided card, and HQ is told."""
    batch = make_batch(cards, count=2)
    number = keys.card_number(1, 1)
    assert sell(cards, batch, 1, 2, "INV-A", activate=False)[0] == 201
    raced = meanwhile(monkeypatch, "card",
                      lambda uow: gift_cards.void(number, VoidCard(reason="lost by the buyer"), HQ, uow, None))
    status, problem = cards.call("POST", f"/v1/gift-cards/{number}/activate")
    assert raced and status == 409 and problem["state"] == "voided", problem
    card = cards.ok("GET", f"/v1/gift-cards/{number}")
    assert (card["state"], card["balance_fen"], card["activated_at"]) == ("voided", 0, None)
    assert [p["kind"] for p in card["postings"]] == ["void"]
    assert events("gift_card.activated") == []


def test_an_activation_racing_another_activation_is_announced_once(cards, monkeypatch):
    """A concurrent activation leaves the version as it was: the activation's own condition (not
    yet activated) refuses the second one."""
    batch = make_batch(cards, count=2)
    number = keys.card_number(1, 1)
    assert sell(cards, batch, 1, 2, "INV-AA", activate=False)[0] == 201
    raced = meanwhile(monkeypatch, "card", lambda uow: gift_cards.activate(number, HQ, uow))
    status, problem = cards.call("POST", f"/v1/gift-cards/{number}/activate")
    assert raced and status == 409 and problem["state"] == "activated", problem
    assert len(events("gift_card.activated")) == 1


def test_a_sold_card_extended_before_its_activation_is_activated(cards):
    """An extension is a posting (the card's version moves) on a card not yet activated; the
    activation's lock is the version the card has, not 0."""
    batch = make_batch(cards, count=1)
    s = secrets_of(batch)
    number = keys.card_number(1, 1)
    assert sell(cards, batch, 1, 1, "INV-X", activate=False)[0] == 201
    extended = cards.ok("POST", f"/v1/gift-cards/{number}/extend", {"valid_until": "2028-06-30",
                                                                     "reason": "a corporate buyer asked"})
    assert (extended["state"], extended["valid_until"]) == ("sold", "2028-06-30")
    status, done = cards.call("POST", f"/v1/gift-cards/{number}/activate")
    assert status == 200 and done["state"] == "activated", done
    assert pay(cards, number, s[number], 2_500, "X-1")[1]["balance_fen"] == FACE - 2_500


def test_a_card_voided_redeemed_or_exhausted_is_not_voided_and_nothing_moves(cards):
    batch = make_batch(cards, count=4)
    s = secrets_of(batch)
    n = {i: keys.card_number(1, i) for i in range(1, 5)}
    assert sell(cards, batch, 1, 3, "INV-V")[0] == 201                           # 1-3 sold and activated; 4 unsold
    mid = cards.member("13800139602")
    assert redeem(cards, mid, n[1], s[n[1]])[0] == 201
    assert pay(cards, n[2], s[n[2]], FACE, "V-1")[1]["state"] == "exhausted"
    assert cards.ok("POST", f"/v1/gift-cards/{n[3]}/void", {"reason": "stolen"})["voided_fen"] == FACE
    assert cards.ok("POST", f"/v1/gift-cards/{n[4]}/void", {"reason": "misprinted"})["state"] == "voided"
    before = {i: cards.ok("GET", f"/v1/gift-cards/{n[i]}") for i in n}
    for i, was in ((1, "redeemed"), (2, "exhausted"), (3, "voided"), (4, "voided")):
        status, problem = cards.call("POST", f"/v1/gift-cards/{n[i]}/void", {"reason": "once more"})
        assert status == 409 and problem["state"] == was, (i, problem)
    assert {i: cards.ok("GET", f"/v1/gift-cards/{n[i]}") for i in n} == before
    assert len(events("gift_card.voided")) == 2
    from tests.integration.test_tiers import deliver
    deliver()
    liability = cards.ok("GET", "/v1/stored-value/liability")
    assert liability["gift_cards_by_issuer"] == {"program": 0}                   # card 1 redeemed, 2 spent, 3 voided
    assert liability["gift_cards_voided_by_issuer"] == {"program": FACE}        # card 3's only, once


def test_an_unsold_card_of_a_batch_never_sold_is_voided_and_announced_as_unsold(cards):
    """The batch is still at its first version (0) when the void changes it."""
    batch = make_batch(cards, count=3)
    number = keys.card_number(1, 2)
    status, voided = cards.call("POST", f"/v1/gift-cards/{number}/void", {"reason": "damaged in print"})
    assert status == 200 and voided["state"] == "voided", voided
    assert events("gift_card.voided") == [{"card_number": number, "batch_id": batch["batch_id"], "sold": False,
                                           "voided_fen": 0, "reason": "damaged in print"}]
    status, sale = sell(cards, batch, 1, 3, "INV-U")
    assert status == 201 and (sale["count"], sale["face_fen"]) == (2, 2 * FACE)


def test_voiding_a_sold_card_announces_it_sold_with_what_it_held(cards):
    batch = make_batch(cards, count=1)
    s = secrets_of(batch)
    number = keys.card_number(1, 1)
    assert sell(cards, batch, 1, 1, "INV-S")[0] == 201
    assert pay(cards, number, s[number], 3_001, "S-1")[0] == 201
    assert cards.ok("POST", f"/v1/gift-cards/{number}/void", {"reason": "stolen"})["voided_fen"] == 6_999
    [voided] = events("gift_card.voided")
    assert (voided["sold"], voided["voided_fen"], voided["was"], voided["amount_fen"]) == (
        True, 6_999, "partially_used", 6_999)


def test_a_void_read_before_a_sale_and_another_void_in_the_batch_does_not_overwrite_them(cards, monkeypatch):
    """Between a void's read of the batch and its save, a sale and a void of another unsold card
    commit: two changes, so the batch's version must be two ahead of what the stale void read (a
    void that moved it back would let the stale one erase the sale the buyer paid for)."""
    batch = make_batch(cards, count=10)
    bid = batch["batch_id"]
    n1, n3, n9 = keys.card_number(1, 1), keys.card_number(1, 3), keys.card_number(1, 9)

    raced = meanwhile(monkeypatch, "batch",
                      lambda uow: gift_cards.sell(bid, SellCards(invoice_ref="INV-B", purchaser="p", first_number=n1,
                                                                 last_number=keys.card_number(1, 2)), HQ, uow),
                      lambda uow: gift_cards.void(n9, VoidCard(reason="misprinted"), HQ, uow, None))
    status, voided = cards.call("POST", f"/v1/gift-cards/{n3}/void", {"reason": "damaged in print"})
    assert raced and status == 200 and voided["state"] == "voided", voided
    seen = cards.ok("GET", f"/v1/gift-cards/batches/{bid}")
    assert [(s["first"], s["last"], s["invoice"]) for s in seen["sales"]] == [(1, 2, "INV-B")]
    assert (seen["sold_count"], seen["sold_fen"]) == (2, 2 * FACE)
    assert cards.ok("GET", f"/v1/gift-cards/{n1}")["state"] == "activated"
    status, sale = sell(cards, batch, 3, 10, "INV-C")                            # 3 and 9 stay out of the stock
    assert status == 201 and (sale["count"], sale["face_fen"]) == (6, 6 * FACE), sale


def test_a_void_racing_another_void_in_the_batch_keeps_both(cards, monkeypatch):
    """Two unsold cards of a batch voided at once: the one that read the batch first is refused,
    retried on the fresh batch, and both leave the stock."""
    batch = make_batch(cards, count=4)
    n3, n4 = keys.card_number(1, 3), keys.card_number(1, 4)
    raced = meanwhile(monkeypatch, "batch",
                      lambda uow: gift_cards.void(n4, VoidCard(reason="misprinted"), HQ, uow, None))
    status, voided = cards.call("POST", f"/v1/gift-cards/{n3}/void", {"reason": "damaged in print"})
    assert raced and status == 200 and voided["state"] == "voided", voided
    assert {cards.ok("GET", f"/v1/gift-cards/{n}")["state"] for n in (n3, n4)} == {"voided"}
    status, sale = sell(cards, batch, 1, 4, "INV-W")
    assert status == 201 and (sale["count"], sale["face_fen"]) == (2, 2 * FACE)


def test_refunds_of_a_redeemed_cards_payment_reach_the_member_and_add_up(cards):
    """Each refund to the member records the payment's running total, in the reply and the event;
    the next refund is limited by it."""
    batch = make_batch(cards, count=1)
    s = secrets_of(batch)
    number = keys.card_number(1, 1)
    assert sell(cards, batch, 1, 1, "INV-M")[0] == 201
    assert pay(cards, number, s[number], 3_000, "M-1")[0] == 201
    mid = cards.member("13800139603")
    assert redeem(cards, mid, number, s[number])[1]["redeemed_fen"] == 7_000
    status, first = refund(cards, number, "M-1", 1_001, "mr-1")
    assert status == 201 and (first["payment_refunded_fen"], first["payment_fen"]) == (1_001, 3_000), first
    assert first["refunded_to"]["principal"] == 8_001
    status, second = refund(cards, number, "M-1", 999, "mr-2")
    assert status == 201 and second["payment_refunded_fen"] == 2_000, second
    assert [e["payment_refunded_fen"] for e in events("gift_card.payment_refunded_to_member")] == [1_001, 2_000]
    status, over = refund(cards, number, "M-1", 1_001, "mr-3")
    assert status == 409 and over["refunded_fen"] == 2_000, over
    assert refund(cards, number, "M-1", 1_000, "mr-4")[1]["payment_refunded_fen"] == 3_000
    assert cards.ok("GET", f"/v1/members/{mid}/stored-value")["principal"] == FACE



MS = timedelta(milliseconds=1)


def test_a_locked_card_opens_at_the_exact_instant_its_lock_ends(cards):
    """Locked until T0 + 30 min: one millisecond before it still refuses the right secret, at it
    the card pays."""
    batch = make_batch(cards, count=1)
    s = secrets_of(batch)
    number = keys.card_number(1, 1)
    assert sell(cards, batch, 1, 1, "INV-L")[0] == 201
    wrong = "1" * 16 if s[number] != "1" * 16 else "2" * 16
    for i in range(5):                                                         # two callers: the card locks
        with as_caller(cards, f"guesser-{i % 2}"):
            assert pay(cards, number, wrong, 1, f"g-{i}")[0] == 422
    assert cards.ok("GET", f"/v1/gift-cards/{number}")["locked_until"] == clock.iso(T0 + timedelta(minutes=30))
    clock.freeze(T0 + timedelta(minutes=30) - MS)
    assert pay(cards, number, s[number], 100, "L-1")[0] == 423
    clock.freeze(T0 + timedelta(minutes=30))
    status, paid = pay(cards, number, s[number], 100, "L-2")
    assert status == 201 and paid["balance_fen"] == FACE - 100, paid


def test_a_locked_caller_is_let_in_at_the_exact_instant_its_lock_ends(cards):
    batch = make_batch(cards, count=1)
    s = secrets_of(batch)
    number = keys.card_number(1, 1)
    assert sell(cards, batch, 1, 1, "INV-K")[0] == 201
    wrong = "1" * 16 if s[number] != "1" * 16 else "2" * 16
    with as_caller(cards, "eve"):
        assert [pay(cards, number, wrong, 1, f"e-{i}")[0] for i in range(5)] == [422] * 5
        clock.freeze(T0 + timedelta(minutes=30) - MS)
        assert pay(cards, number, s[number], 100, "K-1")[0] == 429
        clock.freeze(T0 + timedelta(minutes=30))
        status, paid = pay(cards, number, s[number], 100, "K-2")
        assert status == 201 and paid["balance_fen"] == FACE - 100, paid


@pytest.mark.parametrize(("late", "locked"), [(-MS, True), (timedelta(0), False)])
def test_a_callers_wrong_secrets_count_within_fifteen_minutes_of_the_first(cards, late, locked):
    """19 wrong secrets at T0 (at 19 numbers, no card locked); the 20th one millisecond before T0
    + 15 min locks the caller, at T0 + 15 min it opens a new window instead."""
    batch = make_batch(cards, count=1)
    s = secrets_of(batch)
    number = keys.card_number(1, 1)
    assert sell(cards, batch, 1, 1, "INV-W")[0] == 201
    with as_caller(cards, "prober"):
        assert [pay(cards, keys.card_number(1, 100 + i), "0" * 16, 1, f"w-{i}")[0] for i in range(19)] == [422] * 19
        clock.freeze(T0 + timedelta(minutes=15) + late)
        assert pay(cards, keys.card_number(1, 200), "0" * 16, 1, "w-20")[0] == 422
        status, _ = pay(cards, number, s[number], 100, "W-1")
        assert status == (429 if locked else 201)
    assert len(events("gift_card.caller_locked")) == (1 if locked else 0)
