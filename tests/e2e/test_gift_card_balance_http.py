"""A till's gift card balance check over HTTP (``checkGiftCardBalance``, issue #30's till): with the
card's number and secret it answers the balance, state and last day, and whether the till's
merchant takes the card; card numbers are sequential, so without the right secret it answers
nothing: a wrong secret, a number no card has and another program's card get the same 422, each
counted as a wrong secret at a payment is (five at one number lock the caller: 429); and no reply,
log or stored item carries a secret."""

from __future__ import annotations

from chalicelib.gift_cards import keys
from chalicelib.shared.credentials import mint_token
from tests.e2e.conftest import captured_logs, fresh_phone, readable, stored_items
from tests.e2e.test_gift_cards_http import ready_cards
from tests.e2e.test_tenancy_http import P2, A, pos


def _clerk(api, tag: str) -> dict[str, str]:
    """A clerk of merchant A of its own (wrong secrets count per caller: no other test's count)."""
    return api.bearer(mint_token("staff", f"balance-{tag}-{fresh_phone()}", 10, role="clerk", merchant_id=A[1],
                                 store_id="demo-store"))


def _check(api, number: str, secret: str, **caller):
    return api.call("POST", "/v1/gift-cards/balance-checks", {"card_number": number, "secret": secret}, **caller)


def test_the_right_secret_shows_the_balance_and_a_payment_moves_it(api, stack):
    hq, numbers, secrets = ready_cards(api, stack, "balance-1", 3, 2)            # issued by B: taken everywhere
    clerk = _clerk(api, "a")
    with captured_logs() as logs:
        first = _check(api, numbers[0], secrets[numbers[0]], headers=clerk)
        assert first.status_code == 200, first.text
        shown = first.json()
        assert (shown["balance_fen"], shown["state"], shown["held_fen"], shown["face_value_fen"]) == \
            (20_000, "activated", 0, 20_000)
        assert shown["card_number"] == numbers[0][:4] + "********" + numbers[0][-4:]
        assert shown["valid_until"] == "2099-12-31" and shown["accepted_here"] is True and shown["merchant_ids"] is None
        paid = api.call("POST", "/v1/gift-cards/payments", {"card_number": numbers[0], "secret": secrets[numbers[0]],
                                                             "amount_fen": 4_321, "order_id": f"bal-{numbers[0]}"},
                        signed_by=pos(stack, A), key=f"bal-pay-{numbers[0]}")
        assert paid.status_code == 201, paid.text
        after = _check(api, numbers[0], secrets[numbers[0]], signed_by=pos(stack, A)).json()   # a till's key too
        assert (after["balance_fen"], after["state"]) == (20_000 - 4_321, "partially_used")
        card = api.call("GET", f"/v1/gift-cards/{numbers[0]}", headers=hq).json()
        assert card["balance_fen"] == after["balance_fen"] and len(card["postings"]) == 1   # a check posts nothing
        unsold = _check(api, numbers[2], secrets[numbers[2]], headers=clerk).json()      # its holder sees it unsold
        assert (unsold["state"], unsold["balance_fen"]) == ("issued", 20_000)
        hq_view = _check(api, numbers[1], secrets[numbers[1]], headers=hq).json()
        assert hq_view["accepted_here"] is None                                          # HQ is no merchant
    assert not any(secrets[n] in logs.getvalue() for n in numbers)
    assert not any(secrets[n] in first.text + str(after) for n in numbers)


def test_without_the_secret_it_answers_nothing_and_guesses_are_counted(api, stack):
    hq, numbers, secrets = ready_cards(api, stack, "balance-2", 2, 2)
    clerk = _clerk(api, "b")
    wrong = "0" * 16 if secrets[numbers[1]] != "0" * 16 else "1" * 16
    refusals = [_check(api, numbers[1], wrong, headers=clerk),                            # a wrong secret
                _check(api, keys.card_number(999_998, 7), wrong, headers=clerk),          # a number no card has
                _check(api, numbers[0], secrets[numbers[0]], signed_by=pos(stack, P2))]   # another program's till
    assert {r.status_code for r in refusals} == {422}
    assert len({(r.json()["type"], r.json()["title"], r.json()["detail"]) for r in refusals}) == 1
    assert refusals[0].json()["type"].endswith("/gift-card-rejected")
    assert "balance_fen" not in refusals[0].text
    # five wrong secrets of one caller at one number lock the caller (as at a payment), not the card
    for _ in range(4):
        assert _check(api, numbers[1], wrong, headers=clerk).status_code == 422
    locked = _check(api, numbers[1], secrets[numbers[1]], headers=clerk)
    assert locked.status_code == 429 and locked.json()["type"].endswith("/too-many-wrong-secrets"), locked.text
    assert _check(api, numbers[0], secrets[numbers[0]], headers=clerk).status_code == 429     # every card, meanwhile
    card = api.call("GET", f"/v1/gift-cards/{numbers[1]}", headers=hq).json()
    assert card["locked_until"] is None and card["balance_fen"] == 20_000
    other = _check(api, numbers[1], secrets[numbers[1]], headers=_clerk(api, "c"))           # the next till
    assert other.status_code == 200 and other.json()["balance_fen"] == 20_000
    stored = readable(list(stored_items(stack, lambda pk, i: True).values()))
    assert "gift_card.secret_rejected" in stored


def test_a_malformed_card_or_secret_is_refused_beside_its_field_and_only_tills_check(api):
    clerk = _clerk(api, "d")
    for body, field in (({"card_number": "12345", "secret": "1" * 16}, "card_number"),
                        ({"card_number": "9" + "0" * 15, "secret": "abc"}, "secret")):
        r = api.call("POST", "/v1/gift-cards/balance-checks", body, headers=clerk)
        assert r.status_code == 422 and field in [e["field"] for e in r.json()["errors"]], r.text
    reader = api.call("POST", "/v1/gift-cards/balance-checks", {"card_number": "9" + "0" * 15, "secret": "1" * 16},
                      headers=api.staff("finance"))
    assert reader.status_code == 403, reader.text     # a till's check: finance and auditors take no cards
