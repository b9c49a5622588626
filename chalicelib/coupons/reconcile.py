"""Proving a program's coupons: each template's stock adds up (every shard there, none negative,
left + taken = total: :func:`chalicelib.ledger.stock.check`), and its figures agree with its own
counts (the stock's ``taken`` is what was claimed and issued; the budget used is the discount its
write-offs gave, undone ones taken back). Run by ``getCouponReconciliation`` and daily by the
``coupon-reconcile`` job, which announces ``coupon.reconciliation_failed`` where a stock does not
add up. The figures are a projection a second or so behind the writes: a disagreement there is
reported (``figures_agree``), not announced, unless it lasts (the next day's run sees it again)."""

from __future__ import annotations

from typing import Any

from chalicelib.coupons import stats, templates
from chalicelib.coupons.tables import LISTING, TemplateItem
from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger import stock

MAX_TEMPLATES = 2_000
MISMATCHES_REPORTED = 20


def template(uow: UnitOfWork, head: TemplateItem) -> dict[str, Any]:
    """One template's proof."""
    checked = stock.check(uow, templates.stock_name(head.template_id))
    figures = stats.squared(uow, head, checked.get("taken", 0))
    return {"template_id": head.template_id, "balanced": checked["ok"], "problems": checked["problems"],
            "figures_agree": all(figures.values()), **figures}


def everything(uow: UnitOfWork, limit: int = MAX_TEMPLATES) -> dict[str, Any]:
    """Every template of the program (up to ``limit``)."""
    results = [template(uow, head) for head in uow.query(TemplateItem, LISTING, None, index="gsi1", limit=limit)]
    return {"templates_checked": len(results), "balanced": all(r["balanced"] for r in results),
            "figures_agree": all(r["figures_agree"] for r in results),
            "mismatches": [r for r in results if not (r["balanced"] and r["figures_agree"])][:MISMATCHES_REPORTED]}
