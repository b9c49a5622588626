"""A template's statistics, projected from its events exactly once (a folding consumer: no
counter in a claim's or a write-off's transaction): coupons claimed and issued, used, undone,
expired; the discount given in fen (its cost), in all, per store and per cost bearer; the order
amounts the uses came with (the GMV they drove). ``getCouponStats`` reads the template's rows in
one query per shard (two), whatever the number of coupons, and sets them beside the stock and
the budget counter: the stock's ``taken`` is what was claimed and issued, and the budget's use is
the discount given, once the stream has caught up (a reconciliation).

The owed packs (:mod:`chalicelib.coupons.owed`) have figures of their own, per pack and in all,
folded from their events by a second consumer, exactly once the same way: packs owed, issued late
(by the ``coupon-owed`` job) and expired unissued; ``getCouponPackStats`` reads them in two queries."""

from __future__ import annotations

from typing import Any

from chalicelib.coupons import templates
from chalicelib.coupons.tables import BudgetItem, PackStatsItem, StatsItem
from chalicelib.db.backend import SortKey
from chalicelib.db.uow import UnitOfWork
from chalicelib.events.folding import Deltas, folds, read_shards
from chalicelib.ledger import counters, stock
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import Principal

CONSUMER = "coupon-stats"
FIGURES = ("claimed", "issued", "used", "undone", "expired", "saving_fen", "orders_fen")
PACK_CONSUMER = "coupon-pack-stats"
PACK_FIGURES = {"coupon.pack_owed": "owed", "coupon.pack_owed_issued": "issued_late",
                "coupon.pack_owed_expired": "expired"}


@folds(CONSUMER, "coupon.claimed", "coupon.issued", "coupon.used", "coupon.write_off_undone", "coupon.expired")
def project(event: DomainEvent) -> Deltas:
    """What one coupon event adds to its template's rows."""
    d, deltas = event.data, Deltas()
    template = d["template_id"]
    if event.type in ("coupon.claimed", "coupon.issued", "coupon.expired"):
        deltas.add(StatsItem, StatsItem.key(template), {event.type.split(".")[1]: 1})
        return deltas
    sign = 1 if event.type == "coupon.used" else -1
    fen, order = sign * int(d.get("saving_fen") or 0), sign * int(d.get("order_amount_fen") or 0)
    deltas.add(StatsItem, StatsItem.key(template), {"used" if sign > 0 else "undone": 1, "saving_fen": fen,
                                                    "orders_fen": order})
    if d.get("store_id"):
        deltas.add(StatsItem, StatsItem.key(template, f"STORE#{d['store_id']}"),
                   {"used": sign, "saving_fen": fen, "orders_fen": order})
    for bearer, part in (d.get("cost") or {}).items():
        deltas.add(StatsItem, StatsItem.key(template, f"BEARER#{bearer}"), {"saving_fen": sign * int(part)})
    return deltas


@folds(PACK_CONSUMER, *PACK_FIGURES)
def project_owed(event: DomainEvent) -> Deltas:
    """What one owed pack's event adds: one to its figure, in all and for its pack."""
    figure, deltas = PACK_FIGURES[event.type], Deltas()
    for key in (PackStatsItem.key(), PackStatsItem.key(event.data["pack_id"])):
        deltas.add(PackStatsItem, key, {figure: 1})
    return deltas


def packs_shown(uow: UnitOfWork) -> dict[str, Any]:
    """``getCouponPackStats``: the program's owed packs, in all and per pack (a pack's row once
    one was owed): owed, issued late, expired unissued, and still owing (owed less the other two)."""
    rows = {r.sk: r for r in read_shards(uow, PackStatsItem, PackStatsItem.key()[0])}

    def figures(row: Any | None) -> dict[str, int]:
        f = {k: int(getattr(row, k) or 0) if row is not None else 0 for k in PACK_FIGURES.values()}
        return {**f, "owing": f["owed"] - f["issued_late"] - f["expired"]}
    return {**figures(rows.get("ALL")), "packs": [{"pack_id": sk.split("#", 1)[1], **figures(r)}
                                                 for sk, r in sorted(rows.items()) if sk.startswith("PACK#")]}


def _figures(row: Any | None) -> dict[str, int]:
    return {k: int(getattr(row, k) or 0) if row is not None else 0 for k in FIGURES}


def shown(uow: UnitOfWork, template_id: str, by: Principal) -> dict[str, Any]:
    """``getCouponStats``: the template's figures, per store and per bearer, and how they square
    with its stock and its budget."""
    head = templates.find(uow, template_id, by)
    rows = {r.sk: r for r in read_shards(uow, StatsItem, StatsItem.key(template_id)[0])}
    total = _figures(rows.get("ALL"))
    out = total["claimed"] + total["issued"]
    level = stock.level(uow, templates.stock_name(template_id))
    budget_used = counters.total(uow, BudgetItem, BudgetItem.key(template_id)) if head.budget_fen else None
    net = total["used"] - total["undone"]
    reconciled = _square(level["taken"], total, budget_used)
    return {"template_id": template_id, **total,
            "usage_rate": round(net / out, 4) if out else None,
            "stores": [{"store_id": sk.split("#", 1)[1], **_figures(r)} for sk, r in sorted(rows.items())
                       if sk.startswith("STORE#")],
            "bearers": {sk.split("#", 1)[1]: int(r.saving_fen or 0) for sk, r in sorted(rows.items())
                        if sk.startswith("BEARER#")},
            "stock": {k: level[k] for k in ("total", "left", "taken")}, "budget_fen": head.budget_fen,
            "budget_used_fen": budget_used, "reconciled": reconciled}


def totals(uow: UnitOfWork, template_id: str) -> dict[str, int]:
    """The template's figures in all (its ``ALL`` row, summed over the shards)."""
    rows = {r.sk: r for r in read_shards(uow, StatsItem, StatsItem.key(template_id)[0], SortKey.prefix("ALL"))}
    return _figures(rows.get("ALL"))


def squared(uow: UnitOfWork, head: Any, taken: int) -> dict[str, bool]:
    """How a template's figures square with its stock's ``taken`` and its budget counter."""
    rows = {r.sk: r for r in read_shards(uow, StatsItem, StatsItem.key(head.template_id)[0], SortKey.prefix("ALL"))}
    total = _figures(rows.get("ALL"))
    budget_used = counters.total(uow, BudgetItem, BudgetItem.key(head.template_id)) if head.budget_fen else None
    return _square(taken, total, budget_used)


def _square(taken: int, total: dict[str, int], budget_used: int | None) -> dict[str, bool]:
    return {"stock_taken_is_claimed_and_issued": taken == total["claimed"] + total["issued"],
            "budget_used_is_discount_given": budget_used is None or budget_used == total["saving_fen"]}
