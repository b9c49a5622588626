"""Coupons (#26 "Measure"): what a claim, a validation and a write-off cost (requests, RCU, WCU,
p50), a member's list of 50 coupons, and claims of one template under contention on the local
stack (64 threads, a stock of 2,000 over 4 shards): claims a second, races lost, and that exactly
the stock was taken."""

from __future__ import annotations

import resource
import threading
import time
from typing import Any

from bench.__main__ import _client, percentile, row, timed

TERMS = {"kind": "amount_off", "title": "满100减20", "amount_off_fen": 2_000, "min_spend_fen": 10_000,
         "validity": {"days_after_claim": 30}}


def coupon_operations(stack, n: int) -> list[dict[str, Any]]:
    """Per-call cost of claimCoupon (each a new member), validateCoupon, writeOffCoupon and
    listMemberCoupons for a member holding 50 coupons."""
    session, post, staff = _client(stack, "cp")
    template = post("/v1/coupon-templates", {"terms": TERMS, "stock": 100_000, "state": "active"})["template_id"]
    members = [post("/v1/members", {"phone": f"1365555{i:04d}"})["member_id"] for i in range(n)]
    codes: list[str] = []
    rows = []
    samples, usage = timed(n, lambda i: codes.append(post(f"/v1/members/{members[i]}/coupons",
                                                          {"template_id": template})["code"]))
    rows.append(row("claimCoupon", "a new member each, stock 100,000 over 32 shards", n, samples, usage))
    cart = {"lines": [{"sku": "tea", "quantity": 3, "unit_price_fen": 3_990}], "merchant_id": "demo-merchant"}
    samples, usage = timed(n, lambda i: post("/v1/coupons/validate", {**cart, "code": codes[i], "order_id": f"cv-{i}"}))
    rows.append(row("validateCoupon", "a cart of one line", n, samples, usage))
    samples, usage = timed(n, lambda i: post("/v1/coupons/write-offs", {**cart, "code": codes[i], "order_id": f"cw-{i}"}))
    rows.append(row("writeOffCoupon", "a cart of one line", n, samples, usage))
    holder = post("/v1/members", {"phone": "13655559999"})["member_id"]
    many = post("/v1/coupon-templates", {"terms": TERMS, "stock": 1_000, "state": "active"})["template_id"]
    for _ in range(50):
        post(f"/v1/members/{holder}/coupons", {"template_id": many})
    samples, usage = timed(n, lambda i: session.get(f"{stack.api_url}/v1/members/{holder}/coupons", headers=staff))
    rows.append(row("listMemberCoupons", "a member with 50 coupons", n, samples, usage))
    return rows


def claim_contention(stack, threads: int = 64, stock: int = 2_000, shards_hint: int = 4) -> dict[str, Any]:
    """``threads`` tills claiming one template for new members until its stock is gone: claims a
    second, the latency, races lost (503 busy or concurrent-update answers retried) and the level."""
    import requests
    session, post, staff = _client(stack, "cc")
    template = post("/v1/coupon-templates", {"terms": TERMS, "stock": stock, "state": "active"})["template_id"]
    members = [post("/v1/members", {"phone": f"1366{i:07d}"})["member_id"] for i in range(stock + threads * 2)]
    lock = threading.Lock()
    got, refused, retried, latencies = [0], [0], [0], []
    queue = iter(range(len(members)))

    def till() -> None:
        s = requests.Session()
        while True:
            with lock:
                i = next(queue, None)
            if i is None:
                return
            for _ in range(20):
                t = time.perf_counter()
                r = s.post(f"{stack.api_url}/v1/members/{members[i]}/coupons", json={"template_id": template},
                           headers={**staff, "Idempotency-Key": f"cc-{i}"}, timeout=60)
                ms = (time.perf_counter() - t) * 1000
                if r.status_code in (409, 503) and r.json()["type"].endswith(("/concurrent-update", "/busy")):
                    with lock:
                        retried[0] += 1
                    continue
                with lock:
                    latencies.append(ms)
                    if r.status_code == 201:
                        got[0] += 1
                    else:
                        refused[0] += 1
                if r.status_code == 409:
                    return                                  # the stock is gone: this till stops
                break

    started = time.time()
    workers = [threading.Thread(target=till) for _ in range(threads)]
    [w.start() for w in workers]
    [w.join() for w in workers]
    seconds = time.time() - started
    level = session.get(f"{stack.api_url}/v1/coupon-templates/{template}", headers=staff).json()["stock"]
    return {"threads": threads, "stock": stock, "claimed": got[0], "refused": refused[0], "races_retried": retried[0],
            "claims_per_second": round(got[0] / seconds, 1), "p50_ms": round(percentile(latencies, 50), 1),
            "p99_ms": round(percentile(latencies, 99), 1), "level_after": level}


def targeted_issue(stack, members: int = 10_000, first: int = 5_000_000) -> dict[str, Any]:
    """One template issued to ``members`` members through ``issueCoupons`` (at most 8,000 ids a
    request: ceil(members / 8,000) requests), then the ``coupon-issues`` job run to the end: the
    requests and capacity of the API calls, of the job, and of the stream consumers after, and the
    seconds each took; checked: every member got one coupon and the stock's ``taken`` is ``members``.
    Printed only (``python -m bench --coupon-issue N``): never written to results.json."""
    from bench.__main__ import fill_members
    from chalicelib.coupons.issues import MAX_MEMBERS
    from devstack import emulator
    from devstack.capacity import Usage
    session, post, _ = _client(stack, "ti")
    fill_members(members, first)
    ids = [f"01BENCH{i:019d}" for i in range(first, first + members)]
    template = post("/v1/coupon-templates", {"terms": TERMS, "stock": members, "state": "active",
                                             "claimable": False})["template_id"]
    stack.drain(timeout=600)                       # the set-up's events are not the issue's
    before, t = emulator.usage(), time.perf_counter()
    issues = [post(f"/v1/coupon-templates/{template}/issues", {"member_ids": ids[at:at + MAX_MEMBERS]})["issue_id"]
              for at in range(0, members, MAX_MEMBERS)]
    request, seconds = emulator.usage().minus(before), time.perf_counter() - t
    platform = {"Authorization": "Bearer " + stack.credentials["staff_tokens"]["platform_admin"]}
    runs, job, job_seconds = 0, Usage(), 0.0
    while True:                                   # a run goes on to its budget (2 h here): one is enough
        runs += 1
        started, t = emulator.usage(), time.perf_counter()
        r = session.post(f"{stack.api_url}/v1/jobs/coupon-issues/runs", json={},
                         headers={**platform, "Content-Type": "application/json"}, timeout=7200)
        assert r.status_code == 200, r.text
        job, job_seconds = job.plus(emulator.usage().minus(started)), job_seconds + time.perf_counter() - t
        shown = [post(f"/v1/coupon-issues/{i}", None, "GET") for i in issues]
        if all(s["status"] == "done" for s in shown) or runs >= 20:
            break
    done = emulator.usage()
    stack.drain(timeout=600)
    consumers = emulator.usage().minus(done)
    level = post(f"/v1/coupon-templates/{template}", None, "GET")["stock"]
    issued = sum(s["issued"] for s in shown)
    assert issued == members and level["taken"] == members, (shown, level)

    def cost(u: Any) -> dict[str, Any]:
        return {"requests": u.requests, "rcu": round(u.rcu, 1), "wcu": round(u.wcu + u.wcu_index, 1),
                "wcu_index": round(u.wcu_index, 1)}
    return {"members": members, "issue_requests": len(issues), "issued": issued, "job_runs": runs,
            "request": {**cost(request), "seconds": round(seconds, 2)},
            "job": {**cost(job), "seconds": round(job_seconds, 1),
                    "wcu_per_member": round((job.wcu + job.wcu_index) / members, 2),
                    "requests_per_member": round(job.requests / members, 2)},
            "consumers": cost(consumers), "stock_after": level,
            # the bench process runs the local API and its jobs in its threads: its peak resident size
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
