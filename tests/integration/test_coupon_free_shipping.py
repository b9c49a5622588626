"""Coupons in process, on moto and on the fake (the ``api`` fixture): a free-shipping coupon's
saving is the shipping fee it waives, counted as any saving is (the budget, a lock, the cost split,
the statistics, settlement), by hand; an undo by another store or merchant is the 404 of a record
it cannot see; a daily limit above the limit in all is refused, naming the field."""

from __future__ import annotations

from chalicelib.shared.credentials import mint_token
from tests.integration.test_coupons import MAN_100_20, TPL, _claim, _clerk, _coupons, _template
from tests.integration.test_tiers import deliver

FREE_SHIPPING = {"kind": "free_shipping", "title": "包邮券", "validity": {"days_after_claim": 30},
                 "cost_bearer": {"shares": {"brand": 50, "merchant": 50}}}


def _use(code, order, shipping=0):
    body = {"code": code, "order_id": order, "lines": [{"sku": "A", "quantity": 1, "unit_price_fen": 3_000}]}
    return {**body, "shipping_fen": shipping} if shipping else body


def test_a_free_shipping_coupons_saving_is_the_fee_in_the_budget_the_cost_the_figures_and_settlement(api):
    t = _template(api, FREE_SHIPPING, budget_fen=1_000)
    members = [api.member(f"1380030000{n}") for n in range(3)]
    codes = [_claim(api, m, t["template_id"])[1]["code"] for m in members]
    till = _clerk()
    quoted = api.ok("POST", "/v1/checkouts/quotes", {"member_id": members[0], "lines": [
        {"sku": "A", "quantity": 1, "unit_price_fen": 3_000}]}, token=till)     # a checkout's cart: no shipping fee
    assert quoted["coupons"]["chosen"] == [] and quoted["coupons"]["not_chosen"][0]["why"].startswith("no_shipping")
    none = api.ok("POST", "/v1/coupons/validate", _use(codes[0], "fs-0"), token=till)
    assert none["usable"] is False and none["why_not"].startswith("no_shipping")
    shown = api.ok("POST", "/v1/coupons/validate", _use(codes[0], "fs-0", 800), token=till)
    assert shown["saving"] == {"fen": 800, "lines": [], "shipping_fen": 800, "parking_hours": 0, "gift_sku": None}
    first = api.call("POST", "/v1/coupons/write-offs", _use(codes[0], "fs-0", 800), token=till)
    assert first[0] == 201 and first[1]["saving"]["fen"] == 800, first
    assert first[1]["coupon"]["saving_fen"] == 800 and first[1]["coupon"]["cost"] == {"brand": 400, "merchant": 400}
    over = api.call("POST", "/v1/coupons/write-offs", _use(codes[1], "fs-1", 800), token=till)
    assert over[0] == 409 and over[1]["type"].endswith("/coupon-budget-exhausted"), over     # 1,600 > 1,000
    locked = api.ok("POST", "/v1/coupons/holds", {**_use(codes[1], "fs-1", 200), "ttl_seconds": 60}, token=till)
    assert locked["saving_fen"] == 200 and locked["saving"]["fen"] == 200                   # 1,000: the budget full
    full = api.call("POST", "/v1/coupons/write-offs", _use(codes[2], "fs-2", 1), token=till)
    assert full[0] == 409 and full[1]["type"].endswith("/coupon-budget-exhausted"), full
    confirmed = api.ok("POST", f"/v1/coupons/holds/{locked['hold_id']}/confirm", {}, token=till)
    assert confirmed["coupon"]["cost"] == {"brand": 100, "merchant": 100}
    assert sorted(int(c.saving_fen or 0) for c in _coupons() if c.state == "used") == [200, 800]
    deliver()
    stats = api.ok("GET", f"{TPL}/{t['template_id']}/stats")
    assert (stats["used"], stats["saving_fen"], stats["budget_used_fen"]) == (2, 1_000, 1_000), stats
    assert stats["bearers"] == {"brand": 500, "merchant": 500}
    assert stats["stores"][0]["saving_fen"] == 1_000
    assert stats["reconciled"] == {"stock_taken_is_claimed_and_issued": True, "budget_used_is_discount_given": True}
    [statement] = api.ok("GET", "/v1/settlement/statements")["statements"]
    assert (statement["party_a"], statement["party_b"]) == ("m1", "program")
    assert statement["b_owes_a"]["coupon_fen"] == 500                     # the brand's half of 800 + 200
    back = api.ok("POST", "/v1/coupons/write-offs/undo", {"code": codes[0], "order_id": "fs-0"}, token=till)
    assert back["restored"]
    assert api.call("POST", "/v1/coupons/write-offs", _use(codes[2], "fs-2", 800), token=till)[0] == 201  # 800 back
    deliver()
    after = api.ok("GET", f"{TPL}/{t['template_id']}/stats")
    assert (after["saving_fen"], after["budget_used_fen"], after["bearers"]) == \
        (1_000, 1_000, {"brand": 500, "merchant": 500})


def test_an_undo_by_another_store_or_merchant_is_not_found_and_changes_nothing(api):
    hq = mint_token("staff", "hq", 60, role="super_admin")             # the program's template: any merchant's till
    t = api.ok("POST", TPL, {"terms": MAN_100_20, "stock": 10, "state": "active"}, token=hq)
    assert t["merchant_id"] is None
    code = _claim(api, api.member("13800300101"), t["template_id"])[1]["code"]
    till = _clerk()
    api.ok("POST", "/v1/coupons/write-offs", {"code": code, "order_id": "u-1", "order_amount_fen": 15_000}, token=till)
    for other in (_clerk("m1", "s2", who="s2-clerk"), _clerk("m2", None, "store_manager", "m2-manager")):
        refused = api.call("POST", "/v1/coupons/write-offs/undo", {"code": code, "order_id": "u-1"}, token=other)
        assert refused[0] == 404 and refused[1]["type"].endswith("/not-found"), refused
        wrong = api.call("POST", "/v1/coupons/write-offs/undo", {"code": code, "order_id": "u-9"}, token=other)
        assert wrong[0] == 404, wrong                                    # nor does its order show through
    [stored] = [c for c in _coupons() if c.code == code]
    assert (stored.state, stored.used_order_id) == ("used", "u-1")
    wrong = api.call("POST", "/v1/coupons/write-offs/undo", {"code": code, "order_id": "u-9"}, token=till)
    assert wrong[0] == 409 and wrong[1]["type"].endswith("/coupon-not-written-off")   # its own use, another order
    assert api.ok("POST", "/v1/coupons/write-offs/undo", {"code": code, "order_id": "u-1"}, token=till)["restored"]
    own = _template(api)                                                 # m1's own: m2 cannot see its code at all
    code = _claim(api, api.member("13800300102"), own["template_id"])[1]["code"]
    api.ok("POST", "/v1/coupons/write-offs", {"code": code, "order_id": "u-2", "order_amount_fen": 15_000}, token=till)
    unseen = api.call("POST", "/v1/coupons/write-offs/undo", {"code": code, "order_id": "u-2"},
                      token=_clerk("m2", None, "store_manager", "m2-manager"))
    assert unseen[0] == 422 and unseen[1]["type"].endswith("/coupon-code-rejected")    # as at the till (coupons.md)


def test_a_daily_limit_above_the_limit_in_all_is_refused_naming_the_field(api):
    status, problem = api.call("POST", TPL, {"terms": MAN_100_20, "stock": 5, "per_member_limit": 1,
                                             "per_member_daily_limit": 5})
    assert status == 422 and [e["field"] for e in problem["errors"]] == ["per_member_daily_limit"], problem
    assert api.ok("GET", TPL)["templates"] == []                         # nothing made
    t = _template(api, per_member_limit=2, per_member_daily_limit=2)     # equal: the day may take all
    path = f"{TPL}/{t['template_id']}"
    for change, field in (({"per_member_daily_limit": 3}, "per_member_daily_limit"),
                          ({"per_member_limit": 1}, "per_member_limit"),
                          ({"per_member_limit": 4, "per_member_daily_limit": 5}, "per_member_daily_limit")):
        status, problem = api.call("PATCH", path, change)
        assert status == 422 and [e["field"] for e in problem["errors"]] == [field], (change, problem)
    kept = api.ok("GET", path)
    assert (kept["per_member_limit"], kept["per_member_daily_limit"], kept["updated_at"]) == (2, 2, t["updated_at"])
    assert api.ok("PATCH", path, {"per_member_limit": None})["per_member_daily_limit"] == 2     # no cap in all: any day
    assert api.ok("PATCH", path, {"per_member_limit": 3, "per_member_daily_limit": 1})["per_member_limit"] == 3
