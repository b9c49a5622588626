"""The ``settlement_lines`` export: every clearing line of the settlement periods (calendar months)
that the export's days touch, statement by statement, each in time order (a merchant's export:
the statements its merchant is a party to). Read a page at a time through the store's lines reader,
from a cursor, never a scan. The app names this module to the exports
(:mod:`chalicelib.reports.export_hooks`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from chalicelib.db.uow import UnitOfWork
from chalicelib.settlement import domain, store

if TYPE_CHECKING:
    from chalicelib.reports.service import Asked

COLUMNS = ("period", "party_a", "party_b", "payer", "payee", "kind", "fen", "points", "fen_per_point",
           "merchant_id", "store_id", "occurred_at", "event_type", "event_id", "adjustment", "original_period",
           "reference")


def periods(start: date, end: date) -> list[str]:
    """The settlement periods (months) from ``start``'s to ``end``'s."""
    found, period, last = [], domain.period_of(start), domain.period_of(end)
    while period <= last:
        found.append(period)
        period = domain.next_period(period)
    return found


@dataclass(frozen=True)
class SettlementLines:
    """The clearing lines of the months an export's days touch."""

    program: str

    def header(self, asked: Asked) -> list[str]:
        """The columns."""
        return list(COLUMNS)

    def estimate(self, uow: UnitOfWork, asked: Asked) -> int | None:
        """The lines the statements count (one read of each month's statements)."""
        return sum(int(s.line_count or 0) for period in periods(asked.start, asked.end)
                   for s in store.statements(uow, period)
                   if asked.merchant_id is None or asked.merchant_id in (s.party_a, s.party_b))

    def rows(self, uow: UnitOfWork, asked: Asked, cursor: Any) -> Iterator[tuple[list[Any], Any]]:
        """The lines after ``cursor`` (``{period, at}``: the store reader's cursor in that month)."""
        months = periods(asked.start, asked.end)
        first = (cursor or {}).get("period") or months[0]
        at = (cursor or {}).get("at")
        for period in months[months.index(first):] if first in months else []:
            while True:
                page = store.lines(uow, self.program, period, asked.merchant_id, at)
                for line in page.rows:
                    yield _row(line), {"period": period, "at": f"{domain.pair_key(line.party_a, line.party_b)}|{line.sk}"}
                if page.cursor is None:
                    break
                at = page.cursor
            at = None


def _row(line: Any) -> list[Any]:
    return [line.period, line.party_a, line.party_b, line.payer, line.payee, line.kind, int(line.fen),
            int(line.points) if line.points is not None else "", line.rate or "", line.merchant_id,
            line.store_id or "", line.occurred_at, line.event_type, line.event_id, bool(line.adjustment),
            line.original_period, line.reference or ""]


EXPORT = ("settlement_lines", "the clearing lines of the settlement months the period's days touch, statement by "
          "statement (a merchant's: the statements it is a party to)", SettlementLines, True)
