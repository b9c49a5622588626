"""A member's owed coupon packs listed (#26, listMemberOwedPacks), through the app in process on
every backend: newest first, a page at a time, each with its status, tries, next try and reason,
as the ``coupon-owed`` job moves it from owed to issued or expired; the member and HQ see them all,
a merchant's caller the packs of its own templates only, another member none."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.coupons import owed
from chalicelib.db.uow import UnitOfWork
from chalicelib.shared import clock
from chalicelib.shared.credentials import mint_token
from tests.integration.test_coupon_distribution import T0, TEA, TPL, top_up_pack  # noqa: F401  (a fixture)


def _top_up(api, member, ref):
    return api.ok("POST", f"/v1/members/{member}/stored-value/top-ups",
                  {"amount_fen": 20_000, "payment_ref": ref, "merchant_id": "m1"})


def _owed(api, member, token=None, **query):
    path = f"/v1/members/{member}/owed-coupon-packs"
    if query:
        path += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return api.ok("GET", path, token=token)


def _in_debt(api, top_up_pack):  # noqa: F811
    """Alice takes the one tea coupon; bob's three top-ups an hour apart each owe PACK-TOPUP."""
    _top_up(api, api.member("13800310001"), "WX-A")
    bob = api.member("13800310002")
    for hour, ref in enumerate(("WX-B", "WX-C", "WX-D")):
        clock.freeze(T0 + timedelta(hours=hour))
        assert _top_up(api, bob, ref)["coupon_pack"]["owed"]
    return bob


def test_owed_packs_are_listed_newest_first_a_page_at_a_time(api, top_up_pack):  # noqa: F811
    bob = _in_debt(api, top_up_pack)
    listed = _owed(api, bob)
    assert [p["ref"] for p in listed["owed_packs"]] == ["WX-D", "WX-C", "WX-B"] and listed["next_before"] is None
    first = listed["owed_packs"][0]
    assert (first["pack_id"], first["owner"], first["status"], first["attempts"]) == ("PACK-TOPUP", "top_up", "owed", 0)
    assert first["next_try"] == "2026-03-01" and first["give_up_after"] == "2026-03-08"
    assert "left" in first["reason"] and first["coupons"] == [] and first["settled_at"] is None
    page = _owed(api, bob, limit=2)
    assert [p["ref"] for p in page["owed_packs"]] == ["WX-D", "WX-C"] and page["next_before"]
    rest = _owed(api, bob, limit=2, before=page["next_before"])
    assert [p["ref"] for p in rest["owed_packs"]] == ["WX-B"] and rest["next_before"] is None


def test_the_list_follows_the_job_owed_then_issued_or_expired(api, top_up_pack):  # noqa: F811
    bob = _in_debt(api, top_up_pack)
    assert api.run_job("coupon-owed")["still_owed"] == 3                 # the grant's day: tried, refused
    assert {(p["attempts"], p["next_try"]) for p in _owed(api, bob)["owed_packs"]} == {(1, "2026-03-02")}
    api.ok("PATCH", f"{TPL}/{top_up_pack}", {"add_stock": 1})
    clock.freeze(T0 + timedelta(days=1))
    assert api.run_job("coupon-owed") == {"items_read": 3, "issued": 1, "still_owed": 2, "expired": 0}
    packs = _owed(api, bob)["owed_packs"]
    [issued] = [p for p in packs if p["status"] == "issued"]
    assert len(issued["coupons"]) == 1 and issued["settled_at"] and issued["next_try"] is None
    mine = api.ok("GET", f"/v1/members/{bob}/coupons")["coupons"]
    assert [c["coupon_id"] for c in mine] == issued["coupons"]
    api.ok("POST", f"{TPL}/{top_up_pack}/state", {"state": "paused"})
    for day in range(2, owed.TRY_DAYS + 1):
        clock.freeze(T0 + timedelta(days=day))
        api.run_job("coupon-owed")
    packs = _owed(api, bob)["owed_packs"]
    assert sorted(p["status"] for p in packs) == ["expired", "expired", "issued"]
    assert all("paused" in p["reason"] and p["attempts"] == owed.TRY_DAYS + 1 and p["next_try"] is None
               for p in packs if p["status"] == "expired")
    assert [p["ref"] for p in packs] == ["WX-D", "WX-C", "WX-B"]         # still by when owed


def test_who_sees_a_member_s_owed_packs(api, top_up_pack):  # noqa: F811
    bob = _in_debt(api, top_up_pack)
    m2 = api.ok("POST", TPL, {"terms": TEA, "stock": 1, "state": "active", "merchant_id": "m2"})["template_id"]
    api.ok("PUT", "/v1/coupon-packs", {"packs": {"packs": [
        {"id": "PACK-TOPUP", "name": "储值赠券", "items": [{"template_id": top_up_pack}]},       # m1's template
        {"id": "PACK-M2", "name": "m2's own", "items": [{"template_id": m2}]}]}})
    uow = UnitOfWork("test")                           # a pack of m2's template owed to bob (a benefit's)
    owed.owe(uow, bob, "PACK-M2", "benefit", "rule-m2#PACK-M2#2026-03", "benefit rule-m2", "test: out of stock")
    uow.commit()
    everything = ["PACK-M2", "PACK-TOPUP", "PACK-TOPUP", "PACK-TOPUP"]
    assert sorted(p["pack_id"] for p in _owed(api, bob)["owed_packs"]) == everything            # HQ
    assert sorted(p["pack_id"] for p in _owed(api, bob, token=mint_token("member", bob, 60))["owed_packs"]) == everything
    clerk = mint_token("staff", "clerk-1", 60, role="clerk", merchant_id="m1", store_id="s1")
    assert [p["pack_id"] for p in _owed(api, bob, token=clerk)["owed_packs"]] == ["PACK-TOPUP"] * 3   # m1's templates
    manager = mint_token("staff", "mgr-2", 60, role="store_manager", merchant_id="m2", store_id="s9")
    assert [p["pack_id"] for p in _owed(api, bob, token=manager)["owed_packs"]] == ["PACK-M2"]
    stranger = mint_token("staff", "mgr-3", 60, role="store_manager", merchant_id="m3", store_id="s3")
    assert _owed(api, bob, token=stranger)["owed_packs"] == []
    alice = api.member("13800310009")
    status, problem = api.call("GET", f"/v1/members/{bob}/owed-coupon-packs", token=mint_token("member", alice, 60))
    assert status in (403, 404), problem
    status, problem = api.call("GET", "/v1/members/NO-SUCH-MEMBER/owed-coupon-packs")
    assert status == 404 and problem["type"].endswith("not-found"), problem
    status, problem = api.call("GET", f"/v1/members/{bob}/owed-coupon-packs?limit=0")
    assert status == 422, problem


def test_the_pack_statistics_count_owed_issued_late_and_expired_once_under_redelivery(api, top_up_pack):  # noqa: F811
    from tests.integration.test_tiers import deliver
    bob = _in_debt(api, top_up_pack)
    deliver()
    deliver()                                                            # the stream again: counted once
    stats = api.ok("GET", "/v1/coupon-packs/stats")
    assert stats == {"owed": 3, "issued_late": 0, "expired": 0, "owing": 3,
                     "packs": [{"pack_id": "PACK-TOPUP", "owed": 3, "issued_late": 0, "expired": 0, "owing": 3}]}
    api.ok("PATCH", f"{TPL}/{top_up_pack}", {"add_stock": 1})
    api.run_job("coupon-owed")                                           # one issued late
    api.ok("POST", f"{TPL}/{top_up_pack}/state", {"state": "paused"})
    for day in range(1, owed.TRY_DAYS + 1):                              # the other two given up
        clock.freeze(T0 + timedelta(days=day))
        api.run_job("coupon-owed")
    assert sorted(p["status"] for p in _owed(api, bob)["owed_packs"]) == ["expired", "expired", "issued"]
    deliver()
    deliver()
    stats = api.ok("GET", "/v1/coupon-packs/stats")
    assert (stats["owed"], stats["issued_late"], stats["expired"], stats["owing"]) == (3, 1, 2, 0)
    assert stats["packs"] == [{"pack_id": "PACK-TOPUP", "owed": 3, "issued_late": 1, "expired": 2, "owing": 0}]
    clerk = mint_token("staff", "clerk-1", 60, role="clerk", merchant_id="m1", store_id="s1")
    assert api.call("GET", "/v1/coupon-packs/stats", token=clerk)[0] == 403             # HQ's figures
