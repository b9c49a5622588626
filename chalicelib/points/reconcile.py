"""Proof that the ledger adds up: for one account, or for every account.

For an account: ``available`` = sum of postings' available deltas = sum of live lots;
``pending`` likewise with pending lots; ``held`` = open holds; ``debt`` = sum of debt deltas.
Reading every posting is O(history) by nature; this is an audit, not an operation path.
"""

from __future__ import annotations

from typing import Any

from chalicelib.points.store import ACCOUNT_SHARDS, AccountItem, HoldItem, LotItem, PostingItem


def account(member_id: str, point_type: str) -> dict[str, Any]:
    a = AccountItem.load(member_id, point_type)
    pk = f"MEMBER#{member_id}"
    sums = {"available": 0, "pending": 0, "held": 0, "debt": 0}
    postings = 0
    for p in PostingItem.query(PostingItem.partition(member_id), PostingItem.sk.startswith(f"PTS#{point_type}#POST#"), consistent_read=True):
        postings += 1
        for k in sums:
            sums[k] += int(getattr(p, f"{k}_delta"))
    live_lots = [int(lot.remaining) for lot in LotItem.query(pk, LotItem.sk.startswith(f"PTS#{point_type}#LOT#"),
                                                              consistent_read=True)]
    pending_lots = [int(lot.remaining) for lot in LotItem.query(pk, LotItem.sk.startswith(f"PTS#{point_type}#PEND#"),
                                                                 consistent_read=True)]
    live, pending = sum(live_lots), sum(pending_lots)
    held = sum(int(h.points) for h in HoldItem.query(pk, HoldItem.sk.startswith(f"PTS#{point_type}#HOLD#"),
                                                     consistent_read=True) if h.status == "open")
    state = a.view()
    checks = {
        "available = postings": state["available"] == sums["available"],
        "available = live lots": state["available"] == live,
        "pending = postings": state["pending"] == sums["pending"],
        "pending = pending lots": state["pending"] == pending,
        "held = postings": state["held"] == sums["held"],
        "held = open holds": state["held"] == held,
        "debt = postings": state["debt"] == sums["debt"],
        "postings are gap-free": postings == state["version"],
        "nothing negative": min(state["available"], state["pending"], state["held"], state["debt"]) >= 0,
        "every stored lot holds points": all(n > 0 for n in live_lots + pending_lots),
    }
    return {"member_id": member_id, "point_type": point_type, "account": state, "postings": postings,
            "sums": {**sums, "live_lots": live, "pending_lots": pending, "open_holds": held},
            "balanced": all(checks.values()), "checks": checks}


def everything(limit: int = 10_000) -> dict[str, Any]:
    checked = 0
    mismatches = []
    for shard in range(ACCOUNT_SHARDS):
        for a in AccountItem.listing.query(f"PTSACCT#{shard}"):
            if checked >= limit:
                break
            checked += 1
            result = account(a.member_id, a.point_type)
            if not result["balanced"]:
                mismatches.append(result)
    return {"accounts_checked": checked, "balanced": not mismatches, "mismatches": mismatches[:50]}
