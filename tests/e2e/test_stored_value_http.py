"""Stored value over real HTTP on the local stack: 32 tills paying at once never overdraw, and
a payment provider's repeated callbacks top up once."""

from __future__ import annotations

import threading

from tests.e2e.test_tenancy_http import A, pos, register_at, staff


def test_thirty_two_concurrent_payments_never_overdraw_and_a_repeated_top_up_counts_once(api, stack):
    hq = staff(api, stack, A, "super_admin")
    bob, _ = register_at(api, stack, A)
    replies = []

    def top_up(i):
        replies.append(api.call("POST", f"/v1/members/{bob}/stored-value/top-ups",
                                {"amount_fen": 100_000, "payment_ref": f"WX-{bob}"}, signed_by=pos(stack, A),
                                key=f"t{i}-{bob}"))

    threads = [threading.Thread(target=top_up, args=(i,)) for i in range(16)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert [r.status_code for r in replies].count(201) == 16, replies[0].text
    account = api.call("GET", f"/v1/members/{bob}/stored-value", headers=hq).json()
    assert account["topped_up"] == 100_000
    start = account["balance_fen"]
    paid = []

    def pay(i):
        paid.append(api.call("POST", f"/v1/members/{bob}/stored-value/payments",
                             {"amount_fen": 5_000, "order_id": f"sv-{bob}-{i}"}, signed_by=pos(stack, A),
                             key=f"p{i}-{bob}"))

    threads = [threading.Thread(target=pay, args=(i,)) for i in range(32)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    statuses = [r.status_code for r in paid]
    assert set(statuses) <= {201, 409, 503}
    ok = statuses.count(201)
    assert ok == min(32 - statuses.count(503), start // 5_000)        # every payment the balance allows
    assert all(r.json()["type"].endswith(("/insufficient-balance", "/busy")) for r in paid if r.status_code != 201)
    proof = api.call("GET", f"/v1/stored-value/reconciliation?member_id={bob}", headers=hq).json()
    assert proof["balanced"], proof
    assert proof["account"]["principal"] + proof["account"]["bonus"] == start - 5_000 * ok >= 0
