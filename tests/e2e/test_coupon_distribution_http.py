"""Coupons where they are granted, over real HTTP on the local stack (#26 item 2), in a program of
their own (its ladder, rules and packs cannot leak into other tests): a tier's upgrade pack reaches
the member's coupons through the stream; 16 members exchanging points for a coupon of stock 5 at
once get exactly 5 coupons and pay exactly 5 prices, the others nothing."""

from __future__ import annotations

import time

import pytest

from devstack.credentials import staff_token
from tests.e2e.conftest import all_at_once, fresh_phone

PROGRAM, SHOP = "coupon-distribution", "cd-shop"
TPL = "/v1/coupon-templates"
PRICE = 300


@pytest.fixture(scope="module")
def hq(api, stack):
    platform = api.staff("platform_admin")
    made = api.call("POST", "/v1/programs", {"program_id": PROGRAM, "name": "发券"}, headers=platform,
                    key="cd-program")
    assert made.status_code in (201, 409), made.text
    head = api.bearer(staff_token("super_admin", "cd-hq", program_id=PROGRAM))
    assert api.call("POST", "/v1/merchants", {"merchant_id": SHOP, "name": "一号店"}, headers=head,
                    key="cd-shop").status_code in (201, 409)
    return head


def _member(api, hq, yuan=0):
    """A new member with ``yuan`` spent (a point a yuan), and their own app's headers."""
    phone = fresh_phone()
    made = api.call("POST", "/v1/members", {"phone": phone, "merchant_id": SHOP}, headers=hq, key=f"cd-{phone}")
    assert made.status_code == 201, made.text
    mid = made.json()["member_id"]
    token = api.call("POST", "/v1/auth/member-tokens", {"member_id": mid, "verified_by": "sms_otp"}, headers=hq,
                     key=f"cd-t-{phone}")
    assert token.status_code == 201, token.text
    if yuan:
        earned = api.call("POST", f"/v1/members/{mid}/points/earn", {"order_id": f"cd-{phone}", "merchant_id": SHOP,
                                                                    "amount_fen": yuan * 100}, headers=hq,
                          key=f"cd-e-{phone}")
        assert earned.status_code == 201, earned.text
    return mid, api.bearer(token.json()["token"])


def _template(api, hq, tag, stock, **terms):
    body = {"terms": {"kind": "no_threshold", "title": f"5元奶茶券 {tag}", "amount_off_fen": 500,
                      "validity": {"days_after_claim": 30}, **terms}, "stock": stock, "state": "active",
            "claimable": False}
    r = api.call("POST", TPL, body, headers=hq, key=f"cd-tpl-{tag}-{fresh_phone()}")
    assert r.status_code == 201, r.text
    return r.json()["template_id"]


def _put_packs(api, hq, packs: list[dict], key: str) -> None:
    """Save ``packs`` beside the packs in force: the suite shares one program, and a pack another
    test's rules still name cannot be dropped (422)."""
    found = api.call("GET", "/v1/coupon-packs", headers=hq)
    ours = {p["id"] for p in packs}
    kept = [p for p in found.json()["packs"]["packs"] if p["id"] not in ours] if found.status_code == 200 else []
    saved = api.call("PUT", "/v1/coupon-packs", {"packs": {"packs": kept + packs}}, headers=hq, key=key)
    assert saved.status_code == 201, saved.text


def test_an_upgrade_s_pack_reaches_the_member_s_coupons_through_the_stream(api, hq):
    tea = _template(api, hq, "upgrade", 100)
    tag = fresh_phone()
    _put_packs(api, hq, [{"id": "PACK-SILVER", "name": "白银礼包", "items": [{"template_id": tea, "count": 2}]}],
               f"cd-packs-{tag}")
    for path, body in (("/v1/tiers/ladder", {"ladder": {"tiers": [
            {"code": "V1", "name": "普通会员", "threshold": 0},
            {"code": "V2", "name": "白银会员", "threshold": 1_000, "validity_months": 12}]}}),
            ("/v1/benefits/rules", {"rules": {"rules": [
                {"id": "silver-welcome", "name": "白银礼", "when": {"tiers": ["V2"]},
                 "give": [{"kind": "coupon_pack", "ref": "PACK-SILVER", "grant": "on_upgrade"}]}]}})):
        saved = api.call("PUT", path, body, headers=hq, key=f"cd-{path}-{tag}-{len(str(body))}")
        assert saved.status_code == 201, saved.text
    mid, own = _member(api, hq, yuan=1_200)                       # to V2
    seen: list = []
    started = time.perf_counter()
    while time.perf_counter() - started < 15 and len(seen) < 2:
        seen = api.call("GET", "/v1/members/me/coupons", headers=own).json()["coupons"]
        time.sleep(0.05)
    assert [(c["template_id"], c["source"], c["usable_now"]) for c in seen] == [(tea, "pack", True)] * 2, seen
    [granted] = api.call("GET", "/v1/members/me/entitlements", headers=own).json()["entitlements"]
    assert (granted["ref"], granted["status"]) == ("PACK-SILVER", "issued")
    assert api.call("GET", f"{TPL}/{tea}", headers=hq).json()["stock"]["taken"] == 2


def test_sixteen_exchanges_of_points_for_a_stock_of_five_give_five_coupons_for_five_prices(api, hq):
    tea = _template(api, hq, "exchange", 5, points_price=PRICE)
    members = [_member(api, hq, yuan=1_000) for _ in range(16)]
    tag = fresh_phone()
    replies = all_at_once(16, lambda i: api.call("POST", "/v1/members/me/points/redeem",
                                                 {"points": PRICE, "coupon_template_id": tea},
                                                 headers=members[i][1], key=f"cd-x-{tag}-{i}"))
    statuses = sorted(r.status_code for r in replies.values())
    assert statuses.count(200) == 5, [r.text[:200] for r in replies.values()]
    assert all(r.json()["type"].endswith("/stock-exhausted") for r in replies.values() if r.status_code != 200)
    balances = [api.call("GET", "/v1/members/me/points", headers=own).json()["accounts"]["points"]["available"]
                for _, own in members]
    coupons = [[c for c in api.call("GET", "/v1/members/me/coupons", headers=own).json()["coupons"]
                if c["template_id"] == tea] for _, own in members]         # (an upgrade's pack may be there too)
    assert sum(1_000 - b for b in balances) == 5 * PRICE and sorted(balances) == [700] * 5 + [1_000] * 11
    assert sum(len(c) for c in coupons) == 5 and all(c[0]["source"] == "points" for c in coupons if c)
    assert all((len(c) == 1) == (b == 700) for c, b in zip(coupons, balances, strict=True))   # who paid got one
    assert api.call("GET", f"{TPL}/{tea}", headers=hq).json()["stock"] == {"total": 5, "left": 0, "taken": 5}
    won = next(i for i, r in replies.items() if r.status_code == 200)
    api.call("PATCH", f"{TPL}/{tea}", {"add_stock": 1}, headers=hq, key=f"cd-more-{tag}")
    again = api.call("POST", "/v1/members/me/points/redeem", {"points": PRICE, "coupon_template_id": tea},
                     headers=members[won][1], key=f"cd-x-{tag}-{won}")        # a replay, stock there: the first answer
    assert (again.status_code, again.json()) == (200, replies[won].json())
    assert api.call("GET", "/v1/members/me/points", headers=members[won][1]).json()["accounts"]["points"]["available"] == 700
    assert api.call("GET", f"{TPL}/{tea}", headers=hq).json()["stock"]["left"] == 1


def test_a_top_up_of_200_gets_30_and_its_pack_and_a_replay_grants_once(api, hq):
    tea = _template(api, hq, "top-up", 100)
    tag = fresh_phone()
    _put_packs(api, hq, [{"id": f"PACK-TOPUP-{tag}", "name": "储值赠券", "items": [{"template_id": tea}]}],
               f"cd-packs-{tag}")
    for path, body in (("/v1/stored-value/rules", {"rules": {"bonus_rules": [
                           {"id": "200-30", "name": "储值200送30+5元奶茶券", "kind": "fixed", "min_fen": 20_000,
                            "bonus_fen": 3_000, "coupon_pack": f"PACK-TOPUP-{tag}"}]}}),):
        saved = api.call("PUT", path, body, headers=hq, key=f"cd-{path}-{tag}-{len(str(body))}")
        assert saved.status_code == 201, saved.text
    mid, own = _member(api, hq)
    body = {"amount_fen": 20_000, "payment_ref": f"WX-{tag}", "merchant_id": SHOP}
    first = api.call("POST", f"/v1/members/{mid}/stored-value/top-ups", body, headers=hq, key=f"cd-tu-{tag}")
    assert first.status_code == 201, first.text
    done = first.json()
    assert (done["principal"], done["bonus"], done["bonus_fen"]) == (20_000, 3_000, 3_000)
    assert done["coupon_pack"]["owed"] is None and len(done["coupon_pack"]["coupons"]) == 1
    replay = api.call("POST", f"/v1/members/{mid}/stored-value/top-ups", body, headers=hq, key=f"cd-tu-{tag}")
    assert (replay.status_code, replay.json()) == (201, done)
    again = api.call("POST", f"/v1/members/{mid}/stored-value/top-ups", body, headers=hq, key=f"cd-tu2-{tag}")
    assert again.status_code == 201 and again.json()["already_applied"] is True      # the payment once
    mine = [c for c in api.call("GET", "/v1/members/me/coupons", headers=own).json()["coupons"] if c["template_id"] == tea]
    assert [c["coupon_id"] for c in mine] == done["coupon_pack"]["coupons"] and mine[0]["usable_now"]
    account = api.call("GET", f"/v1/members/{mid}/stored-value", headers=hq).json()
    assert (account["principal"], account["bonus"]) == (20_000, 3_000)


def test_a_top_up_s_pack_owed_is_listed_to_the_member_then_issued_by_the_job(api, hq):
    """A top-up whose pack is out of stock owes it: the member's app lists it owed, with why; once
    stock is added, the coupon-owed job issues it and the list shows it issued with its coupon."""
    tea = _template(api, hq, "owed", 1)
    tag = fresh_phone()
    _put_packs(api, hq, [{"id": f"PACK-OWED-{tag}", "name": "储值赠券", "items": [{"template_id": tea}]}],
               f"cd-packs-{tag}")
    for path, body in (("/v1/stored-value/rules", {"rules": {"bonus_rules": [
                           {"id": "200-30", "name": "储值200送30+5元奶茶券", "kind": "fixed", "min_fen": 20_000,
                            "bonus_fen": 3_000, "coupon_pack": f"PACK-OWED-{tag}"}]}}),):
        saved = api.call("PUT", path, body, headers=hq, key=f"cd-{path}-{tag}-{len(str(body))}")
        assert saved.status_code == 201, saved.text
    first, _ = _member(api, hq)
    second, own = _member(api, hq)
    for mid, ref in ((first, f"WX-O1-{tag}"), (second, f"WX-O2-{tag}")):
        done = api.call("POST", f"/v1/members/{mid}/stored-value/top-ups", {"amount_fen": 20_000, "payment_ref": ref,
                                                                            "merchant_id": SHOP},
                        headers=hq, key=f"cd-{ref}")
        assert done.status_code == 201, done.text
    assert "left" in done.json()["coupon_pack"]["owed"]                         # the second: the stock is gone
    listed = api.call("GET", "/v1/members/me/owed-coupon-packs", headers=own)
    assert listed.status_code == 200, listed.text
    [debt] = listed.json()["owed_packs"]
    assert (debt["pack_id"], debt["owner"], debt["ref"], debt["status"]) == (f"PACK-OWED-{tag}", "top_up",
                                                                            f"WX-O2-{tag}", "owed")
    assert "left" in debt["reason"] and debt["next_try"] and debt["coupons"] == []
    assert api.call("GET", f"/v1/members/{first}/owed-coupon-packs", headers=own).status_code in (403, 404)
    assert api.call("PATCH", f"{TPL}/{tea}", {"add_stock": 1}, headers=hq, key=f"cd-add-{tag}").status_code == 200
    run = api.call("POST", "/v1/jobs/coupon-owed/runs", {"program_id": PROGRAM}, headers=api.staff("platform_admin"),
                   key=f"cd-job-{tag}")
    assert run.status_code == 200 and run.json()["result"]["issued"] >= 1, run.text
    [settled] = api.call("GET", f"/v1/members/{second}/owed-coupon-packs", headers=hq).json()["owed_packs"]
    assert (settled["status"], settled["next_try"], len(settled["coupons"])) == ("issued", None, 1)
    mine = [c for c in api.call("GET", "/v1/members/me/coupons", headers=own).json()["coupons"] if c["template_id"] == tea]
    assert [c["coupon_id"] for c in mine] == settled["coupons"] and mine[0]["source"] == "pack"
    row: dict = {}                                   # the stream folds the owed pack's two events, once each
    started = time.perf_counter()
    while time.perf_counter() - started < 15 and row.get("issued_late") != 1:
        stats = api.call("GET", "/v1/coupon-packs/stats", headers=hq)
        assert stats.status_code == 200, stats.text
        row = next((p for p in stats.json()["packs"] if p["pack_id"] == f"PACK-OWED-{tag}"), {})
        time.sleep(0.05)
    assert row == {"pack_id": f"PACK-OWED-{tag}", "owed": 1, "issued_late": 1, "expired": 0, "owing": 0}, row
    figures = stats.json()
    assert figures["owing"] == figures["owed"] - figures["issued_late"] - figures["expired"] >= 0
