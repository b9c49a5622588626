"""Coupons through the app in process (routes, auth, idempotency) on moto and on the fake: a
template's life, claims within the stock and the limits, the till's validate / write-off / undo
with figures worked out by hand, budgets, wrong codes, and what other merchants' callers see."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.coupons import guard
from chalicelib.coupons.tables import CouponItem
from chalicelib.shared import clock
from chalicelib.shared.credentials import mint_token
from tests.integration.conftest import scan
from tests.outbox import outbox_events

TPL = "/v1/coupon-templates"
MAN_100_20 = {"kind": "amount_off", "title": "满100减20", "amount_off_fen": 2_000, "min_spend_fen": 10_000,
              "validity": {"days_after_claim": 30}}


def _clerk(merchant="m1", store="s1", role="clerk", who="clerk-1"):
    return mint_token("staff", who, 60, role=role, merchant_id=merchant, store_id=store)


def _member_token(member_id):
    return mint_token("member", member_id, 60)


def _template(api, terms=None, **settings):
    body = {"terms": terms or MAN_100_20, "stock": 10, "state": "active", **settings}
    return api.ok("POST", TPL, body)


def _coupons():
    return [x for x in scan(CouponItem) if x.pk.startswith("MEMBER#") and x.sk.startswith("COUPON#")]


def _claim(api, member, template_id, token=None):
    return api.call("POST", f"/v1/members/{member}/coupons", {"template_id": template_id},
                    token=token or _member_token(member))


def test_a_template_is_claimed_within_its_stock_and_limits_and_listed(api):
    t = _template(api, stock=3, per_member_limit=2)
    assert t["stock"] == {"total": 3, "left": 3, "taken": 0} and t["terms_version"] == 1 and t["state"] == "active"
    alice, bob = api.member("13800200001"), api.member("13800200002")
    first = _claim(api, alice, t["template_id"])
    assert first[0] == 201, first
    c = first[1]
    assert c["state"] == "unused" and c["usable_now"] and len(c["code"]) == 18 and c["source"] == "claim"
    assert _claim(api, alice, t["template_id"])[0] == 201
    over = _claim(api, alice, t["template_id"])
    assert over[0] == 409 and over[1]["type"].endswith("coupon-limit-reached")
    assert _claim(api, bob, t["template_id"])[0] == 201
    gone = _claim(api, bob, t["template_id"])
    assert gone[0] == 409 and gone[1]["type"].endswith("stock-exhausted")
    assert api.ok("GET", f"{TPL}/{t['template_id']}")["stock"] == {"total": 3, "left": 0, "taken": 3}
    assert len(_coupons()) == 3                                          # the refusals left nothing behind
    mine = api.ok("GET", f"/v1/members/{alice}/coupons", token=_member_token(alice))
    assert mine["usable"] == 2 and {x["coupon_id"] for x in mine["coupons"]} >= {c["coupon_id"]}
    assert api.ok("GET", f"/v1/members/{alice}/coupons/{c['coupon_id']}", token=_member_token(alice))["code"] == c["code"]


def test_the_till_validates_writes_off_once_and_undoes(api):
    t = _template(api)
    member = api.member("13800200011")
    code = _claim(api, member, t["template_id"])[1]["code"]
    till = _clerk()
    cart = {"code": code, "order_id": "o-1", "lines": [{"sku": "A", "quantity": 3, "unit_price_fen": 3_990}]}
    low = api.ok("POST", "/v1/coupons/validate", {**cart, "lines": [{"sku": "A", "unit_price_fen": 9_999}]}, token=till)
    assert low["usable"] is False and low["why_not"].startswith("below_threshold")
    ok = api.ok("POST", "/v1/coupons/validate", cart, token=till)
    assert ok["usable"] and ok["saving"]["fen"] == 2_000                 # 3 × 39.90 = 119.70 ≥ 100: 20.00 off
    used = api.call("POST", "/v1/coupons/write-offs", cart, token=till, key="wo-1")
    assert used[0] == 201 and used[1]["coupon"]["state"] == "used" and used[1]["coupon"]["cost"] == {"brand": 2_000}
    assert api.call("POST", "/v1/coupons/write-offs", cart, token=till, key="wo-1") == used     # a retry: the same
    again = api.call("POST", "/v1/coupons/write-offs", {**cart, "order_id": "o-2"}, token=till, key="wo-2")
    assert again[0] == 409 and again[1]["type"].endswith("coupon-used")
    stored = [x for x in _coupons() if x.code == code][0]
    assert stored.used_by.startswith("staff:clerk-1") and stored.used_store_id == "s1" and stored.saving_fen == 2_000
    wrong_order = api.call("POST", "/v1/coupons/write-offs/undo", {"code": code, "order_id": "o-9"}, token=till)
    assert wrong_order[0] == 409
    undone = api.ok("POST", "/v1/coupons/write-offs/undo", {"code": code, "order_id": "o-1"}, token=till)
    assert undone["restored"] and undone["coupon"]["state"] == "unused"
    assert api.call("POST", "/v1/coupons/write-offs", {**cart, "order_id": "o-3"}, token=till)[0] == 201


def test_a_money_budget_is_never_exceeded(api):
    t = _template(api, {**MAN_100_20, "amount_off_fen": 3_000, "min_spend_fen": None}, budget_fen=10_000)
    till = _clerk()
    codes = [_claim(api, api.member(f"1380020010{n}"), t["template_id"])[1]["code"] for n in range(4)]
    results = [api.call("POST", "/v1/coupons/write-offs", {"code": c, "order_id": f"b-{i}", "order_amount_fen": 5_000},
                        token=till)[0] for i, c in enumerate(codes)]
    assert results == [201, 201, 201, 409]                               # 3 × 30.00 = 90.00; a 4th would be 120.00


def test_a_change_of_terms_leaves_issued_coupons_as_they_were(api):
    t = _template(api)
    member = api.member("13800200021")
    before = _claim(api, member, t["template_id"])[1]
    changed = api.ok("PATCH", f"{TPL}/{t['template_id']}", {"terms": {**MAN_100_20, "amount_off_fen": 5_000}})
    assert changed["terms_version"] == 2 and changed["terms"]["amount_off_fen"] == 5_000
    kept = api.ok("GET", f"/v1/members/{member}/coupons/{before['coupon_id']}", token=_member_token(member))
    assert kept["terms_version"] == 1 and kept["terms"]["amount_off_fen"] == 2_000
    assert _claim(api, member, t["template_id"])[1]["terms"]["amount_off_fen"] == 5_000


@pytest.mark.parametrize("terms, words", [
    ({**MAN_100_20, "min_spend_fen": 2_000}, "min_spend"),
    ({"kind": "percent_off", "title": "x", "percent": 120, "validity": {"days_after_claim": 3}}, "percent"),
    ({**MAN_100_20, "validity": {"starts_at": "2027-02-01T00:00:00Z", "ends_at": "2027-01-01T00:00:00Z"}}, "ends_at"),
    ({**MAN_100_20, "applicability": {"skus": []}}, "skus"),
])
def test_a_bad_template_is_refused_and_nothing_is_made(api, terms, words):
    status, problem = api.call("POST", TPL, {"terms": terms, "stock": 5})
    assert status == 422 and words in str(problem), problem
    assert api.ok("GET", TPL)["templates"] == []


def test_states_move_one_way_and_a_paused_template_is_not_claimed(api):
    t = _template(api, state="draft")
    member = api.member("13800200031")
    assert _claim(api, member, t["template_id"])[0] == 404                  # a draft is not shown to members
    assert _claim(api, member, t["template_id"], token=api.token)[1]["type"].endswith("coupon-not-claimable")
    base = f"{TPL}/{t['template_id']}/state"
    assert api.ok("POST", base, {"state": "active"})["state"] == "active"
    assert api.ok("POST", base, {"state": "paused"})["state"] == "paused"
    assert _claim(api, member, t["template_id"])[0] == 409
    assert api.ok("POST", base, {"state": "ended"})["state"] == "ended"
    assert api.call("POST", base, {"state": "active"})[0] == 409


def test_another_merchants_caller_sees_neither_templates_nor_codes(api):
    t = _template(api, merchant_id="m1")
    other = _clerk("m2", None, "store_manager", "m2-manager")
    assert api.call("GET", f"{TPL}/{t['template_id']}", token=other)[0] == 404
    assert api.ok("GET", TPL, token=other)["templates"] == []
    assert api.call("PATCH", f"{TPL}/{t['template_id']}", {"add_stock": 5}, token=other)[0] == 403   # not an owner's role
    member = api.member("13800200041")
    code = _claim(api, member, t["template_id"])[1]["code"]
    use = api.call("POST", "/v1/coupons/write-offs", {"code": code, "order_id": "x", "order_amount_fen": 20_000},
                   token=_clerk("m2", None, "store_manager", "m2-manager"))
    assert use[0] == 422 and use[1]["type"].endswith("/coupon-code-rejected")    # as an unknown code: no hint
    at_m2 = api.call("POST", "/v1/coupons/write-offs", {"code": code, "order_id": "x", "order_amount_fen": 20_000,
                                                        "merchant_id": "m2"})      # HQ booking m1's coupon to m2
    assert at_m2[0] == 409 and at_m2[1]["why_not"].startswith("merchant")
    listed = api.ok("GET", f"/v1/members/{member}/coupons", token=other)
    assert listed["coupons"][0]["code"] is None


def test_wrong_codes_count_toward_the_callers_lockout(api, monkeypatch):
    monkeypatch.setattr(guard.GUARD, "tries", 3)
    till = _clerk(who="guesser")
    for n in range(3):
        r = api.call("POST", "/v1/coupons/validate", {"code": f"80000000000000000{n}", "order_id": "g",
                                                      "order_amount_fen": 100}, token=till)
        assert r[0] == 422 and r[1]["type"].endswith("coupon-code-rejected")
    locked = api.call("POST", "/v1/coupons/validate", {"code": "800000000000000000", "order_id": "g",
                                                       "order_amount_fen": 100}, token=till)
    assert locked[0] == 429
    assert api.call("POST", "/v1/coupons/validate", {"code": "800000000000000000", "order_id": "g",
                                                     "order_amount_fen": 100}, token=_clerk(who="honest"))[0] == 422


def test_a_pack_is_granted_whole_or_not_at_all_and_a_benefit_claim_issues_it(api):
    birthday = {"rules": [{"id": "birthday", "name": "Birthday month", "when": {"birthday": "month"},
                           "give": [{"kind": "coupon_pack", "ref": "PACK-BDAY", "grant": "on_birthday"}]}]}
    welcome = _template(api, stock=10)
    tea = _template(api, {"kind": "no_threshold", "title": "5元奶茶券", "amount_off_fen": 500,
                          "validity": {"days_after_claim": 7}}, stock=3, claimable=False)
    bad = api.call("PUT", "/v1/coupon-packs", {"packs": {"packs": [
        {"id": "P", "name": "p", "items": [{"template_id": "01NOSUCHTEMPLATE00000000000"}]}]}})
    assert bad[0] == 422 and "does not exist" in str(bad[1])
    packs = {"packs": [{"id": "PACK-BDAY", "name": "生日礼包", "items": [
        {"template_id": welcome["template_id"]}, {"template_id": tea["template_id"], "count": 2}]}]}
    api.ok("PUT", "/v1/coupon-packs", {"packs": packs})
    member = api.member("13800200051")
    granted = api.ok("POST", f"/v1/members/{member}/coupon-packs", {"pack_id": "PACK-BDAY"})
    assert sorted(c["template_id"] for c in granted["coupons"]) == sorted(
        [welcome["template_id"], tea["template_id"], tea["template_id"]]) and {
        c["source"] for c in granted["coupons"]} == {"pack"}
    other = api.member("13800200052")
    short = api.call("POST", f"/v1/members/{other}/coupon-packs", {"pack_id": "PACK-BDAY"})   # one tea coupon left
    assert short[0] == 409 and short[1]["type"].endswith("/stock-exhausted")
    assert api.ok("GET", f"/v1/members/{other}/coupons")["coupons"] == []            # none of the pack, not one
    assert api.ok("GET", f"{TPL}/{welcome['template_id']}")["stock"]["left"] == 9
    api.ok("PATCH", f"{TPL}/{tea['template_id']}", {"add_stock": 2})
    api.ok("PUT", "/v1/benefits/rules", {"rules": birthday})
    born = api.ok("POST", "/v1/members", {"phone": "13800200053", "birthday": "1990-05-01"})["member_id"]
    clock.freeze(datetime(2027, 5, 3, 4, tzinfo=UTC))
    claimed = api.ok("POST", f"/v1/members/{born}/benefits/claim", {"rule": "birthday", "ref": "PACK-BDAY"})
    assert claimed["status"] == "issued" and len(claimed["coupons"]) == 3
    assert {c["coupon_id"] for c in api.ok("GET", f"/v1/members/{born}/coupons")["coupons"]} == set(claimed["coupons"])


def test_a_targeted_issue_resumes_after_a_crash_without_issuing_twice(api, monkeypatch):
    from chalicelib.coupons import issues
    monkeypatch.setattr(issues, "CHUNK", 3)
    t = _template(api, stock=6, per_member_limit=1)
    members = [api.member(f"1380020060{n}") for n in range(7)]
    _claim(api, members[0], t["template_id"])                             # has one already: over the limit
    listed = [*members, "01NOSUCHMEMBER0000000000000"]
    started = api.ok("POST", f"{TPL}/{t['template_id']}/issues", {"member_ids": listed})
    assert started["status"] == "issuing" and started["total"] == 8 and started["done"] == 0
    real = issues._one
    calls = {"n": 0}

    def crash_on_the_fifth(program, item, member_id):
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("the job's Lambda died here")
        return real(program, item, member_id)
    monkeypatch.setattr(issues, "_one", crash_on_the_fifth)
    api.run_job("coupon-issues")                                          # chunk 1 done; chunk 2 stopped at its 2nd member
    midway = api.ok("GET", f"/v1/coupon-issues/{started['issue_id']}")
    assert midway["status"] == "issuing" and midway["done"] == 3
    monkeypatch.setattr(issues, "_one", real)
    api.run_job("coupon-issues")
    done = api.ok("GET", f"/v1/coupon-issues/{started['issue_id']}")
    # members 1..5 get one each (the stock: 6 - 1 claimed = 5 left), member 6 finds it gone,
    # member 0 is over its limit, and the unknown id is not found
    assert done["status"] == "done" and done["done"] == 8 and done["issued"] == 5
    assert done["refused"] == {"limit": 1, "stock": 1, "not_found": 1, "other": 0}
    held = [len(api.ok("GET", f"/v1/members/{m}/coupons")["coupons"]) for m in members]
    assert held == [1, 1, 1, 1, 1, 1, 0]                                   # nobody twice after the crash
    assert api.ok("GET", f"{TPL}/{t['template_id']}")["stock"] == {"total": 6, "left": 0, "taken": 6}
    assert api.call("GET", f"/v1/coupon-issues/{started['issue_id']}",
                    token=_clerk("m2", None, "store_manager", "x"))[0] in (403, 404)


def test_parking_hours_and_a_third_party_codes_undo_window(api):
    parking = _template(api, {"kind": "parking", "title": "停车2小时", "parking_hours": 2,
                              "validity": {"days_after_claim": 3}})
    member = api.member("13800200071")
    code = _claim(api, member, parking["template_id"])[1]["code"]
    till = _clerk()
    shown = api.ok("POST", "/v1/coupons/validate", {"code": code, "order_id": "p1", "order_amount_fen": 0,
                                                     "parking_hours": 5}, token=till)
    assert shown["usable"] and shown["saving"]["parking_hours"] == 2 and shown["saving"]["fen"] == 0
    none = api.ok("POST", "/v1/coupons/validate", {"code": code, "order_id": "p1", "order_amount_fen": 0},
                  token=till)
    assert none["usable"] is False and none["why_not"].startswith("no_parking")
    douyin = api.ok("POST", TPL, {"terms": {"kind": "third_party", "title": "抖音团购", "platform": "douyin",
                                            "amount_off_fen": 3_000, "undo_window_minutes": 0,
                                            "validity": {"days_after_claim": 3}}, "stock": 0, "state": "active"})
    code = "DY5550001"                                                   # a platform's code: imported, never claimed
    api.ok("POST", f"{TPL}/{douyin['template_id']}/codes", {"codes": [code]})
    assert api.call("POST", "/v1/coupons/write-offs", {"code": code, "order_id": "d1", "order_amount_fen": 9_000},
                    token=till)[0] == 201
    late = api.call("POST", "/v1/coupons/write-offs/undo", {"code": code, "order_id": "d1"}, token=till)
    assert late[0] == 409                                                # a window of 0 minutes: never undone


def test_statistics_are_projected_once_and_square_with_the_stock_and_the_budget(api):
    from tests.integration.test_tiers import deliver
    terms = {**MAN_100_20, "cost_bearer": {"shares": {"brand": 60, "merchant": 40}}}
    t = _template(api, terms, budget_fen=10_000)
    members = [api.member(f"1380020080{n}") for n in range(3)]
    codes = [_claim(api, m, t["template_id"])[1]["code"] for m in members[:2]]
    api.ok("POST", f"/v1/members/{members[2]}/coupons", {"template_id": t["template_id"]})    # issued by HQ
    till = _clerk()
    for i, code in enumerate(codes):
        api.ok("POST", "/v1/coupons/write-offs", {"code": code, "order_id": f"s{i}", "order_amount_fen": 15_000},
               token=till)
    api.ok("POST", "/v1/coupons/write-offs/undo", {"code": codes[1], "order_id": "s1"}, token=till)
    deliver()
    deliver()                                                             # redelivered: counted once
    shown = api.ok("GET", f"{TPL}/{t['template_id']}/stats")
    assert (shown["claimed"], shown["issued"], shown["used"], shown["undone"]) == (2, 1, 2, 1)
    assert shown["saving_fen"] == 2_000 and shown["orders_fen"] == 15_000     # two uses of 20.00, one undone
    assert shown["bearers"] == {"brand": 1_200, "merchant": 800}
    assert shown["stores"] == [{"store_id": "s1", "claimed": 0, "issued": 0, "used": 1, "undone": 0, "expired": 0,
                                "saving_fen": 2_000, "orders_fen": 15_000}]
    assert shown["usage_rate"] == round(1 / 3, 4)
    assert shown["budget_used_fen"] == 2_000 and shown["stock"]["taken"] == 3
    assert shown["reconciled"] == {"stock_taken_is_claimed_and_issued": True, "budget_used_is_discount_given": True}


def test_the_reconciliation_proves_every_stock_and_the_job_announces_one_that_does_not_add_up(api):
    from chalicelib.db.uow import UnitOfWork
    from chalicelib.ledger.stock import StockShard
    from tests.integration.test_tiers import deliver
    t = _template(api, stock=4)
    for n in range(2):
        _claim(api, api.member(f"1380020090{n}"), t["template_id"])
    deliver()
    proof = api.ok("GET", "/v1/coupons/reconciliation")
    assert proof["templates_checked"] == 1 and proof["balanced"] and proof["figures_agree"]
    uow = UnitOfWork()                                                    # someone edits a shard by hand
    shard = uow.get(StockShard, (f"STOCK#COUPON#{t['template_id']}#00", "STOCK"), consistent=True)
    shard.left = int(shard.left) + 5
    uow.put(shard)
    proof = api.ok("GET", "/v1/coupons/reconciliation")
    assert not proof["balanced"] and proof["mismatches"][0]["template_id"] == t["template_id"]
    assert "total" in proof["mismatches"][0]["problems"][0]
    result = api.run_job("coupon-reconcile")
    assert result["balanced"] is False and result["failed_programs"] == ["default"]
    assert outbox_events(None, kind="coupon.reconciliation_failed")


def test_a_lock_keeps_a_coupon_and_its_budget_for_one_checkout_until_confirmed_cancelled_or_lapsed(api):
    from datetime import timedelta
    t = _template(api, {**MAN_100_20, "amount_off_fen": 3_000, "min_spend_fen": None}, budget_fen=6_000)
    members = [api.member(f"1380020110{n}") for n in range(3)]
    codes = [_claim(api, m, t["template_id"])[1]["code"] for m in members]
    till = _clerk()
    cart = {"order_amount_fen": 9_000, "ttl_seconds": 60}
    first = api.ok("POST", "/v1/coupons/holds", {**cart, "code": codes[0], "order_id": "h0"}, token=till)
    assert first["status"] == "open" and first["coupon"]["state"] == "locked" and first["saving_fen"] == 3_000
    taken = api.call("POST", "/v1/coupons/write-offs", {"code": codes[0], "order_id": "x", "order_amount_fen": 9_000},
                     token=till)
    assert taken[0] == 409                                                # locked: no other till uses it
    pending = api.ok("POST", "/v1/coupons/holds", {**cart, "code": codes[1], "order_id": "h1"}, token=till)
    full = api.call("POST", "/v1/coupons/holds", {**cart, "code": codes[2], "order_id": "h2"}, token=till)
    assert full[0] == 409 and full[1]["type"].endswith("/coupon-budget-exhausted")   # two locks hold the 60.00
    assert api.ok("GET", f"{TPL}/{t['template_id']}")["budget_used_fen"] == 6_000
    cancelled = api.ok("POST", f"/v1/coupons/holds/{first['hold_id']}/cancel", {}, token=till)
    assert cancelled["status"] == "released" and cancelled["coupon"]["state"] == "unused"
    assert api.ok("GET", f"{TPL}/{t['template_id']}")["budget_used_fen"] == 3_000
    second = api.ok("POST", "/v1/coupons/holds", {**cart, "code": codes[2], "order_id": "h2"}, token=till)
    confirmed = api.ok("POST", f"/v1/coupons/holds/{second['hold_id']}/confirm", {}, token=till)
    assert confirmed["status"] == "confirmed" and confirmed["coupon"]["state"] == "used"
    assert confirmed["coupon"]["used_order_id"] == "h2" and confirmed["coupon"]["saving_fen"] == 3_000
    assert api.call("POST", f"/v1/coupons/holds/{second['hold_id']}/cancel", {}, token=till)[0] == 409
    clock.freeze(clock.now() + timedelta(seconds=61))                     # nobody settles h1: it lapses
    assert api.run_job("coupon-holds")["holds_released"] == 1
    assert api.ok("GET", f"/v1/coupons/holds/{pending['hold_id']}", token=till)["status"] == "released"
    coupon = api.ok("GET", f"/v1/members/{members[1]}/coupons")["coupons"][0]
    assert coupon["state"] == "unused" and coupon["usable_now"]
    assert api.ok("GET", f"{TPL}/{t['template_id']}")["budget_used_fen"] == 3_000      # the confirmed one only
    assert api.call("GET", f"/v1/coupons/holds/{pending['hold_id']}",
                    token=_clerk("m2", None, "store_manager", "x"))[0] == 404
