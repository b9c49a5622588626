"""Pay-as-member (支付即会员) over real HTTP on the local stack (issue #27 item 7), as a payment
aggregator's till drives it: HQ enables it in the program's member settings; eight tills quote at
once for one WeChat payer no member has (each resending after a lost race, as a till is told to):
one member is registered, at the store, channel pos, with one ``member.registered``, and every
quote is for that member; the member's commit and completion work as for any member; bad payers
are 422 and nothing is written. A program of its own; what is left behind is read from the tables."""

from __future__ import annotations

import pytest

from chalicelib.checkout.replies import QuoteOut
from chalicelib.members import service as members
from devstack.credentials import staff_token
from tests.e2e.conftest import all_at_once, fresh_phone, stored_items
from tests.outbox import image_events

PROGRAM, SHOP, STORE = "payer-e2e", "payer-shop", "payer-store"
QUOTES = "/v1/checkouts/quotes"
CART = [{"sku": "MILK-TEA", "category": "tea", "quantity": 2, "unit_price_fen": 1_500}]


@pytest.fixture(scope="module")
def shop(api, stack):
    """The program with pay-as-member on, its merchant, store and the store's POS key, HQ's headers."""
    made = api.call("POST", "/v1/programs", {"program_id": PROGRAM, "name": "支付即会员"},
                    headers=api.staff("platform_admin"), key="payer-program")
    assert made.status_code in (201, 409), made.text
    hq = api.bearer(staff_token("super_admin", "payer-hq", program_id=PROGRAM))
    for path, body in (("/v1/merchants", {"merchant_id": SHOP, "name": "茶饮"}),
                       (f"/v1/merchants/{SHOP}/stores", {"store_id": STORE, "name": "一号店"})):
        r = api.call("POST", path, body, headers=hq, key=f"payer-{path}")
        assert r.status_code in (201, 409), r.text
    key = api.call("POST", f"/v1/merchants/{SHOP}/api-keys", {"store_id": STORE}, headers=hq,
                   key=f"payer-key-{fresh_phone()}")
    assert key.status_code == 201, key.text
    on = api.call("PUT", "/v1/member-settings", {"settings": {"pay_as_member": True}}, headers=hq,
                  key=f"payer-on-{fresh_phone()}")
    assert on.status_code == 201 and on.json()["settings"] == {"pay_as_member": True}, on.text
    till = {"key_id": key.json()["key_id"], "secret": key.json()["secret"]}
    shown = api.call("GET", "/v1/member-settings", signed_by=till)                  # a merchant reads them
    assert shown.status_code == 200 and shown.json()["settings"] == {"pay_as_member": True}, shown.text
    return hq, till


def _items(stack, prefix: str) -> dict:
    """The program's items (every table) whose key starts with ``prefix`` after the program's."""
    found = stored_items(stack, lambda pk, _: pk.startswith(f"{PROGRAM}/{prefix}"))
    return {(pk, sk): item for (_, pk, sk), item in found.items()}

def _registered(stack, member_id: str) -> list[dict]:
    return [e.as_dict() for e in image_events(_items(stack, f"member:{member_id}").values())
            if e.type == "member.registered"]


def test_eight_tills_quoting_one_new_payer_at_once_register_one_member_at_the_store(api, stack, shop, monkeypatch):
    hq, till = shop
    openid = f"oPAY{fresh_phone()}"
    tried, register = [], members.register_payer            # (the stack serves in this process)
    monkeypatch.setattr(members, "register_payer", lambda *a, **k: tried.append(1) or register(*a, **k))
    members_before = set(_items(stack, "MEMBER#"))
    replies = all_at_once(8, lambda i: api.call("POST", QUOTES, {"payer": {"type": "wechat_openid", "value": openid},
                                                                 "channel": "pos", "lines": CART},
                                                signed_by=till, key=f"payer-8-{openid}-{i}"))
    assert sorted(r.status_code for r in replies.values()) == [201] * 8, [r.text for r in replies.values()]
    quotes = [QuoteOut.model_validate(r.json()) for r in replies.values()]
    member_ids = {q.member_id for q in quotes}
    assert len(member_ids) == 1 and None not in member_ids
    assert [q.member_created for q in quotes].count(True) == 1 and {q.identified_by for q in quotes} == {"payer"}
    [member_id] = member_ids
    assert len(tried) > 1               # the race was run: more than one till found the payer new (8 seen)
    # left behind: one member, its identity, one member.registered (channel pos, the store)
    assert {k[0] for k in set(_items(stack, "MEMBER#")) - members_before} == {f"{PROGRAM}/MEMBER#{member_id}"}
    identity = _items(stack, f"IDENTITY#wechat_openid#{openid}")
    assert [i["member_id"]["S"] for i in identity.values()] == [member_id]
    [event] = _registered(stack, member_id)
    assert event["data"] == {"member_id": member_id, "channel": "pos", "store_id": STORE,
                             "identity_types": ["wechat_openid"]}
    member = api.call("GET", f"/v1/members/{member_id}", headers=hq).json()
    assert (member["merchant_id"], member["store_id"], member["channel"]) == (SHOP, STORE, "pos")
    # the quote that registered the member is committed and completed as any member's
    first = next(q for q in quotes if q.member_created)
    assert (first.coupons.considered, first.points.points, first.stored_value.balance_fen) == (0, 0, 0)
    c = api.call("POST", "/v1/checkouts", {"quote_id": first.quote_id}, signed_by=till, key=f"payer-c-{openid}")
    assert c.status_code == 201, c.text
    done = api.call("POST", f"/v1/checkouts/{c.json()['checkout_id']}/complete", {"payment_ref": f"wx-{openid}"},
                    signed_by=till, key=f"payer-d-{openid}")
    assert done.status_code == 200 and done.json()["totals"]["cash_fen"] == 3_000, done.text
    account = api.call("GET", f"/v1/members/{member_id}/points", signed_by=till).json()
    assert account["accounts"]["points"]["available"] == 30          # 1 point a yuan on ¥30.00 paid


def test_bad_payers_are_a_problem_and_write_nothing(api, stack, shop):
    _, till = shop
    before = {p: _items(stack, p) for p in ("MEMBER#", "IDENTITY#", "QUOTE#")}
    for n, body in enumerate(({"payer": {"type": "email", "value": "a@example.com"}},
                              {"payer": {"type": "phone", "value": "12345"}},
                              {"payer": {"type": "alipay_user_id", "value": "2088 0000"}},
                              {"payer": {"type": "wechat_openid", "value": "oPAYER00001"}, "member_id": "M1"})):
        r = api.call("POST", QUOTES, {**body, "lines": CART}, signed_by=till, key=f"payer-bad{n}-{fresh_phone()}")
        assert r.status_code == 422 and r.headers["Content-Type"] == "application/problem+json", r.text
    assert {p: _items(stack, p) for p in before} == before
