"""Measure the system on the local stack and write ``bench/results.json``.

What is measured, per operation: DynamoDB requests, RCU and WCU (computed by the AWS rules in
the emulator, since moto reports none), the indexes' write units apart, what the stream consumers
then spend on the operation's events (delivered after each call, outside its time), and p50/p99
latency over real HTTP, at two data sizes.
Also: emulator transactions at 1k and 100k items (patched, and moto as shipped at small sizes),
the concurrent double-spend check, and the Lambda cold start (import of app.py vs a bare Chalice
app). Every loop is bounded in count; all traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

from devstack import access
from devstack.checks import double_spend

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results.json"
ACCOUNT, REGION = "123456789012", "cn-north-1"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# Delivers every stream record written so far to its consumers, in this thread (the stack's
# pumps run no thread in the benchmark): set by main, so that each operation's consumers are counted.
DRAIN: Callable[[], Any] | None = None


def timed(n: int, fn: Callable[[int], Any], warmup: int = 0) -> tuple[list[float], Any]:
    """Call ``fn(0..n-1)``; the first ``warmup`` calls are made but not measured.

    With :data:`DRAIN` set, the stream is delivered after each call (outside its time), and what
    the consumers used is returned apart, as the usage's ``consumers``."""
    from devstack import emulator
    from devstack.capacity import Usage
    for i in range(warmup):
        fn(n + i)
    if DRAIN:
        DRAIN()                                     # what set-up left on the stream is not this operation's
    api, consumers = Usage(), Usage()
    samples = []
    for i in range(n):
        before = emulator.usage()
        t = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - t) * 1000)
        called = emulator.usage()
        api = api.plus(called.minus(before))
        if DRAIN:
            DRAIN()
            consumers = consumers.plus(emulator.usage().minus(called))
    api.consumers = consumers                       # type: ignore[attr-defined]
    return samples, api


def row(name: str, size: str, n: int, samples: list[float], usage) -> dict[str, Any]:
    """One operation's figures per call: the API's own (base tables, then its index writes), its
    stream consumers' (base and index writes together), and the total write units."""
    consumers = getattr(usage, "consumers", None)
    consumer_wcu = (consumers.wcu + consumers.wcu_index) / n if consumers else 0.0
    return {"operation": name, "data": size, "calls": n,
            "requests_per_call": round(usage.requests / n, 2), "rcu_per_call": round(usage.rcu / n, 2),
            "wcu_per_call": round(usage.wcu / n, 2), "wcu_index_per_call": round(usage.wcu_index / n, 2),
            "consumer_requests_per_call": round(consumers.requests / n, 2) if consumers else 0,
            "consumer_rcu_per_call": round(consumers.rcu / n, 2) if consumers else 0,
            "consumer_wcu_per_call": round(consumer_wcu, 2),
            "consumer_wcu_index_per_call": round(consumers.wcu_index / n, 2) if consumers else 0,
            "total_wcu_per_call": round((usage.wcu + usage.wcu_index) / n + consumer_wcu, 2),
            "by_dynamodb_operation": {k: round(v[0] / n, 2) for k, v in usage.by_operation.items()},
            "p50_ms": round(percentile(samples, 50), 2), "p99_ms": round(percentile(samples, 99), 2)}


# --- data -------------------------------------------------------------------------------------

def fill_members(count: int, start: int) -> None:
    """Write ``count`` members with a phone identity straight into the emulator (fast set-up)."""
    from moto.dynamodb.models import dynamodb_backends

    from chalicelib.db import tenancy
    from chalicelib.members.domain import Identity, Member
    from chalicelib.members.tables import IdentityItem, MemberItem
    from chalicelib.shared.config import settings
    from devstack import emulator
    backend = dynamodb_backends[ACCOUNT][REGION]
    table = settings().main_table
    with emulator.LOCK:
        for i in range(start, start + count):
            mid = f"01BENCH{i:019d}"
            identity = Identity("phone", f"+86137{i:08d}")
            member = Member(mid, "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z", (identity,))
            for item in (MemberItem.of(member), IdentityItem.of(identity, mid, "2026-01-01T00:00:00.000Z")):
                tenancy.to_physical("default", item)          # the staff token acts in the default program
                backend.put_item(table, item.serialize())
    emulator.forget_indexes(table)


# --- sections ---------------------------------------------------------------------------------

def api_operations(stack, sizes: list[int], n: int) -> list[dict[str, Any]]:
    import requests

    from chalicelib.api.auth import signed_headers
    session = requests.Session()
    url = stack.api_url
    staff = {"Authorization": "Bearer " + stack.credentials["staff_tokens"]["super_admin"],
             "Content-Type": "application/json"}
    key = stack.credentials["pos_api_key"]
    rows = []
    filled = 0
    for size in sizes:
        fill_members(size - filled, filled)
        filled = size
        label = f"{size:,} members"
        base = 10_000_000 + size

        def register(i):
            r = session.post(url + "/v1/members", json={"phone": f"138{base + i:08d}"},
                             headers={**staff, "Idempotency-Key": f"b{size}-{i}"})
            assert r.status_code == 201, r.text
            ids.append(r.json()["member_id"])

        ids: list[str] = []
        samples, usage = timed(n, register, warmup=5)
        ids = ids[5:]
        rows.append(row("registerMember", label, n, samples, usage))

        def replay(i):
            r = session.post(url + "/v1/members", json={"phone": f"138{base + i:08d}"},
                             headers={**staff, "Idempotency-Key": f"b{size}-{i}"})
            assert r.status_code == 201 and r.headers.get("Idempotent-Replayed")
        samples, usage = timed(n, replay)
        rows.append(row("registerMember (replay)", label, n, samples, usage))

        def get(i):
            assert session.get(f"{url}/v1/members/{ids[i]}", headers=staff).status_code == 200
        samples, usage = timed(n, get)
        rows.append(row("getMember", label, n, samples, usage))

        def lookup_pos(i):
            path = "/v1/members/lookup"
            body = json.dumps({"type": "phone", "value": f"+86138{base + i:08d}"}).encode()
            h = signed_headers(key["key_id"], key["secret"], "POST", path, body)
            assert session.post(url + path, data=body, headers={**h, "Content-Type": "application/json"}
                                ).status_code == 200
        samples, usage = timed(n, lookup_pos)
        rows.append(row("findMember (signed POS)", label, n, samples, usage))

        def update(i):
            r = session.patch(f"{url}/v1/members/{ids[i]}", json={"name": f"n{i}"},
                              headers={**staff, "Idempotency-Key": f"u{size}-{i}"})
            assert r.status_code == 200, r.text
        samples, usage = timed(n, update)
        rows.append(row("updateMember", label, n, samples, usage))

        def bind(i):
            r = session.post(f"{url}/v1/members/{ids[i]}/identities",
                             json={"type": "card_no", "value": f"C{size}-{i}"},
                             headers={**staff, "Idempotency-Key": f"i{size}-{i}"})
            assert r.status_code == 201, r.text
        samples, usage = timed(n, bind)
        rows.append(row("bindIdentity", label, n, samples, usage))
    return rows


def points_operations(stack, n: int, histories: tuple[int, ...] = (1, 1000)) -> list[dict[str, Any]]:
    """Per-call cost of the points operations for a member with a short and a long history."""
    import requests
    session = requests.Session()
    url = stack.api_url
    staff = {"Authorization": "Bearer " + stack.credentials["staff_tokens"]["super_admin"],
             "Content-Type": "application/json"}
    counter = [0]

    def post(path: str, body: dict) -> dict:
        counter[0] += 1
        r = session.post(url + path, json=body, headers={**staff, "Idempotency-Key": f"p{counter[0]}"})
        assert r.status_code < 300, r.text
        return r.json()

    post("/v1/merchants", {"merchant_id": "bench", "name": "Bench merchant"})
    rows = []
    for history in histories:
        label = f"{history:,} prior postings"
        mid = post("/v1/members", {"phone": f"1360000{history:04d}"})["member_id"]
        # History that leaves no live lots behind: each pair adds a lot and spends it whole.
        post(f"/v1/members/{mid}/points/adjustments", {"points": 10, "reason": "bench history"})
        for _ in range((history - 1) // 2):
            post(f"/v1/members/{mid}/points/redeem", {"points": 10, "reward": "gift"})
            post(f"/v1/members/{mid}/points/adjustments", {"points": 10, "reason": "bench history"})
        orders = [f"{mid}-{i}" for i in range(n)]

        def earn(i):
            post(f"/v1/members/{mid}/points/earn", {"order_id": orders[i], "amount_fen": 10_000, "merchant_id": "bench"})
        samples, usage = timed(n, earn)
        rows.append(row("earnPoints", label, n, samples, usage))

        post(f"/v1/members/{mid}/points/adjustments", {"points": 1_000_000, "reason": "one big lot"})

        def redeem_one(i):
            post(f"/v1/members/{mid}/points/redeem", {"points": 1, "reward": "gift"})
        # Earlier lots (from earnPoints) expire at the same year end; spend them first, untimed.
        post(f"/v1/members/{mid}/points/redeem", {"points": 100 * n + 10, "reward": "gift"})
        samples, usage = timed(n, redeem_one)
        rows.append(row("redeemPoints (1 lot)", label, n, samples, usage))

        def redeem_on_order(i):
            post(f"/v1/members/{mid}/points/redeem", {"points": 1, "order_id": f"{mid}-spend-{i}",
                                                      "order_amount_fen": 10_000, "merchant_id": "bench"})
        samples, usage = timed(n, redeem_on_order)
        rows.append(row("redeemPoints (on an order)", label, n, samples, usage))

        other = post("/v1/members", {"phone": f"1361111{history:04d}"})["member_id"]
        for _ in range(20 * n):
            post(f"/v1/members/{other}/points/adjustments", {"points": 1, "reason": "small lot"})

        def redeem_twenty(i):
            post(f"/v1/members/{other}/points/redeem", {"points": 20, "reward": "gift"})
        samples, usage = timed(n, redeem_twenty)
        rows.append(row("redeemPoints (20 lots)", label, n, samples, usage))

        def refund(i):
            post(f"/v1/orders/{orders[i]}/refunds", {"refund_id": "r", "amount_fen": 10_000, "merchant_id": "bench"})
        samples, usage = timed(n, refund)
        rows.append(row("refundOrder (full)", label, n, samples, usage))

        def account(i):
            assert session.get(f"{url}/v1/members/{mid}/points", headers=staff).status_code == 200
        samples, usage = timed(n, account)
        rows.append(row("getPointsAccount", label, n, samples, usage))
    return rows


def tier_operations(stack, n: int) -> list[dict[str, Any]]:
    """getMemberTier over HTTP, and one upgrade: the stream consumer's work for one growth event."""
    import requests

    from chalicelib.db import tenancy
    from chalicelib.db.outbox import EventItem, events_of
    from chalicelib.tiers import stream as tier_stream
    session = requests.Session()
    url = stack.api_url
    staff = {"Authorization": "Bearer " + stack.credentials["staff_tokens"]["super_admin"],
             "Content-Type": "application/json"}
    counter = [0]

    def send(method: str, path: str, body: dict) -> dict:
        counter[0] += 1
        r = session.request(method, url + path, json=body, headers={**staff, "Idempotency-Key": f"t{counter[0]}"})
        assert r.status_code < 300, r.text
        return r.json()

    send("PUT", "/v1/tiers/ladder", {"ladder": {"tiers": [
        {"code": "V1", "name": "Member", "threshold": 0},
        {"code": "V2", "name": "Silver", "threshold": 100, "validity_months": 12},
        {"code": "V3", "name": "Gold", "threshold": 1_000, "validity_months": 12}]},
        "effective_from": "2026-01-01T00:00:00Z"})
    members = [send("POST", "/v1/members", {"phone": f"1362222{i:04d}"})["member_id"] for i in range(n)]
    for i, mid in enumerate(members):
        send("POST", f"/v1/members/{mid}/points/earn", {"order_id": f"tier-{i}", "amount_fen": 20_000,
                                                         "merchant_id": "bench"})
    events = []
    for mid in members:
        stored = events_of(EventItem.query(tenancy.physical("default", f"member:{mid}")))
        events += [event for event in stored if event.type == "growth.earned"]
    samples, usage = timed(len(events), lambda i: tier_stream.on_growth(events[i]))
    rows = [row("tier upgrade (stream consumer, per growth event)", "1 member each", len(events), samples, usage)]
    samples, usage = timed(n, lambda i: session.get(f"{url}/v1/members/{members[i]}/tier", headers=staff))
    rows.append(row("getMemberTier", "upgraded member", n, samples, usage))
    send("PUT", "/v1/benefits/rules", {"rules": {"rules": [
        {"id": "gold", "name": "Gold", "when": {"min_tier": "V3"},
         "give": [{"kind": "points_multiplier", "multiplier": "1.5"}, {"kind": "free_shipping"}]},
        {"id": "silver", "name": "Silver", "when": {"tiers": ["V2"]}, "give": [{"kind": "discount_percent", "percent": 5}]},
        {"id": "day", "name": "Member day", "when": {"member_day": 18}, "give": [{"kind": "discount_percent", "percent": 10}]}]},
        "effective_from": "2026-01-01T00:00:00Z"})
    send("PUT", "/v1/tasks", {"tasks": {"tasks": [
        {"id": "spend", "name": "Spend", "kind": "spend", "target": 100_000, "period": "month", "reward": {"points": 10}},
        {"id": "orders", "name": "Orders", "kind": "orders", "target": 5, "reward": {"growth": 10}}]},
        "effective_from": "2026-01-01T00:00:00Z"})
    session.get(f"{url}/v1/members/{members[0]}/overview", headers=staff)      # configuration cached
    samples, usage = timed(n, lambda i: session.get(f"{url}/v1/members/{members[i]}/benefits", headers=staff))
    rows.append(row("getMemberBenefits", "3 rules", n, samples, usage))
    samples, usage = timed(n, lambda i: session.get(f"{url}/v1/members/{members[i]}/overview", headers=staff))
    rows.append(row("getMemberOverview", "tier, 2 tasks, 3 rules", n, samples, usage))
    samples, usage = timed(n, lambda i: send("POST", f"/v1/members/{members[i]}/points/earn", {
        "order_id": f"tier-b-{i}", "amount_fen": 10_000, "merchant_id": "bench"}))
    rows.append(row("earnPoints (tier, benefits, tasks wired)", "Gold member", n, samples, usage))
    return rows


def _client(stack, prefix: str) -> tuple[Any, Callable[..., dict], dict[str, str]]:
    """An HTTP session as HQ, and ``send(path, body, method="POST")`` that asserts success."""
    import requests
    session = requests.Session()
    staff = {"Authorization": "Bearer " + stack.credentials["staff_tokens"]["super_admin"],
             "Content-Type": "application/json"}
    counter = [0]

    def send(path: str, body: dict | None = None, method: str = "POST") -> dict:
        counter[0] += 1
        r = session.request(method, stack.api_url + path, json=body,
                            headers={**staff, "Idempotency-Key": f"{prefix}{counter[0]}"})
        assert r.status_code < 300, r.text
        return r.json()
    return session, send, staff


def stored_value_operations(stack, n: int, history: int = 1_000) -> list[dict[str, Any]]:
    """Per-call cost of the stored value operations, on accounts with 1 and with ``history``
    prior movements (a bonus rule in force): the cost must not grow with history."""
    session, post, staff = _client(stack, "sv")
    post("/v1/stored-value/rules", {"rules": {"bonus_rules": [
        {"id": "200-30", "name": "200-30", "kind": "fixed", "min_fen": 20_000, "bonus_fen": 3_000}],
        "balance_cap_fen": 10**9, "single_top_up_max_fen": 10**8}}, "PUT")
    fresh = [post("/v1/members", {"phone": f"1363333{i:04d}"})["member_id"] for i in range(n)]
    for mid in fresh:                                                 # one prior movement each
        post(f"/v1/members/{mid}/stored-value/top-ups", {"amount_fen": 100_000, "payment_ref": f"seed-{mid}",
                                                         "merchant_id": "bench"})
    busy = post("/v1/members", {"phone": "13633339999"})["member_id"]
    for i in range(history):
        post(f"/v1/members/{busy}/stored-value/top-ups", {"amount_fen": 20_000 if i == 0 else 100,
                                                          "payment_ref": f"seed-{busy}-{i}", "merchant_id": "bench"})
    rows = []
    for label, member in (("1 prior movement", lambda i: fresh[i]), (f"{history:,} prior movements", lambda i: busy)):
        tag = "f" if label.startswith("1 ") else "b"
        samples, usage = timed(n, lambda i: post(f"/v1/members/{member(i)}/stored-value/top-ups", {
            "amount_fen": 20_000, "payment_ref": f"bench-{tag}-{i}", "merchant_id": "bench"}))
        rows.append(row("topUpStoredValue (with bonus)", label, n, samples, usage))
        samples, usage = timed(n, lambda i: post(f"/v1/members/{member(i)}/stored-value/payments", {
            "amount_fen": 1_000, "order_id": f"svb-{tag}-{i}", "merchant_id": "bench"}))
        rows.append(row("payWithStoredValue", label, n, samples, usage))
        samples, usage = timed(n, lambda i: post(f"/v1/stored-value/payments/svb-{tag}-{i}/refunds", {
            "refund_id": "r", "amount_fen": 500, "merchant_id": "bench"}))
        rows.append(row("refundStoredValuePayment (half)", label, n, samples, usage))
        samples, usage = timed(n, lambda i: session.get(f"{stack.api_url}/v1/members/{member(i)}/stored-value",
                                                         headers=staff))
        rows.append(row("getStoredValueAccount", label, n, samples, usage))
    return rows


def gift_card_operations(stack, n: int) -> list[dict[str, Any]]:
    """Per-call cost of redeeming a card into a member's account and of paying with one (each
    call a different card: one scrypt check each), and of a card with prior payments."""
    import csv
    import io

    session, post, staff = _client(stack, "gc")
    batch = post("/v1/gift-cards/batches", {"name": "bench", "face_value_fen": 100_000, "count": 2 * n + 1,
                                            "valid_until": "2099-12-31"})
    platform = {"Authorization": "Bearer " + stack.credentials["staff_tokens"]["platform_admin"]}   # runs jobs
    assert session.post(stack.api_url + "/v1/jobs/gift-card-batches/runs", json={}, headers=platform,
                        timeout=600).status_code == 200
    parts = post(f"/v1/gift-cards/batches/{batch['batch_id']}/export")["parts"]
    rows_ = [row for part in parts                      # each part is served once, to HQ
             for row in csv.DictReader(io.StringIO(session.get(stack.api_url + part["path"], headers=staff,
                                                               timeout=60).text))]
    cards = [(r["card_number"], r["secret"]) for r in rows_]
    post(f"/v1/gift-cards/batches/{batch['batch_id']}/sales", {"invoice_ref": f"bench-{batch['batch_id']}",
                                                                "purchaser": "bench"})
    members = [post("/v1/members", {"phone": f"1364444{i:04d}"})["member_id"] for i in range(n)]
    rows = []
    samples, usage = timed(n, lambda i: post(f"/v1/members/{members[i]}/stored-value/gift-cards",
                                             {"card_number": cards[i][0], "secret": cards[i][1]}))
    rows.append(row("redeemGiftCard (into stored value)", "a new card each", n, samples, usage))
    samples, usage = timed(n, lambda i: post("/v1/gift-cards/payments", {
        "card_number": cards[n + i][0], "secret": cards[n + i][1], "amount_fen": 1_000, "order_id": f"gcb-{i}",
        "merchant_id": "bench"}))
    rows.append(row("payWithGiftCard", "a new card each", n, samples, usage))
    last = cards[2 * n]
    samples, usage = timed(n, lambda i: post("/v1/gift-cards/payments", {
        "card_number": last[0], "secret": last[1], "amount_fen": 100, "order_id": f"gcl-{i}", "merchant_id": "bench"}))
    rows.append(row("payWithGiftCard", f"one card, up to {n} prior payments", n, samples, usage))
    samples, usage = timed(n, lambda i: post(f"/v1/gift-cards/payments/gcb-{i}/refunds", {
        "card_number": cards[n + i][0], "refund_id": "r1", "amount_fen": 400, "merchant_id": "bench"}))
    rows.append(row("refundGiftCardPayment", "a payment of each new card", n, samples, usage))
    return rows


def gift_card_generation(stack, count: int) -> dict[str, Any]:
    """Generate a batch of ``count`` cards as the job's Lambda would: a process of its own running
    the gift-card-batches job against the emulator; its wall time, CPU and peak memory."""
    _, post, _ = _client(stack, "gg")
    batch = post("/v1/gift-cards/batches", {"name": "bench-gen", "face_value_fen": 10_000, "count": count,
                                            "valid_until": "2099-12-31"})
    from devstack.stack import local_environment
    env = {**os.environ, **local_environment(stack.emulator_url), "JOB_BUDGET_SECONDS": "7200"}
    # Peak memory is the process's own high-water mark (VmHWM: a forked child's ru_maxrss would
    # start from this bench process's, which holds the emulator's data).
    script = ("import json, time\n"
              "from datetime import UTC, datetime\n"
              "def hwm():\n"
              "    line = next(x for x in open('/proc/self/status') if x.startswith('VmHWM'))\n"
              "    return int(line.split()[1]) / 1024\n"
              "from chalicelib.db.items import rebind\n"
              "rebind()\n"
              "import app\n"
              "from chalicelib import jobs\n"
              "base = hwm()\n"
              "t = time.perf_counter()\n"
              "result = jobs.run('gift-card-batches', datetime.now(UTC))\n"
              "print(json.dumps({'seconds': time.perf_counter() - t, 'result': result, 'peak_mib': hwm(),\n"
              "                  'after_import_mib': base}))\n")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=True)
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    final = post(f"/v1/gift-cards/batches/{batch['batch_id']}", None, "GET")
    assert final["status"] == "ready", final
    from chalicelib.gift_cards import keys
    return {"cards": count, "chunks": final["chunks"], "seconds": round(measured["seconds"], 1),
            "wall_seconds": round(time.perf_counter() - started, 1), "peak_mib": round(measured["peak_mib"]),
            "after_import_mib": round(measured["after_import_mib"]),
            "cores": os.cpu_count(), "scrypt": f"N={keys.N}, r={keys.R}, p={keys.P}",
            "per_chunk_seconds": round(measured["seconds"] / final["chunks"], 2)}


def tier_review_job(members: int, share_percent: int) -> dict[str, Any]:
    """The tier-review job when ``share_percent`` of ``members`` reach their validity end today."""
    from datetime import date, datetime

    from moto.dynamodb.models import dynamodb_backends

    from chalicelib import jobs
    from chalicelib.db import tenancy
    from chalicelib.shared.config import settings
    from chalicelib.tiers import standing
    from chalicelib.tiers.tables import TierItem
    from devstack import emulator
    backend = dynamodb_backends[ACCOUNT][REGION]
    table = settings().main_table
    due = members * share_percent // 100
    with emulator.LOCK:
        for i in range(members):
            mid = f"01TIERREVIEW{i:014d}"
            item = TierItem(*TierItem.key(mid), member_id=mid, tier="V2", since="2025-07-01T00:00:00.000Z",
                            valid_until="2026-06-30" if i < due else "2026-12-31", period_start="2025-07-01",
                            period_growth=50 if i % 2 else 500, changes=1, version=1)
            standing.schedule(item, [], date(2026, 6, 1))
            tenancy.to_physical("default", item)
            backend.put_item(table, item.serialize())
    emulator.forget_indexes(table)
    before = emulator.usage()
    started = time.perf_counter()
    result = jobs.run("tier-review", datetime(2026, 7, 1, 0, 0, tzinfo=UTC))["result"]
    seconds = time.perf_counter() - started
    used = emulator.usage().minus(before)
    return {"members": members, "members_due": due, "items_read": result["items_read"],
            "retained": result["retained"], "downgraded": result["downgraded"], "dynamodb_requests": used.requests,
            "rcu": round(used.rcu, 1), "wcu": round(used.wcu, 1), "seconds": round(seconds, 1)}


def expiry_job(stack, members: int, share_percent: int, programs: int = 10) -> dict[str, Any]:
    """The expiry job when ``share_percent`` of ``members`` (spread over ``programs``) have points
    expiring: items it reads. One run serves every program."""
    from datetime import date, datetime

    from moto.dynamodb.models import dynamodb_backends

    from chalicelib import jobs
    from chalicelib.db import tenancy
    from chalicelib.points import dates
    from chalicelib.points.tables import AccountItem, LotItem
    from chalicelib.shared.config import settings
    from devstack import emulator
    backend = dynamodb_backends[ACCOUNT][REGION]
    table = settings().main_table
    expiring = members * share_percent // 100
    from chalicelib.db.uow import UnitOfWork
    from chalicelib.programs.tables import LISTING, ProgramItem
    listed = UnitOfWork("bench")                # the jobs read the programs they serve from the listing
    for p in range(programs):
        pid = f"bench-{p}"
        listed.put(ProgramItem(*ProgramItem.key(pid), program_id=pid, name=pid, timezone="Asia/Shanghai",
                               status="active", created_at="2026-01-01T00:00:00.000Z", gsi1pk=LISTING, gsi1sk=pid))
    with emulator.LOCK:
        for i in range(members):
            mid = f"01EXPIRY{i:018d}"
            expires = "2026-06-30" if i < expiring else "2027-12-31"
            lot = LotItem(*LotItem.live_key(mid, "points", expires, "0000000001-01"), lot_id="0000000001-01",
                          member_id=mid, point_type="points", original=100, remaining=100, expires_on=expires,
                          earned_at="2026-01-01T00:00:00.000Z")
            acct = AccountItem(*AccountItem.key(mid, "points"), member_id=mid, point_type="points", available=100,
                               pending=0, held=0, debt=0, earned=100, redeemed=0, expired=0, version=1)
            dates.bring_forward(acct, expires, [], date(2026, 1, 1))        # the account's next date: the lot's expiry
            for item in (lot, acct):
                tenancy.to_physical(f"bench-{i % programs}", item)
                backend.put_item(table, item.serialize())
    emulator.forget_indexes(table)
    before = emulator.usage()
    started = time.perf_counter()
    result = jobs.run("points-expiry", datetime(2026, 7, 2, 0, 0, tzinfo=UTC))["result"]
    seconds = time.perf_counter() - started
    used = emulator.usage().minus(before)
    return {"members": members, "programs": programs, "members_with_expiring_points": expiring,
            "items_read": result["items_read"],
            "points_expired": result["points_expired"], "dynamodb_requests": used.requests,
            "rcu": round(used.rcu, 1), "wcu": round(used.wcu, 1), "seconds": round(seconds, 1),
            "requests_by_operation": {k: int(v[0]) for k, v in used.by_operation.items()}}


def emulator_transactions(stack, sizes: list[int], n: int, shipped_sizes: list[int]) -> list[dict[str, Any]]:
    """A 2-item conditional transaction (spend + receipt) over HTTP, by table size."""
    from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends

    from devstack import emulator
    client = stack.client("dynamodb")
    backend = dynamodb_backends[ACCOUNT][REGION]
    rows = []
    for variant, variant_sizes in (("patched", sizes), ("moto as shipped", shipped_sizes)):
        for size in variant_sizes:
            name = f"bench-tx-{variant[:3]}-{size}"
            client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
            with emulator.LOCK:
                for i in range(size):
                    backend.put_item(name, {"pk": {"S": f"filler-{i}"}, "n": {"N": "1"}})
                backend.put_item(name, {"pk": {"S": "acct"}, "n": {"N": str(10 ** 9)}})
            if variant != "patched":
                DynamoDBBackend.transact_write_items = emulator.MOTO_TRANSACT_WRITE_ITEMS
            try:
                runs = n if variant == "patched" else max(3, n // 20)

                def tx(i):
                    client.transact_write_items(TransactItems=[
                        {"Update": {"TableName": name, "Key": {"pk": {"S": "acct"}}, "UpdateExpression": "SET n = n - :a",
                                    "ConditionExpression": "n >= :a", "ExpressionAttributeValues": {":a": {"N": "1"}}}},
                        {"Put": {"TableName": name, "Item": {"pk": {"S": f"r-{i}"}},
                                 "ConditionExpression": "attribute_not_exists(pk)"}}])
                samples, usage = timed(runs, tx)
            finally:
                emulator.install_transactions()
            rows.append({**row(f"TransactWriteItems ({variant})", f"{size:,} items", runs, samples, usage)})
            client.delete_table(TableName=name)
    return rows


COLD_PROBE = """
import json, os, sys, time
sys.modules["cryptography"] = None   # not in the deployment package (PyJWT then skips it)
t = time.process_time()
import app
imported = time.process_time() - t
if os.environ.get("PROBE_EVENT"):
    class Context:
        function_name, memory_limit_in_mb, aws_request_id = "api", 1024, "r1"
        invoked_function_arn = "arn:aws:lambda:cn-north-1:000000000000:function:api"
        def get_remaining_time_in_millis(self): return 25_000
    response = app.app(json.loads(os.environ["PROBE_EVENT"]), Context())
    assert response["statusCode"] == 200, response
else:                                # the bare app: one read, as any function of ours makes
    app.client.get_item(TableName=os.environ["MAIN_TABLE"], Key={"pk": {"S": "PROBE"}, "sk": {"S": "PROBE"}})
print(imported, time.process_time() - t)
"""
BARE_APP = ("import boto3\nfrom chalice import Chalice\napp = Chalice(app_name='bare')\n"
            "client = boto3.client('dynamodb', region_name='cn-north-1')\n")
# What the fixed stack costs before any code of ours: the bare app plus a pydantic model, the
# Powertools logger and metrics, and PynamoDB (PRODUCT.md names all three).
STACK_APP = BARE_APP + ("import pydantic\nclass Probe(pydantic.BaseModel):\n    n: int\n"
                        "from aws_lambda_powertools import Logger, Metrics\n"
                        "logger, metrics = Logger(service='bare'), Metrics(namespace='bare', service='bare')\n"
                        "import pynamodb.models, pynamodb.transactions\n")
BARE = "bare Chalice + boto3 + DynamoDB client, one GetItem"
# The bare app loading as app.py does, with the cycle collector off and then frozen: how much of
# the bare app's own cold start is the collector (for the comparison's honesty).
BARE_FROZEN_APP = "import gc\ngc.disable()\n" + BARE_APP + "gc.freeze()\ngc.enable()\n"


def _probe_event(stack, member_id: str, key_id: str, secret: str) -> dict[str, Any]:
    """An API Gateway event of a POS till reading a member's points (signed, v2): the first
    request of a cold start, as the API function receives it."""
    from chalicelib.api.auth import signed_headers
    resource, path = "/v1/members/{member_id}/points", f"/v1/members/{member_id}/points"
    headers = signed_headers(key_id, secret, "GET", path)
    return {"resource": resource, "path": path, "httpMethod": "GET", "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()}, "queryStringParameters": None,
            "multiValueQueryStringParameters": None, "pathParameters": {"member_id": member_id},
            "stageVariables": None, "body": None, "isBase64Encoded": False,
            "requestContext": {"resourcePath": resource, "httpMethod": "GET", "requestId": "r1",
                               "stage": "dev", "path": path}}


def cold_start(stack, repeats: int = 11) -> dict[str, Any]:
    """CPU time (median of ``repeats`` fresh processes) to import app.py, and to import it and
    answer a first request, against a bare Chalice app that imports boto3, builds one DynamoDB
    client and reads one item (what every function of ours pays anyway).

    The first request is a signed POS read of a member's points on the ``dev`` stage: the
    secrets come from Secrets Manager (the emulator's), the key, the member and the account from
    DynamoDB, so the import of whatever the app loads on first use is counted."""
    import hashlib
    import hmac
    import secrets as random_secrets

    import requests

    from devstack.stack import local_environment
    staff = {"Authorization": "Bearer " + stack.credentials["staff_tokens"]["super_admin"],
             "Content-Type": "application/json", "Idempotency-Key": "cold-start-member"}
    member = requests.post(stack.api_url + "/v1/members", json={"phone": "13600009999"}, headers=staff)
    member_id = member.json()["member_id"]
    requests.post(f"{stack.api_url}/v1/members/{member_id}/points/adjustments", json={"points": 100, "reason": "probe"},
                  headers={**staff, "Idempotency-Key": "cold-start-points"}).raise_for_status()
    master = random_secrets.token_hex(32)              # a deployed stage refuses the development values
    name = "loyalty/bench-cold-start"
    value = json.dumps({"jwt_secret": random_secrets.token_hex(32), "api_key_master": master})
    manager = stack.client("secretsmanager")
    try:
        manager.create_secret(Name=name, SecretString=value)
    except manager.exceptions.ResourceExistsException:
        manager.put_secret_value(SecretId=name, SecretString=value)
    key_id = stack.credentials["pos_api_key"]["key_id"]
    secret = hmac.new(master.encode(), key_id.encode(), hashlib.sha256).hexdigest()

    # As deployed with the secrets extension's layer (infra/build.py): the secret over local HTTP.
    base = {**os.environ, **local_environment(stack.emulator_url, "dev"), "SECRETS_NAME": name,
            "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": str(stack.secrets_extension.port),
            "AWS_SESSION_TOKEN": "local-session",
            # the API function's role (the local stack enforces IAM: devstack/access.py)
            **dict(zip(("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), access.keys_of("api"), strict=True)),
            "MAIN_TABLE": stack.table_names["main"], "EVENTS_TABLE": stack.table_names["events"],
            "POWERTOOLS_LOG_LEVEL": "WARNING"}
    for var in ("POWERTOOLS_TRACE_DISABLED", "TRACING_SDK", "PYTHONDONTWRITEBYTECODE", "JWT_SECRET",
                "API_KEY_MASTER"):
        base.pop(var, None)
    # The deployment package ships compiled bytecode (infra/build.py), as the installed libraries have.
    subprocess.run([sys.executable, "-m", "compileall", "-q", "chalicelib", "app.py"], cwd=ROOT, check=True,
                   capture_output=True)
    with tempfile.TemporaryDirectory() as bare, tempfile.TemporaryDirectory() as stack_only, \
            tempfile.TemporaryDirectory() as bare_frozen:
        Path(bare, "app.py").write_text(BARE_APP)
        Path(stack_only, "app.py").write_text(STACK_APP)
        Path(bare_frozen, "app.py").write_text(BARE_FROZEN_APP)
        variants = (("app.py as deployed (secrets extension, Lambda tracing, no X-Ray SDK)", str(ROOT), {}, True),
                    ("app.py with the X-Ray SDK (TRACING_SDK=true)", str(ROOT), {"TRACING_SDK": "true"}, True),
                    ("the fixed stack alone: bare + pydantic, Powertools logger and metrics, PynamoDB",
                     stack_only, {}, False),
                    ("the bare app with the collector off while it loads, as app.py does", bare_frozen, {}, False),
                    (BARE, bare, {}, False))
        runs: dict[str, list[tuple[float, float]]] = {label: [] for label, *_ in variants}
        for _ in range(repeats):          # in rounds, so that a busy moment weighs on every variant alike
            for label, cwd, extra, request in variants:
                event = json.dumps(_probe_event(stack, member_id, key_id, secret)) if request else ""
                done = subprocess.run([sys.executable, "-c", COLD_PROBE], cwd=cwd,
                                      env={**base, **extra, "PROBE_EVENT": event}, capture_output=True, text=True)
                if done.returncode:
                    raise RuntimeError(f"cold start probe failed: {done.stderr[-2000:]}")
                first, total = done.stdout.splitlines()[-1].split()
                runs[label].append((float(first), float(total)))
        counted = _instructions(variants, base, lambda: json.dumps(_probe_event(stack, member_id, key_id, secret)))
    results: dict[str, Any] = {}
    for label, mine in runs.items():
        bare = runs[BARE]
        results[label] = {
            "import_ms": round(statistics.median(r[0] for r in mine) * 1000, 1),
            "first_request_ms": round(statistics.median(r[1] for r in mine) * 1000, 1),
            # the median of each round's ratio: a round's variants ran back to back
            "import_ratio": round(statistics.median(m[0] / b[0] for m, b in zip(mine, bare, strict=True)), 2),
            "ratio_to_bare": round(statistics.median(m[1] / b[1] for m, b in zip(mine, bare, strict=True)), 2),
            "ratio_of_medians": round(statistics.median(r[1] for r in mine) / statistics.median(r[1] for r in bare), 2)}
        if counted:
            results[label]["instructions_m"] = round(counted[label] / 1e6)
            results[label]["instructions_ratio"] = round(counted[label] / counted[BARE], 2)
    return results


def _instructions(variants: Any, base: dict[str, str], event: Any) -> dict[str, int]:
    """Each variant's cold start in instructions executed (valgrind's cachegrind, if installed),
    less those of the interpreter starting: unlike CPU time on a shared machine, the same from run
    to run, so the ratio does not move with the neighbours' load."""
    if shutil.which("valgrind") is None:
        return {}

    def count(code: str, cwd: str, env: dict[str, str]) -> int:
        done = subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
                               sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"cold start probe under valgrind failed: {done.stderr[-2000:]}")
        return int(re.search(r"I\s+refs:\s+([\d,]+)", done.stderr).group(1).replace(",", ""))  # type: ignore[union-attr]

    start = count(COLD_PROBE.split("t = time.process_time()")[0], str(ROOT), base)
    return {label: count(COLD_PROBE, cwd, {**base, **extra, "PROBE_EVENT": event() if request else ""}) - start
            for label, cwd, extra, request in variants}


def table(rows: list[dict[str, Any]]) -> str:
    head = ("| operation | data | calls | DynamoDB requests | RCU | WCU | index WCU | consumers RCU | "
            "consumers WCU (with index) | total WCU | p50 ms | p99 ms |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|")
    lines = [f"| {r['operation']} | {r['data']} | {r['calls']} | {r['requests_per_call']} | {r['rcu_per_call']} | "
             f"{r['wcu_per_call']} | {r.get('wcu_index_per_call', '–')} | {r.get('consumer_rcu_per_call', '–')} | "
             f"{r.get('consumer_wcu_per_call', '–')} | {r.get('total_wcu_per_call', '–')} | "
             f"{r['p50_ms']} | {r['p99_ms']} |" for r in rows]
    return "\n".join([head, *lines])


def markdown(results: dict[str, Any]) -> str:
    """The body of docs/engineers/benchmark.md, from results.json."""
    rows = (results["api"] + results.get("points", []) + results.get("tiers", []) + results.get("stored_value", [])
            + results.get("gift_cards", []) + results.get("coupons", []) + results.get("checkout", [])
            + results.get("staff", []) + results["emulator_transactions"])
    spend = results["double_spend"]
    cold = results["cold_start_ms"]
    lines = [f"Measured {results['when'][:10]} on {results['machine']}; figures are per call.", "",
             table(rows), "",
             f"Concurrent double spend: {spend['threads']} threads, {spend['attempts']} conditional spends "
             f"of 1 from a balance of {spend['starting_balance']}: **{spend['successes']} succeeded**, "
             f"final balance {spend['final_balance']}.", "",
             *([f"Staff password hash ({h['parameters']}): {h['cpu_ms_per_hash']} ms of CPU and {h['memory_mib']} MiB "
                f"per hash here ({h['wall_ms_per_hash']} ms wall); a 512 MB Lambda gets about 0.29 of a vCPU, so "
                f"about {h['lambda_512mb_ms_estimate']} ms a login there (a wrong password costs the same).", ""]
               if (h := results.get("staff_hash")) else []),
             *([f"Coupon claims under contention (local stack): {c['threads']} tills claiming one template "
                f"(stock {c['stock']:,}) for new members: **{c['claimed']:,} claimed** (the stock after: "
                f"{c['level_after']['left']} left, {c['level_after']['taken']:,} taken), {c['refused']} refused once "
                f"it was gone, {c['races_retried']} lost races retried; {c['claims_per_second']} claims a second, "
                f"p50 {c['p50_ms']} ms, p99 {c['p99_ms']} ms. On real DynamoDB the stock's shards (up to 32, "
                "each in its own partition) take about 500 claims a second each: docs/scale.md.", ""]
               if (c := results.get("coupon_claims")) else []),
             *([f"Points expiry job with {results['expiry_job']['members_with_expiring_points']:,} of "
                f"{results['expiry_job']['members']:,} members' points expiring "
                f"(in {results['expiry_job'].get('programs', 1)} programs, one run): it read "
                f"**{results['expiry_job']['items_read']:,} items** with {results['expiry_job']['dynamodb_requests']:,} "
                f"DynamoDB requests ({results['expiry_job']['rcu']} RCU, {results['expiry_job']['wcu']} WCU) "
                f"in {results['expiry_job']['seconds']} s.", ""] if "expiry_job" in results else []),
             *([f"Tier-review job with {results['tier_review_job']['members_due']:,} of "
                f"{results['tier_review_job']['members']:,} members' validity ending that day: it read "
                f"**{results['tier_review_job']['items_read']:,} items** "
                f"({results['tier_review_job']['retained']} retained, {results['tier_review_job']['downgraded']} "
                f"downgraded) with {results['tier_review_job']['dynamodb_requests']:,} DynamoDB requests "
                f"({results['tier_review_job']['rcu']} RCU, {results['tier_review_job']['wcu']} WCU) in "
                f"{results['tier_review_job']['seconds']} s.", ""] if "tier_review_job" in results else []),
             *([f"Generating a batch of {g['cards']:,} gift cards ({g['chunks']} chunks, scrypt {g['scrypt']}, one "
                f"job process on {g['cores']} cores): **{g['seconds']} s**, {g['per_chunk_seconds']} s per chunk of "
                f"1,000, peak memory **{g['peak_mib']} MiB** for the whole process ({g['after_import_mib']} MiB "
                f"once the app is imported: generation adds {g['peak_mib'] - g['after_import_mib']} MiB).", ""]
               if (g := results.get("gift_card_generation")) else []),
             *([f"Webhooks (local stack, one subscription to `member.registered`): from the write's answer to the "
                f"receiver's post **p50 {w['latency_ms']['p50']} ms, p99 {w['latency_ms']['p99']} ms** over "
                f"{w['latency_ms']['events']} events (the local pump and queue poll). Fan-out and delivery per event "
                f"per subscription: {w['per_event_per_subscription']['requests']} DynamoDB requests, "
                f"{w['per_event_per_subscription']['rcu']} RCU, {w['per_event_per_subscription']['wcu']} WCU. "
                f"Beside a dead endpoint (it answers nothing: 8 s a post) taking "
                f"{w['beside_a_dead_endpoint']['events']:,} events, a healthy one received all "
                f"{w['beside_a_dead_endpoint']['healthy_delivered']:,}"
                + (f" ({len(late)} late: a post that failed under the load, retried on the schedule, arriving "
                   f"{max(x['arrived_after_s'] for x in late):.0f} s after its write)"
                   if (late := w['beside_a_dead_endpoint'].get('healthy_late')) else "") + ", at p50 "
                f"{w['beside_a_dead_endpoint']['healthy_p50_ms'] / 1000:.1f} s and p99 "
                f"{w['beside_a_dead_endpoint']['healthy_p99_ms'] / 1000:.0f} s after their writes; the dead one was "
                f"posted only {w['beside_a_dead_endpoint']['dead_posts']} times (two posts in flight at most while it "
                "fails, then the circuit breaker)"
                + (f". Beside a second *healthy* endpoint the same {b['events']:,} events arrived at p50 "
                   f"{b['healthy_p50_ms'] / 1000:.1f} s, p99 {b['healthy_p99_ms'] / 1000:.1f} s. No healthy message "
                   "waits behind a dead post; what is left of the difference is the emulator's CPU (one process on "
                   "2 cores, about three requests for each held-back delivery: the registrations and their delivery "
                   f"took {w['beside_a_dead_endpoint']['seconds']:.0f} s against {b['seconds']:.0f} s), which on AWS "
                   "is other containers' and the services' capacity (docs/scale.md)." if (b := w.get("beside_a_healthy_endpoint")) else "."),
                ""]
               if (w := results.get("webhooks")) else []),
             "| cold start (CPU ms, median of 11 rounds; × bare: median of the rounds' ratios) | import | × bare | "
             "import + first request | × bare | instructions (millions) | × bare |",
             "|---|---|---|---|---|---|---|",
             *[f"| {label} | {f['import_ms']} | {f.get('import_ratio', '')} | {f['first_request_ms']} | "
               f"{f['ratio_to_bare']} | {f.get('instructions_m', '–')} | {f.get('instructions_ratio', '–')} |"
               for label, f in cold.items()], "",
             "Instructions are counted by valgrind (cachegrind) in one run of each, the interpreter's own start "
             "left out: CPU time on a shared machine moves with the neighbours' load, the count does not.", "",
             "The first request is a signed POS read of a member's points on the `dev` stage (secrets from "
             "Secrets Manager, key, member and account from DynamoDB); the bare app's is one GetItem."]
    return "\n".join(lines)


def update_docs(results: dict[str, Any], readme: Path = ROOT / "docs" / "engineers" / "benchmark.md") -> None:
    text = readme.read_text()
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        readme.write_text(f"{head}{start}\n{markdown(results)}\n{end}{tail}")


def _coupons(stack, calls: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The coupon operations' cost, and claims of one template under contention (a stack with
    the rate limits off: 64 tills of one caller)."""
    from bench.coupons import claim_contention, coupon_operations
    return coupon_operations(stack, max(10, calls // 4)), claim_contention(stack)


def _checkout(stack, calls: int) -> list[dict[str, Any]]:
    """The checkout operations' cost (bench/checkout.py)."""
    from bench.checkout import checkout_operations
    return checkout_operations(stack, max(10, calls // 8))


def _webhooks(stack, events: int = 200, dead_events: int = 1_000) -> dict[str, Any]:
    """Webhook delivery with the stream and the webhooks queue running in the background (the rest
    of the benchmark delivers the stream itself, after each call)."""
    from bench.webhooks import webhook_delivery
    for pump in stack.pumps:
        pump.start()
    stack._start_webhooks_poller()
    return webhook_delivery(stack, events, dead_events)


class _Kept(dict):  # type: ignore[type-arg]
    """The whole run's results, written to ``bench/results-partial.json`` (not kept in the
    repository) as each stage ends: a run that fails or is stopped in a late stage (the whole takes
    half an hour and more) keeps what its earlier stages measured."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self.path.write_text(json.dumps(self, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench")
    parser.add_argument("--calls", type=int, default=200, help="calls per operation and size")
    parser.add_argument("--sizes", default="1000,100000", help="member counts to measure at")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--readme", action="store_true", help="only rewrite the table in docs/engineers/benchmark.md from results.json")
    parser.add_argument("--webhooks", action="store_true",
                        help="only measure webhook delivery (into results.json and docs/engineers/benchmark.md)")
    parser.add_argument("--coupons", action="store_true",
                        help="only measure the coupon operations (into results.json and docs/engineers/benchmark.md)")
    parser.add_argument("--coupon-issue", type=int, nargs="?", const=10_000, metavar="MEMBERS",
                        help="only issue one template to MEMBERS members (10,000) through issueCoupons and its job; "
                        "printed, not written to results.json")
    parser.add_argument("--checkout", action="store_true",
                        help="only measure the checkout operations (into results.json and docs/engineers/benchmark.md)")
    parser.add_argument("--staff", action="store_true",
                        help="only measure staff logins (into results.json and docs/engineers/benchmark.md)")
    parser.add_argument("--dashboard", action="store_true",
                        help="only getDashboard for a month at each size (#29), into results.json")
    parser.add_argument("--exports", type=int, nargs="?", const=1_000_000, metavar="ROWS",
                        help="only export ROWS points postings (1,000,000) through createExport and its job: wall "
                        "time, requests, peak RSS; printed, not written to results.json")
    parser.add_argument("--settlement", type=int, nargs="?", const=100_000, metavar="LINES",
                        help="only close a month of LINES clearing lines (100,000): the close's time and requests, "
                        "a line's write units; printed, not written to results.json")
    parser.add_argument("--expiry", action="store_true",
                        help="only the points expiry job's stage (printed, results.json untouched)")
    parser.add_argument("--cold-start", action="store_true",
                        help="only measure the cold start (into results.json and the table in docs/engineers/benchmark.md)")
    args = parser.parse_args(argv)
    if args.readme:
        update_docs(json.loads(OUT.read_text()))
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    tx_sizes, shipped = [1_000, 100_000], [1_000, 4_000]
    if args.quick:
        sizes, tx_sizes, shipped, args.calls = [200, 2000], [200, 2000], [200], 20

    from devstack.stack import LocalStack, free_port
    # The emulator's first query after a bulk fill rebuilds its copy of the index, which takes longer
    # than the local stack's read timeout on a busy machine: the figures here are units, not timeouts.
    os.environ["AWS_READ_TIMEOUT_SECONDS"] = "120"
    stack = LocalStack(api_port=free_port(), emulator_port=free_port(), pumps_enabled=False,
                       scheduler_enabled=False, rate_limits={}).start()      # one client: cost, not limits
    global DRAIN
    stack.attach_pumps(start=False)                # delivered by timed(), after each call
    DRAIN = lambda: stack.drain(timeout=600)      # noqa: E731
    # Run as ``python -m bench``, this module is ``__main__``, and the sections in bench/*.py import
    # a second copy as ``bench.__main__``: their timed() reads that copy's DRAIN, so set it there too
    # (else their stream consumers are not delivered, nor counted).
    import bench.__main__ as imported
    imported.DRAIN = DRAIN
    os.environ["JOB_BUDGET_SECONDS"] = "7200"      # a job measured here is one whole run, not a 15 s part
    try:
        if args.webhooks:
            results = json.loads(OUT.read_text())
            results["webhooks"] = _webhooks(stack)
            OUT.write_text(json.dumps(results, indent=2) + "\n")
            update_docs(results)
            print(json.dumps(results["webhooks"], indent=2))
            return 0
        if args.coupons:
            results = json.loads(OUT.read_text())
            results["coupons"], results["coupon_claims"] = _coupons(stack, args.calls)
            OUT.write_text(json.dumps(results, indent=2) + "\n")
            update_docs(results)
            print(table(results["coupons"]))
            print(json.dumps(results["coupon_claims"], indent=2))
            return 0
        if args.checkout:
            results = json.loads(OUT.read_text())
            results["checkout"] = _checkout(stack, args.calls)
            OUT.write_text(json.dumps(results, indent=2) + "\n")
            update_docs(results)
            print(table(results["checkout"]))
            return 0
        if args.staff:
            from bench.staff import staff_operations
            results = json.loads(OUT.read_text())
            results["staff"], results["staff_hash"] = staff_operations(stack, max(10, args.calls // 4))
            OUT.write_text(json.dumps(results, indent=2) + "\n")
            update_docs(results)
            print(table(results["staff"]))
            print(json.dumps(results["staff_hash"], indent=2))
            return 0
        if args.dashboard:
            from bench.dashboard import dashboard_reads
            results = json.loads(OUT.read_text())
            results["dashboard"] = dashboard_reads(stack, sizes, max(10, args.calls // 4))
            if not args.quick:
                OUT.write_text(json.dumps(results, indent=2) + "\n")
            print(table(results["dashboard"]))
            if not args.exports:            # only the dashboard (it used to run on into the whole bench)
                return 0
        if args.exports:
            from bench.exports import export_ledger
            print(json.dumps(export_ledger(stack, args.exports), indent=2))
            return 0
        if args.settlement:
            from bench.settlement import close_month
            print(json.dumps(close_month(stack, args.settlement), indent=2))
            return 0
        if args.coupon_issue:
            from bench.coupons import targeted_issue
            print(json.dumps(targeted_issue(stack, args.coupon_issue), indent=2))
            return 0
        if args.expiry:
            print(json.dumps(expiry_job(stack, 100_000 if not args.quick else 2_000, 1), indent=2))
            return 0
        if args.cold_start:
            results = json.loads(OUT.read_text())
            results["cold_start_ms"] = cold_start(stack)
            OUT.write_text(json.dumps(results, indent=2) + "\n")
            update_docs(results)
            print(json.dumps(results["cold_start_ms"], indent=2))
            return 0
        started = time.time()
        results: dict[str, Any] = _Kept(OUT.with_name("results-partial.json"))
        results.update({"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        "machine": f"{os.cpu_count()} cores, Python {sys.version.split()[0]}"})
        results["api"] = api_operations(stack, sizes, args.calls)
        results["points"] = points_operations(stack, max(10, args.calls // 4))
        results["expiry_job"] = expiry_job(stack, 100_000 if not args.quick else 2_000, 1)
        results["tiers"] = tier_operations(stack, max(10, args.calls // 4))
        results["stored_value"] = stored_value_operations(stack, max(10, args.calls // 4),
                                                          1_000 if not args.quick else 100)
        results["gift_cards"] = gift_card_operations(stack, max(10, args.calls // 4))
        results["coupons"], results["coupon_claims"] = _coupons(stack, args.calls)
        results["checkout"] = _checkout(stack, args.calls)
        from bench.staff import staff_operations
        results["staff"], results["staff_hash"] = staff_operations(stack, max(10, args.calls // 4))
        results["gift_card_generation"] = gift_card_generation(stack, 100_000 if not args.quick else 2_000)
        results["tier_review_job"] = tier_review_job(100_000 if not args.quick else 2_000, 1)
        results["emulator_transactions"] = emulator_transactions(stack, tx_sizes, args.calls, shipped)
        results["double_spend"] = double_spend(lambda: stack.client("dynamodb"), "bench-double-spend")
        results["cold_start_ms"] = cold_start(stack)
        results["webhooks"] = _webhooks(stack, 20 if args.quick else 200, 100 if args.quick else 1_000)
        results["seconds"] = round(time.time() - started, 1)
    finally:
        stack.stop()
    out = OUT if not args.quick else OUT.with_name("results-quick.json")
    out.write_text(json.dumps(results, indent=2) + "\n")
    if not args.quick:
        update_docs(results)
    print(table(results["api"]))
    print()
    print(table(results["points"]))
    print()
    print("expiry job:", json.dumps(results["expiry_job"]))
    print()
    print(table(results["emulator_transactions"]))
    print()
    print("double spend:", json.dumps(results["double_spend"]))
    print("cold start (ms):", json.dumps(results["cold_start_ms"]))
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
