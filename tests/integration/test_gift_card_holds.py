"""Gift card holds through the app on every backend (moto and the in-memory fake): a till
reserves an amount on a card (number and secret, guarded as a payment), then confirms it (a
payment of the order, refunded as any card payment), cancels it, or lets it lapse; the card's
balance, its postings and lines, and the reconciliation against the prepaid figures, to the fen."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.gift_cards import keys
from chalicelib.shared import clock
from tests.integration.test_gift_cards import (
    FACE,
    T0,
    as_caller,
    cards,  # noqa: F401 - the fixture
    events,
    make_batch,
    refund,
    secrets_of,
    sell,
)


def hold(api, number, secret, fen, order, merchant="m1", key=None, **more):
    return api.call("POST", "/v1/gift-cards/holds", {"card_number": number, "secret": secret, "amount_fen": fen,
                                                     "order_id": order, "merchant_id": merchant, **more}, key=key)


@pytest.fixture
def sold(cards):  # noqa: F811
    """Cards 1-4 of a batch sold and activated: (api, numbers, secrets)."""
    batch = make_batch(cards)
    assert sell(cards, batch, 1, 4, "INV-H")[0] == 201
    return cards, {i: keys.card_number(1, i) for i in range(1, 11)}, secrets_of(batch)


def card(api, number):
    return api.ok("GET", f"/v1/gift-cards/{number}")


def proof(api):
    from tests.integration.test_tiers import deliver
    deliver()                                                   # the prepaid figures catch up
    return api.ok("GET", "/v1/gift-cards/reconciliation")


def test_hold_confirm_refund_to_the_fen_and_the_books_balance_with_holds_open(sold):
    api, n, s = sold
    status, held = hold(api, n[1], s[n[1]], 6_000, "H-1")
    assert status == 201, held
    assert (held["status"], held["amount_fen"], held["balance_fen"], held["merchant_id"]) == ("open", 6_000, 4_000,
                                                                                             "m1")
    shown = card(api, n[1])
    assert (shown["balance_fen"], shown["held_fen"], shown["state"]) == (4_000, 6_000, "activated")
    status, short = hold(api, n[1], s[n[1]], 4_001, "H-2")          # two holds never take more than the card has
    assert status == 409 and short["type"].endswith("/insufficient-balance") and short["balance_fen"] == 4_000
    assert hold(api, n[1], s[n[1]], 1_000, "H-2")[0] == 201
    checked = proof(api)                                        # two holds open: still to the fen
    assert checked["balanced"] and checked["figures_agree"], checked
    assert checked["issuers"]["gift_cards:program"]["cards_fen"] == 4 * FACE - 7_000
    assert checked["issuers"]["gift_cards_held:program"] == {"cards_fen": 7_000, "figures_fen": 7_000, "agree": True}
    status, paid = api.call("POST", f"/v1/gift-cards/holds/{held['hold_id']}/confirm")
    assert status == 200, paid
    assert (paid["status"], paid["balance_fen"], paid["state"]) == ("confirmed", 3_000, "partially_used")
    assert api.call("POST", f"/v1/gift-cards/holds/{held['hold_id']}/confirm")[1]["type"].endswith("/hold-not-open")
    assert api.call("POST", f"/v1/gift-cards/holds/{held['hold_id']}/cancel")[0] == 409
    status, back = refund(api, n[1], "H-1", 2_500, "rf-1")      # refunded as any card payment
    assert status == 201 and (back["payment_fen"], back["balance_fen"]) == (6_000, 5_500), back
    assert refund(api, n[1], "H-1", 3_501, "rf-2")[1]["type"].endswith("/refund-exceeds-payment")
    shown = card(api, n[1])
    assert [p["kind"] for p in shown["postings"]] == ["hold", "hold", "hold_confirmed", "payment_refund"]
    assert shown["postings"][0]["entries"] == [{"account": "gift_cards:program", "fen": 6_000},
                                               {"account": "gift_cards_held:program", "fen": -6_000}]
    assert shown["postings"][2]["entries"] == [{"account": "gift_cards_held:program", "fen": 6_000},
                                               {"account": "settlement:m1", "fen": -6_000}]
    assert shown["postings"][2]["ref"] == "order:m1:H-1" and shown["held_fen"] == 1_000
    assert [e["hold_id"] for e in events("gift_card.paid")] == [held["hold_id"]]
    checked = proof(api)
    assert checked["balanced"] and checked["figures_agree"], checked
    assert checked["issuers"]["gift_cards_held:program"]["cards_fen"] == 1_000
    statement = api.ok("GET", "/v1/stored-value/liability")
    assert statement["settlement_by_merchant"] == {"m1": 6_000 - 2_500} and statement["lines_balance"]


def test_cancel_and_lapse_give_the_amount_back_once(sold):
    api, n, s = sold
    first = hold(api, n[2], s[n[2]], FACE, "C-1")[1]
    assert card(api, n[2])["balance_fen"] == 0
    status, cancelled = api.call("POST", f"/v1/gift-cards/holds/{first['hold_id']}/cancel")
    assert status == 200 and (cancelled["status"], cancelled["balance_fen"]) == ("released", FACE), cancelled
    assert api.call("POST", f"/v1/gift-cards/holds/{first['hold_id']}/cancel")[1]["type"].endswith("/hold-not-open")
    assert api.call("POST", f"/v1/gift-cards/holds/{first['hold_id']}/confirm")[0] == 409
    second = hold(api, n[2], s[n[2]], 3_000, "C-2", ttl_seconds=60)[1]
    assert api.ok("GET", f"/v1/gift-cards/holds/{second['hold_id']}")["status"] == "open"
    assert api.run_job("gift-card-holds")["holds_released"] == 0          # not yet due
    clock.freeze(T0 + timedelta(seconds=60))
    status, late = api.call("POST", f"/v1/gift-cards/holds/{second['hold_id']}/confirm")
    assert status == 409 and late["detail"].endswith("is expired")      # an expired hold is refused
    assert api.run_job("gift-card-holds") == {"items_read": 1, "holds_released": 1}
    assert api.run_job("gift-card-holds") == {"items_read": 0, "holds_released": 0}
    assert api.ok("GET", f"/v1/gift-cards/holds/{second['hold_id']}")["status"] == "released"
    shown = card(api, n[2])
    assert (shown["balance_fen"], shown["held_fen"], shown["state"]) == (FACE, 0, "activated")
    assert [p["kind"] for p in shown["postings"]] == ["hold", "hold_released", "hold", "hold_released"]
    assert shown["postings"][-1]["actor"] == "job:gift-card-holds"
    assert [e["why"] for e in events("gift_card.hold_released")] == ["cancelled", "expired"]
    checked = proof(api)
    assert checked["balanced"] and checked["figures_agree"] and "gift_cards_held:program" not in checked["issuers"]


def test_a_card_paid_down_to_what_is_held_is_usable_again_when_the_hold_goes(sold):
    api, n, s = sold
    h = hold(api, n[3], s[n[3]], 4_000, "P-1")[1]
    paid = api.call("POST", "/v1/gift-cards/payments", {"card_number": n[3], "secret": s[n[3]], "amount_fen": 6_000,
                                                        "order_id": "P-2", "merchant_id": "m1"})[1]
    assert paid["balance_fen"] == 0
    assert api.ok("POST", f"/v1/gift-cards/holds/{h['hold_id']}/cancel")["balance_fen"] == 4_000
    assert card(api, n[3])["state"] == "partially_used"
    assert hold(api, n[3], s[n[3]], 4_000, "P-3")[0] == 201
    assert api.call("POST", "/v1/gift-cards/payments", {"card_number": n[3], "secret": s[n[3]], "amount_fen": 1,
                                                        "order_id": "P-4", "merchant_id": "m1"})[0] == 409
    assert hold(api, n[3], s[n[3]], 1, "P-2")[1]["detail"] == "order P-2 was paid with this card already"


def test_another_merchants_hold_does_not_exist_and_a_member_takes_none(sold):
    api, n, s = sold
    h = hold(api, n[1], s[n[1]], 1_000, "M-1")[1]
    with as_caller(api, "other-till", merchant_id="m2", store_id=None):
        for method, path in (("GET", ""), ("POST", "/confirm"), ("POST", "/cancel")):
            status, problem = api.call(method, f"/v1/gift-cards/holds/{h['hold_id']}{path}")
            assert status == 404 and problem["type"].endswith("/not-found"), problem
    assert api.call("GET", "/v1/gift-cards/holds/NOPE")[0] == 404
    assert card(api, n[1])["held_fen"] == 1_000


def test_a_wrong_secret_counts_as_a_wrong_try_and_bad_input_changes_nothing(sold):
    api, n, s = sold
    wrong = "1" * 16 if s[n[1]] != "1" * 16 else "2" * 16
    with as_caller(api, "guessing-till"):
        for _ in range(4):
            status, problem = hold(api, n[1], wrong, 100, "W-1")
            assert status == 422 and problem["type"].endswith("/gift-card-rejected")
    assert card(api, n[1])["failures"] == 4                 # each a wrong try, as for a payment
    with as_caller(api, "guessing-till"):
        assert hold(api, n[1], wrong, 100, "W-1")[0] == 422
        assert hold(api, n[1], s[n[1]], 100, "W-1")[0] == 429     # the guesser is locked, not the card
    assert card(api, n[1])["failures"] == 0 and hold(api, n[1], s[n[1]], 100, "W-1")[0] == 201
    assert len(events("gift_card.secret_rejected")) == 5
    before = card(api, n[2])
    for body in ({"amount_fen": 0}, {"amount_fen": "5"}, {"ttl_seconds": 5}, {"order_id": "bad order"},
                 {"secret": "123"}, {"surprise": 1}):
        status, problem = api.call("POST", "/v1/gift-cards/holds", {"card_number": n[2], "secret": s[n[2]],
                                                                    "amount_fen": 100, "order_id": "B-1",
                                                                    "merchant_id": "m1", **body})
        assert 400 <= status < 500 and problem["status"] == status and "type" in problem, (body, problem)
    assert hold(api, n[5], s[n[5]], 100, "B-2")[1]["state"] == "issued"          # unsold: not usable
    assert card(api, n[2]) == before


def test_a_replay_with_the_same_key_posts_nothing_twice(sold):
    api, n, s = sold
    status, first = hold(api, n[4], s[n[4]], 2_000, "R-1", key="till-1")
    assert status == 201
    assert hold(api, n[4], s[n[4]], 2_000, "R-1", key="till-1") == (201, first)
    path = f"/v1/gift-cards/holds/{first['hold_id']}/confirm"
    done = api.call("POST", path, key="till-2")
    assert done[0] == 200 and api.call("POST", path, key="till-2") == done
    shown = card(api, n[4])
    assert [p["kind"] for p in shown["postings"]] == ["hold", "hold_confirmed"] and shown["balance_fen"] == 8_000
    assert len(events("gift_card.held")) == 1 and len(events("gift_card.paid")) == 1
