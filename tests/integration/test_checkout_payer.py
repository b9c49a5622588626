"""Pay-as-member (支付即会员, issue #27 item 7) through the app on every backend: a quote naming a
payer (a WeChat or Alipay payer id, or a phone) is for the member the identity belongs to; a payer
no member has is registered with the quote where the program's member settings enable it (the
member's identity, ``member.registered`` with channel pos and the till's store, member prices of
the first tier and nothing else, ``member_created``), once however the quote is replayed or raced,
and is a walk-in (nothing kept of them) where they do not; bad payers are 422, nothing written."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from chalicelib.checkout.tables import QuoteItem
from chalicelib.db.outbox import EventItem
from chalicelib.members import service as members
from chalicelib.members.domain import Identity
from chalicelib.shared import clock
from chalicelib.shared.credentials import mint_token
from tests.integration.conftest import scan, store
from tests.outbox import outbox_events

T0 = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
QUOTES, SETTINGS = "/v1/checkouts/quotes", "/v1/member-settings"
LADDER = {"tiers": [{"code": "V1", "name": "会员", "threshold": 0}, {"code": "V3", "name": "黄金", "threshold": 5_000}]}
RULES = {"rules": [{"id": "base", "name": "会员九折", "when": {"min_tier": "V1"},
                    "give": [{"kind": "discount_percent", "percent": 10}]}]}
CART = [{"sku": "TEA", "category": "tea", "quantity": 2, "unit_price_fen": 10_000},
        {"sku": "CAKE", "category": "bakery", "quantity": 1, "unit_price_fen": 5_000}]
OPENID = "oPAYER0000000000001"


def _till():
    return mint_token("staff", "clerk-m1-s1", 60, role="clerk", merchant_id="m1", store_id="s1")


def _written():
    """Every member, identity, quote and event row (what a quote may leave behind)."""
    keys = {i.pk for i in scan(QuoteItem)}             # (read as quote items: a scan of the main table's keys)
    return ({k for k in keys if k.startswith("MEMBER#")}, {k for k in keys if k.startswith("IDENTITY#")},
            {k for k in keys if k.startswith("QUOTE#")}, {(i.pk, i.sk) for i in scan(EventItem)})


def _registered(member_id):
    return [e.as_dict() for e in outbox_events(kind="member.registered", subject=f"member:{member_id}")]


@pytest.fixture
def shop(api):
    clock.freeze(T0)
    api.ok("PUT", "/v1/tiers/ladder", {"ladder": LADDER})
    api.ok("PUT", "/v1/benefits/rules", {"rules": RULES})
    return api


def _enable(api, on=True):
    saved = api.ok("PUT", SETTINGS, {"settings": {"pay_as_member": on}})
    assert saved["settings"] == {"pay_as_member": on}


def test_the_setting_is_off_until_hq_saves_it_and_versioned(shop):
    api = shop
    assert api.ok("GET", SETTINGS, token=_till()) == {"version": 0, "versions": [], "settings": {"pay_as_member": False}}
    _enable(api)
    shown = api.ok("GET", SETTINGS, token=_till())
    assert (shown["version"], shown["settings"]) == (1, {"pay_as_member": True})
    assert api.call("PUT", SETTINGS, {"settings": {"pay_as_member": True}}, token=_till())[0] == 403   # HQ only
    assert api.call("PUT", SETTINGS, {"settings": {"pay_as_member": "yes"}})[0] == 422


def test_a_new_payer_is_a_walk_in_unless_the_program_enables_pay_as_member(shop):
    api = shop
    before = _written()
    q = api.ok("POST", QUOTES, {"payer": {"type": "wechat_openid", "value": OPENID}, "lines": CART}, token=_till())
    assert (q["member_id"], q["identified_by"], q["member_created"]) == (None, "walk_in", False)
    assert (q["coupons"], q["points"], q["stored_value"], q["totals"]["to_pay_fen"]) == (None, None, None, 25_000)
    members, identities, quotes, _ = _written()
    assert (members, identities) == before[:2] and quotes - before[2] == {f"QUOTE#{q['quote_id']}"}
    assert OPENID not in json.dumps(q) and all(OPENID not in json.dumps(i.body or {}) for i in scan(QuoteItem))    # not kept


def test_a_new_payer_is_registered_with_the_quote_once_and_the_commit_works_as_for_any_member(shop):
    api = shop
    _enable(api)
    body = {"payer": {"type": "alipay_user_id", "value": "2088000000000001"}, "channel": "pos", "lines": CART}
    q = api.ok("POST", QUOTES, body, key="pay-1", token=_till())
    member_id = q["member_id"]
    assert (q["identified_by"], q["member_created"]) == ("payer", True)
    # their prices are the first tier's (10 % off), and nothing else: no coupons, points or stored value
    assert q["tier"] == "V1" and [line["member_total_fen"] for line in q["lines"]] == [18_000, 4_500]
    assert q["coupons"] == {"considered": 0, "chosen": [], "not_chosen": [], "saving_fen": 0}
    assert (q["points"]["available_points"], q["points"]["points"], q["points"]["fen"]) == (0, 0, 0)
    assert q["stored_value"] == {"principal_fen": 0, "bonus_fen": 0, "balance_fen": 0, "could_pay_fen": 0}
    assert q["totals"] == {"list_total_fen": 25_000, "member_total_fen": 22_500, "member_discount_fen": 2_500,
                           "coupons_fen": 0, "points_fen": 0, "to_pay_fen": 22_500}
    assert store.resolve(Identity("alipay_user_id", "2088000000000001")) == member_id
    member = api.ok("GET", f"/v1/members/{member_id}")
    assert (member["merchant_id"], member["store_id"], member["channel"]) == ("m1", "s1", "pos")
    assert member["identities"] == [{"type": "alipay_user_id", "value": "2088000000000001"}]
    assert _registered(member_id) == [{**_registered(member_id)[0], "data": {
        "member_id": member_id, "channel": "pos", "store_id": "s1", "identity_types": ["alipay_user_id"]}}]
    # a replay (same key) answers the same quote; one member, one quote
    written = _written()
    assert api.ok("POST", QUOTES, body, key="pay-1", token=_till()) == q
    assert _written() == written
    # the next quote for the payer finds the member; nothing is registered again
    again = api.ok("POST", QUOTES, body, key="pay-2", token=_till())
    assert (again["member_id"], again["identified_by"], again["member_created"]) == (member_id, "payer", False)
    assert _written()[0] == written[0]
    assert len(_registered(member_id)) == 1
    # the commit and the completion work as for any member: points earned on what they paid
    c = api.ok("POST", "/v1/checkouts", {"quote_id": q["quote_id"]}, key="pay-c", token=_till())
    done = api.ok("POST", f"/v1/checkouts/{c['checkout_id']}/complete", {"payment_ref": "ali-1"}, key="pay-d",
                  token=_till())
    assert (done["status"], done["member_id"], done["totals"]["cash_fen"]) == ("completed", member_id, 22_500)
    assert api.ok("GET", f"/v1/members/{member_id}/points")["accounts"]["points"]["available"] == 225


def test_a_known_payer_is_quoted_as_their_member_whether_or_not_the_program_enables_it(shop):
    api = shop
    member_id = api.ok("POST", "/v1/members", {"phone": "13800279001",
                                               "identities": [{"type": "wechat_openid", "value": OPENID}]})["member_id"]
    for payer in ({"type": "wechat_openid", "value": OPENID}, {"type": "phone", "value": "+86 138 0027 9001"}):
        q = api.ok("POST", QUOTES, {"payer": payer, "lines": CART}, token=_till())
        assert (q["member_id"], q["identified_by"], q["member_created"]) == (member_id, "payer", False)
        assert q["tier"] == "V1" and q["totals"]["member_total_fen"] == 22_500
    assert _registered(member_id) and len(_registered(member_id)) == 1


def test_a_quote_that_lost_the_race_to_register_the_payer_is_retried_and_finds_the_winner(shop, monkeypatch):
    api = shop
    _enable(api)
    winner = api.ok("POST", QUOTES, {"payer": {"type": "phone", "value": "13800279002"}, "lines": CART},
                    token=_till())
    assert winner["member_created"] is True
    # the next quote reads the identity before the winner's commit (as a racing one would): its own
    # registration is refused by the identity's entry, and its retry finds the winner's member
    real, misses = members.payer_member, [1]

    def late(uow, payer):
        if misses[0]:
            misses[0] -= 1
            return None
        return real(uow, payer)
    monkeypatch.setattr(members, "payer_member", late)
    before = _written()
    loser = api.ok("POST", QUOTES, {"payer": {"type": "phone", "value": "138 0027 9002"}, "lines": CART},
                   token=_till())
    assert (loser["member_id"], loser["identified_by"], loser["member_created"]) == (
        winner["member_id"], "payer", False)
    assert misses == [0] and _written()[:2] == before[:2] and len(_registered(winner["member_id"])) == 1


@pytest.mark.parametrize("body", [
    {"payer": {"type": "card_no", "value": "CARD-0001"}},                       # not a payer's type
    {"payer": {"type": "email", "value": "a@example.com"}},
    {"payer": {"type": "phone", "value": "12345"}},                             # not a phone number
    {"payer": {"type": "phone", "value": "+86 100 0000 0000"}},
    {"payer": {"type": "wechat_openid", "value": "o!"}},                       # not an OpenID
    {"payer": {"type": "wechat_openid", "value": ""}},
    {"payer": {"type": "wechat_openid"}},
    {"payer": {"type": "wechat_openid", "value": OPENID, "extra": 1}},
    {"payer": {"type": "wechat_openid", "value": OPENID}, "member_id": "M1"},   # two ways to name the member
    {"payer": {"type": "wechat_openid", "value": OPENID}, "member_code": "123456"},
])
def test_a_bad_payer_is_a_422_and_writes_nothing(shop, body):
    api = shop
    _enable(api)
    before = _written()
    status, reply = api.call("POST", QUOTES, {**body, "lines": CART}, token=_till())
    assert status == 422, reply
    assert _written() == before


def test_a_members_app_cannot_name_a_payer(shop):
    api = shop
    _enable(api)
    own = mint_token("member", api.member("13800279003"), 60)
    before = _written()
    status, _ = api.call("POST", QUOTES, {"merchant_id": "m1", "payer": {"type": "wechat_openid", "value": OPENID},
                                          "lines": CART}, token=own)
    assert status == 403 and _written() == before
