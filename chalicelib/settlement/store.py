"""The settlement's store: staging an event's lines with their statements' totals in one
transaction, guarded by the period's head; reading statements, their lines (paged) and periods.

A line's transaction holds: each line (created; its key names the event), one update per
statement it adds to (one shard picked at random), the merchants' journal tallies, a check that
one copy of the period's head is still open, and the consumer's applied marker (:func:`apply_once`,
which commits it). Closing a period writes every copy of its head only, on the condition that none
is closed: so a line commits either before the close (and is in the closed statement) or fails its
check and is placed in the next open period as an adjustment, never lost and never in a closed
period. Closing costs :data:`~chalicelib.settlement.tables.HEAD_SHARDS` writes, whatever the period holds.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from chalicelib.db.backend import SortKey
from chalicelib.db.uow import UnitOfWork
from chalicelib.events.folding import read_shards, shard_pk, shards_of
from chalicelib.settlement import domain
from chalicelib.settlement.domain import Cleared, Clearing
from chalicelib.settlement.tables import AMOUNTS, HEAD_SHARDS, LineItem, MemoItem, PeriodItem, StatementItem, TallyItem
from chalicelib.shared.errors import ConcurrentUpdate, Conflict
from chalicelib.shared.events import DomainEvent

PAGE = 100                  # lines a page of a statement or of the exports' reader
MAX_SKIP = 24               # closed periods a late line may skip over to find an open one


class PeriodClosed(Conflict):
    slug, title = "settlement-period-closed", "The settlement period is closed"


# --- periods --------------------------------------------------------------------------------------
def head(uow: UnitOfWork, period: str) -> PeriodItem | None:
    """The period's head (None: never closed, so open)."""
    return uow.get(PeriodItem, PeriodItem.key(period), consistent=True)


def is_closed(item: PeriodItem | None) -> bool:
    """Whether the head says closed."""
    return item is not None and item.closed_at is not None


def open_period_from(uow: UnitOfWork, period: str) -> str:
    """``period`` if it is open, else the first open period after it."""
    for _ in range(MAX_SKIP):
        if not is_closed(head(uow, period)):
            return period
        period = domain.next_period(period)
    raise PeriodClosed(f"no open settlement period within {MAX_SKIP} months after the event's")


def stage_close(uow: UnitOfWork, period: str, at: str, by: str) -> PeriodItem:
    """Stage every copy of the period's head closed, on none being closed already (else 409 at
    commit): :data:`HEAD_SHARDS` writes, whatever the period holds."""
    for shard in range(HEAD_SHARDS):
        item = PeriodItem(*PeriodItem.key(period, shard), period=period, closed_at=at, closed_by=by)
        uow.update(item, [PeriodItem.period.set(period), PeriodItem.closed_at.set(at), PeriodItem.closed_by.set(by)],
                   PeriodItem.closed_at.does_not_exist(),
                   on_conflict=lambda: PeriodClosed(f"settlement period {period} is closed already"))
    return PeriodItem(*PeriodItem.key(period), period=period, closed_at=at, closed_by=by)


# --- lines ----------------------------------------------------------------------------------------
def memo(uow: UnitOfWork, reference: str | None) -> MemoItem | None:
    """The memo an original left under ``reference`` (None: none, or no reference)."""
    return uow.get(MemoItem, MemoItem.key(reference), consistent=True) if reference else None


def stage_memo(uow: UnitOfWork, reference: str, period: str, lines: list[Clearing]) -> None:
    """Leave (or keep: the first original's stays) the memo of an original's lines; add their
    points and fen to what the order's originals cleared."""
    rates = {line.rate for line in lines if line.rate}
    rate = rates.pop() if len(rates) == 1 else None
    points = [line for line in lines if line.points]
    cleared = [MemoItem.points.add(sum(int(x.points or 0) for x in points)),
               MemoItem.fen.add(sum(x.fen for x in points))] if points else []
    uow.update(MemoItem(*MemoItem.key(reference)), [MemoItem.period.set(MemoItem.period | period),
                                                     *([MemoItem.rate.set(MemoItem.rate | rate)] if rate else []),
                                                     *cleared])


def corrected(item: MemoItem) -> domain.Corrected:
    """What the points corrections of the memo's original gave back so far."""
    cleared = (int(item.points), int(item.fen or 0)) if item.points is not None else None
    return domain.Corrected(int(item.corrected_points or 0), int(item.corrected_fen or 0), cleared)


def stage_corrected(uow: UnitOfWork, reference: str, before: domain.Corrected, lines: list[Clearing]) -> None:
    """Move the memo's running figure on by a points correction's lines, on its being as read
    (two corrections of one original at once: the second is valued again from the first's figure).
    Every correction gives back at least a point, so the points alone tell a figure moved."""
    points, fen = -sum(line.points or 0 for line in lines), -sum(line.fen for line in lines)
    as_read = (MemoItem.corrected_points == before.points) if before.points else \
        MemoItem.corrected_points.does_not_exist()
    uow.update(MemoItem(*MemoItem.key(reference)), [MemoItem.corrected_points.set(before.points + points),
                                                     MemoItem.corrected_fen.set(before.fen + fen)], as_read,
               on_conflict=lambda: ConcurrentUpdate(f"the corrections of {reference} moved meanwhile"))


def stage(uow: UnitOfWork, event: DomainEvent, cleared: Cleared, period: str, original: str,
          reference: str | None = None) -> None:
    """Stage the event's lines in ``period`` (an adjustment when the period they belong to,
    ``original``, is an earlier one), their statements' totals and the merchants' tallies, on
    ``period`` being open."""
    adjustment = period != original
    statements: dict[str, dict[str, int]] = {}
    for n, line in enumerate(cleared.lines):
        a, b = domain.pair(line.payer, line.payee)
        key = domain.pair_key(a, b)
        uow.create(_line_item(event, line, n, period, original, a, b, adjustment, reference))
        adds = statements.setdefault(key, {})
        direction = "ab" if line.payer == a else "ba"
        _add(adds, f"{direction}_{line.kind}_fen", line.fen)
        _add(adds, "line_count", 1)
        if adjustment:
            _add(adds, "adjustment_lines", 1)
            _add(adds, "adjustment_fen", line.fen if direction == "ab" else -line.fen)
    for key, adds in sorted(statements.items()):
        a, b = key.split("~", 1)
        shard = random.randrange(shards_of(StatementItem))
        attrs: Any = StatementItem
        uow.update(StatementItem(shard_pk(StatementItem.partition(period), shard), key),
                   [*[getattr(attrs, k).add(v) for k, v in sorted(adds.items())], StatementItem.period.set(period),
                    StatementItem.party_a.set(a), StatementItem.party_b.set(b)])
    lined = {m: sum(x.fen for x in cleared.lines if x.payee == m and x.kind in ("stored_value", "gift_card"))
             for m in cleared.tallies}
    for merchant, tally in sorted(cleared.tallies.items()):
        shard = random.randrange(shards_of(TallyItem))
        uow.update(TallyItem(shard_pk(TallyItem.PARTITION, shard), merchant),
                   [TallyItem.journal_fen.add(tally.journal_fen), TallyItem.self_fen.add(tally.self_fen),
                    TallyItem.lined_fen.add(lined[merchant]), TallyItem.merchant_id.set(merchant)])
    uow.check(PeriodItem(*PeriodItem.key(period, random.randrange(HEAD_SHARDS))), PeriodItem.closed_at.does_not_exist(),
              on_conflict=lambda: PeriodClosed(f"settlement period {period} closed meanwhile"))


def _add(adds: dict[str, int], name: str, value: int) -> None:
    adds[name] = adds.get(name, 0) + value


def _line_item(event: DomainEvent, line: Clearing, n: int, period: str, original: str, a: str, b: str,
               adjustment: bool, reference: str | None) -> LineItem:
    return LineItem(LineItem.partition(period, f"{a}~{b}"), f"{event.occurred_at}#{event.id}#{n}", period=period,
                    party_a=a, party_b=b, kind=line.kind, payer=line.payer, payee=line.payee, fen=line.fen,
                    merchant_id=line.merchant_id, store_id=line.store_id, event_id=event.id, event_type=event.type,
                    occurred_at=event.occurred_at, adjustment=adjustment, original_period=original,
                    points=line.points, rate=line.rate, reference=reference)


# --- reading --------------------------------------------------------------------------------------
def statements(uow: UnitOfWork, period: str) -> list[StatementItem]:
    """Every statement of the period, its shards summed (one query per shard: O(pairs))."""
    return list(read_shards(uow, StatementItem, StatementItem.partition(period), consistent=True))


def statement(uow: UnitOfWork, period: str, pair_key: str) -> StatementItem | None:
    """One statement, its shards summed (None: no line yet)."""
    found = list(read_shards(uow, StatementItem, StatementItem.partition(period), SortKey.between(pair_key, pair_key),
                             consistent=True))
    return found[0] if found else None


def statement_lines(uow: UnitOfWork, period: str, pair_key: str, after: str | None = None,
                    limit: int | None = PAGE) -> Iterator[LineItem]:
    """A statement's lines in time order, after the sort key ``after``, at most ``limit``."""
    sort = SortKey.above(after) if after else None
    return uow.query(LineItem, LineItem.partition(period, pair_key), sort, limit=limit, consistent=True)


def tallies(uow: UnitOfWork) -> dict[str, TallyItem]:
    """Each merchant's all-time journal tally, shards summed."""
    return {t.sk: t for t in read_shards(uow, TallyItem, TallyItem.PARTITION, consistent=True)}


@dataclass(frozen=True)
class LinesPage:
    rows: list[LineItem]
    cursor: str | None          # give it back for the next page; None: no more


def lines(uow: UnitOfWork, program: str, period: str, merchant: str | None, cursor: str | None,
          limit: int = PAGE) -> LinesPage:
    """A page of the period's clearing lines (those of statements ``merchant`` is a party to, or
    every one), statement by statement, each in time order: the reader an export source pages
    through. ``cursor``: ``<pair>|<line sort key>`` where the last page stopped."""
    if uow.program != program:
        raise ValueError("the unit of work is another program's")
    pairs = sorted(s.sk for s in statements(uow, period)
                   if merchant is None or merchant in (s.party_a, s.party_b))
    start_pair, after = (cursor.split("|", 1) if cursor else ("", None))
    rows: list[LineItem] = []
    for key in pairs:
        if key < start_pair:
            continue
        for line in statement_lines(uow, period, key, after if key == start_pair else None, limit - len(rows)):
            rows.append(line)
        if len(rows) >= limit:
            return LinesPage(rows, f"{key}|{rows[-1].sk}")
    return LinesPage(rows, None)


def amounts(item: StatementItem | None) -> dict[str, int]:
    """The statement's amounts by name (0 when absent)."""
    return {name: int(getattr(item, name) or 0) if item is not None else 0 for name in AMOUNTS}
