"""Tenancy over HTTP: programs never see each other; within a program, members are shared by its
merchants while each merchant's orders, holds and refunds are its own; profiles, identities and
logins belong to HQ, the member and the brand's login server.

The reproductions of the integrator's report are here, one test each, with hand-made calls."""

from __future__ import annotations

import time

from chalicelib.members import repository as members_repository
from chalicelib.shared.credentials import mint_token
from tests.e2e.conftest import fresh_phone

A, B, P2 = ("default", "demo-merchant"), ("default", "demo-merchant-b"), ("demo-2", "p2-merchant")


def merchant(stack, who):
    return stack.credentials["programs"][who[0]]["merchants"][who[1]]


def pos(stack, who):
    return merchant(stack, who)["pos_api_key"]


def staff(api, stack, who, role):
    """Headers of a staff token: HQ roles of a program, store roles of a merchant."""
    program = stack.credentials["programs"][who[0]]
    token = program["staff_tokens"][role] if role in ("super_admin", "ops_manager") \
        else merchant(stack, who)["staff_tokens"][role]
    return api.bearer(token)


def register_at(api, stack, who):
    phone = fresh_phone()
    r = api.call("POST", "/v1/members", {"phone": phone}, signed_by=pos(stack, who), key="reg-" + phone)
    assert r.status_code == 201, r.text
    return r.json()["member_id"], phone


def hq_view(api, member_id, program_headers=None):
    return api.call("GET", f"/v1/members/{member_id}", headers=program_headers or api.staff()).json()


def test_a_pos_key_cannot_log_anyone_in_and_logins_are_audited(api, stack):
    bob, phone = register_at(api, stack, B)
    body = {"identity": {"type": "phone", "value": phone}, "verified_by": "sms_otp"}
    refused = api.call("POST", "/v1/auth/member-tokens", body, signed_by=pos(stack, A))
    assert refused.status_code == 403
    unproven = api.call("POST", "/v1/auth/member-tokens", {"identity": body["identity"]}, login=True)
    assert unproven.status_code == 422
    minted = api.call("POST", "/v1/auth/member-tokens", body, login=True)
    assert minted.status_code == 201 and minted.json()["member_id"] == bob
    reply = minted.json()
    from chalicelib.shared import clock
    assert clock.parse_iso(reply["expires_at"]).timestamp() - __import__("time").time() <= 2 * 3600 + 5
    from chalicelib.db.uow import UnitOfWork
    trail = [(a.action, a.detail) for a in members_repository.of(UnitOfWork()).audit_trail(bob)]
    assert ("token.issued", "verified_by=sms_otp") in trail


def test_refresh_tokens_are_single_use_and_revocable(api, stack):
    bob, _ = register_at(api, stack, A)
    first = api.call("POST", "/v1/auth/member-tokens", {"member_id": bob, "verified_by": "wechat_code"},
                     login=True).json()
    second = api.call("POST", "/v1/auth/member-tokens/refresh", {"refresh_token": first["refresh_token"]})
    assert second.status_code == 201 and second.json()["member_id"] == bob
    assert api.call("GET", "/v1/members/me", headers=api.bearer(second.json()["token"])).json()["member_id"] == bob
    revoked = api.call("POST", "/v1/auth/member-tokens/revoke", {"refresh_token": second.json()["refresh_token"]})
    assert revoked.status_code == 200
    after = api.call("POST", "/v1/auth/member-tokens/refresh", {"refresh_token": second.json()["refresh_token"]})
    assert after.status_code == 401
    forged = first["refresh_token"].rsplit(".", 1)[0] + ".not-the-secret"
    assert api.call("POST", "/v1/auth/member-tokens/refresh", {"refresh_token": forged}).status_code == 401
    from chalicelib.db.uow import UnitOfWork
    actions = [a.action for a in members_repository.of(UnitOfWork()).audit_trail(bob)]
    assert actions.count("token.issued") == 1 and actions.count("token.refreshed") == 1
    assert actions.count("token.revoked") == 1


def test_a_used_refresh_token_presented_again_ends_the_whole_login(api, stack):
    """Someone else has a copy: the thief's token and the holder's newer one stop together."""
    bob, _ = register_at(api, stack, A)
    first = api.call("POST", "/v1/auth/member-tokens", {"member_id": bob, "verified_by": "wechat_code"},
                     login=True).json()
    other = api.call("POST", "/v1/auth/member-tokens", {"member_id": bob, "verified_by": "wechat_code"},
                     login=True).json()                       # another login of the same member
    second = api.call("POST", "/v1/auth/member-tokens/refresh", {"refresh_token": first["refresh_token"]}).json()
    replayed = api.call("POST", "/v1/auth/member-tokens/refresh", {"refresh_token": first["refresh_token"]})
    assert replayed.status_code == 401 and "ended" in replayed.json()["detail"]
    newer = api.call("POST", "/v1/auth/member-tokens/refresh", {"refresh_token": second["refresh_token"]})
    assert newer.status_code == 401                            # the family ended with the replay
    untouched = api.call("POST", "/v1/auth/member-tokens/refresh", {"refresh_token": other["refresh_token"]})
    assert untouched.status_code == 201                        # another login of the member goes on
    from chalicelib.db.uow import UnitOfWork
    trail = [(a.action, a.detail) for a in members_repository.of(UnitOfWork()).audit_trail(bob)]
    assert sum(1 for action, detail in trail if action == "token.revoked" and "presented again" in detail) == 1


def test_profiles_and_identities_are_not_for_pos_keys_or_store_staff(api, stack):
    bob, _ = register_at(api, stack, B)
    before = hq_view(api, bob)
    for headers, signed in ((None, pos(stack, A)), (staff(api, stack, A, "clerk"), None),
                            (staff(api, stack, A, "store_manager"), None)):
        patched = api.call("PATCH", f"/v1/members/{bob}", {"name": "Mallory"}, headers=headers, signed_by=signed,
                           key=f"p-{bob}-{bool(signed)}-{headers}")
        bound = api.call("POST", f"/v1/members/{bob}/identities", {"type": "wechat_openid", "value": "oEVIL" + bob},
                         headers=headers, signed_by=signed, key=f"b-{bob}-{bool(signed)}-{headers}")
        assert (patched.status_code, bound.status_code) == (403, 403)
    assert hq_view(api, bob) == before


def test_another_merchants_holds_and_order_references_stay_hidden(api, stack):
    bob, _ = register_at(api, stack, B)
    earned = api.call("POST", f"/v1/members/{bob}/points/earn", {"order_id": f"b-{bob}", "amount_fen": 10_000},
                      signed_by=pos(stack, B), key=f"e-{bob}")
    assert earned.status_code == 201
    hold = api.call("POST", f"/v1/members/{bob}/points/holds",
                    {"points": 30, "order_id": f"b2-{bob}", "order_amount_fen": 10_000},
                    signed_by=pos(stack, B), key=f"h-{bob}").json()
    ledger = api.call("GET", f"/v1/members/{bob}/points/ledger", signed_by=pos(stack, A))
    assert ledger.status_code == 200
    assert [p["balance_after"] for p in ledger.json()["postings"]] == [70, 100]       # balances: yes
    assert f"b-{bob}" not in ledger.text and hold["hold_id"] not in ledger.text        # references: no
    assert all(p["references_hidden"] for p in ledger.json()["postings"])
    own = api.call("GET", f"/v1/members/{bob}/points/ledger", signed_by=pos(stack, B)).text
    assert f"b-{bob}" in own and hold["hold_id"] in own
    cancel = api.call("POST", f"/v1/members/{bob}/points/holds/{hold['hold_id']}/cancel", {},
                      signed_by=pos(stack, A), key=f"c-{bob}")
    assert cancel.status_code == 404
    clerk = api.call("POST", f"/v1/members/{bob}/points/holds/{hold['hold_id']}/confirm", {},
                     headers=staff(api, stack, A, "clerk"), key=f"cc-{bob}")
    assert clerk.status_code == 404
    assert api.call("POST", f"/v1/members/{bob}/points/holds/{hold['hold_id']}/confirm", {},
                    signed_by=pos(stack, B), key=f"ok-{bob}").status_code == 200


def test_a_member_cannot_book_a_redemption_to_a_merchants_order(api, stack):
    bob, _ = register_at(api, stack, A)
    api.call("POST", f"/v1/members/{bob}/points/earn", {"order_id": f"a-{bob}", "amount_fen": 50_000},
             signed_by=pos(stack, A), key=f"e-{bob}")
    token = api.call("POST", "/v1/auth/member-tokens", {"member_id": bob, "verified_by": "sms_otp"},
                     login=True).json()["token"]
    squat = api.call("POST", "/v1/members/me/points/redeem",
                     {"points": 10, "merchant_id": B[1], "order_id": f"bo-{bob}", "order_amount_fen": 10_000},
                     headers=api.bearer(token),
                     key=f"r-{bob}")
    assert squat.status_code == 403
    later = api.call("POST", f"/v1/members/{bob}/points/earn", {"order_id": f"bo-{bob}", "amount_fen": 10_000},
                     signed_by=pos(stack, B), key=f"eb-{bob}")
    assert later.status_code == 201 and later.json()["points"] == 100
    reward = api.call("POST", "/v1/members/me/points/redeem", {"points": 10, "reward": "mug"},
                      headers=api.bearer(token), key=f"rw-{bob}")
    assert reward.status_code == 200


def _second_store_key(api, store):
    created = api.call("POST", "/v1/merchants/demo-merchant/stores", {"store_id": store, "name": store},
                       headers=api.staff(), key="store-" + store)
    assert created.status_code in (201, 409)
    key = api.call("POST", "/v1/merchants/demo-merchant/api-keys", {"store_id": store}, headers=api.staff(),
                   key=f"key-{store}-{time.time_ns()}")
    assert key.status_code == 201
    return key.json()


def test_idempotency_scopes_separate_stores_merchants_and_staff(api, stack):
    other_store = _second_store_key(api, "demo-store-2")
    replies = [api.call("POST", "/v1/members", {"phone": fresh_phone()}, signed_by=k, key="same-key-1")
               for k in (pos(stack, A), other_store)]
    assert [r.status_code for r in replies] == [201, 201]
    assert replies[0].json()["member_id"] != replies[1].json()["member_id"]
    assert "Idempotent-Replayed" not in replies[1].headers
    same_sub = [api.bearer(mint_token("staff", "shared-sub", 5, role="clerk", merchant_id=m, store_id=s))
                for m, s in (("demo-merchant", "demo-store"), ("demo-merchant-b", "b-store"))]
    staffed = [api.call("POST", "/v1/members", {"phone": fresh_phone()}, headers=h, key="same-key-2")
               for h in same_sub]
    assert [r.status_code for r in staffed] == [201, 201]
    assert staffed[0].json()["merchant_id"] == "demo-merchant" and staffed[1].json()["merchant_id"] == "demo-merchant-b"


def test_a_store_key_refunds_only_its_own_stores_orders(api, stack):
    other_store = _second_store_key(api, "demo-store-3")
    bob, _ = register_at(api, stack, A)
    api.call("POST", f"/v1/members/{bob}/points/earn", {"order_id": f"s3-{bob}", "amount_fen": 10_000},
             signed_by=other_store, key=f"e-{bob}")
    refused = api.call("POST", f"/v1/orders/s3-{bob}/refunds", {"refund_id": "r1", "amount_fen": 100},
                       signed_by=pos(stack, A), key=f"r-{bob}")
    assert refused.status_code == 404          # another store's order does not exist for a store's key (issue #20)
    allowed = api.call("POST", f"/v1/orders/s3-{bob}/refunds", {"refund_id": "r1", "amount_fen": 100},
                       signed_by=other_store, key=f"r2-{bob}")
    assert allowed.status_code == 201


def test_staff_register_only_at_their_merchants_stores_which_must_exist(api, stack):
    manager = staff(api, stack, A, "store_manager")
    b_store = api.call("POST", "/v1/members", {"phone": fresh_phone(), "store_id": "b-store"}, headers=manager,
                       key=fresh_phone())
    assert b_store.status_code == 403
    named_b = api.call("POST", "/v1/members", {"phone": fresh_phone(), "merchant_id": B[1]}, headers=manager,
                       key=fresh_phone())
    assert named_b.status_code == 403
    hq = api.call("POST", "/v1/members", {"phone": fresh_phone(), "merchant_id": B[1], "store_id": "b-store"},
                  headers=api.bearer(stack.credentials["programs"]["default"]["staff_tokens"]["ops_manager"]),
                  key=fresh_phone())
    assert hq.status_code == 201 and (hq.json()["merchant_id"], hq.json()["store_id"]) == (B[1], "b-store")
    nowhere = api.call("POST", "/v1/members", {"phone": fresh_phone(), "merchant_id": B[1], "store_id": "nowhere"},
                       headers=api.staff("ops_manager"), key=fresh_phone())
    assert nowhere.status_code == 404
    ghost = api.call("POST", f"/v1/members/{hq.json()['member_id']}/points/earn",
                     {"order_id": "g1", "amount_fen": 100, "merchant_id": "no-such-merchant"},
                     headers=api.staff("ops_manager"), key=fresh_phone())
    assert ghost.status_code == 404


def test_programs_never_see_each_other(api, stack):
    bob, phone = register_at(api, stack, A)
    api.call("POST", f"/v1/members/{bob}/points/earn", {"order_id": f"p1-{bob}", "amount_fen": 10_000},
             signed_by=pos(stack, A), key=f"e-{bob}")
    p2_hq = staff(api, stack, P2, "super_admin")
    p2_pos = pos(stack, P2)
    for headers, signed in ((p2_hq, None), (None, p2_pos)):
        assert api.call("GET", f"/v1/members/{bob}", headers=headers, signed_by=signed).status_code == 404
        assert api.call("GET", f"/v1/members/{bob}/points", headers=headers, signed_by=signed).status_code == 404
        assert api.call("POST", "/v1/members/lookup", {"type": "phone", "value": phone}, headers=headers,
                        signed_by=signed).status_code == 404
        earn = api.call("POST", f"/v1/members/{bob}/points/earn", {"order_id": "x", "amount_fen": 100},
                        headers=headers, signed_by=signed, key=fresh_phone())
        assert earn.status_code in (404, 422)
    refund = api.call("POST", f"/v1/orders/p1-{bob}/refunds", {"refund_id": "r", "amount_fen": 100},
                      signed_by=p2_pos, key=fresh_phone())
    assert refund.status_code == 404
    # the same person is a different member in the other program
    again = api.call("POST", "/v1/members", {"phone": phone}, signed_by=p2_pos, key=fresh_phone())
    assert again.status_code == 201 and again.json()["member_id"] != bob
    assert api.call("GET", f"/v1/members/{bob}/points", headers=api.staff()).json()["accounts"]["points"][
        "available"] == 100


def test_a_platform_admin_creates_a_program_that_works_at_once(api, stack):
    platform = api.bearer(stack.credentials["staff_tokens"]["platform_admin"])
    created = api.call("POST", "/v1/programs", {"program_id": "pop-up", "name": "Pop-up store"}, headers=platform,
                       key="prog-pop-up")
    assert created.status_code in (201, 409)
    assert "pop-up" in [p["program_id"] for p in api.call("GET", "/v1/programs", headers=platform).json()["programs"]]
    hq = api.bearer(mint_token("staff", "popup-admin", 5, role="super_admin", program_id="pop-up"))
    assert api.call("POST", "/v1/merchants", {"merchant_id": "kiosk", "name": "Kiosk"}, headers=hq,
                    key="kiosk").status_code in (201, 409)
    member = api.call("POST", "/v1/members", {"phone": fresh_phone(), "merchant_id": "kiosk"}, headers=hq,
                      key=fresh_phone())
    assert member.status_code == 201
    assert api.call("GET", f"/v1/members/{member.json()['member_id']}", headers=api.staff()).status_code == 404
    assert api.call("POST", "/v1/programs", {"program_id": "x1", "name": "x"}, headers=hq, key="x1").status_code == 403


def test_ledgers_show_references_only_of_records_the_caller_may_act_for(api, stack):
    """Issue #20, found by calling from outside after the store walk: another merchant's till read
    the stored value ledger's order refs, payment references and key ids in clear, and one store's
    till read another store's hold and order ids in the points ledger. Both ledgers now show every
    balance to every till but references only of the program's entries and of records the caller
    may act for (its merchant's; a store's caller, its store's). The member and HQ see all."""
    store2 = _second_store_key(api, "demo-store-ledger")
    bob, _ = register_at(api, stack, A)
    top = api.call("POST", f"/v1/members/{bob}/stored-value/top-ups",
                   {"amount_fen": 5_000, "payment_ref": f"WX-SECRET-{bob}", "merchant_id": "demo-merchant"},
                   headers=api.staff(), key=f"t-{bob}")
    assert top.status_code == 201, top.text
    for key, order in ((pos(stack, A), f"A-{bob}"), (store2, f"S2-{bob}")):
        paid = api.call("POST", f"/v1/members/{bob}/stored-value/payments", {"amount_fen": 1_000, "order_id": order},
                        signed_by=key, key=f"p-{order}")
        assert paid.status_code == 201, paid.text
        earned = api.call("POST", f"/v1/members/{bob}/points/earn", {"order_id": order, "amount_fen": 10_000},
                          signed_by=key, key=f"e-{order}")
        assert earned.status_code == 201, earned.text

    def seen(path, key):
        r = api.call("GET", f"/v1/members/{bob}/{path}", signed_by=key)
        assert r.status_code == 200, r.text
        return r

    for path in ("stored-value/ledger", "points/ledger"):
        other = seen(path, pos(stack, B))                                    # another merchant: balances only
        assert all(p["references_hidden"] for p in other.json()["postings"]), other.text
        assert f"A-{bob}" not in other.text and f"S2-{bob}" not in other.text and "WX-SECRET" not in other.text
        assert "ak_" not in other.text and pos(stack, A)["key_id"] not in other.text
        mine = seen(path, pos(stack, A))                                     # demo-store: its own, not store 2's
        assert f"A-{bob}" in mine.text and f"S2-{bob}" not in mine.text and store2["key_id"] not in mine.text
        theirs = seen(path, store2)
        assert f"S2-{bob}" in theirs.text and f"A-{bob}" not in theirs.text
        assert [p["balance_after"] for p in other.json()["postings"]] == \
               [p["balance_after"] for p in mine.json()["postings"]]          # the same balances for everyone
        everything = api.call("GET", f"/v1/members/{bob}/{path}", headers=api.staff()).text
        assert f"A-{bob}" in everything and f"S2-{bob}" in everything
    # the HQ top-up booked to demo-merchant, at no store, is a merchant-level record: no store's till sees its reference
    assert "WX-SECRET" not in seen("stored-value/ledger", pos(stack, A)).text
    assert "WX-SECRET" in api.call("GET", f"/v1/members/{bob}/stored-value/ledger", headers=api.staff()).text
