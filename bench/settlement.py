"""Mall settlement (#29 "Measure"): closing a month with ``lines`` clearing lines.

A month long past (400 days ago, so nothing else wrote in it) is filled with ``lines`` clearing
lines over 20 merchant-program pairs, straight into the emulator (the lines and their statements'
totals), then 1,000 more stored value payments are cleared through the settlement's stream
consumer alone: its requests and write units per line are the measure of a line's cost. Then
``closeSettlementPeriod`` over HTTP (time, requests, write units: one item whatever the lines),
a statement and the period's listing read after it, and one late payment of the month, which must
land in the next period as an adjustment. The reconciliation (reads every line) is timed too (its
statements-against-lines half: the prepaid journal never saw these payments, only the settlement did),
up to 20,000 lines.

    python -m bench --settlement 20000         # a quick check
    python -m bench --settlement               # 100,000 (the issue's measure)
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from bench.__main__ import ACCOUNT, REGION

PAIRS = 20
SAMPLE = 1_000
RECONCILE_AT_MOST = 20_000      # it reads every line: ~6 ms a line on the emulator, a page of ~2,000 a request on DynamoDB


def _event(i: int, at: str):
    from chalicelib.shared.events import DomainEvent
    merchant, fen = f"bench-m{i % PAIRS:02d}", 100 + i % 900
    return DomainEvent("stored_value.paid", f"member:bench{i}", {
        "kind": "payment", "amount_fen": fen, "entries": [{"account": "member:principal", "fen": fen},
                                                          {"account": f"settlement:{merchant}", "fen": -fen}]},
        id=f"bench-stl-{i:09d}", occurred_at=at, program_id="default", merchant_id=merchant)


def fill(lines: int, period: str, at: str) -> None:
    """``lines`` stored value lines of ``period`` and their statements' totals, into the emulator."""
    from moto.dynamodb.models import dynamodb_backends

    from chalicelib.db import tenancy
    from chalicelib.settlement.tables import LineItem, StatementItem
    from chalicelib.shared.config import settings
    from devstack import emulator
    backend = dynamodb_backends[ACCOUNT][REGION]
    table = settings().main_table
    totals: dict[str, tuple[int, int]] = {}
    with emulator.LOCK:
        for i in range(lines):
            event = _event(SAMPLE + i, at)
            merchant, fen = event.merchant_id or "", int(event.data["amount_fen"])
            pair = f"{merchant}~program"
            item = LineItem(LineItem.partition(period, pair), f"{at}#{event.id}#0", period=period, party_a=merchant,
                            party_b="program", kind="stored_value", payer="program", payee=merchant, fen=fen,
                            merchant_id=merchant, event_id=event.id, event_type=event.type, occurred_at=at,
                            adjustment=False, original_period=period)
            tenancy.to_physical("default", item)
            backend.put_item(table, item.serialize())
            count, total = totals.get(pair, (0, 0))
            totals[pair] = (count + 1, total + fen)
        for pair, (count, total) in totals.items():
            merchant = pair.split("~", 1)[0]
            row = StatementItem(StatementItem.partition(period), pair, period=period, party_a=merchant,
                                party_b="program", ba_stored_value_fen=total, line_count=count)
            tenancy.to_physical("default", row)
            backend.put_item(table, row.serialize())
    emulator.forget_indexes(table)


def close_month(stack, lines: int) -> dict[str, Any]:
    """Fill, clear a sample through the consumer, close over HTTP, read, reconcile, a late line."""
    import requests

    from chalicelib.db.uow import UnitOfWork
    from chalicelib.settlement import domain, projection, service
    from chalicelib.shared import clock
    from devstack import emulator
    with clock.in_program("default"):
        day = clock.program_date() - timedelta(days=400)
    period, at = domain.period_of(day), f"{day.isoformat()}T04:00:00.000Z"
    started = time.perf_counter()
    fill(max(0, lines - SAMPLE), period, at)
    fill_seconds = time.perf_counter() - started

    before, t = emulator.usage(), time.perf_counter()
    for i in range(SAMPLE):
        with clock.in_program("default"):
            projection.on_event(_event(i, at))
    per_line = emulator.usage().minus(before)
    line_ms = (time.perf_counter() - t) * 1000 / SAMPLE

    session = requests.Session()
    staff = {"Authorization": "Bearer " + stack.credentials["staff_tokens"]["super_admin"],
             "Content-Type": "application/json"}
    before, t = emulator.usage(), time.perf_counter()
    r = session.post(f"{stack.api_url}/v1/settlement/periods/{period}/close", data="{}",
                     headers={**staff, "Idempotency-Key": f"bench-close-{period}-{lines}"})
    close_ms, closed = (time.perf_counter() - t) * 1000, emulator.usage().minus(before)
    assert r.status_code == 201, r.text

    before, t = emulator.usage(), time.perf_counter()
    got = session.get(f"{stack.api_url}/v1/settlement/statements/{period}/bench-m00/program", headers=staff)
    read_ms, read = (time.perf_counter() - t) * 1000, emulator.usage().minus(before)
    assert got.status_code == 200 and got.json()["closed"], got.text
    before, t = emulator.usage(), time.perf_counter()
    listed = session.get(f"{stack.api_url}/v1/settlement/statements", params={"period": period}, headers=staff)
    list_ms, listing = (time.perf_counter() - t) * 1000, emulator.usage().minus(before)
    statements = listed.json()["statements"]
    assert sum(s["line_count"] for s in statements) == lines, len(statements)

    with clock.in_program("default"):
        projection.on_event(_event(lines + SAMPLE, at))           # a late payment of the closed month
    after = service.get_statement(UnitOfWork(), _hq(), domain.next_period(period), "bench-m00", "program", None, 5)
    late = [x for x in after["lines"] if x["adjustment"] and x["original_period"] == period]

    figures = {}
    if lines <= RECONCILE_AT_MOST:
        before, t = emulator.usage(), time.perf_counter()
        with clock.in_program("default"):
            check = service.reconcile(UnitOfWork(), period)
        used = emulator.usage().minus(before)
        figures = {"reconcile_seconds": round(time.perf_counter() - t, 1), "reconcile_requests": used.requests,
                   "statements_equal_their_lines": not check["statement_mismatches"],
                   "reconcile_lines_checked": check["lines_checked"]}
    return {"lines": lines, "period": period, "pairs": len(statements), "fill_seconds": round(fill_seconds, 1),
            "line_requests": round(per_line.requests / SAMPLE, 2), "line_wcu": round(per_line.wcu / SAMPLE, 2),
            "line_rcu": round(per_line.rcu / SAMPLE, 2), "line_ms": round(line_ms, 2),
            "close_ms": round(close_ms, 1), "close_requests": closed.requests, "close_wcu": round(closed.wcu, 1),
            "statement_read_ms": round(read_ms, 1), "statement_read_requests": read.requests,
            "list_ms": round(list_ms, 1), "list_requests": listing.requests,
            "late_line_is_adjustment": bool(late), **figures}


def _hq():
    from chalicelib.shared.principal import Principal
    return Principal("staff", "bench", "super_admin")
