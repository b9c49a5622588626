"""Reading an account (balances, expiring soon, the ledger) and adjusting it by hand."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import islice
from typing import TYPE_CHECKING, Any

from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger import lots as L
from chalicelib.points import access, lapsing, orders, program, repository, rolling
from chalicelib.points import rules as R
from chalicelib.points.tables import AccountItem, LotItem
from chalicelib.shared import clock
from chalicelib.shared.principal import Principal

if TYPE_CHECKING:
    from chalicelib.points.schemas import Adjust

EXPIRING_SOON_DAYS = 30
NEXT_LOTS = 5
RESET_LOTS = 40          # a lot and the order that earned it each: 80 items of a transaction


def adjust(member_id: str, cmd: Adjust, by: Principal, uow: UnitOfWork, key: str | None) -> dict[str, Any]:
    """Add points (a new lot under the type's expiry) or remove them (soonest-expiring first)."""
    member_id = access.member(uow, member_id, by)
    _, rules = program.rules_at(uow, clock.now())
    config = program.type_config(rules, cmd.point_type)
    today = program.today()
    ledger = program.ledger(uow, member_id, cmd.point_type, rules, today)
    if cmd.points > 0:
        ledger.add_lot(cmd.points, R.expiry_date(config.expiry, today), source="adjustment")
    else:
        ledger.take(-cmd.points)
    posting = ledger.stage("adjust", abs(cmd.points), reason=cmd.reason, source="adjustment",
                           event_type="points.adjusted",
                           event_data={"points": cmd.points, "reason": cmd.reason})
    return {"member_id": member_id, "points": cmd.points, "posting_id": posting.posting_id,
            "balance": int(posting.balance_after)}


def account(uow: UnitOfWork, member_id: str, by: Principal) -> dict[str, Any]:
    """Balances of every point type, with what expires soon and the next lots to be spent."""
    _, rules = program.rules_at(uow, clock.now())
    access.prefetch(uow, member_id, by, ["points", "growth", *rules.point_types])
    member_id = access.member(uow, member_id, by)
    soon = (program.today() + timedelta(days=EXPIRING_SOON_DAYS)).isoformat()
    out: dict[str, Any] = {"member_id": member_id, "accounts": {}}
    for point_type in ["points", "growth", *rules.point_types]:
        item = repository.of(uow).account(member_id, point_type)
        view: dict[str, Any] = dict(item.view())
        now = lapsing.holding(uow, item, program.today())               # holds past their time counted back
        view["held"], view["available"] = now.held, now.available
        view["balance"] = view["available"] - view["debt"]
        view["net_earned"] = view["earned"] - view["clawed_back"]
        view["net_redeemed"] = view["redeemed"] - view["restored"]
        if point_type != "growth":
            view.update(_lots_view(uow, item, soon, now))
            view["balance"] -= view["lapsed"]
        redeemable = rules.type_config(point_type).redeemable
        view["spendable"] = max(0, view["balance"]) if redeemable else 0     # what a redemption may take now
        if point_type != "growth":
            view["value_fen"] = R.points_value_fen(rules, max(0, view["available"] - view["lapsed"])) if redeemable else 0
        out["accounts"][point_type] = view
    return out


def _lots_view(uow: UnitOfWork, item: AccountItem, soon: str, now: lapsing.Holding) -> dict[str, Any]:
    """What has lapsed, what expires by ``soon`` and the next lots to be spent. Lots without a
    last day of their own show the account's rolling date (every purchase moves it), and those
    expiring by ``soon`` are one entry: the available points less the dated lots (which sort first,
    so every one was read once a rolling lot was). Past the rolling date every lot has lapsed.
    The points of holds past their time (``now``, :func:`.lapsing.holding`) count in their lots,
    as they will be once given back (in ``lapsed`` if their lot ended meanwhile)."""
    today, available = program.today(), now.available
    if rolling.lapsed(item, today):
        return {"lapsed": available, "expiring_soon": [], "next_lots": []}
    read = _soonest(uow, item.member_id, item.point_type, soon, today)
    lapsed = now.ended + sum(int(lot.remaining) for lot in read if L.is_expired(lot.expires_on, today))
    lots = _with_returning([lot for lot in read if not L.is_expired(lot.expires_on, today)], now.returning)
    window = rolling.last_day(item, today)
    soon_lots = [{"expires_on": exp, "points": points} for exp, _, points in lots if exp and exp <= soon]
    if window and window <= soon and any(not exp for exp, _, _ in lots):
        dated = sum(points for exp, _, points in lots if exp)
        soon_lots.append({"expires_on": window, "points": available - lapsed - dated})
    return {"lapsed": lapsed, "expiring_soon": soon_lots,
            "next_lots": [{"expires_on": exp or window, "points": points} for exp, _, points in lots[:NEXT_LOTS]]}


def _with_returning(lots: list[Any], returning: list[dict[str, Any]]) -> list[tuple[str | None, str, int]]:
    """The lots read and what lapsed holds will give back to them (or to lots they emptied), as
    (expires_on, lot_id, points), in the lots' order (soonest first, never-expiring last)."""
    merged = {(lot.expires_on, lot.lot_id): int(lot.remaining) for lot in lots}
    for ref in returning:
        key = (ref["expires_on"], ref["lot_id"])
        merged[key] = merged.get(key, 0) + int(ref["points"])
    order = sorted(merged, key=lambda k: LotItem.live_key("", "", k[0], k[1])[1])
    return [(exp, lot_id, merged[(exp, lot_id)]) for exp, lot_id in order]


def _soonest(uow: UnitOfWork, member_id: str, point_type: str, soon: str, today: date) -> list[Any]:
    """The next lots and every lot ending by ``soon`` (and before them those past their last day,
    which the expiry job has not taken yet), in one Query (soonest first) in the usual case."""
    found: list[Any] = []
    fresh = 0
    for lot in repository.of(uow).live_lots(member_id, point_type, consistent=False, page_size=NEXT_LOTS + 1):
        if fresh >= NEXT_LOTS and not (lot.expires_on and lot.expires_on <= soon):
            break
        found.append(lot)
        fresh += not L.is_expired(lot.expires_on, today)
    return found


def _view(posting: Any, by: Principal) -> dict[str, Any]:
    """A merchant sees balances in every posting, references only in the program's and in those of
    records it may act for (a store's caller: its store's)."""
    return posting.view(references=access.sees_references(by, posting.merchant_id, posting.store_id))


def ledger_page(uow: UnitOfWork, member_id: str, point_type: str, limit: int, before: int | None,
                by: Principal) -> dict[str, Any]:
    """A page of postings, newest first; ``before`` continues from a sequence number."""
    member_id = access.member(uow, member_id, by)
    items = list(repository.of(uow).postings(member_id, point_type, before=before, limit=limit + 1, newest_first=True))
    page = [v for v in (_view(i, by) for i in items) if v["sequence"] != before][:limit]
    return {"member_id": member_id, "point_type": point_type, "postings": page,
            "next_before": page[-1]["sequence"] if len(page) == limit and page[-1]["sequence"] > 1 else None}


def balance_keys(member_id: str, point_type: str) -> list[tuple[Any, tuple[str, str]]]:
    """The items :func:`balance` reads, for another capability to batch with its own reads."""
    return [(AccountItem, AccountItem.key(member_id, point_type))]


def balance(uow: UnitOfWork, member_id: str, point_type: str) -> int:
    """What a member holds of ``point_type`` now, as :func:`account`'s ``balance`` counts it from
    the account item (read by :func:`balance_keys`, so batched by the caller) and, only when the
    account holds points, its holds (:func:`.lapsing.holding`): available (holds past their time
    counted back) − debt, less what has lapsed with its lot or its rolling window (growth value,
    for tiers, lapses with nothing). Lots past a last day of their own that the expiry job has
    not taken yet are not read here: they count until it runs."""
    item = repository.of(uow).account(member_id, point_type)
    today = program.today()
    now = lapsing.holding(uow, item, today)
    if point_type == "growth":
        return now.available - now.debt
    return now.available - now.debt - (now.available if rolling.lapsed(item, today) else now.ended)


def expire_lots(program_id: str, member_id: str, point_type: str, earned_before: str, actor: str,
                reason: str, event_data: dict[str, Any] | None = None) -> int:
    """Expire the live lots of an account earned before ``earned_before`` (an instant), at most
    ``RESET_LOTS`` per transaction (each lot and its order), one expiry posting each; the points expired. A repeat finds
    nothing left to do (growth reset at a tier period's end)."""
    expired = 0
    while True:
        uow = UnitOfWork(actor, program=program_id)
        _, rules = program.rules_at(uow, clock.now())
        ledger = program.ledger(uow, member_id, point_type, rules, program.today())
        chunk = list(islice((lot for lot in ledger.live_lots() if lot.earned_at < earned_before), RESET_LOTS + 1))
        total = 0
        for lot in chunk[:RESET_LOTS]:
            n = ledger.expire(lot)
            orders.record_expired(uow, lot.source, member_id, lot.lot_id, n, point_type)   # not clawed back again
            total += n
        if total:
            ledger.stage("expire", total, reason=reason, source="expiry",
                         event_type="points.expired", event_data=event_data)
            uow.commit()
            expired += total
        if len(chunk) <= RESET_LOTS:
            return expired
