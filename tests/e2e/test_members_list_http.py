"""The members list with each row's balances (issue #30: the member table of seed 000), over HTTP
in a program of its own: ``listMembers?include=balances`` answers each member's tier, points,
stored value and spend at the merchant, worked out here from the test's own earns, top-ups and
refunds; a page costs the same DynamoDB requests whatever the members' histories (measured with
the emulator's metering); a merchant's key and staff list only their merchant; a page with balances
is at most 50 members."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from devstack import emulator
from devstack.credentials import staff_token
from tests.e2e.conftest import fresh_phone, program_with_merchants

PROGRAM, SHOP, OTHER, MANY, STORE = "members-list", "ml-shop", "ml-other", "ml-many", "ml-1"
LADDER = {"tiers": [{"code": "V1", "name": "普通会员", "threshold": 0},
                    {"code": "V2", "name": "白银会员", "threshold": 300, "validity_months": 12}]}
SPAN = {"start": (date.today() - timedelta(days=2)).isoformat(), "end": (date.today() + timedelta(days=2)).isoformat()}


def ok(r, status=201):
    assert r.status_code == status, r.text
    return r.json()


@pytest.fixture(scope="module")
def shop(api, stack):
    """A program with two merchants (each with a store and its till key), a tier ladder, and three
    members of the first: one who earned twice (¥320.00, then ¥180.50, ¥50.00 of that refunded) and
    topped up ¥500.00, one who only topped up ¥88.80, one who did nothing; one member of the other."""
    hq, tills = program_with_merchants(api, PROGRAM, "会员列表", "ml", (SHOP, OTHER, MANY), STORE)
    ok(api.call("PUT", "/v1/tiers/ladder", {"ladder": LADDER}, headers=hq, key=f"ml-ladder-{fresh_phone()}"))

    def register(merchant: str) -> str:
        return ok(api.call("POST", "/v1/members", {"phone": fresh_phone()}, signed_by=tills[merchant],
                           key=f"ml-reg-{fresh_phone()}"))["member_id"]
    rich, saver, idle, elsewhere = register(SHOP), register(SHOP), register(SHOP), register(OTHER)
    expected = {m: {"points": 0, "stored_value_fen": 0, "spend_fen": 0, "tier": "普通会员"} for m in (rich, saver, idle)}
    for order, fen in ((f"{rich}-1", 32_000), (f"{rich}-2", 18_050)):
        earned = ok(api.call("POST", f"/v1/members/{rich}/points/earn", {"order_id": order, "amount_fen": fen},
                             signed_by=tills[SHOP], key=f"ml-earn-{order}"))
        expected[rich]["points"] += earned["points"]
        expected[rich]["spend_fen"] += fen
    refund = ok(api.call("POST", f"/v1/orders/{rich}-2/refunds", {"refund_id": "r1", "amount_fen": 5_000},
                         signed_by=tills[SHOP], key=f"ml-refund-{rich}"))
    expected[rich]["points"] -= refund["clawed_back"]["points"]
    expected[rich]["spend_fen"] -= 5_000
    expected[rich]["tier"] = "白银会员"                       # 500 growth earned, 50 clawed back: over 300
    for member, fen in ((rich, 50_000), (saver, 8_880)):
        topped = ok(api.call("POST", f"/v1/members/{member}/stored-value/top-ups",
                             {"amount_fen": fen, "payment_ref": f"ml-pay-{member}"}, signed_by=tills[SHOP],
                             key=f"ml-top-{member}"))
        expected[member]["stored_value_fen"] = topped["balance_fen"]
        assert topped["balance_fen"] == fen                   # no bonus rules in this program
    for _ in range(20):                                       # a full page elsewhere, each with an order
        member = register(MANY)
        ok(api.call("POST", f"/v1/members/{member}/points/earn", {"order_id": f"{member}-1", "amount_fen": 1_000},
                    signed_by=tills[MANY], key=f"ml-many-{member}"))
    stack.drain()                                             # the tier moves and the spend is folded by the stream
    return {"hq": hq, "tills": tills, "expected": expected, "elsewhere": elsewhere,
            "order": [rich, saver, idle]}


def _page(api, headers=None, signed_by=None, **query):
    params = {k: v for k, v in {"merchant_id": SHOP, **SPAN, **query}.items() if v is not None}
    return api.call("GET", "/v1/members", headers=headers, signed_by=signed_by, params=params)


def test_each_row_has_the_balances_worked_out_from_the_member_s_own_orders_and_top_ups(api, shop):
    page = ok(_page(api, headers=shop["hq"], include="balances", limit="20"), 200)
    rows = {m["member_id"]: m for m in page["members"]}
    assert [m["member_id"] for m in page["members"]] == shop["order"]                 # oldest first; not the other shop's
    for member, want in shop["expected"].items():
        got = rows[member]["balances"]
        assert (got["tier"]["name"], got["points"], got["stored_value_fen"], got["spend_fen"]) == \
            (want["tier"], want["points"], want["stored_value_fen"], want["spend_fen"]), (member, got, want)
        # the same figures as the member's own reads
        points = ok(api.call("GET", f"/v1/members/{member}/points", headers=shop["hq"]), 200)["accounts"]["points"]
        sv = ok(api.call("GET", f"/v1/members/{member}/stored-value", headers=shop["hq"]), 200)
        tier = ok(api.call("GET", f"/v1/members/{member}/tier", headers=shop["hq"]), 200)["tier"]
        assert (got["points"], got["stored_value_fen"], got["tier"]) == (points["balance"], sv["balance_fen"], tier)
    rich = shop["expected"][shop["order"][0]]
    assert (rich["spend_fen"], rich["stored_value_fen"]) == (45_050, 50_000) and 400 < rich["points"] < 500
    assert "****" in rows[shop["order"][0]]["phone"]                                  # still masked
    plain = ok(_page(api, headers=shop["hq"], limit="20"), 200)
    assert [m["balances"] for m in plain["members"]] == [None, None, None]            # only when asked


def _measured(api, hq, merchant: str) -> tuple[dict[str, int], float, int]:
    """The DynamoDB requests (by operation) and read units of one page of 20 with balances (the
    ladder's cache warmed by a page before), and how many members it held."""
    ok(_page(api, headers=hq, include="balances", limit="20", merchant_id=merchant), 200)
    before = emulator.usage()
    page = ok(_page(api, headers=hq, include="balances", limit="20", merchant_id=merchant), 200)
    used = emulator.usage().minus(before)
    return {op: int(row[0]) for op, row in used.by_operation.items()}, used.rcu, len(page["members"])


def test_a_page_costs_the_same_requests_whatever_the_members_histories(api, stack, shop):
    hq, rich = shop["hq"], shop["order"][0]
    full, full_rcu, n = _measured(api, hq, MANY)
    # what the console did before: the page, then each row's tier, points and stored value (60 calls)
    before = emulator.usage()
    for member in ok(_page(api, headers=hq, limit="20", merchant_id=MANY), 200)["members"]:
        for read in ("tier", "points", "stored-value"):
            ok(api.call("GET", f"/v1/members/{member['member_id']}/{read}", headers=hq), 200)
    per_row = emulator.usage().minus(before)
    print(f"\nthe page and 60 reads a row at a time: {per_row.requests} requests, {per_row.rcu:.1f} RCU")
    assert per_row.requests > 10 * sum(full.values())
    short, short_rcu, _ = _measured(api, hq, SHOP)
    for i in range(12):                                       # a longer history: 12 more orders, lots and postings
        ok(api.call("POST", f"/v1/members/{rich}/points/earn", {"order_id": f"{rich}-x{i}", "amount_fen": 1_000},
                    signed_by=shop["tills"][SHOP], key=f"ml-more-{rich}-{i}"))
    stack.drain()
    long, long_rcu, _ = _measured(api, hq, SHOP)
    print(f"\nlistMembers include=balances: a page of {n}: {full} {full_rcu:.1f} RCU; of 3: {short} {short_rcu:.1f} RCU; "
          f"of 3 after 12 more orders: {long} {long_rcu:.1f} RCU")
    # the balances: one BatchGetItem for the page, whatever the members' histories; the listing's own
    # Queries (its 4 shards and the old key, each read 6 at a time as the merge takes them: 5 to 8)
    assert n == 20 and full["BatchGetItem"] == short["BatchGetItem"] == 1 and short == long, (full, short, long)
    assert set(full) == {"Query", "BatchGetItem"} and 5 <= full["Query"] <= 8 and short["Query"] == 5
    assert long_rcu == short_rcu and full_rcu < 20 * 4 * 0.5 + 8       # 4 items a member, half a unit each
    row = next(m for m in ok(_page(api, headers=hq, include="balances"), 200)["members"] if m["member_id"] == rich)
    assert row["balances"]["spend_fen"] == 45_050 + 12 * 1_000                       # folded from the new orders too


def test_a_merchant_s_till_and_staff_list_only_their_merchant(api, shop):
    mine = ok(_page(api, signed_by=shop["tills"][SHOP], include="balances", merchant_id=None), 200)
    assert mine["merchant_id"] == SHOP and {m["member_id"] for m in mine["members"]} == set(shop["order"])
    refused = _page(api, signed_by=shop["tills"][OTHER], include="balances")          # the other shop's till names SHOP
    assert refused.status_code in (403, 404), refused.text
    admin = api.bearer(staff_token("merchant_admin", "ml-other-admin", merchant_id=OTHER, program_id=PROGRAM))
    refused = _page(api, headers=admin, include="balances")
    assert refused.status_code in (403, 404), refused.text
    theirs = ok(_page(api, headers=admin, include="balances", merchant_id=OTHER), 200)
    assert [m["member_id"] for m in theirs["members"]] == [shop["elsewhere"]]
    assert theirs["members"][0]["balances"]["spend_fen"] == 0


def test_a_page_with_balances_is_bounded_and_bad_options_change_nothing(api, shop):
    too_many = _page(api, headers=shop["hq"], include="balances", limit="51")
    assert too_many.status_code == 422 and too_many.headers["Content-Type"].startswith("application/problem+json")
    assert [e["field"] for e in too_many.json()["errors"]] == ["limit"], too_many.text
    assert ok(_page(api, headers=shop["hq"], limit="51"), 200)["members"]             # without balances: up to 200
    unknown = _page(api, headers=shop["hq"], include="everything")
    assert unknown.status_code == 422 and [e["field"] for e in unknown.json()["errors"]] == ["include"]
