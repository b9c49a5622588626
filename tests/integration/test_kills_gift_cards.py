"""Gift card behaviour at its edges, on the in-memory fake (issue #21): what a sale refuses (a
batch still generating, a range touching a sale at one card, a range of void cards only, a price
one fen above face value, ends outside the batch), what a till or HQ without a merchant is told,
how refunds add up to the fen and bring a card back to ``activated``, the issuer's limit a refund
may pass, and the guessing guards: who counts as "several callers", a card's third lock, a
caller's window fixed at its first wrong secret, a caller's runs kept through a refused probe, and
the requests that lose a race against another one (a payment, a lock, a card that appears) and
answer as the winner left things. Figures by hand."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from chalicelib.db.uow import UnitOfWork
from chalicelib.gift_cards import cards as C
from chalicelib.gift_cards import generation, keys
from chalicelib.gift_cards import repository as gift_cards_repository
from chalicelib.gift_cards import service as gift_cards
from chalicelib.gift_cards.schemas import PayWithCard, RefundCardPayment
from chalicelib.gift_cards.tables import GiftCardBatchItem, GiftCardItem, GiftCardPaymentItem, GuardItem
from chalicelib.shared import clock
from chalicelib.shared.errors import Forbidden
from chalicelib.shared.principal import Principal
from tests.integration.conftest import AppClient
from tests.integration.test_edges_gift_cards import meanwhile
from tests.integration.test_gift_cards import (
    FACE,
    T0,
    as_caller,
    events,
    make_batch,
    pay,
    refund,
    secrets_of,
    sell,
)
from tests.racing import appear, bump

MINUTE = timedelta(minutes=1)
EVE = Principal("staff", "eve", role="clerk", merchant_id="m1", store_id="s1")       # as_caller(cards, "eve")


@pytest.fixture
def cards(memory, monkeypatch):
    """The app on the in-memory fake at T0, with small chunks."""
    clock.freeze(T0)
    monkeypatch.setattr(generation, "CHUNK", 4)
    yield AppClient()
    clock.freeze(None)


@pytest.fixture
def racy(racing, monkeypatch):
    """The app on the staged-race fake at T0, with small chunks."""
    clock.freeze(T0)
    monkeypatch.setattr(generation, "CHUNK", 4)
    yield AppClient()
    clock.freeze(None)


def wrong(secret: str) -> str:
    return "1" * 16 if secret != "1" * 16 else "2" * 16


def card_of(api, number: str) -> dict:
    return api.ok("GET", f"/v1/gift-cards/{number}")


def batch_of(api, batch) -> dict:
    return api.ok("GET", f"/v1/gift-cards/batches/{batch['batch_id']}")


def n(serial: int, batch_no: int = 1) -> str:
    return keys.card_number(batch_no, serial)


# sales --------------------------------------------------------------------------------------------
def test_an_unknown_batch_is_named_by_its_first_32_characters_only(cards):
    long_id = "B" + "7" * 47
    status, problem = cards.call("POST", f"/v1/gift-cards/batches/{long_id}/sales",
                                 {"invoice_ref": "INV-X", "purchaser": "p"})
    assert status == 404 and problem["detail"] == f"no gift card batch {long_id[:32]}", problem


def test_a_batch_still_being_generated_sells_nothing(cards):
    status, created = cards.call("POST", "/v1/gift-cards/batches", {"name": "new", "face_value_fen": FACE,
                                                                    "count": 3, "valid_until": "2027-12-31"})
    assert status == 202
    status, problem = cards.call("POST", f"/v1/gift-cards/batches/{created['batch_id']}/sales",
                                 {"invoice_ref": "INV-EARLY", "purchaser": "p"})
    assert status == 409 and problem["detail"] == "the batch is still being generated", problem
    assert events("gift_card.sold") == []
    assert cards.run_job("gift-card-batches")["batches_ready"] == 1
    batch = cards.ok("GET", f"/v1/gift-cards/batches/{created['batch_id']}")
    assert (batch["sold_count"], batch["sales"]) == (0, [])
    status, sale = cards.call("POST", f"/v1/gift-cards/batches/{created['batch_id']}/sales",
                              {"invoice_ref": "INV-EARLY", "purchaser": "p"})
    assert status == 201 and sale["count"] == 3


def test_a_range_ending_on_the_first_card_of_a_sale_overlaps_it(cards):
    batch = make_batch(cards, count=6)
    assert sell(cards, batch, 5, 6, "INV-56")[0] == 201
    status, problem = sell(cards, batch, 3, 5, "INV-35")
    assert status == 409 and problem["type"].endswith("/gift-card-range-unavailable"), problem
    assert card_of(cards, n(3))["state"] == "issued"
    status, sale = sell(cards, batch, 3, 4, "INV-34")
    assert status == 201 and (sale["count"], sale["face_fen"]) == (2, 2 * FACE)
    assert batch_of(cards, batch)["sold_count"] == 4


def test_a_range_of_void_cards_only_is_not_sold(cards):
    batch = make_batch(cards, count=4)
    for serial in (3, 4):
        cards.ok("POST", f"/v1/gift-cards/{n(serial)}/void", {"reason": "misprinted"})
    status, problem = sell(cards, batch, 3, 4, "INV-VOID")
    assert status == 409 and problem["type"].endswith("/gift-card-range-unavailable"), problem
    status, problem = sell(cards, batch, 4, 4, "INV-VOID1")
    assert status == 409 and problem["type"].endswith("/gift-card-range-unavailable"), problem
    seen = batch_of(cards, batch)
    assert (seen["sold_count"], seen["sold_fen"], seen["sales"]) == (0, 0, [])
    assert events("gift_card.sold") == []


def test_a_price_one_fen_above_the_face_value_sold_is_refused(cards):
    batch = make_batch(cards, count=2)
    status, problem = sell(cards, batch, 1, 2, "INV-P1", price_fen=2 * FACE + 1)
    assert status == 422 and "20000 fen" in problem["detail"], problem
    assert batch_of(cards, batch)["sold_count"] == 0
    status, sale = sell(cards, batch, 1, 2, "INV-P2", price_fen=2 * FACE)
    assert status == 201 and sale["price_fen"] == 2 * FACE


def test_range_ends_outside_the_batch_or_reversed_are_refused_and_nothing_is_sold(cards):
    batch = make_batch(cards, count=6)
    make_batch(cards, count=2)                                                   # batch 2
    bad_digit = n(2)[:-1] + str((int(n(2)[-1]) + 1) % 10)
    for first, last in [(n(1, 2), n(2)),                       # a card of batch 2
                        (n(1), bad_digit),                    # a wrong check digit
                        (n(5), n(3)),                         # the wrong way round
                        (n(0), n(3)),                         # before the first card
                        (n(5), n(7))]:                        # past the last card
        status, problem = cards.call("POST", f"/v1/gift-cards/batches/{batch['batch_id']}/sales",
                                     {"invoice_ref": "INV-R", "purchaser": "p", "first_number": first,
                                      "last_number": last})
        assert status == 422, (first, last, problem)
    seen = batch_of(cards, batch)
    assert (seen["sold_count"], seen["sales"]) == (0, [])
    assert events("gift_card.sold") == []
    status, sale = sell(cards, batch, 1, 6, "INV-R")                            # the same invoice, a good range
    assert status == 201 and sale["count"] == 6


# what HQ sees and who may pay ---------------------------------------------------------------------
def test_hq_sees_a_cards_wrong_secrets_so_far(cards):
    batch = make_batch(cards, count=1)
    s = secrets_of(batch)
    assert sell(cards, batch, 1, 1, "INV-F")[0] == 201
    with as_caller(cards, "till-1"):
        assert pay(cards, n(1), wrong(s[n(1)]), 100, "F-1")[0] == 422
    with as_caller(cards, "till-2"):
        assert pay(cards, n(1), wrong(s[n(1)]), 100, "F-2")[0] == 422
    assert card_of(cards, n(1))["failures"] == 2


def test_the_service_refuses_a_member_taking_or_refunding_a_payment(cards):
    """Payments and refunds are a till's: the service refuses a member whatever route reached it."""
    batch = make_batch(cards, count=1)
    s = secrets_of(batch)
    assert sell(cards, batch, 1, 1, "INV-MB")[0] == 201
    assert pay(cards, n(1), s[n(1)], 3_000, "MB-1")[0] == 201
    member = Principal("member", cards.member("13800139701"))
    with pytest.raises(Forbidden):
        gift_cards.pay(PayWithCard(card_number=n(1), secret=s[n(1)], amount_fen=1_000, order_id="MB-2",
                                   merchant_id="m1"), member, UnitOfWork("test"), None)
    with pytest.raises(Forbidden):
        gift_cards.refund_payment("MB-1", RefundCardPayment(card_number=n(1), refund_id="mb-r", amount_fen=1_000,
                                                            merchant_id="m1"), member, UnitOfWork("test"), None)
    card = card_of(cards, n(1))
    assert card["balance_fen"] == 7_000 and [p["kind"] for p in card["postings"]] == ["payment"]


def test_hq_without_a_merchant_must_name_the_merchant_of_a_payment_or_refund(cards):
    batch = make_batch(cards, count=1)
    s = secrets_of(batch)
    assert sell(cards, batch, 1, 1, "INV-HQ")[0] == 201
    assert pay(cards, n(1), s[n(1)], 3_000, "HQ-1")[0] == 201
    with as_caller(cards, "hq-of-no-merchant", role="super_admin", merchant_id=None, store_id=None):
        status, problem = cards.call("POST", "/v1/gift-cards/payments", {"card_number": n(1), "secret": s[n(1)],
                                                                         "amount_fen": 1_000, "order_id": "HQ-2"})
        assert status == 422 and "merchant_id is required" in problem["detail"], problem
        status, problem = cards.call("POST", "/v1/gift-cards/payments/HQ-1/refunds",
                                     {"card_number": n(1), "refund_id": "hq-r", "amount_fen": 1_000})
        assert status == 422 and "merchant_id is required" in problem["detail"], problem
    assert card_of(cards, n(1))["balance_fen"] == 7_000


# payments and refunds -----------------------------------------------------------------------------
def test_an_order_paid_with_a_card_once_is_told_so_before_the_balance_or_state(cards):
    batch = make_batch(cards, count=2)
    s = secrets_of(batch)
    assert sell(cards, batch, 1, 2, "INV-O")[0] == 201
    assert pay(cards, n(1), s[n(1)], 3_000, "O-1")[0] == 201
    status, problem = pay(cards, n(1), s[n(1)], 8_000, "O-1")                  # more than the 7,000 left
    assert status == 409 and problem["detail"] == "order O-1 was paid with this card already", problem
    assert pay(cards, n(2), s[n(2)], FACE, "O-2")[1]["state"] == "exhausted"
    status, problem = pay(cards, n(2), s[n(2)], 1, "O-2")                       # an exhausted card
    assert status == 409 and problem["detail"] == "order O-2 was paid with this card already", problem
    assert (card_of(cards, n(1))["balance_fen"], card_of(cards, n(2))["balance_fen"]) == (7_000, 0)


def test_refunds_add_up_in_the_refusal_and_the_events(cards):
    batch = make_batch(cards, count=1)
    s = secrets_of(batch)
    assert sell(cards, batch, 1, 1, "INV-RF")[0] == 201
    assert pay(cards, n(1), s[n(1)], 7_000, "RF-1")[0] == 201
    assert refund(cards, n(1), "RF-1", 2_500, "rf-1")[0] == 201
    status, over = refund(cards, n(1), "RF-1", 4_501, "rf-2")
    assert status == 409 and over["detail"] == "refunds would total 7001 fen of a 7000 fen payment", over
    assert refund(cards, n(1), "RF-1", 1_500, "rf-3")[0] == 201
    assert [e["payment_refunded_fen"] for e in events("gift_card.payment_refunded")] == [2_500, 4_000]


def test_a_card_refunded_all_it_paid_is_activated_again_and_its_postings_carry_the_balance(cards):
    batch = make_batch(cards, count=1)
    s = secrets_of(batch)
    assert sell(cards, batch, 1, 1, "INV-A")[0] == 201
    assert pay(cards, n(1), s[n(1)], 3_000, "A-1")[0] == 201
    status, back = refund(cards, n(1), "A-1", 1_000, "a-1")
    assert status == 201 and (back["state"], back["balance_fen"]) == ("partially_used", 8_000)
    status, back = refund(cards, n(1), "A-1", 2_000, "a-2")
    assert status == 201 and (back["state"], back["balance_fen"]) == ("activated", FACE)
    card = card_of(cards, n(1))
    assert card["state"] == "activated"
    assert [(p["kind"], p["balance_after"]) for p in card["postings"]] == [
        ("payment", 7_000), ("payment_refund", 8_000), ("payment_refund", FACE)]
    assert [e["balance_fen"] for e in events("gift_card.paid")] == [7_000]
    assert [e["balance_fen"] for e in events("gift_card.payment_refunded")] == [8_000, FACE]


def test_a_refund_onto_a_card_is_owed_and_counted_past_the_issuers_limit(cards):
    """The program may hold 15,000 of prepaid money: a sale that would pass it is refused, a refund
    of a card payment is owed back and counted even past it."""
    cards.ok("PUT", "/v1/stored-value/rules", {"rules": {"issuance_limits_fen": {"program": 15_000}},
                                               "effective_from": "2026-01-01T00:00:00Z"})
    batch = make_batch(cards, count=2)
    s = secrets_of(batch)
    assert sell(cards, batch, 1, 1, "INV-L1")[0] == 201                         # 10,000 held
    assert pay(cards, n(1), s[n(1)], 6_000, "L-1")[0] == 201                   # 4,000
    assert sell(cards, batch, 2, 2, "INV-L2")[0] == 201                         # 14,000
    status, back = refund(cards, n(1), "L-1", 6_000, "l-1")                    # 20,000: past the limit
    assert status == 201 and back["balance_fen"] == FACE, back
    issued = cards.ok("GET", "/v1/stored-value/reconciliation")["issuance"]["program"]
    assert issued["counter_fen"] == 20_000


def test_a_voided_unsold_card_written_again_by_a_rerun_chunk_stays_voided(cards, monkeypatch):
    """The job wrote chunk 0's cards and stopped before recording the chunk done; HQ voided a
    misprinted card meanwhile; the rerun writes the chunk again (and keeps the card there). The
    batch's list of voided unsold cards still says it is void: it is not sold, and HQ and a till are told it is voided."""
    status, created = cards.call("POST", "/v1/gift-cards/batches", {"name": "crash", "face_value_fen": FACE,
                                                                    "count": 4, "valid_until": "2027-12-31"})
    assert status == 202
    original = UnitOfWork.create_many

    def written_then_stopped(self, items):
        original(self, items)
        monkeypatch.setattr(UnitOfWork, "create_many", original)
        raise RuntimeError("the Lambda stopped")

    monkeypatch.setattr(UnitOfWork, "create_many", written_then_stopped)
    assert cards.run_job("gift-card-batches")["batches_ready"] == 0
    assert cards.ok("POST", f"/v1/gift-cards/{n(2)}/void", {"reason": "misprinted"})["state"] == "voided"
    clock.freeze(T0 + timedelta(minutes=16))                                   # the chunk's lease has passed
    assert cards.run_job("gift-card-batches")["batches_ready"] == 1
    batch = cards.ok("GET", f"/v1/gift-cards/batches/{created['batch_id']}")
    assert card_of(cards, n(2))["state"] == "voided"
    status, sale = sell(cards, batch, 1, 4, "INV-RERUN")
    assert status == 201 and sale["count"] == 3
    s = secrets_of(batch)
    assert card_of(cards, n(2))["state"] == "voided"
    status, problem = pay(cards, n(2), s[n(2)], 100, "RR-1")
    assert status == 409 and problem["state"] == "voided", problem
    counted = cards.ok("GET", f"/v1/gift-cards/batches/{created['batch_id']}?counts=true")["cards"]
    assert counted["by_state"] == {"activated": 3, "voided": 1}


# guessing -----------------------------------------------------------------------------------------
def test_a_number_with_a_wrong_check_digit_is_refused_without_counting_a_guess(cards):
    batch = make_batch(cards, count=1)
    s = secrets_of(batch)
    assert sell(cards, batch, 1, 1, "INV-CD")[0] == 201
    typo = n(1)[:-1] + str((int(n(1)[-1]) + 1) % 10)
    with as_caller(cards, "typist"):
        for i in range(20):
            status, problem = pay(cards, typo, s[n(1)], 100, f"CD-{i}")
            assert status == 422 and problem["detail"] == "the card number's check digit is wrong", problem
        status, paid = pay(cards, n(1), s[n(1)], 100, "CD-OK")                  # not locked
        assert status == 201 and paid["balance_fen"] == FACE - 100, paid
    assert events("gift_card.secret_rejected") == [] and events("gift_card.caller_locked") == []


def test_one_wrong_secret_then_four_from_another_caller_lock_the_card(cards):
    """The card's run of five came from two callers (the first alone, then another): several
    callers, so the card locks, though neither caller guessed five times."""
    batch = make_batch(cards, count=1)
    s = secrets_of(batch)
    assert sell(cards, batch, 1, 1, "INV-2C")[0] == 201
    with as_caller(cards, "alice"):
        assert pay(cards, n(1), wrong(s[n(1)]), 1, "2C-0")[0] == 422
    with as_caller(cards, "bob"):
        assert [pay(cards, n(1), wrong(s[n(1)]), 1, f"2C-{i}")[0] for i in range(1, 5)] == [422] * 4
    with as_caller(cards, "holder"):
        assert pay(cards, n(1), s[n(1)], 100, "2C-OK")[0] == 423
    assert card_of(cards, n(1))["locked_until"] == clock.iso(T0 + timedelta(minutes=30))
    assert len(events("gift_card.locked")) == 1 and events("gift_card.caller_locked") == []


def test_a_guesser_locked_at_a_card_leaves_it_no_wrong_secrets_to_count(cards):
    """Eve's five wrong secrets lock eve; the card starts again from nothing, so one more wrong
    secret from someone else does not lock it for its holder."""
    batch = make_batch(cards, count=1)
    s = secrets_of(batch)
    assert sell(cards, batch, 1, 1, "INV-E")[0] == 201
    with as_caller(cards, "eve"):
        assert [pay(cards, n(1), wrong(s[n(1)]), 1, f"E-{i}")[0] for i in range(5)] == [422] * 5
    assert (card_of(cards, n(1))["failures"], card_of(cards, n(1))["locked_until"]) == (0, None)
    with as_caller(cards, "mallory"):
        assert pay(cards, n(1), wrong(s[n(1)]), 1, "M-1")[0] == 422
    with as_caller(cards, "holder"):
        status, paid = pay(cards, n(1), s[n(1)], 100, "E-OK")
        assert status == 201 and paid["balance_fen"] == FACE - 100, paid
    assert events("gift_card.locked") == []


def test_a_guesser_locked_at_a_card_others_guessed_too_keeps_their_count_on_the_card(cards):
    """Bob's four wrong secrets, the holder's payment (the card's run ends, bob's does not), one
    from alice, bob's fifth (bob is locked): the card's run is alice's and bob's, two, and three
    more from others lock it."""
    batch = make_batch(cards, count=1)
    s = secrets_of(batch)
    assert sell(cards, batch, 1, 1, "INV-B")[0] == 201
    with as_caller(cards, "bob"):
        assert [pay(cards, n(1), wrong(s[n(1)]), 1, f"B-{i}")[0] for i in range(4)] == [422] * 4
    with as_caller(cards, "holder"):
        assert pay(cards, n(1), s[n(1)], 100, "B-OK")[0] == 201
    assert card_of(cards, n(1))["failures"] == 0
    with as_caller(cards, "alice"):
        assert pay(cards, n(1), wrong(s[n(1)]), 1, "A-1")[0] == 422
    with as_caller(cards, "bob"):
        assert pay(cards, n(1), wrong(s[n(1)]), 1, "B-4")[0] == 422
        assert pay(cards, n(1), s[n(1)], 100, "B-LOCKED")[0] == 429
    assert card_of(cards, n(1))["failures"] == 2
    for other in ("carol", "dave", "erin"):
        with as_caller(cards, other):
            assert pay(cards, n(1), wrong(s[n(1)]), 1, f"{other}-1")[0] == 422
    with as_caller(cards, "holder"):
        assert pay(cards, n(1), s[n(1)], 100, "B-OK2")[0] == 423
    assert len(events("gift_card.locked")) == 1


def test_a_cards_third_lock_lasts_two_hours(cards):
    batch = make_batch(cards, count=1)
    s = secrets_of(batch)
    assert sell(cards, batch, 1, 1, "INV-3L")[0] == 201

    def burst(tag):              # five wrong secrets in a row from two callers
        for i in range(5):
            with as_caller(cards, f"{tag}-{i % 2}"):
                assert pay(cards, n(1), wrong(s[n(1)]), 1, f"{tag}-{i}")[0] == 422

    start = T0
    for minutes in (30, 60, 120):
        clock.freeze(start)
        burst(f"t{minutes}")
        assert card_of(cards, n(1))["locked_until"] == clock.iso(start + minutes * MINUTE)
        start += (minutes + 1) * MINUTE
    assert [e["locks"] for e in events("gift_card.locked")] == [1, 2, 3]
    clock.freeze(start - 2 * MINUTE)
    assert pay(cards, n(1), s[n(1)], 100, "3L-EARLY")[0] == 423
    clock.freeze(start)
    assert pay(cards, n(1), s[n(1)], 100, "3L-OK")[0] == 201


def test_a_callers_window_starts_at_its_first_wrong_secret_not_its_latest(cards):
    """One wrong secret at T0, eighteen at T0 + 10 min: at T0 + 15 min the window has closed, so
    the twentieth starts a new one instead of locking the caller."""
    batch = make_batch(cards, count=1)
    s = secrets_of(batch)
    assert sell(cards, batch, 1, 1, "INV-W")[0] == 201
    with as_caller(cards, "prober"):
        assert pay(cards, n(100), "0" * 16, 1, "W-0")[0] == 422
        clock.freeze(T0 + 10 * MINUTE)
        assert [pay(cards, n(101 + i), "0" * 16, 1, f"W-{i + 1}")[0] for i in range(18)] == [422] * 18
        clock.freeze(T0 + 15 * MINUTE)
        assert pay(cards, n(200), "0" * 16, 1, "W-19")[0] == 422
        status, paid = pay(cards, n(1), s[n(1)], 100, "W-OK")
        assert status == 201, paid
    assert events("gift_card.secret_rejected")[-1]["caller_failures"] == 1
    assert events("gift_card.caller_locked") == []


def test_a_refused_activation_does_not_wipe_a_callers_run_at_a_card(cards):
    """Four wrong secrets at card 1, a refused activation of an unsold card, a fifth wrong secret
    at card 1: the guesser is locked as after five in a row."""
    batch = make_batch(cards, count=2)
    s = secrets_of(batch)
    assert sell(cards, batch, 1, 1, "INV-PR")[0] == 201                         # card 2 stays unsold
    with as_caller(cards, "eve"):
        assert [pay(cards, n(1), wrong(s[n(1)]), 1, f"PR-{i}")[0] for i in range(4)] == [422] * 4
        assert cards.call("POST", f"/v1/gift-cards/{n(2)}/activate")[0] == 404
        assert pay(cards, n(1), wrong(s[n(1)]), 1, "PR-4")[0] == 422
        assert pay(cards, n(1), s[n(1)], 100, "PR-OK")[0] == 429
    [lock] = events("gift_card.caller_locked")
    assert lock["because"] == "card"


def test_a_wrong_secret_read_before_its_callers_lock_does_not_undo_the_lock(cards, monkeypatch):
    """Eve has four wrong secrets at card 1 from an earlier window and one in this window. Two of
    her requests run at once: between one's read of her guard and its save, the other (her fifth
    at card 1) locks her. The first must not write back her unlocked guard: it is refused,
    retried, and told she is locked, and so is everything she sends next."""
    batch = make_batch(cards, count=1)
    s = secrets_of(batch)
    assert sell(cards, batch, 1, 1, "INV-G")[0] == 201
    with as_caller(cards, "eve"):
        assert [pay(cards, n(1), wrong(s[n(1)]), 1, f"G-{i}")[0] for i in range(4)] == [422] * 4
        clock.freeze(T0 + 16 * MINUTE)                                         # a new window
        assert pay(cards, n(500), "0" * 16, 1, "G-4")[0] == 422

        def fifth_at_card_1(uow):
            with pytest.raises(C.CardRejected):
                gift_cards.pay(PayWithCard(card_number=n(1), secret=wrong(s[n(1)]), amount_fen=1, order_id="G-5",
                                           merchant_id="m1"), EVE, uow, None)

        raced = meanwhile(monkeypatch, "guard", fifth_at_card_1)
        status, problem = pay(cards, n(501), "0" * 16, 1, "G-6")
        assert raced and status == 429 and problem["type"].endswith("/too-many-wrong-secrets"), problem
        assert pay(cards, n(1), s[n(1)], 100, "G-OK")[0] == 429
    [lock] = events("gift_card.caller_locked")
    assert lock["locked_until"] == clock.iso(T0 + 46 * MINUTE)


# lost races ---------------------------------------------------------------------------------------
def test_a_wrong_secret_racing_a_payment_keeps_the_payment(cards, monkeypatch):
    """A payment with the card commits between a wrong secret's read of the card and its save:
    the stale save is refused and the wrong secret counted again on the fresh card; the payment
    stays on it."""
    batch = make_batch(cards, count=1)
    s = secrets_of(batch)
    assert sell(cards, batch, 1, 1, "INV-WP")[0] == 201
    hq = Principal("staff", "other-hq", role="super_admin", merchant_id="m1")
    raced = meanwhile(monkeypatch, "card", lambda uow: gift_cards.pay(
        PayWithCard(card_number=n(1), secret=s[n(1)], amount_fen=3_000, order_id="WP-1", merchant_id="m1"),
        hq, uow, None))
    with as_caller(cards, "guesser"):
        status, problem = pay(cards, n(1), wrong(s[n(1)]), 1, "WP-2")
    assert raced and status == 422 and problem["type"].endswith("/gift-card-rejected"), problem
    card = card_of(cards, n(1))
    assert (card["balance_fen"], card["failures"]) == (7_000, 1)
    assert [(p["kind"], p["balance_after"]) for p in card["postings"]] == [("payment", 7_000)]
    proof = cards.ok("GET", f"/v1/gift-cards/reconciliation?batch_id={batch['batch_id']}")
    assert proof["balanced"], proof


def test_a_wrong_secret_at_a_card_generated_meanwhile_is_counted_on_the_card(cards, monkeypatch):
    """A guess at a number of a batch being generated: the card is written between the guess's
    read (no card) and its save. The save's check that the card is still absent fails, the guess
    is retried and counted on the card."""
    status, created = cards.call("POST", "/v1/gift-cards/batches", {"name": "late", "face_value_fen": FACE,
                                                                    "count": 2, "valid_until": "2027-12-31"})
    assert status == 202

    def generated(uow):
        batch = gift_cards_repository.of(uow).batch(created["batch_id"])
        generation.progress(uow, batch, time.monotonic() + 60)

    raced = meanwhile(monkeypatch, "card", generated)
    with as_caller(cards, "guesser"):
        status, problem = pay(cards, n(1), "0" * 16, 1, "GEN-1")
    assert raced and status == 422 and problem["type"].endswith("/gift-card-rejected"), problem
    assert card_of(cards, n(1))["failures"] == 1
    assert [e["card_failures"] for e in events("gift_card.secret_rejected")] == [1]


def test_a_sale_racing_another_change_of_its_batch_is_retried_and_sells_once(racy, racing):
    batch = make_batch(racy, count=2)
    racing.race(GiftCardBatchItem, bump("version"))
    status, sale = sell(racy, batch, 1, 2, "INV-RACE")
    assert racing.raced == 1 and status == 201 and sale["count"] == 2, sale
    assert batch_of(racy, batch)["sold_count"] == 2
    assert len(events("gift_card.sold")) == 1


def test_a_payment_racing_another_change_of_its_card_is_retried_to_the_fen(racy, racing):
    batch = make_batch(racy, count=1)
    s = secrets_of(batch)
    assert sell(racy, batch, 1, 1, "INV-RC")[0] == 201
    racing.race(GiftCardItem, bump("version"))
    status, paid = pay(racy, n(1), s[n(1)], 3_000, "RC-1")
    assert racing.raced == 1 and status == 201 and paid["balance_fen"] == 7_000, paid
    assert len(events("gift_card.paid")) == 1


def test_an_order_paid_with_the_card_by_another_request_meanwhile_is_refused_as_paid(racy, racing):
    """The payment of the same order with the same card is committed after this request read that
    there was none (the card read after it: a batch read is not a snapshot): the 409 says so."""
    batch = make_batch(racy, count=1)
    s = secrets_of(batch)
    assert sell(racy, batch, 1, 1, "INV-RP")[0] == 201
    racing.race(GiftCardPaymentItem, create=appear(GiftCardPaymentItem))
    status, problem = pay(racy, n(1), s[n(1)], 3_000, "RP-1")
    assert racing.raced == 1 and status == 409, problem
    assert problem["detail"] == "order RP-1 was paid with this card already", problem
    assert card_of(racy, n(1))["balance_fen"] == FACE


def test_the_right_secret_racing_a_wrong_one_of_the_same_caller_is_retried(racy, racing):
    """The right secret ends the caller's run at the card (its guard is saved); another wrong
    secret of the caller is counted meanwhile: the payment is retried and goes through."""
    batch = make_batch(racy, count=1)
    s = secrets_of(batch)
    assert sell(racy, batch, 1, 1, "INV-RG")[0] == 201
    with as_caller(racy, "holder"):
        assert pay(racy, n(1), wrong(s[n(1)]), 1, "RG-0")[0] == 422
        racing.race(GuardItem, bump("failures"))
        status, paid = pay(racy, n(1), s[n(1)], 3_000, "RG-1")
    assert racing.raced == 1 and status == 201 and paid["balance_fen"] == 7_000, paid


def test_a_wrong_secret_racing_another_of_the_same_caller_is_counted_after_it(racy, racing):
    batch = make_batch(racy, count=1)
    s = secrets_of(batch)
    assert sell(racy, batch, 1, 1, "INV-RW")[0] == 201
    with as_caller(racy, "guesser"):
        assert pay(racy, n(1), wrong(s[n(1)]), 1, "RW-0")[0] == 422
        racing.race(GuardItem, bump("failures"))
        status, problem = pay(racy, n(1), wrong(s[n(1)]), 1, "RW-1")
    assert racing.raced == 1 and status == 422 and problem["type"].endswith("/gift-card-rejected"), problem
    assert card_of(racy, n(1))["failures"] == 2


@pytest.mark.parametrize("second", ["a wrong secret", "the right secret"])
def test_a_request_read_as_a_callers_lock_ran_out_does_not_undo_its_next_lock(cards, monkeypatch, second):
    """Eve was locked (five wrong secrets at card 2) and has four at card 1. As her lock runs out,
    two of her requests run at once: between one's read of her guard (nothing counted since the
    lock) and its save, the other (her fifth at card 1) locks her again, for an hour. The first
    must not write back the guard it read (its count is the same, but not its lock): it is
    refused, retried and told she is locked, and so is everything she sends in the hour."""
    batch = make_batch(cards, count=2)
    s = secrets_of(batch)
    assert sell(cards, batch, 1, 2, "INV-LL")[0] == 201
    with as_caller(cards, "eve"):
        assert [pay(cards, n(1), wrong(s[n(1)]), 1, f"LL-1-{i}")[0] for i in range(4)] == [422] * 4
        assert [pay(cards, n(2), wrong(s[n(2)]), 1, f"LL-2-{i}")[0] for i in range(5)] == [422] * 5
        assert pay(cards, n(1), s[n(1)], 100, "LL-LOCKED")[0] == 429
        clock.freeze(T0 + 31 * MINUTE)                                         # her lock has run out

        def fifth_at_card_1(uow):
            with pytest.raises(C.CardRejected):
                gift_cards.pay(PayWithCard(card_number=n(1), secret=wrong(s[n(1)]), amount_fen=1, order_id="LL-5",
                                           merchant_id="m1"), EVE, uow, None)

        raced = meanwhile(monkeypatch, "guard", fifth_at_card_1)
        if second == "a wrong secret":
            status, problem = pay(cards, n(500), "0" * 16, 1, "LL-6")
        else:
            status, problem = pay(cards, n(1), s[n(1)], 100, "LL-6")
        assert raced and status == 429 and problem["type"].endswith("/too-many-wrong-secrets"), problem
        clock.freeze(T0 + 90 * MINUTE)
        assert pay(cards, n(1), s[n(1)], 100, "LL-7")[0] == 429
    assert [e["locked_until"] for e in events("gift_card.caller_locked")] == [
        clock.iso(T0 + 30 * MINUTE), clock.iso(T0 + 91 * MINUTE)]
    assert card_of(cards, n(1))["balance_fen"] == FACE
