"""Proof that stored value adds up to the fen, for one account or for every account.

For an account: each balance equals the sum of its postings' deltas (the shared ledger check),
postings are gap-free, every posting's double-entry lines sum to zero and its lines on the
member's accounts equal its deltas, and the running totals agree: principal = top-ups + gift cards
redeemed − spent + refunded − cashed out − spent bonus deducted at cash-outs; bonus = granted − spent + refunded − forfeited − expired. In total: the sum of the
accounts' balances equals the sum of every posting's lines on the members' accounts. Reading
every posting is O(history): an audit (a job and an HQ endpoint), never an operation path. The
program's totals are also compared with the prepaid figures (``figures_agree``: the projection
the liability report and the custodian's statement read, once the stream has caught up), and so
is each issuer's outstanding-money counter, the one its issuance limit is held against
(``issuance_agrees``). The job checks the next page of every listing shard each run
(:func:`next_pages`), the endpoint the first ``limit`` accounts; the listing names the accounts
(keys only), each is read by key. The totals are compared with the figures only when every
account of the program was checked at once (a small program): at scale no run sees every
account, and each account's own checks carry the proof.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger import reconciliation
from chalicelib.ledger.account import reconcile
from chalicelib.ledger.journal import balanced, net
from chalicelib.shared import clock
from chalicelib.stored_value import figures, repository
from chalicelib.stored_value import rules as R
from chalicelib.stored_value.account import BONUS, HELD_BONUS, HELD_PRINCIPAL, PRINCIPAL
from chalicelib.stored_value.tables import BUCKETS

MISMATCHES_REPORTED = 50
LEDGER = "stored_value"           # the job's cursor (one per shard of the accounts listing)


def account(uow: UnitOfWork, member_id: str) -> dict[str, Any]:
    """Every check of one account, and whether all pass."""
    state = repository.of(uow).account(member_id).view()
    postings = list(repository.of(uow).postings(member_id))
    ledger = reconcile(state, postings, BUCKETS)
    lines = [json.loads(p.entries) for p in postings]
    checks = {**ledger["checks"],
              "every posting balances": all(balanced(x) for x in lines),
              "lines = deltas": all(_matches(x, p) for x, p in zip(lines, postings, strict=True)),
              "principal = totals": state["principal"] + state["held_principal"] == state["topped_up"]
              + state["card_redeemed"] - state["spent_principal"] + state["refunded_principal"] - state["cashed_out"]
              - state["spent_bonus_deducted"],
              "bonus = totals": state["bonus"] + state["held_bonus"] == state["bonus_granted"] - state["spent_bonus"]
              + state["refunded_bonus"] - state["bonus_forfeited"] - state["bonus_expired"],
              "expiring bonus <= bonus": sum(int(lot["fen"]) for lot in state["bonus_expiring"])
              <= state["bonus"] + state["held_bonus"]}
    return {"member_id": member_id, "account": state, "postings": ledger["postings"],
            "sums": {**ledger["sums"],
                     "lines_principal": -sum(net(x, PRINCIPAL) + net(x, HELD_PRINCIPAL) for x in lines),
                     "lines_bonus": -sum(net(x, BONUS) + net(x, HELD_BONUS) for x in lines)},
            "balanced": all(checks.values()), "checks": checks}


def everything(uow: UnitOfWork, limit: int = 10_000) -> dict[str, Any]:
    """Check the first ``limit`` accounts (the endpoint's page) and the program's totals, and show
    where the job's pass is."""
    results: list[dict[str, Any]] = []
    for shard in repository.of(uow).shards():
        for member_id in repository.of(uow).accounts_in_shard(shard, limit=limit + 1 - len(results)):
            if len(results) == limit:            # one more is listed: an account is left unchecked
                return _proof(uow, results, whole=False)
            results.append(account(uow, member_id))
    return _proof(uow, results, whole=True)


def next_pages(uow: UnitOfWork, page: int | None = None) -> dict[str, Any]:
    """Check the next page of every shard from where the last run stopped (the job: every account
    within a period, :mod:`chalicelib.ledger.reconciliation`); the totals are compared with the
    figures when the run saw every account of the program."""
    repo = repository.of(uow)
    run = reconciliation.next_pages(
        uow, LEDGER, repo.shards(), lambda shard, after, n: [(m, m) for m in repo.accounts_in_shard(shard, after, n)],
        lambda member_id: account(uow, member_id), page)
    return _proof(uow, run.results, run.whole)


def _proof(uow: UnitOfWork, results: list[dict[str, Any]], whole: bool) -> dict[str, Any]:
    """The accounts' checks and their totals; the totals against the figures when ``whole`` (every
    account of the program was checked)."""
    totals = {"principal": 0, "bonus": 0, "lines_principal": 0, "lines_bonus": 0}
    for result in results:
        totals["principal"] += result["account"]["principal"] + result["account"]["held_principal"]
        totals["bonus"] += result["account"]["bonus"] + result["account"]["held_bonus"]
        totals["lines_principal"] += result["sums"]["lines_principal"]
        totals["lines_bonus"] += result["sums"]["lines_bonus"]
    mismatches = [r for r in results if not r["balanced"]]
    in_total = totals["principal"] == totals["lines_principal"] and totals["bonus"] == totals["lines_bonus"]
    b = figures.balances(uow)
    projected = {"principal": -sum(b.get(a, 0) for a in figures.MEMBER_PRINCIPAL),
                 "bonus": -sum(b.get(a, 0) for a in figures.MEMBER_BONUS)}
    _, rules = R.RULES.at(uow, clock.now())
    issued = figures.issuance(uow, rules.issuance_limits_fen)
    return {"accounts_checked": len(results), "balanced": not mismatches and in_total, "totals": totals,
            "figures": projected, "figures_agree": whole and projected == {
                "principal": totals["principal"], "bonus": totals["bonus"]},
            "issuance": issued["issuers"], "issuance_agrees": issued["agree"],
            "mismatches": mismatches[:MISMATCHES_REPORTED],
            "progress": reconciliation.progress(uow, LEDGER, repository.of(uow).shards())}


def _matches(lines: list[dict[str, Any]], p: Any) -> bool:
    """A posting's lines on the member's accounts equal its deltas (liabilities are credits)."""
    return (-net(lines, PRINCIPAL) == int(p.principal_delta) and -net(lines, BONUS) == int(p.bonus_delta)
            and -net(lines, HELD_PRINCIPAL) == int(p.held_principal_delta or 0)
            and -net(lines, HELD_BONUS) == int(p.held_bonus_delta or 0))
