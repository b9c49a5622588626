"""The monthly cost of the load model, from the benchmark's measured units per operation.

``python -m bench.cost`` reads ``bench/results.json`` (what ``make bench`` measured) and writes the
cost table into ``docs/scale.md`` between its ``cost:start`` / ``cost:end`` markers. Nothing here is
measured: the load model is the seeds' program, the prices are AWS's published on-demand list
prices, and every unit figure comes from the benchmark's rows. Change a figure below, rerun.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"
DOC = ROOT / "docs" / "scale.md"

# The load model (docs/scale.md): the seeds' program of 1.2 million members, 100,000 orders a day
# (a 30-day month), and flash events of 10,000 requests a second for 10 minutes, twice a month.
ORDERS_PER_MONTH = 100_000 * 30
FLASH_REQUESTS_PER_MONTH = 10_000 * 600 * 2
# What a till calls per order (the benchmark row that measures each call): it finds the member,
# earns; three orders in ten are paid with stored value, one in ten redeems points; a member joins
# for every 80 orders (seed 000's dashboard: 8,624 new members a week against 700,000 orders).
PER_ORDER = {"findMember (signed POS)": 1.0, "earnPoints": 1.0, "payWithStoredValue": 0.3,
             "redeemPoints (1 lot)": 0.1, "registerMember": 1 / 80}
# A flash sale's requests: members found and earning, the rest redeeming or paying.
PER_FLASH_REQUEST = {"findMember (signed POS)": 0.4, "earnPoints": 0.4, "redeemPoints (1 lot)": 0.1,
                     "payWithStoredValue": 0.1}

# AWS list prices, us-east-1, USD (DynamoDB on-demand after its November 2024 cut). China regions
# are priced in CNY by their operators: apply their price list to the same units.
PRICE = {"dynamodb_write_per_million": 0.625, "dynamodb_read_per_million": 0.125,
         "lambda_request_per_million": 0.20, "lambda_gb_second": 0.0000166667,
         "api_gateway_rest_per_million": 3.50, "logs_ingest_per_gb": 0.50, "logs_store_gb_month": 0.03}
API_MEMORY_GB = 1.0            # the prod stage's lambda_memory_size (.chalice/config.json)
# Logged a request: the API's structured line (365 bytes on average in make test's end-to-end log,
# about 450 with the function ARN filled in on AWS), Lambda's START / END / REPORT lines (about
# 350) and the stage's JSON access log line (about 350, infra/gateway.py).
LOG_BYTES_PER_REQUEST = 1_150


@dataclass(frozen=True)
class Units:
    """One operation's measured cost per call, everything it causes included."""

    wcu: float
    rcu: float
    ms: float

    @classmethod
    def of(cls, row: dict[str, Any]) -> Units:
        """The row's base-table, index and stream-consumer units, where the benchmark measured them."""
        wcu = sum(float(row.get(k, 0) or 0) for k in ("wcu_per_call", "wcu_index_per_call", "consumer_wcu_per_call"))
        rcu = sum(float(row.get(k, 0) or 0) for k in ("rcu_per_call", "consumer_rcu_per_call"))
        return cls(wcu, rcu, float(row["p50_ms"]))


def rows_by_operation(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each operation's row at the smallest data size measured (the units do not grow with data)."""
    found: dict[str, dict[str, Any]] = {}
    for section in ("api", "points", "stored_value", "gift_cards", "tiers"):
        for row in results.get(section, []):
            found.setdefault(row["operation"], row)
    return found


def monthly(results: dict[str, Any]) -> dict[str, Any]:
    """Requests, units and dollars a month for the load model."""
    rows = rows_by_operation(results)
    calls: dict[str, float] = {}
    for mix, volume in ((PER_ORDER, ORDERS_PER_MONTH), (PER_FLASH_REQUEST, FLASH_REQUESTS_PER_MONTH)):
        for operation, share in mix.items():
            calls[operation] = calls.get(operation, 0) + share * volume
    missing = sorted(set(calls) - set(rows))
    if missing:
        raise SystemExit(f"bench results lack {missing}: run make bench")
    units = {op: Units.of(rows[op]) for op in calls}
    requests = sum(calls.values())
    wcu = sum(n * units[op].wcu for op, n in calls.items())
    rcu = sum(n * units[op].rcu for op, n in calls.items())
    gb_seconds = sum(n * units[op].ms / 1000 * API_MEMORY_GB for op, n in calls.items())
    log_gb = requests * LOG_BYTES_PER_REQUEST / 1e9
    dollars = {
        "DynamoDB writes": wcu / 1e6 * PRICE["dynamodb_write_per_million"],
        "DynamoDB reads": rcu / 1e6 * PRICE["dynamodb_read_per_million"],
        "API Gateway": requests / 1e6 * PRICE["api_gateway_rest_per_million"],
        "Lambda": requests / 1e6 * PRICE["lambda_request_per_million"] + gb_seconds * PRICE["lambda_gb_second"],
        "CloudWatch Logs": log_gb * (PRICE["logs_ingest_per_gb"] + PRICE["logs_store_gb_month"]),
    }
    return {"requests": round(requests), "calls": {k: round(v) for k, v in calls.items()},
            "write_units": round(wcu), "read_units": round(rcu), "lambda_gb_seconds": round(gb_seconds),
            "log_gb": round(log_gb, 1), "dollars": {k: round(v, 2) for k, v in dollars.items()},
            "total_dollars": round(sum(dollars.values()), 2)}


def markdown(cost: dict[str, Any], results: dict[str, Any], source: str = "bench/results.json") -> str:
    """The cost section's table."""
    rows = rows_by_operation(results)
    lines = [f"From `{source}` of {results['when'][:10]} ({results['machine']}): each call's write units are "
             "the table's, its indexes' and its stream consumers' (delivered one call at a time, the "
             "dearest case: full batches fold the figures), `python -m bench.cost`.", "",
             "| operation | calls a month | WCU a call | RCU a call |", "|---|---|---|---|"]
    for op, n in cost["calls"].items():
        u = Units.of(rows[op])
        lines.append(f"| {op} | {n:,} | {u.wcu:g} | {u.rcu:g} |")
    lines += ["", f"{cost['requests']:,} requests, {cost['write_units']:,} write units, {cost['read_units']:,} "
              f"read units, {cost['lambda_gb_seconds']:,} Lambda GB-s, {cost['log_gb']} GB of logs a month.", "",
              "| service | USD a month |", "|---|---|",
              *[f"| {k} | {v:,.2f} |" for k, v in cost["dollars"].items()],
              f"| **total** | **{cost['total_dollars']:,.2f}** |"]
    return "\n".join(lines)


def update_doc(text: str, body: str) -> str:
    """``text`` with the part between the cost markers replaced by ``body``."""
    start, end = "<!-- cost:start -->", "<!-- cost:end -->"
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body}\n{end}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.cost")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--print", action="store_true", help="print, do not write docs/scale.md")
    args = parser.parse_args(argv)
    results = json.loads(args.results.read_text())
    cost = monthly(results)
    source = str(args.results.resolve().relative_to(ROOT)) if args.results.resolve().is_relative_to(ROOT) \
        else str(args.results)
    body = markdown(cost, results, source)
    if args.print:
        print(body)
    else:
        DOC.write_text(update_doc(DOC.read_text(), body))
    return 0


if __name__ == "__main__":
    sys.exit(main())
