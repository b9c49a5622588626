"""Tiers over HTTP on the local stack: the upgrade arrives through the stream pump shortly after
the earning request (the figure is printed for the README), a POS sees the member's tier, and the
tier of the order's time sets its multiplier."""

from __future__ import annotations

import time
from datetime import date, timedelta

from tests.e2e.test_tenancy_http import P2, A, pos, register_at, staff

LADDER = {"tiers": [{"code": "V1", "name": "普通会员", "threshold": 0},
                    {"code": "V2", "name": "白银会员", "threshold": 1_000, "validity_months": 12},
                    {"code": "V3", "name": "黄金会员", "threshold": 5_000, "validity_months": 12}]}


def test_an_upgrade_follows_the_earning_through_the_stream(api, stack):
    hq = staff(api, stack, A, "super_admin")
    assert api.call("PUT", "/v1/tiers/ladder", {"ladder": LADDER}, headers=hq, key="e2e-ladder").status_code == 201
    bob, _ = register_at(api, stack, A)
    started = time.perf_counter()
    r = api.call("POST", f"/v1/members/{bob}/points/earn", {"order_id": f"tier-{bob}", "amount_fen": 600_000},
                 signed_by=pos(stack, A), key=f"te-{bob}")
    assert r.status_code == 201 and r.json()["growth"] == 6_000
    seen = None
    while time.perf_counter() - started < 10:
        seen = api.call("GET", f"/v1/members/{bob}/tier", signed_by=pos(stack, A)).json()
        if seen["tier"]["code"] != "V1":
            break
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    print(f"\nupgrade visible {elapsed * 1000:.0f} ms after the earning request was sent")
    assert seen is not None and seen["tier"]["code"] == "V3" and seen["growth"] == 6_000
    history = api.call("GET", f"/v1/members/{bob}/tier/history", headers=hq).json()["changes"]
    assert [(c["from"], c["to"], c["cause"]) for c in history] == [("V1", "V3", "crossing")]
    # another program's HQ neither sees nor sets this member's tier
    other = staff(api, stack, P2, "super_admin")
    assert api.call("GET", f"/v1/members/{bob}/tier", headers=other).status_code == 404
    assert api.call("PUT", f"/v1/members/{bob}/tier", {"tier": "V1", "until": "2099-01-01", "reason": "x"},
                    headers=other, key=f"tf-{bob}").status_code == 404
    # a store clerk may read but not set a floor
    clerk = staff(api, stack, A, "clerk")
    assert api.call("PUT", f"/v1/members/{bob}/tier", {"tier": "V3", "until": "2099-01-01", "reason": "x"},
                    headers=clerk, key=f"tc-{bob}").status_code == 403


def test_a_till_sells_plus_once_per_payment_and_the_member_sees_it(api, stack):
    hq = staff(api, stack, A, "super_admin")
    plans = {"plans": [{"code": "PLUS-Y", "name": "PLUS 年卡", "period": "year", "price_fen": 12_800}],
             "refund_policy": "prorated"}
    assert api.call("PUT", "/v1/memberships/plans", {"plans": plans}, headers=hq, key="e2e-plans").status_code == 201
    bob, _ = register_at(api, stack, A)
    body = {"plan": "PLUS-Y", "payment_ref": f"WX-{bob}", "amount_fen": 12_800}
    first = api.call("POST", f"/v1/members/{bob}/membership/purchase", body, signed_by=pos(stack, A), key=f"p1-{bob}")
    again = api.call("POST", f"/v1/members/{bob}/membership/purchase", body, signed_by=pos(stack, A), key=f"p2-{bob}")
    assert first.status_code == again.status_code == 201
    assert again.json()["already_applied"] is True and again.json()["until"] == first.json()["until"]
    shown = api.call("GET", f"/v1/members/{bob}/membership", headers=hq).json()
    assert [h["action"] for h in shown["history"]] == ["purchased"]
    # the till may sell but not cancel (refunds go back through HQ or the member)
    assert api.call("POST", f"/v1/members/{bob}/membership/cancel", {"reason": "x"}, signed_by=pos(stack, A),
                    key=f"c1-{bob}").status_code == 403
    done = api.call("POST", f"/v1/members/{bob}/membership/cancel", {"reason": "changed mind"}, headers=hq,
                    key=f"c2-{bob}").json()
    started, until = (date.fromisoformat(first.json()[k]) for k in ("started", "until"))
    days = (until - started).days + 1                                       # 365 or 366
    assert done["status"] == "cancelled" and done["refund_fen"] == 12_800 * (days - 1) // days  # today is kept
    assert (done["until"], done["active"]) == (started.isoformat(), True)   # paid today: runs to midnight
    again = api.call("POST", f"/v1/members/{bob}/membership/cancel", {"reason": "again"}, headers=hq, key=f"c3-{bob}")
    assert again.status_code == 409 and again.json()["type"].endswith("/membership-cancelled")
    renewed = api.call("POST", f"/v1/members/{bob}/membership/renew", {"payment_ref": f"WX2-{bob}",
                                                                        "amount_fen": 12_800}, headers=hq,
                       key=f"r1-{bob}")
    assert renewed.status_code == 201 and renewed.json()["status"] == "active"
    assert renewed.json()["periods"][-1]["start"] == (started + timedelta(days=1)).isoformat()   # not today again


def _add_months(day, months):
    import calendar
    from datetime import date
    y, m = divmod(day.month - 1 + months, 12)
    return date(day.year + y, m + 1, min(day.day, calendar.monthrange(day.year + y, m + 1)[1]))


def test_concurrent_purchases_stack_each_payment_once(api, stack):
    """16 tills sell a month each (distinct payments) while the provider's webhook repeats one
    payment 16 times: 17 months stacked, the repeat applied once, every answer 201."""
    import threading
    from datetime import timedelta

    from chalicelib.shared import clock
    hq = staff(api, stack, A, "super_admin")
    plans = {"plans": [{"code": "PLUS-M", "name": "PLUS 月卡", "period": "month", "price_fen": 1_500}]}
    assert api.call("PUT", "/v1/memberships/plans", {"plans": plans}, headers=hq, key="e2e-plans-m").status_code == 201
    bob, _ = register_at(api, stack, A)
    replies = []

    def buy(ref, key):
        replies.append(api.call("POST", f"/v1/members/{bob}/membership/purchase",
                                {"plan": "PLUS-M", "payment_ref": ref, "amount_fen": 1_500},
                                signed_by=pos(stack, A), key=key))

    jobs = [(f"PAY-{bob}-{i}", f"b{i}-{bob}") for i in range(16)] + [(f"DUP-{bob}", f"d{i}-{bob}") for i in range(16)]
    threads = [threading.Thread(target=buy, args=job) for job in jobs]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert [r.status_code for r in replies].count(201) == 32, [r.text[:200] for r in replies if r.status_code != 201]
    shown = api.call("GET", f"/v1/members/{bob}/membership", headers=hq).json()
    today = clock.program_date()
    assert len(shown["periods"]) == 17
    assert shown["until"] == (_add_months(today, 17) - timedelta(days=1)).isoformat() or today.day > 28
    assert [h["action"] for h in shown["history"]].count("purchased") == 1
    assert sum(1 for r in replies if r.json().get("already_applied")) == 15
