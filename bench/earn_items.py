"""Every item one earn writes, from the emulator: ``python -m bench.earn_items``.

Starts the local stack as ``python -m bench`` does (no background pumps), registers a member,
gives it one adjustment (the benchmark's "1 prior posting" member), earns a few orders of
¥100 at merchant ``bench`` and records each write of the last earns, the API's and then the stream
consumers' (the stream delivered after the call, one call at a time as the benchmark does): the
item's table and key (ids masked), its size, its write units on the table (a transaction's twice)
and on each index. Prints a markdown table per phase and the totals per earn; ``--json`` the raw
entries. Nothing is written to ``bench/results.json``.

``--batched``: each earn is a different member's, and the stream is delivered once after all of
them, as a shard's batch holds them at a busy hour (the pump's batches are of 100 records: at most
100 earns): the folded rows are then written once for the batch, and the consumers' figure per earn
is what a busy program pays, not the one-call-at-a-time dearest case.

``--ladder``: the program has a tier ladder (as every program of the seeds does: Member, Silver at
100 growth, Gold at 1,000), so the tiers' stream consumer counts each earn's growth in the member's
tier period (its tier item and its applied marker): what a real program's earn costs. Without it
the figure is like for like with the one #24's goal was set against (no ladder).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import defaultdict
from typing import Any

ULID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")


def _mask(text: str, names: dict[str, str]) -> str:
    for value in sorted(names, key=len, reverse=True):       # an order id holds the member's
        text = text.replace(value, names[value])
    text = ULID.sub("<ulid>", text)
    text = re.sub(r"#S\d+$", "", text)                  # a folded row: its shards as one
    text = re.sub(r"#items-\d+", "#<key>", text)                # the request's idempotency key
    text = re.sub(r"#\d{6,}(-\d+)?", "#<seq>", text)
    return re.sub(r"\d{4}-\d\d(-\d\d(T[\d:.]+Z?)?)?", "<date>", text)


def measure(earns: int = 3, batched: bool = False, ladder: bool = False) -> dict[str, Any]:
    """The trace of ``earns`` earns after one warm-up earn (entries per phase), and totals; ``batched``:
    ``earns`` members' earns, the stream delivered once after them all; ``ladder``: with a tier ladder."""
    import requests

    from devstack import emulator
    from devstack.stack import LocalStack, free_port
    os.environ["AWS_READ_TIMEOUT_SECONDS"] = "120"
    stack = LocalStack(api_port=free_port(), emulator_port=free_port(), pumps_enabled=False,
                       scheduler_enabled=False, rate_limits={}).start()
    stack.attach_pumps(start=False)
    try:
        session, url = requests.Session(), stack.api_url
        staff = {"Authorization": "Bearer " + stack.credentials["staff_tokens"]["super_admin"],
                 "Content-Type": "application/json"}
        counter = [0]

        def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            counter[0] += 1
            r = session.post(url + path, json=body, headers={**staff, "Idempotency-Key": f"items-{counter[0]}"})
            assert r.status_code < 300, r.text
            return r.json()

        post("/v1/merchants", {"merchant_id": "bench", "name": "Bench merchant"})
        if ladder:
            r = session.put(url + "/v1/tiers/ladder", headers={**staff, "Idempotency-Key": "items-ladder"}, json={
                "ladder": {"tiers": [{"code": "V1", "name": "Member", "threshold": 0},
                                     {"code": "V2", "name": "Silver", "threshold": 100, "validity_months": 12},
                                     {"code": "V3", "name": "Gold", "threshold": 1_000, "validity_months": 12}]},
                "effective_from": "2026-01-01T00:00:00Z"})
            assert r.status_code < 300, r.text
        members = [post("/v1/members", {"phone": f"136{i:08d}"})["member_id"] for i in range(earns if batched else 1)]
        for mid in members:
            post(f"/v1/members/{mid}/points/adjustments", {"points": 10, "reason": "bench history"})
            post(f"/v1/members/{mid}/points/earn", {"order_id": f"{mid}-warm", "amount_fen": 10_000, "merchant_id": "bench"})
        stack.drain(timeout=600)
        names = {mid: "<member>" for mid in members}
        phases: dict[str, list[dict[str, Any]]] = defaultdict(list)
        started = emulator.usage()
        for i in range(earns):
            mid = members[i % len(members)]
            names[f"{mid}-{i}"] = "<order>"
            emulator.trace(True)
            post(f"/v1/members/{mid}/points/earn", {"order_id": f"{mid}-{i}", "amount_fen": 10_000,
                                                     "merchant_id": "bench"})
            phases["api"] += emulator.trace(not batched)
            if not batched:
                stack.drain(timeout=600)
                phases["consumers"] += emulator.trace(False)
        if batched:
            emulator.trace(True)
            stack.drain(timeout=600)
            phases["consumers"] += emulator.trace(False)
        for entries in phases.values():
            for entry in entries:
                entry["key"] = {k: _mask(str(v), names) for k, v in entry["key"].items()}
                entry["table"] = "events" if "event" in entry["table"].lower() else "main"
        used = emulator.usage().minus(started)
        return {"earns": earns, "batched": batched, "ladder": ladder, "phases": dict(phases),
                "metered_wcu_per_earn": round((used.wcu + used.wcu_index) / earns, 2)}
    finally:
        stack.stop()


def markdown(measured: dict[str, Any]) -> str:
    """A table per phase of one earn's writes (the entries of all earns, per earn), and the totals."""
    n = measured["earns"]
    lines: list[str] = []
    grand = 0.0
    for phase, entries in measured["phases"].items():
        rows: dict[tuple[str, str, str, str], list[float]] = {}
        for e in entries:
            index = ", ".join(f"{k} {v:g}" for k, v in sorted(e["index_wcu"].items()))
            key = (e["table"], e["key"].get("pk", ""), e["key"].get("sk", ""), e["action"])
            row = rows.setdefault(key, [0, 0.0, 0.0, 0.0])
            row[0] += 1
            row[1] += e["size"]
            row[2] += e["wcu"]
            row[3] += sum(e["index_wcu"].values())
            row.append(index)          # type: ignore[arg-type]
        lines += [f"**{phase}** (per earn, mean of {n})", "",
                  "| table | pk | sk | request | writes | bytes | WCU | index WCU |", "|---|---|---|---|---|---|---|---|"]
        total = [0.0, 0.0, 0.0]
        for (table, pk, sk, action), row in rows.items():
            count, size, wcu, idx = row[0] / n, row[1] / row[0], row[2] / n, row[3] / n
            idx_names = sorted({str(x) for x in row[4:] if x})
            lines.append(f"| {table} | `{pk}` | `{sk}` | {action} | {count:g} | {size:.0f} | {wcu:g} | "
                         f"{idx:g}{' (' + '; '.join(idx_names) + ')' if idx_names else ''} |")
            total = [total[0] + count, total[1] + wcu, total[2] + idx]
        lines += [f"| **{phase}** | | | | {total[0]:g} | | **{total[1]:g}** | **{total[2]:g}** |", ""]
        grand += total[1] + total[2]
    lines.append(f"**{grand:g} WCU per earn** (table, indexes and consumers; the emulator's meter: "
                 f"{measured['metered_wcu_per_earn']:g}).")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.earn_items")
    parser.add_argument("--earns", type=int, default=3)
    parser.add_argument("--batched", action="store_true",
                        help="each earn a different member's, the stream delivered once after all (at most 100)")
    parser.add_argument("--ladder", action="store_true", help="the program has a tier ladder (as real ones do)")
    parser.add_argument("--json", action="store_true", help="print the raw entries")
    args = parser.parse_args(argv)
    if args.batched and not 1 <= args.earns <= 100:
        parser.error("--batched takes 1 to 100 earns (one batch of the stream)")
    measured = measure(args.earns, args.batched, args.ladder)
    print(json.dumps(measured, indent=1) if args.json else markdown(measured))
    return 0


if __name__ == "__main__":
    sys.exit(main())
