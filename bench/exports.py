"""Exports (#29 "Measure"): one points ledger export of ``rows`` postings of one day, written by the
``exports`` job in a process of its own against the local stack's emulator (DynamoDB and S3):
its wall time, its DynamoDB requests (metered by the emulator), its S3 requests, and its peak RSS
(the job's process alone: the emulator holding the data runs in this one), beside the RSS of the
same process before the job ran (imports and clients), so that "flat" can be read off two sizes.

    python -m bench --exports 20000            # a quick check
    python -m bench --exports 1000000          # the issue's measure (the lead's run)
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from typing import Any

from bench.__main__ import ACCOUNT, REGION, ROOT, _client

CHILD = r"""
import json, sys, time
def hwm_mb():   # this process image's peak RSS (getrusage's ru_maxrss keeps the forking parent's across exec)
    line = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    return round(int(line.split()[1]) / 1024, 1)
import app  # noqa: F401  (as the jobs Lambda: the app names the modules that register jobs)
from chalicelib import jobs
from chalicelib.shared import clock, storage
before = hwm_mb()
calls = {"n": 0}
storage._s3().meta.events.register("after-call.s3", lambda **_: calls.__setitem__("n", calls["n"] + 1))
started = time.perf_counter()
ran = jobs.run("exports", clock.now())
print(json.dumps({"seconds": round(time.perf_counter() - started, 1), "s3_requests": calls["n"],
                  "peak_rss_mb": hwm_mb(), "rss_before_job_mb": before, "result": ran["result"]}))
"""


def fill_postings(rows: int, day: str) -> None:
    """``rows`` points postings of ``day`` (noon, Shanghai), 100 per member, straight into the emulator."""
    from moto.dynamodb.models import dynamodb_backends

    from chalicelib.shared.config import settings
    from devstack import emulator
    backend = dynamodb_backends[ACCOUNT][REGION]
    table = settings().main_table
    at = f"{day}T04:00:00.000Z"
    gc.disable()            # a million items: the collector would rescan every one of them again and again
    try:
        _put_postings(backend, table, rows, day, at)
    finally:
        gc.enable()
    gc.freeze()             # and while the emulator serves the export (the items live until the bench ends)
    emulator.forget_indexes(table)


def _put_postings(backend: Any, table: str, rows: int, day: str, at: str) -> None:
    from chalicelib.db import tenancy
    from chalicelib.ledger.postings import day_keys
    from chalicelib.points.tables import PostingItem
    from devstack import emulator
    with emulator.LOCK:
        for i in range(rows):
            member, version = f"01BENCHEXP{i // 100:016d}", i % 100 + 1
            posting_id = f"01BENCHPOST{i:015d}"
            item = PostingItem(PostingItem.partition(member), PostingItem.sort_key("points", version),
                               posting_id=posting_id, member_id=member, point_type="points", kind="earn",
                               amount=10, available_delta=10, pending_delta=0, held_delta=0, debt_delta=0,
                               balance_after=10 * version, lots="[]", reason="order", actor="bench",
                               source=f"order:demo-merchant:b{i}", merchant_id="demo-merchant", store_id="demo-store",
                               created_at=at)
            item.gsi1pk, item.gsi1sk = day_keys("points", day, at, posting_id)
            tenancy.to_physical("default", item)
            backend.put_item(table, item.serialize())


def _warm_index(day: str) -> None:
    """Rebuild the emulator's copies of the table's indexes after the bulk fill, in this process (at
    1,000,000 rows a rebuild takes longer than a client's read timeout: not the job's time)."""
    from moto.dynamodb.models import dynamodb_backends

    from chalicelib.shared.config import settings
    from devstack import emulator
    table = dynamodb_backends[ACCOUNT][REGION].get_table(settings().main_table)
    with emulator.LOCK:
        for index in table.global_indexes:
            emulator._gsi_map(table, index.name)


def export_ledger(stack, rows: int) -> dict[str, Any]:
    """Fill, ask for the export over HTTP, run the job in a child process, download and count."""
    import requests

    from chalicelib.shared import clock
    from devstack import access, emulator
    day = (clock.program_date() - timedelta(days=400)).isoformat()      # a day nothing else wrote on
    filled = time.perf_counter()
    fill_postings(rows, day)
    _warm_index(day)            # the emulator rebuilds its copy of gsi1 after a bulk fill: not the job's time
    fill_seconds = time.perf_counter() - filled
    session, post, staff = _client(stack, f"exp{rows}-")
    export = post("/v1/exports", {"kind": "points_ledger", "start": day, "end": day})
    access_key, secret = access.keys_of("jobs")
    # one run writes the whole export: the emulator reads some 150-400 rows a second, so 1,000,000
    # rows may take over two hours; the budget (a ceiling, not a target) grows with the rows
    budget = max(7_200, rows // 50)
    # (a read timeout for the emulator, which holds a million items in one Python process and
    # answers slower than DynamoDB on a busy machine: not the job's own setting on AWS)
    env = {**os.environ, "AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret,
           "JOB_BUDGET_SECONDS": str(budget), "PYTHONPATH": str(ROOT), "AWS_READ_TIMEOUT_SECONDS": "60"}
    before = emulator.usage()
    child = subprocess.run([sys.executable, "-c", CHILD], env=env, cwd=ROOT, capture_output=True, text=True,
                           timeout=budget + 600, check=False)
    used = emulator.usage().minus(before)
    if child.returncode != 0:
        raise RuntimeError(child.stderr[-3000:])
    ran = json.loads(child.stdout.strip().splitlines()[-1])
    got = session.get(f"{stack.api_url}/v1/exports/{export['export_id']}", headers=staff).json()
    if got.get("status") != "done":
        raise RuntimeError(f"the export is {got.get('status')}: {json.dumps(got)[:2000]}; the job: {json.dumps(ran)}")
    body = requests.get(got["url"], timeout=600).content
    lines = body.count(b"\n") - 1
    return {"rows": rows, "status": got["status"], "rows_done": got["rows_done"], "rows_in_file": lines,
            "size_mb": round(len(body) / 1024 / 1024, 1), "job_seconds": ran["seconds"],
            "rows_per_second": round(rows / max(ran["seconds"], 0.001)),
            "dynamodb_requests": used.requests, "dynamodb_rcu": round(used.rcu, 1), "s3_requests": ran["s3_requests"],
            "peak_rss_mb": ran["peak_rss_mb"], "rss_before_job_mb": ran["rss_before_job_mb"],
            "fill_seconds": round(fill_seconds, 1), "job_result": ran["result"]}
