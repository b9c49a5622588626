"""The member balance sheet through the app on every backend: a mixed workload over two days
(points earned and redeemed, stored value topped up with a bonus and spent, gift cards sold and
used, coupons claimed and used, a PLUS purchase), each line worked out by hand to the fen; a
past day answered as it stood that day; a redelivered stream changes nothing; who may read it;
the points valuation's versions; each line's reconciliation status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.reports import balance
from chalicelib.shared import clock
from chalicelib.shared.credentials import mint_token
from tests.integration.test_memberships import PLANS
from tests.integration.test_prepaid_figures import RULES, cards_of
from tests.integration.test_tiers import deliver

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)          # 2026-03-01, noon in Shanghai
MAN_100_20 = {"kind": "amount_off", "title": "满100减20", "amount_off_fen": 2_000, "min_spend_fen": 10_000,
              "validity": {"days_after_claim": 30}}
SHEET = "/v1/balance-sheet"


def staff(role, merchant=None, store=None):
    return mint_token("staff", f"{role}-1", 60, role=role, merchant_id=merchant, store_id=store)


def member_token(member_id):
    return mint_token("member", member_id, 60)


def use_coupon(api, code, order):
    cart = {"code": code, "order_id": order, "lines": [{"sku": "A", "quantity": 1, "unit_price_fen": 12_000}]}
    api.ok("POST", "/v1/coupons/write-offs", cart, token=staff("clerk", "m1", "s1"))


def day_one(api):
    """The first day's workload; returns the member and the unused coupons' codes."""
    clock.freeze(T0)
    api.ok("PUT", "/v1/stored-value/rules", {"rules": RULES, "effective_from": "2026-01-01T00:00:00Z"})
    api.ok("PUT", "/v1/memberships/plans", {"plans": PLANS, "effective_from": "2026-01-01T00:00:00Z"})
    api.ok("PUT", "/v1/points/valuation", {"valuation": {"fen_per_point": "0.5", "expected_redemption_percent": 80},
                                           "effective_from": "2026-01-01T00:00:00Z"})
    mid = api.member("13800142901")
    api.ok("POST", f"/v1/members/{mid}/points/earn", {"order_id": "B-1", "amount_fen": 30_000, "merchant_id": "m1"})
    api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 100, "reward": "gift"})
    api.ok("POST", f"/v1/members/{mid}/stored-value/top-ups", {"amount_fen": 20_000, "payment_ref": "WX-B1",
                                                               "merchant_id": "m1"})
    paid = api.ok("POST", f"/v1/members/{mid}/stored-value/payments", {"amount_fen": 11_500, "order_id": "B-2",
                                                                       "merchant_id": "m1"})
    assert (paid["principal_fen"], paid["bonus_fen"]) == (10_000, 1_500)
    _, secrets, status, _ = cards_of(api, "m2", 3, "INV-B1", {"price_fen": 28_500})
    assert status == 201
    number = sorted(secrets)[0]
    api.ok("POST", "/v1/gift-cards/payments", {"card_number": number, "secret": secrets[number], "amount_fen": 4_000,
                                               "order_id": "B-3", "merchant_id": "m2"})
    template = api.ok("POST", "/v1/coupon-templates", {"terms": MAN_100_20, "stock": 10, "state": "active"})
    codes = [api.ok("POST", f"/v1/members/{mid}/coupons", {"template_id": template["template_id"]},
                    token=member_token(mid))["code"] for _ in range(3)]
    use_coupon(api, codes[0], "B-4")
    api.ok("POST", f"/v1/members/{mid}/membership/purchase", {"plan": "PLUS-Y", "payment_ref": "WX-B2",
                                                               "amount_fen": 12_800})
    deliver()
    return mid, codes[1:], template["template_id"]


def test_two_days_by_hand_and_a_past_day_as_it_stood(api):
    mid, codes, template_id = day_one(api)
    first = api.ok("GET", SHEET)
    deliver()                                                       # delivered again: counted once
    assert api.ok("GET", SHEET) == first
    # Points: 300 earned, 100 redeemed: 200 expiring 2026-12, at half a fen: 100 face, 80 % expected.
    assert first["points"]["by_expiry_month"] == [{"expires": "2026-12", "points": 200, "face_value_fen": 100,
                                                   "liability_fen": 80}]
    assert first["points"]["valuation"] == {"version": 1, "fen_per_point": "0.5", "expected_redemption_percent": 80}
    # Stored value: 20,000 paid + 3,000 bonus, 11,500 spent (10,000 principal, 1,500 bonus).
    sv = first["stored_value"]
    assert (sv["principal_fen"], sv["bonus_fen"], sv["liability_fen"]) == (10_000, 1_500, 11_500)
    # Gift cards: three of 10,000 sold by m2, 4,000 spent.
    assert first["gift_cards"]["by_issuer"] == [{"issuer": "m2", "outstanding_fen": 26_000, "voided_owed_fen": 0,
                                                 "held_fen": 0, "liability_fen": 26_000}]
    # Coupons: three claimed, one used: two of 2,000 off, the brand bears all.
    (row,) = first["coupons"]["templates"]
    assert (row["template_id"], row["outstanding"], row["cost_per_coupon_fen"], row["cost_basis"],
            row["liability_fen"], row["by_bearer"]) == (template_id, 2, 2_000, "terms", 4_000, {"brand": 4_000})
    # PLUS-Y: 12,800 for 2026-03-01..2027-02-28 (365 days); one day earned: 12,800 × 1 ÷ 365 = 35.
    assert first["membership_fees"] == {"received_fen": 12_800, "earned_fen": 35, "deferred_fen": 12_765,
                                        "liability_fen": 12_765, "reconciliation": {"status": "none", "at": None,
                                                                                    "job": None}}
    assert first["total_fen"] == 80 + 11_500 + 26_000 + 4_000 + 12_765
    assert (first["as_of"], first["live"], first["merchant_id"]) == ("2026-03-01", True, None)
    assert first["points"]["reconciliation"] == {"status": "never_run", "at": None, "job": "points-reconcile"}

    clock.freeze(T0 + timedelta(days=1))
    api.ok("POST", f"/v1/members/{mid}/points/earn", {"order_id": "B-5", "amount_fen": 10_000, "merchant_id": "m1"})
    api.ok("POST", f"/v1/members/{mid}/stored-value/top-ups", {"amount_fen": 5_000, "payment_ref": "WX-B3",
                                                               "merchant_id": "m1"})
    use_coupon(api, codes[0], "B-6")
    deliver()
    second = api.ok("GET", SHEET)
    assert second["points"]["outstanding_points"] == 300 and second["points"]["liability_fen"] == 120
    assert second["stored_value"]["principal_fen"] == 15_000 and second["coupons"]["outstanding"] == 1
    assert second["membership_fees"]["deferred_fen"] == 12_800 - 12_800 * 2 // 365
    assert second["total_fen"] == 120 + 16_500 + 26_000 + 2_000 + 12_730
    before = api.ok("GET", SHEET + "?as_of=2026-03-01")
    assert before == {**first, "live": False}                       # the past day, as it stood that day


def test_a_cancelled_membership_leaves_the_deferral_from_its_day(api):
    clock.freeze(T0)
    api.ok("PUT", "/v1/memberships/plans", {"plans": {**PLANS, "refund_policy": "prorated"},
                                            "effective_from": "2026-01-01T00:00:00Z"})
    mid = api.member("13800142902")
    api.ok("POST", f"/v1/members/{mid}/membership/purchase", {"plan": "PLUS-Y", "payment_ref": "WX-C1",
                                                               "amount_fen": 12_800})
    api.ok("POST", f"/v1/members/{mid}/membership/renew", {"payment_ref": "WX-C2", "amount_fen": 12_800})
    clock.freeze(T0 + timedelta(days=9))
    cancelled = api.ok("POST", f"/v1/members/{mid}/membership/cancel", {"reason": "moving"})
    deliver()
    fees = api.ok("GET", SHEET)["membership_fees"]
    # the year 2026-03-01..2027-02-28 (365 days) keeps its 10 days: 12,800 − ⌊12,800 × 355 ÷ 365⌋ = 351,
    # earned on the 10th; the renewal not begun is refunded whole
    assert cancelled["refund_fen"] == 12_800 * 355 // 365 + 12_800 == 25_249
    assert (fees["received_fen"], fees["earned_fen"], fees["deferred_fen"]) == (351, 351, 0)
    before = api.ok("GET", SHEET + "?as_of=2026-03-09")["membership_fees"]          # the day before: both running
    assert (before["received_fen"], before["deferred_fen"]) == (25_600, 25_600 - 12_800 * 9 // 365)
    deliver()                                                                       # again: counted once
    assert api.ok("GET", SHEET)["membership_fees"] == fees


def test_a_random_workload_equals_the_members_accounts_added_up(api):
    """The points and stored value lines equal a recomputation from every member's own accounts,
    and each past day equals what it showed that day, over a seeded random workload of four days."""
    import random
    rnd = random.Random(29)
    clock.freeze(T0)
    api.ok("PUT", "/v1/stored-value/rules", {"rules": RULES, "effective_from": "2026-01-01T00:00:00Z"})
    members = [api.member(f"1380014300{n}") for n in range(4)]
    shown: dict[str, dict] = {}
    for day in range(4):
        clock.freeze(T0 + timedelta(days=day))
        for n in range(6):
            mid = rnd.choice(members)
            ref = f"R{day}-{n}"
            action = rnd.choice(("earn", "redeem", "top_up", "pay"))
            if action == "earn":
                api.ok("POST", f"/v1/members/{mid}/points/earn", {"order_id": ref, "amount_fen": rnd.randint(100, 50_000),
                                                                  "merchant_id": "m1"})
            elif action == "top_up":
                api.ok("POST", f"/v1/members/{mid}/stored-value/top-ups", {"amount_fen": rnd.choice((5_000, 20_000)),
                                                                           "payment_ref": ref, "merchant_id": "m1"})
            else:
                account = api.ok("GET", f"/v1/members/{mid}/points" if action == "redeem"
                                 else f"/v1/members/{mid}/stored-value")
                if action == "redeem" and account["accounts"]["points"]["available"] > 0:
                    api.ok("POST", f"/v1/members/{mid}/points/redeem",
                           {"points": rnd.randint(1, account["accounts"]["points"]["available"]), "reward": "gift"})
                elif action == "pay" and account["balance_fen"] > 0:
                    api.ok("POST", f"/v1/members/{mid}/stored-value/payments",
                           {"amount_fen": rnd.randint(1, account["balance_fen"]), "order_id": ref, "merchant_id": "m1"})
        deliver()
        sheet = api.ok("GET", SHEET)
        points = sum(api.ok("GET", f"/v1/members/{m}/points")["accounts"]["points"]["available"] for m in members)
        accounts = [api.ok("GET", f"/v1/members/{m}/stored-value") for m in members]
        assert sheet["points"]["outstanding_points"] == points
        assert sheet["points"]["liability_fen"] == sum(m["liability_fen"] for m in sheet["points"]["by_expiry_month"])
        assert sheet["stored_value"]["principal_fen"] == sum(a["principal"] + a["held_principal"] for a in accounts)
        assert sheet["stored_value"]["bonus_fen"] == sum(a["bonus"] + a["held_bonus"] for a in accounts)
        shown[sheet["as_of"]] = sheet
    for day, sheet in shown.items():
        assert api.ok("GET", f"{SHEET}?as_of={day}") == {**sheet, "live": day == "2026-03-04"}


def test_who_may_read_it_and_bad_days(api):
    day_one(api)
    for role in ("finance", "auditor", "ops_manager"):
        assert api.call("GET", SHEET, token=staff(role))[0] == 200
    mine = api.ok("GET", SHEET, token=staff("merchant_admin", "m2"))
    assert (mine["merchant_id"], mine["points"], mine["stored_value"], mine["membership_fees"]) == ("m2", None, None,
                                                                                                   None)
    assert mine["total_fen"] == mine["gift_cards"]["liability_fen"] == 26_000 and mine["coupons"]["templates"] == []
    assert api.ok("GET", SHEET + "?merchant_id=m2")["total_fen"] == 26_000          # HQ, one merchant's lines
    status, problem = api.call("GET", SHEET + "?merchant_id=m1", token=staff("merchant_admin", "m2"))
    assert status == 403 and problem["type"].endswith("/forbidden")
    for role, store in (("store_manager", "s1"), ("clerk", "s1")):
        assert api.call("GET", SHEET, token=staff(role, "m1", store))[0] == 403
    assert api.call("GET", SHEET, token=member_token("x"))[0] == 403
    assert api.call("GET", SHEET + "?as_of=2026-03-02")[0] == 422                    # the future
    assert api.call("GET", SHEET + "?as_of=yesterday")[0] in (400, 422)


def test_reconciliation_status_follows_the_latest_run(api):
    day_one(api)
    api.run_job("stored-value-reconcile")
    line = api.ok("GET", SHEET)["stored_value"]["reconciliation"]
    assert line["status"] == "ok" and line["job"] == "stored-value-reconcile" and line["at"]
    assert api.ok("GET", SHEET)["gift_cards"]["reconciliation"]["status"] == "never_run"


def test_the_valuation_is_versioned_and_checked(api):
    clock.freeze(T0)
    default = api.ok("GET", "/v1/points/valuation")
    assert default["version"] == 0 and default["valuation"] == {"fen_per_point": None,
                                                                "expected_redemption_percent": 100}
    for bad in ({"fen_per_point": "-1"}, {"fen_per_point": "NaN"}, {"fen_per_point": 1},
                {"expected_redemption_percent": 101}):
        assert api.call("PUT", "/v1/points/valuation", {"valuation": bad})[0] == 422
    assert api.ok("GET", "/v1/points/valuation")["version"] == 0                     # nothing saved
    api.ok("PUT", "/v1/points/valuation", {"valuation": {"fen_per_point": "1"}, "effective_from": "2026-01-01T00:00:00Z"})
    api.ok("PUT", "/v1/points/valuation", {"valuation": {"fen_per_point": "2"}, "effective_from": "2026-06-01T00:00:00Z"})
    assert api.ok("GET", "/v1/points/valuation")["valuation"]["fen_per_point"] == "1"
    assert api.ok("GET", "/v1/points/valuation?at=2026-07-01T00:00:00Z")["valuation"]["fen_per_point"] == "2"
    assert api.call("PUT", "/v1/points/valuation", {"valuation": {}}, token=staff("finance"))[0] == 403
    assert api.call("GET", "/v1/points/valuation", token=staff("auditor"))[0] == 200


@pytest.mark.parametrize(("terms", "uses", "saving", "expected"), [
    ({"kind": "threshold", "steps": [{"threshold_fen": 100, "off_fen": 10}, {"threshold_fen": 200, "off_fen": 30}]},
     0, 0, (30, "terms")),
    ({"kind": "percent_off", "percent": 80, "cap_fen": 5_000}, 0, 0, (5_000, "terms")),
    ({"kind": "percent_off", "percent": 80}, 3, 1_000, (333, "average_use")),
    ({"kind": "gift_item", "gift_sku": "G"}, 0, 0, (0, "none")),
])
def test_a_coupons_expected_cost(terms, uses, saving, expected):
    assert balance.coupon_cost(terms, uses, saving) == expected


def test_a_fee_is_earned_day_by_day():
    from datetime import date
    start, end = date(2026, 3, 1), date(2026, 3, 30)
    assert [balance.earned_fen(3_000, start, end, date(2026, 3, d)) for d in (1, 15, 30, 31)] == [100, 1_500, 3_000,
                                                                                                  3_000]
    assert balance.earned_fen(3_000, start, end, date(2026, 2, 28)) == 0
