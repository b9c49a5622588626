"""Gift card holds over real HTTP on the local stack, as a POS integrator uses them: 32 tills
holding on one card at once never hold more than it has; a hold is read, confirmed (a payment,
refunded as any) or cancelled; the figures fold the held money and agree with the cards."""

from __future__ import annotations

import time

from tests.e2e.conftest import all_at_once
from tests.e2e.test_gift_cards_http import ready_cards
from tests.e2e.test_tenancy_http import A, pos


def test_thirty_two_tills_holding_on_one_card_never_hold_more_than_it_has(api, stack):
    hq, numbers, secrets = ready_cards(api, stack, "holds-32", 4, 3, issuer=A[1])
    tag = numbers[0]
    number, secret = numbers[0], secrets[numbers[0]]

    def hold(i):
        return api.call("POST", "/v1/gift-cards/holds", {"card_number": number, "secret": secret, "amount_fen": 1_000,
                                                         "order_id": f"gh-{i}"},
                        signed_by=pos(stack, A), key=f"gh-{i}-{tag}")
    replies = all_at_once(32, hold)
    statuses = [r.status_code for r in replies.values()]
    assert statuses.count(201) == 20 and set(statuses) <= {201, 409}, statuses      # 20,000 fen: 20 holds of 1,000
    assert all(r.json()["type"].endswith("/insufficient-balance") for r in replies.values() if r.status_code == 409)
    card = api.call("GET", f"/v1/gift-cards/{number}", headers=hq).json()
    assert (card["balance_fen"], card["held_fen"]) == (0, 20_000)
    assert sum(p["amount_fen"] for p in card["postings"] if p["kind"] == "hold") == 20_000

    held = [r.json() for r in replies.values() if r.status_code == 201]
    shown = api.call("GET", f"/v1/gift-cards/holds/{held[0]['hold_id']}", signed_by=pos(stack, A))
    assert shown.status_code == 200 and shown.json()["status"] == "open", shown.text
    paid = api.call("POST", f"/v1/gift-cards/holds/{held[0]['hold_id']}/confirm", signed_by=pos(stack, A),
                    key=f"ghc-{tag}")
    assert paid.status_code == 200 and paid.json()["status"] == "confirmed", paid.text
    again = api.call("POST", f"/v1/gift-cards/holds/{held[0]['hold_id']}/confirm", signed_by=pos(stack, A),
                     key=f"ghc-{tag}")
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json() == paid.json()
    back = api.call("POST", f"/v1/gift-cards/payments/{held[0]['order_id']}/refunds",
                    {"card_number": number, "refund_id": "r1", "amount_fen": 400}, signed_by=pos(stack, A),
                    key=f"ghr-{tag}")
    assert back.status_code == 201 and back.json()["balance_fen"] == 400, back.text
    cancelled = api.call("POST", f"/v1/gift-cards/holds/{held[1]['hold_id']}/cancel", signed_by=pos(stack, A),
                         key=f"ghx-{tag}")
    assert cancelled.status_code == 200 and cancelled.json()["balance_fen"] == 1_400, cancelled.text
    # the figures fold the held money in: what the cards hold for the issuer, as the cards say
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        proof = api.call("GET", "/v1/gift-cards/reconciliation", headers=hq).json()
        if proof["figures_agree"]:
            break
        time.sleep(0.2)
    assert proof["balanced"] and proof["figures_agree"], proof
    assert proof["issuers"][f"gift_cards_held:{A[1]}"]["cards_fen"] >= 18_000
