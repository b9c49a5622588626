"""The dashboard (#29 "Measure"): ``getDashboard`` for a month, requests and p50, as the program
grows from 1k to 100k members. The members are written straight into the emulator; a month of
activity (checkouts of up to 5,000 of them, a member and a walk-in order a day) is folded by the
stream consumers, so the read finds full day rows, week and month rows and member items."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from bench.__main__ import fill_members, row, timed

ACTIVE_AT_MOST = 5_000


def _fold_month(first: int, count: int) -> None:
    """Checkout events of ``count`` members (from ``first``) spread over the month so far, folded
    as the stream would deliver them (batches of 100)."""
    from chalicelib.events import dispatch
    from chalicelib.shared import clock
    from chalicelib.shared.events import DomainEvent
    today = clock.program_date()
    days = max(1, today.day)
    events = [DomainEvent("checkout.completed", f"member:01BENCH{i:019d}" if i % 5 else f"checkout:b{i}", {
        "member_id": f"01BENCH{i:019d}" if i % 5 else None, "store_id": "demo-store",
        "totals": {"order_amount_fen": 1_000 + i % 997}}, id=f"bench-dash-{i}", program_id="default",
        merchant_id="demo-merchant",
        occurred_at=clock.iso(clock.now() - timedelta(days=i % days))) for i in range(first, first + count)]
    for start in range(0, len(events), 100):
        batch = events[start:start + 100]
        records = [{"eventName": "INSERT", "dynamodb": {"SequenceNumber": f"{start + n:021d}", "NewImage": {
            "payload": {"S": json.dumps(e.as_dict())}}}} for n, e in enumerate(batch)]
        assert dispatch.handle_records(records) == {"batchItemFailures": []}


def dashboard_reads(stack, sizes: list[int], n: int) -> list[dict[str, Any]]:
    """``getDashboard`` (program, month; and one merchant's week) at each size."""
    import requests
    session = requests.Session()
    staff = {"Authorization": "Bearer " + stack.credentials["staff_tokens"]["super_admin"]}
    rows, filled, folded = [], 0, 0
    for size in sizes:
        fill_members(size - filled, filled)
        filled = size
        active = min(size, ACTIVE_AT_MOST)
        _fold_month(folded, active - folded)
        folded = active

        def month(i: int) -> None:
            r = session.get(f"{stack.api_url}/v1/dashboard", params={"period": "month"}, headers=staff)
            assert r.status_code == 200, r.text

        def week(i: int) -> None:
            r = session.get(f"{stack.api_url}/v1/dashboard", params={"period": "week", "merchant_id": "demo-merchant"},
                            headers=staff)
            assert r.status_code == 200, r.text
        samples, usage = timed(n, month, warmup=2)
        rows.append(row("getDashboard", f"month, program, {size} members ({active} active)", n, samples, usage))
        samples, usage = timed(n, week, warmup=2)
        rows.append(row("getDashboard", f"week, one merchant, {size} members", n, samples, usage))
    return rows
