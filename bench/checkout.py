"""Checkout (#27 "Measure"): a quote and a commit for a 20-line cart of a member holding 50
coupons, points and stored value (requests, RCU, WCU, p50/p99), the completion and the cancel of
a committed checkout, and resolveMemberCode. HQ staff act as the till at the demo merchant's store."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import bench.__main__ as shared
from bench.__main__ import _client, row, timed

MERCHANT, STORE = "demo-merchant", "demo-store"
TEMPLATES = [
    {"kind": "amount_off", "title": "满100减20", "amount_off_fen": 2_000, "min_spend_fen": 10_000,
     "validity": {"days_after_claim": 30}, "stacking": {"category": "joint", "group": "a"}},
    {"kind": "percent_off", "title": "九折", "percent": 90, "validity": {"days_after_claim": 30},
     "stacking": {"category": "joint", "group": "b"}},
    {"kind": "amount_off", "title": "满300减50", "amount_off_fen": 5_000, "min_spend_fen": 30_000,
     "validity": {"days_after_claim": 30}},
    {"kind": "amount_off", "title": "茶叶满200减30", "amount_off_fen": 3_000, "min_spend_fen": 20_000,
     "applicability": {"categories": ["tea"]}, "validity": {"days_after_claim": 30},
     "stacking": {"category": "joint", "group": "a"}},
    {"kind": "no_threshold", "title": "无门槛5元", "amount_off_fen": 500, "validity": {"days_after_claim": 30},
     "stacking": {"category": "joint", "group": "c"}},
]
CART = [{"sku": f"SKU-{i:02d}", "category": "tea" if i % 3 == 0 else "bakery", "quantity": 1 + i % 3,
         "unit_price_fen": 1_990 + 500 * i} for i in range(20)]


def stages(n: int, steps: list[Callable[[int], Any]]) -> list[tuple[list[float], Any]]:
    """Run ``steps`` in turn for each of ``n`` rounds, each measured apart as
    :func:`bench.__main__.timed` measures one operation (its requests and units, then its stream
    consumers')."""
    from devstack import emulator
    from devstack.capacity import Usage
    if shared.DRAIN:
        shared.DRAIN()
    samples: list[list[float]] = [[] for _ in steps]
    apis: list[Any] = [Usage() for _ in steps]
    consumers: list[Any] = [Usage() for _ in steps]
    for i in range(n):
        for k, step in enumerate(steps):
            before = emulator.usage()
            t = time.perf_counter()
            step(i)
            samples[k].append((time.perf_counter() - t) * 1000)
            called = emulator.usage()
            apis[k] = apis[k].plus(called.minus(before))
            if shared.DRAIN:
                shared.DRAIN()
                consumers[k] = consumers[k].plus(emulator.usage().minus(called))
    for api, used in zip(apis, consumers, strict=True):
        api.consumers = used
    return list(zip(samples, apis, strict=True))


def checkout_operations(stack, n: int) -> list[dict[str, Any]]:
    """Per-call cost of quoteCheckout, commitCheckout, cancelCheckout, completeCheckout and a
    partial refundCheckout for a member holding 50 coupons (10 each of 5 templates), and of
    resolveMemberCode."""
    session, post, staff = _client(stack, "ck")
    templates = [post("/v1/coupon-templates", {"terms": terms, "stock": 10_000, "state": "active"})["template_id"]
                 for terms in TEMPLATES]
    member = post("/v1/members", {"phone": "13677770001"})["member_id"]
    for i in range(50):
        post(f"/v1/members/{member}/coupons", {"template_id": templates[i % len(templates)]})
    post(f"/v1/members/{member}/points/earn", {"order_id": "ck-seed", "amount_fen": 50_000_000, "merchant_id": MERCHANT})
    post(f"/v1/members/{member}/stored-value/top-ups", {"amount_fen": 100_000, "payment_ref": "ck-seed",
                                                         "merchant_id": MERCHANT})
    body = {"member_id": member, "merchant_id": MERCHANT, "store_id": STORE, "channel": "pos", "lines": CART}
    # each quote is committed and cancelled before the next (its coupons come back): one measure a stage
    state: dict[str, Any] = {}
    (q_samples, q_usage), (c_samples, c_usage), (x_samples, x_usage) = stages(n, [
        lambda i: state.update(quote=post("/v1/checkouts/quotes", body)),
        lambda i: state.update(checkout=post("/v1/checkouts", {"quote_id": state["quote"]["quote_id"],
                                                               "stored_value_fen": 1_000})),
        lambda i: post(f"/v1/checkouts/{state['checkout']['checkout_id']}/cancel", {})])
    chosen = len(state["quote"]["coupons"]["chosen"])
    rows = [row("quoteCheckout", f"20 lines, 50 coupons ({chosen} chosen), points", n, q_samples, q_usage),
            row("commitCheckout", f"{chosen} coupons, points, stored value", n, c_samples, c_usage),
            row("cancelCheckout", f"{chosen} coupons, points, stored value", n, x_samples, x_usage)]
    done = min(n, 50 // max(1, chosen))            # each completion uses its coupons up
    ready = [post("/v1/checkouts", {"quote_id": post("/v1/checkouts/quotes", body)["quote_id"],
                                    "stored_value_fen": 1_000}) for _ in range(done)]
    samples, usage = timed(done, lambda i: post(f"/v1/checkouts/{ready[i]['checkout_id']}/complete",
                                                {"payment_ref": f"wx-{i}"}))
    rows.append(row("completeCheckout", f"{chosen} coupons, points, stored value; earns", done, samples, usage))
    samples, usage = timed(done, lambda i: post(f"/v1/checkouts/{ready[i]['checkout_id']}/refunds", {
        "refund_id": f"rf-{i}", "lines": [{"line": 1, "quantity": 1}], "reason": "bench"}))
    rows.append(row("refundCheckout", "one unit of a 20-line checkout's line (points, stored value back)", done,
                    samples, usage))
    tokens = []
    for i in range(n):
        m = post("/v1/members", {"phone": f"1367778{i:04d}"})["member_id"]
        tokens.append(post("/v1/auth/member-tokens", {"member_id": m, "verified_by": "sms_otp"})["token"])
    codes = [session.get(f"{stack.api_url}/v1/members/me/member-code",
                         headers={"Authorization": f"Bearer {t}"}).json()["code"] for t in tokens]
    samples, usage = timed(n, lambda i: post("/v1/member-codes/resolve", {"code": codes[i]}))
    rows.append(row("resolveMemberCode", "a member's code of the minute", n, samples, usage))
    return rows
