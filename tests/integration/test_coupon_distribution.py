"""Coupons wherever they are granted (#26 item 2), through the app in process on every backend:
a tier's upgrade pack issued with its entitlement, once under redelivery; refused (out of stock,
paused), the entitlement kept open with its pack owed and issued by the ``coupon-owed`` job once
stock is added, or expired after the days allowed; entitlements from before coupons turned into
coupons by the migration, once however often it runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.benefits.tables import EntitlementItem
from chalicelib.coupons import owed
from chalicelib.coupons.tables import CouponItem, OwedPackItem
from chalicelib.db.uow import UnitOfWork
from chalicelib.shared import clock
from tests.integration.conftest import scan
from tests.integration.test_tiers import LADDER, deliver, earn
from tests.outbox import outbox_events

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
TPL = "/v1/coupon-templates"
RULES = {"rules": [{"id": "silver-welcome", "name": "Silver welcome pack", "when": {"tiers": ["V2"]},
                    "give": [{"kind": "coupon_pack", "ref": "PACK-SILVER", "grant": "on_upgrade"}]}]}
TEA = {"kind": "no_threshold", "title": "5元奶茶券", "amount_off_fen": 500, "validity": {"days_after_claim": 30}}
OFF = {"kind": "amount_off", "title": "满100减20", "amount_off_fen": 2_000, "min_spend_fen": 10_000,
       "validity": {"days_after_claim": 30}}


@pytest.fixture
def silver(api):
    return _silver(api)


def _silver(api):
    """A ladder whose V2 gives PACK-SILVER on reaching it: a ¥20 coupon (stock 10) and two tea
    coupons (stock 2: one member's pack)."""
    clock.freeze(T0)
    api.ok("PUT", "/v1/tiers/ladder", {"ladder": LADDER, "effective_from": "2026-01-01T00:00:00Z"})
    off = api.ok("POST", TPL, {"terms": OFF, "stock": 10, "state": "active"})["template_id"]
    tea = api.ok("POST", TPL, {"terms": TEA, "stock": 2, "state": "active", "claimable": False})["template_id"]
    api.ok("PUT", "/v1/coupon-packs", {"packs": {"packs": [{"id": "PACK-SILVER", "name": "白银礼包", "items": [
        {"template_id": off}, {"template_id": tea, "count": 2}]}]}})
    api.ok("PUT", "/v1/benefits/rules", {"rules": RULES, "effective_from": "2026-01-01T00:00:00Z"})
    return {"off": off, "tea": tea}


def _upgrade(api, member, order):
    """Earn to V2; the stream delivers the earning, then the upgrade it caused."""
    earn(api, member, order, 1_200)
    deliver()


def _coupons(api, member):
    return api.ok("GET", f"/v1/members/{member}/coupons")["coupons"]


def _entitlements(api, member):
    return api.ok("GET", f"/v1/members/{member}/entitlements")["entitlements"]


def test_an_upgrade_issues_its_pack_with_the_entitlement_once_under_redelivery(api, silver):
    alice = api.member("13800300001")
    _upgrade(api, alice, "o1")                                    # to V2: its pack, from the stream
    deliver()                                                     # the stream again
    [e] = _entitlements(api, alice)
    assert (e["status"], e["period"], e["reason"]) == ("issued", "upgrade:V2:2026-03-01", None)
    mine = _coupons(api, alice)
    assert sorted(c["template_id"] for c in mine) == sorted([silver["off"], silver["tea"], silver["tea"]])
    assert {c["source"] for c in mine} == {"pack"} and all(c["usable_now"] for c in mine)
    assert api.ok("GET", f"{TPL}/{silver['tea']}")["stock"] == {"total": 2, "left": 0, "taken": 2}
    assert _owed(alice) == []


def test_a_pack_out_of_stock_is_owed_and_issued_by_the_job_once_stock_is_added(api, silver):
    alice, bob = api.member("13800300011"), api.member("13800300012")
    _upgrade(api, alice, "o1")                                    # takes both tea coupons
    _upgrade(api, bob, "o2")                                      # none left for bob's pack
    [e] = _entitlements(api, bob)
    assert e["status"] == "granted" and silver["tea"] in e["reason"] and "left" in e["reason"], e
    assert _coupons(api, bob) == []                               # not one coupon of the pack
    assert api.ok("GET", f"{TPL}/{silver['off']}")["stock"]["left"] == 9
    [debt] = _owed(bob)
    assert (debt.status, debt.pack_id, debt.duepk is not None) == ("owed", "PACK-SILVER", True)
    assert api.run_job("coupon-owed") == {"items_read": 1, "issued": 0, "still_owed": 1, "expired": 0}
    assert _coupons(api, bob) == []
    api.ok("PATCH", f"{TPL}/{silver['tea']}", {"add_stock": 2})
    assert api.run_job("coupon-owed")["items_read"] == 0          # due tomorrow, not again today
    clock.freeze(T0 + timedelta(days=1))
    assert api.run_job("coupon-owed") == {"items_read": 1, "issued": 1, "still_owed": 0, "expired": 0}
    assert len(_coupons(api, bob)) == 3
    [e] = _entitlements(api, bob)
    assert (e["status"], e["reason"]) == ("issued", None)
    clock.freeze(T0 + timedelta(days=2))
    assert api.run_job("coupon-owed")["items_read"] == 0           # off the due index
    deliver()                                                     # and the upgrade again: nothing more
    assert len(_coupons(api, bob)) == 3
    assert {e.type for e in _events()} >= {"coupon.pack_owed", "coupon.pack_owed_issued"}


def test_a_pack_that_stays_refused_expires_after_the_days_allowed(api, silver):
    api.ok("POST", f"{TPL}/{silver['tea']}/state", {"state": "paused"})
    carol = api.member("13800300021")
    _upgrade(api, carol, "o1")
    [e] = _entitlements(api, carol)
    assert e["status"] == "granted" and "paused" in e["reason"]
    for day in range(owed.TRY_DAYS):                             # tried daily, the grant's day first
        clock.freeze(T0 + timedelta(days=day))
        assert api.run_job("coupon-owed")["still_owed"] == 1, day
    clock.freeze(T0 + timedelta(days=owed.TRY_DAYS))              # its last day: refused again, expired
    assert api.run_job("coupon-owed")["expired"] == 1
    [e] = _entitlements(api, carol)
    assert e["status"] == "expired" and "paused" in e["reason"]
    assert _coupons(api, carol) == []
    assert "coupon.pack_owed_expired" in {e.type for e in _events()}


def test_a_pack_not_defined_yet_is_owed_and_issued_once_it_is(api, silver):
    api.ok("PUT", "/v1/coupon-packs", {"packs": {"packs": []}})
    dave = api.member("13800300031")
    _upgrade(api, dave, "o1")
    [e] = _entitlements(api, dave)
    assert e["status"] == "granted" and "no coupon pack PACK-SILVER" in e["reason"]
    api.ok("PUT", "/v1/coupon-packs", {"packs": {"packs": [{"id": "PACK-SILVER", "name": "白银礼包", "items": [
        {"template_id": silver["off"]}]}]}})
    assert api.run_job("coupon-owed")["issued"] == 1
    assert [c["template_id"] for c in _coupons(api, dave)] == [silver["off"]]


def _old_entitlement(member, period):
    """An entitlement as it was recorded before coupons existed: granted, nothing owed."""
    uow = UnitOfWork("test")
    uow.create(EntitlementItem(*EntitlementItem.key(member, "silver-welcome", "PACK-SILVER", period), member_id=member,
                               rule="silver-welcome", kind="coupon_pack", ref="PACK-SILVER", period=period,
                               granted_at="2026-02-01T00:00:00+00:00", status="granted", actor="stream:benefits"))
    uow.commit()


@pytest.fixture
def on_moto(aws):
    """The app on moto (the migration reads raw items, as ``python -m infra.migrate`` does)."""
    from chalicelib.db.tables import MAIN
    from chalicelib.shared.config import settings
    from tests.integration.conftest import AppClient
    yield AppClient(), aws, MAIN.physical_name(settings())
    clock.freeze(None)


def test_the_migration_turns_old_entitlements_into_coupons_once(on_moto):
    from chalicelib.benefits.migration import migrate_open_entitlements
    api, client, table = on_moto
    _silver(api)
    erin, frank = api.member("13800300041"), api.member("13800300042")
    _old_entitlement(erin, "upgrade:V2:2026-02-01")
    _old_entitlement(frank, "upgrade:V2:2026-02-02")              # the tea coupons are gone by then
    done = migrate_open_entitlements(client, table)
    assert done == {"issued": 1, "owed": 1, "failed": []}
    assert len(_coupons(api, erin)) == 3 and _coupons(api, frank) == []
    assert [e["status"] for e in _entitlements(api, erin)] == ["issued"]
    [e] = _entitlements(api, frank)
    assert e["status"] == "granted" and e["reason"]
    client.delete_item(TableName=table, Key={"pk": {"S": "MIGRATION#entitlement-coupons"}, "sk": {"S": "DONE"}})
    again = migrate_open_entitlements(client, table)              # run twice (its marker gone): one set
    assert again == {"issued": 0, "owed": 0, "failed": []}
    assert len(_coupons(api, erin)) == 3 and len([c for c in scan(CouponItem) if c.sk.startswith("COUPON#") and c.pk.startswith("MEMBER#")]) == 3
    assert len(_owed(erin)) == 0 and len(_owed(frank)) == 1


def _owed(member):
    from chalicelib.db.backend import SortKey
    return list(UnitOfWork("test").query(OwedPackItem, f"MEMBER#{member}", SortKey.prefix("OWEDPACK#")))


def _events():

    return outbox_events(None)


TOP_UP_RULES = {"bonus_rules": [{"id": "200-30", "name": "储值200送30+5元奶茶券", "kind": "fixed", "min_fen": 20_000,
                                 "bonus_fen": 3_000, "coupon_pack": "PACK-TOPUP"}]}


@pytest.fixture
def top_up_pack(api):
    """储值200送30+5元奶茶券: a top-up of ¥200 gets ¥30 and PACK-TOPUP (one tea coupon, stock 1)."""
    clock.freeze(T0)
    tea = api.ok("POST", TPL, {"terms": TEA, "stock": 1, "state": "active", "claimable": False})["template_id"]
    api.ok("PUT", "/v1/coupon-packs", {"packs": {"packs": [{"id": "PACK-TOPUP", "name": "储值赠券", "items": [
        {"template_id": tea}]}]}})
    api.ok("PUT", "/v1/stored-value/rules", {"rules": TOP_UP_RULES})                # in force now, as the pack is
    return tea


def _top_up(api, member, fen, ref, key=None):
    return api.call("POST", f"/v1/members/{member}/stored-value/top-ups",
                    {"amount_fen": fen, "payment_ref": ref, "merchant_id": "m1"}, key=key)


def test_a_top_up_s_bonus_pack_comes_with_it_once(api, top_up_pack):
    alice = api.member("13800300051")
    status, done = _top_up(api, alice, 20_000, "WX-1", key="t-1")
    assert status == 201, done
    assert (done["bonus_fen"], done["principal"], done["bonus"]) == (3_000, 20_000, 3_000)
    assert done["coupon_pack"]["pack_id"] == "PACK-TOPUP" and done["coupon_pack"]["owed"] is None
    [coupon] = _coupons(api, alice)
    assert [coupon["coupon_id"]] == done["coupon_pack"]["coupons"] and coupon["template_id"] == top_up_pack
    assert _top_up(api, alice, 20_000, "WX-1", key="t-1") == (201, done)          # a replay: the first answer
    again = _top_up(api, alice, 20_000, "WX-1", key="t-2")                      # the payment again: applied once
    assert again[0] == 201 and again[1]["already_applied"] and again[1]["principal"] == 20_000
    assert len(_coupons(api, alice)) == 1
    assert _top_up(api, alice, 10_000, "WX-2")[1].get("coupon_pack") is None     # below ¥200: no bonus, no pack


def test_a_top_up_whose_pack_cannot_be_issued_is_topped_up_and_the_pack_owed(api, top_up_pack):
    alice, bob = api.member("13800300061"), api.member("13800300062")
    assert _top_up(api, alice, 20_000, "WX-A")[0] == 201                        # takes the one tea coupon
    status, done = _top_up(api, bob, 20_000, "WX-B")
    assert status == 201, done
    assert (done["principal"], done["bonus"]) == (20_000, 3_000)                # the money is never refused
    assert done["coupon_pack"]["coupons"] == [] and "left" in done["coupon_pack"]["owed"]
    assert _coupons(api, bob) == []
    [debt] = _owed(bob)
    assert (debt.owner, debt.ref, debt.status) == ("top_up", "WX-B", "owed")
    api.ok("PATCH", f"{TPL}/{top_up_pack}", {"add_stock": 1})
    assert api.run_job("coupon-owed")["issued"] == 1
    assert [c["template_id"] for c in _coupons(api, bob)] == [top_up_pack]
    assert [d.status for d in _owed(bob)] == ["issued"]


def test_bonus_rules_naming_an_unknown_pack_are_refused(api, top_up_pack):
    bad = {"bonus_rules": [{**TOP_UP_RULES["bonus_rules"][0], "coupon_pack": "NO-SUCH-PACK"}]}
    status, problem = api.call("PUT", "/v1/stored-value/rules", {"rules": bad})
    assert status == 422 and "NO-SUCH-PACK" in str(problem), problem


def _rule(rule, when, pack):
    return {"id": rule, "name": rule, "when": when, "give": [{"kind": "coupon_pack", "ref": pack, "grant": "on_upgrade"}]}


@pytest.mark.parametrize(("rules", "yuan"), [
    ([_rule("v2", {"tiers": ["V2"]}, "PA"), _rule("v2-up", {"min_tier": "V2"}, "PC")], 1_200),     # to V2
    ([_rule("v3", {"tiers": ["V3"]}, "PC"), _rule("v2-up", {"min_tier": "V2"}, "PA")], 6_000),     # V1 -> V3
])
def test_two_upgrade_packs_sharing_a_template_are_both_issued(api, rules, yuan):
    """Found from outside: two ``on_upgrade`` packs of one upgrade sharing a template granted
    nothing, not even owed (the unit wrote the template's stock shard and the member's count of it
    twice; DynamoDB refused it on every redelivery). PA = [t0], PC = [t0, t1], both rules holding
    at the new tier. By hand: 2 entitlements issued, 3 coupons (t0 twice, t1 once), t0's stock
    10 - 2 = 8 left, t1's 10 - 1 = 9."""
    clock.freeze(T0)
    api.ok("PUT", "/v1/tiers/ladder", {"ladder": LADDER, "effective_from": "2026-01-01T00:00:00Z"})
    t0, t1 = (api.ok("POST", TPL, {"terms": {**OFF, "title": title}, "stock": 10, "state": "active"})["template_id"]
              for title in ("t0", "t1"))
    api.ok("PUT", "/v1/coupon-packs", {"packs": {"packs": [
        {"id": "PA", "name": "a", "items": [{"template_id": t0}]},
        {"id": "PC", "name": "c", "items": [{"template_id": t0}, {"template_id": t1}]}]}})
    api.ok("PUT", "/v1/benefits/rules", {"rules": {"rules": rules}, "effective_from": "2026-01-01T00:00:00Z"})
    member = api.member("13800139351")
    earn(api, member, "o1", yuan)
    deliver()                                                     # the stream again: once
    assert sorted((e["rule"], e["status"]) for e in _entitlements(api, member)) == sorted(
        (r["id"], "issued") for r in rules)
    assert sorted(c["template_id"] for c in _coupons(api, member)) == sorted([t0, t0, t1])
    assert api.ok("GET", f"{TPL}/{t0}")["stock"]["left"] == 8
    assert api.ok("GET", f"{TPL}/{t1}")["stock"]["left"] == 9
