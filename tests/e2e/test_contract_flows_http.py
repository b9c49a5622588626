"""The operations no other end-to-end test drives to success, driven over HTTP as their callers
would, each checked by what it leaves behind (so the last test of the suite sees a real reply of
every operation: tests/e2e/test_openapi.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.shared import clock
from devstack.credentials import staff_token

PROGRAM, SHOP = "contract-flows", "shop"


@pytest.fixture(scope="module")
def hq(api, stack):
    """A program of its own (its rules cannot leak into other tests), with a merchant; two HQ
    staff (a cash-out is decided by someone other than its requester)."""
    platform = api.staff("platform_admin")
    made = api.call("POST", "/v1/programs", {"program_id": PROGRAM, "name": "契约"}, headers=platform,
                    key="contract-program")
    assert made.status_code in (201, 409), made.text
    first = api.bearer(staff_token("super_admin", "contract-hq-a", program_id=PROGRAM))
    second = api.bearer(staff_token("super_admin", "contract-hq-b", program_id=PROGRAM))
    assert api.call("POST", "/v1/merchants", {"merchant_id": SHOP, "name": "一号店"}, headers=first,
                    key="contract-shop").status_code in (201, 409)
    return first, second


def member(api, hq, phone: str) -> tuple[str, dict[str, str]]:
    """A new member of the program and their own app's headers."""
    made = api.call("POST", "/v1/members", {"phone": phone, "merchant_id": SHOP}, headers=hq, key=f"c-{phone}")
    assert made.status_code == 201, made.text
    member_id = made.json()["member_id"]
    token = api.call("POST", "/v1/auth/member-tokens", {"member_id": member_id, "verified_by": "sms_otp"},
                     headers=hq, key=f"c-token-{phone}")
    assert token.status_code == 201, token.text
    return member_id, api.bearer(token.json()["token"])


def put(api, hq, path, body, tag):
    saved = api.call("PUT", path, body, headers=hq, key=f"c-{tag}")
    assert saved.status_code == 201, saved.text


def test_a_member_checks_in_claims_a_coupon_pack_and_reads_their_overview(api, hq):
    first, _ = hq
    put(api, first, "/v1/points/rules", {"rules": {"points_per_yuan": "1", "behaviors": {"check_in": {"points": 5}}}},
        "rules")
    put(api, first, "/v1/tiers/ladder", {"ladder": {"tiers": [{"code": "V1", "name": "普通会员", "threshold": 0}]}},
        "ladder")
    put(api, first, "/v1/benefits/rules", {"rules": {"rules": [
        {"id": "welcome", "name": "入会礼", "when": {"min_tier": "V1"},
         "give": [{"kind": "coupon_pack", "ref": "PACK-WELCOME", "grant": "monthly"}]}]}}, "benefits")
    member_id, own = member(api, first, "13600005555")

    checked_in = api.call("POST", "/v1/members/me/points/behaviors", {"behavior": "check_in", "ref": "day-1"},
                          headers=own, key="c-check-in-1")
    assert checked_in.status_code == 201, checked_in.text
    assert checked_in.json()["points"] == 5
    again = api.call("POST", "/v1/members/me/points/behaviors", {"behavior": "check_in", "ref": "day-1"},
                     headers=own, key="c-check-in-2")              # the same day again: nothing more
    assert again.status_code == 409, again.text
    points = api.call("GET", f"/v1/members/{member_id}/points", headers=first).json()["accounts"]["points"]
    assert points["available"] == 5

    claimed = api.call("POST", "/v1/members/me/benefits/claim", {"rule": "welcome", "ref": "PACK-WELCOME"},
                       headers=own, key="c-claim-1")
    assert claimed.status_code == 201, claimed.text
    twice = api.call("POST", "/v1/members/me/benefits/claim", {"rule": "welcome", "ref": "PACK-WELCOME"},
                     headers=own, key="c-claim-2")                 # once a month
    assert twice.status_code == 409, twice.text
    granted = api.call("GET", "/v1/members/me/entitlements", headers=own)
    assert granted.status_code == 200, granted.text
    assert [e["ref"] for e in granted.json()["entitlements"]] == ["PACK-WELCOME"]

    overview = api.call("GET", "/v1/members/me/overview", headers=own)
    assert overview.status_code == 200, overview.text
    assert overview.json()["member_id"] == member_id and overview.json()["tier"]["tier"]["code"] == "V1"


def test_a_stored_value_hold_confirmed_and_one_cancelled(api, hq):
    first, _ = hq
    member_id, _ = member(api, first, "13600006666")
    base = f"/v1/members/{member_id}/stored-value"
    assert api.call("POST", f"{base}/top-ups", {"amount_fen": 10_000, "payment_ref": "WX-C-1", "merchant_id": SHOP},
                    headers=first, key="c-top-1").status_code == 201
    kept = api.call("POST", f"{base}/holds", {"amount_fen": 3_000, "order_id": "C-H1", "merchant_id": SHOP},
                    headers=first, key="c-hold-1")
    assert kept.status_code == 201 and kept.json()["balance_fen"] == 7_000, kept.text
    confirmed = api.call("POST", f"{base}/holds/{kept.json()['hold_id']}/confirm", {}, headers=first,
                         key="c-confirm-1")
    assert confirmed.status_code == 200, confirmed.text
    dropped = api.call("POST", f"{base}/holds", {"amount_fen": 2_000, "order_id": "C-H2", "merchant_id": SHOP},
                       headers=first, key="c-hold-2")
    assert dropped.status_code == 201 and dropped.json()["balance_fen"] == 5_000, dropped.text
    cancelled = api.call("POST", f"{base}/holds/{dropped.json()['hold_id']}/cancel", {}, headers=first,
                         key="c-cancel-2")
    assert cancelled.status_code == 200, cancelled.text
    account = api.call("GET", base, headers=first).json()
    # 10,000 topped up, 3,000 spent by the confirmed hold, the cancelled 2,000 back: 7,000, none held
    assert (account["balance_fen"], account["held_principal"], account["spent_principal"]) == (7_000, 0, 3_000)


def test_a_cash_out_above_the_approval_amount_is_rejected_by_another_hq_staff_member(api, hq):
    first, second = hq
    put(api, first, "/v1/stored-value/rules", {"rules": {"cash_out_approval_above_fen": 1_000}}, "sv-rules")
    member_id, _ = member(api, first, "13600007777")
    base = f"/v1/members/{member_id}/stored-value"
    assert api.call("POST", f"{base}/top-ups", {"amount_fen": 5_000, "payment_ref": "WX-C-2", "merchant_id": SHOP},
                    headers=first, key="c-top-2").status_code == 201
    asked = api.call("POST", f"{base}/cash-out", {"reason": "moving away"}, headers=first, key="c-cash-out")
    assert asked.status_code == 200 and asked.json()["status"] == "pending", asked.text
    cash_out = asked.json()["cash_out_id"]
    shown = api.call("GET", f"{base}/cash-outs/{cash_out}", headers=second)
    assert shown.status_code == 200 and shown.json()["status"] == "pending", shown.text
    rejected = api.call("POST", f"{base}/cash-outs/{cash_out}/reject", {"reason": "the receipt is missing"},
                        headers=second, key="c-reject")
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected", rejected.text
    after = api.call("GET", f"{base}/cash-outs/{cash_out}", headers=first).json()
    assert after["status"] == "rejected" and after["decided_by"] == "staff:contract-hq-b"
    account = api.call("GET", base, headers=first).json()
    assert (account["principal"], account["held_principal"], account["cashed_out"]) == (5_000, 0, 0)


def test_an_expired_card_is_extended_and_another_recognised_as_breakage(api, stack, hq):
    first, _ = hq
    last_day = date.today() + timedelta(days=3)
    batch = api.call("POST", "/v1/gift-cards/batches", {"name": "过期卡", "face_value_fen": 10_000, "count": 2,
                                                         "valid_until": last_day.isoformat()},
                     headers=first, key="c-batch")
    assert batch.status_code == 202, batch.text
    batch_id, first_number = batch.json()["batch_id"], batch.json()["first_number"]
    run = api.call("POST", "/v1/jobs/gift-card-batches/runs", {"program_id": PROGRAM}, headers=api.staff("platform_admin"),
                   key="c-batch-run")
    assert run.status_code == 200, run.text
    numbers = _numbers(api, first, batch_id, first_number)
    sold = api.call("POST", f"/v1/gift-cards/batches/{batch_id}/sales",
                    {"invoice_ref": "INV-C", "purchaser": "某公司", "first_number": numbers[0],
                     "last_number": numbers[1]}, headers=first, key="c-sale")
    assert sold.status_code == 201, sold.text
    clock.freeze(datetime.now(UTC) + timedelta(days=10))          # (the stack runs in this process)
    try:
        assert api.call("GET", f"/v1/gift-cards/{numbers[0]}", headers=first).json()["state"] == "expired"
        extended = api.call("POST", f"/v1/gift-cards/{numbers[0]}/extend",
                            {"valid_until": (last_day + timedelta(days=365)).isoformat(), "reason": "holder asked"},
                            headers=first, key="c-extend")
        assert extended.status_code == 200, extended.text
        card = api.call("GET", f"/v1/gift-cards/{numbers[0]}", headers=first).json()
        assert card["valid_until"] == (last_day + timedelta(days=365)).isoformat() and card["balance_fen"] == 10_000
        broken = api.call("POST", f"/v1/gift-cards/{numbers[1]}/breakage", {"reason": "offered an extension, none taken"},
                          headers=first, key="c-breakage")
        assert broken.status_code == 200, broken.text
        card = api.call("GET", f"/v1/gift-cards/{numbers[1]}", headers=first).json()
        assert card["balance_fen"] == 0
    finally:
        clock.freeze(None)


def _numbers(api, hq, batch_id: str, first_number: str) -> list[str]:
    """The batch's card numbers, from its export (HQ downloads it once)."""
    export = api.call("POST", f"/v1/gift-cards/batches/{batch_id}/export", headers=hq, key=f"c-export-{batch_id}")
    assert export.status_code == 201, export.text
    rows = api.call("GET", export.json()["parts"][0]["path"], headers=hq).text.splitlines()[1:]
    numbers = [row.split(",")[0] for row in rows]
    assert numbers[0] == first_number
    return numbers
