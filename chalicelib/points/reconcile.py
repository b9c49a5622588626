"""Proof that the ledger adds up: for one account, or for every account.

For an account: each bucket = sum of postings' deltas (the shared ledger check), postings are
gap-free, and the items agree: ``available`` = live lots (not growth: it has none), ``pending`` = pending lots, ``held`` =
open holds, and the holds the account names as open (``open_holds``) are those open. Reading every posting is O(history) by nature; this is an audit, not an operation path.
The job checks the next page of every listing shard each run (:func:`next_pages`), the endpoint
the first ``limit`` accounts; the listing names the accounts (keys only), each is read by key.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger import reconciliation
from chalicelib.ledger.account import reconcile
from chalicelib.points import repository
from chalicelib.points.folded import FOLDED
from chalicelib.points.ledger import BUCKETS
from chalicelib.points.tables import ACCOUNT_SHARDS, AccountItem

MISMATCHES_REPORTED = 50
LEDGER, SHARDS = "points", range(ACCOUNT_SHARDS)     # the job's cursor: one per shard of the listing


def account(uow: UnitOfWork, member_id: str, point_type: str) -> dict[str, Any]:
    """Every check of one account, and whether all pass."""
    repo = repository.of(uow)
    item = repo.account(member_id, point_type)
    state = item.view()
    ledger = reconcile(state, repo.postings(member_id, point_type), BUCKETS)
    lotless = point_type == "growth"     # growth has no lots (points/growth.py); those from before are read by nothing
    live_lots = [] if lotless else [int(lot.remaining) for lot in repo.live_lots(member_id, point_type, page_size=None)]
    pending_lots = [int(lot.remaining) for lot in repo.pending_lots(member_id, point_type)]
    live, pending = sum(live_lots), sum(pending_lots)
    holds = list(repo.holds(member_id, point_type))
    held = sum(h.outstanding for h in holds)
    named = None if item.open_holds is None else set(json.loads(item.open_holds))
    checks = {
        "available = postings": ledger["checks"]["available = postings"],
        "available = live lots": lotless or state["available"] == live,
        "pending = postings": ledger["checks"]["pending = postings"],
        "pending = pending lots": state["pending"] == pending,
        "held = postings": ledger["checks"]["held = postings"],
        "held = open holds": state["held"] == held,
        "debt = postings": ledger["checks"]["debt = postings"],
        "postings are gap-free": ledger["checks"]["postings are gap-free"],
        "nothing negative": ledger["checks"]["nothing negative"],
        "every stored lot holds points": all(n > 0 for n in live_lots + pending_lots),
        "the account names its open holds": named is None or named == {h.hold_id for h in holds if h.status == "open"},
    }
    return {"member_id": member_id, "point_type": point_type, "account": state, "postings": ledger["postings"],
            "sums": {**ledger["sums"], "live_lots": live, "pending_lots": pending, "open_holds": held},
            "balanced": all(checks.values()), "checks": checks}


def listed(uow: UnitOfWork, listing_key: str) -> list[dict[str, Any]]:
    """The checks of the accounts one listing key names: a points account and the growth it
    carries (:mod:`.folded`), or a growth account of before that no points account has taken yet
    (checked by its points account's key once taken)."""
    member_id, point_type = AccountItem.listed_as(listing_key)
    if point_type not in FOLDED:
        return [account(uow, member_id, point_type)]
    shared = repository.of(uow).shared(member_id)
    if point_type == "growth":
        return [] if shared.g_version is not None else [account(uow, member_id, "growth")]
    return [account(uow, member_id, t) for t in FOLDED if t == "points" or int(shared.g_version or 0)]


def everything(uow: UnitOfWork, limit: int = 10_000) -> dict[str, Any]:
    """Check the first ``limit`` accounts (a points account's listing key names its growth too),
    shard by shard of the accounts listing (the endpoint's page), and show where the job's pass is."""
    checked = 0
    mismatches = []
    for shard in range(ACCOUNT_SHARDS):
        for key in repository.of(uow).accounts_in_shard(shard, limit=limit - checked):
            results = listed(uow, key)[:limit - checked]
            checked += len(results)
            mismatches += [result for result in results if not result["balanced"]]
            if checked >= limit:
                break
        if checked >= limit:
            break
    return {"accounts_checked": checked, "balanced": not mismatches, "mismatches": mismatches[:MISMATCHES_REPORTED],
            "progress": reconciliation.progress(uow, LEDGER, SHARDS)}


def next_pages(uow: UnitOfWork, page: int | None = None) -> dict[str, Any]:
    """Check the next page of every shard from where the last run stopped (the job: every account
    within a period, :mod:`chalicelib.ledger.reconciliation`)."""
    repo = repository.of(uow)
    run = reconciliation.next_pages(
        uow, LEDGER, SHARDS, lambda shard, after, n: [(k, k) for k in repo.accounts_in_shard(shard, after, n)],
        lambda key: listed(uow, key), page)
    results = [r for found in run.results for r in found]
    mismatches = [r for r in results if not r["balanced"]]
    return {"accounts_checked": len(results), "balanced": not mismatches,
            "mismatches": mismatches[:MISMATCHES_REPORTED], "progress": reconciliation.progress(uow, LEDGER, SHARDS)}
