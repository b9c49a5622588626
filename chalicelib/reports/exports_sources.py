"""Where each kind of export reads its rows: a source that reads only the period asked, a page at
a time, from a cursor (never a table scan).

* ``points_ledger``, ``stored_value_ledger``: the postings listed under their program day
  (``POSTDAY#<ledger>#<day>#<shard>`` on gsi1, :mod:`chalicelib.ledger.postings`), day by day,
  each day's shards merged by ``<created_at>#<posting id>``: the rows come in time order and the
  cursor is ``{day, after}``. A merchant's or store's export keeps its own postings of what it
  reads (the program's postings of the period: the day partitions are the program's).
* ``members``: the members a merchant registered in the period (``listMembers``' sharded listing,
  through the members service), masked unless the export's creator may reveal personal data.

Each source yields ``(row, cursor)``: the cursor says where to carry on after that row. The other
kinds are in :mod:`chalicelib.reports.exports_kinds`; :mod:`chalicelib.reports.exports_registry`
names every kind's source.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Protocol, TypeVar

from chalicelib.db.backend import SortKey
from chalicelib.db.uow import UnitOfWork
from chalicelib.events import stats
from chalicelib.ledger.postings import DAY_SHARDS, day_partition
from chalicelib.members import service as members
from chalicelib.reports.exports_tables import DayListed, PostingRow
from chalicelib.shared.principal import Principal

R = TypeVar("R", bound=DayListed)
PAGE = 500          # items per query page (a shard's page: a day's merge holds 16 pages at most)


@dataclass(frozen=True)
class Asked:
    """What an export reads: its kind, period (program days, both included), merchant and store,
    and whether personal data is shown unmasked."""

    kind: str
    start: date
    end: date
    merchant_id: str | None = None
    store_id: str | None = None
    reveal: bool = False


class Source(Protocol):
    def header(self, asked: Asked) -> list[str]:
        """The file's first row."""

    def estimate(self, uow: UnitOfWork, asked: Asked) -> int | None:
        """How many rows the export will hold, if that can be known without reading them."""

    def rows(self, uow: UnitOfWork, asked: Asked, cursor: Any) -> Iterator[tuple[list[Any], Any]]:
        """The rows after ``cursor`` (None: from the first), each with the cursor after it."""


def _days(start: date, end: date, first: date | None) -> Iterator[date]:
    day = first or start
    while day <= end:
        yield day
        day += timedelta(days=1)


def by_day(uow: UnitOfWork, model: type[R], listing: str, asked: Asked, cursor: Any) -> Iterator[tuple[R, Any]]:
    """The items of a day listing (``POSTDAY#<listing>#<day>#<shard>``, :mod:`chalicelib.ledger.postings`)
    of the period after ``cursor`` (``{day, after}``), in time order, each day's shards merged by
    sort key, a page at a time; each with the cursor after it."""
    at = cursor or {}
    first = date.fromisoformat(at["day"]) if at.get("day") else None
    for day in _days(asked.start, asked.end, first):
        after, start = (at.get("after"), at.get("at")) if first == day else (None, None)
        sort = SortKey.above(after) if after else SortKey.between(start, "~") if start else None
        shards = [uow.query(model, day_partition(listing, day.isoformat(), n), sort, index="gsi1", page_size=PAGE)
                  for n in range(DAY_SHARDS)]
        for item in heapq.merge(*shards, key=lambda i: str(i.gsi1sk)):
            yield item, {"day": day.isoformat(), "after": item.gsi1sk}


def mine(asked: Asked, merchant_id: str | None, store_id: str | None) -> bool:
    """Whether a record of ``merchant_id`` / ``store_id`` belongs in the export (a merchant's and a
    store's export: theirs only)."""
    if asked.merchant_id and merchant_id != asked.merchant_id:
        return False
    return not asked.store_id or store_id == asked.store_id


@dataclass(frozen=True)
class Postings:
    """A ledger's postings of the period, in time order."""

    ledger: str
    columns: tuple[str, ...]

    def header(self, asked: Asked) -> list[str]:
        """The ledger's columns."""
        return list(self.columns)

    def estimate(self, uow: UnitOfWork, asked: Asked) -> int | None:
        """Unknown: nothing counts postings per day; the ceiling is checked as the rows come."""
        return None

    def rows(self, uow: UnitOfWork, asked: Asked, cursor: Any) -> Iterator[tuple[list[Any], Any]]:
        """The period's postings after ``cursor`` (``{day, after}``), the export's merchant's and store's.
        A points posting that carries its change's growth posting is two rows, points first; the
        cursor between them is ``{day, at, skip}`` (that posting again, its first row written)."""
        skip = int((cursor or {}).get("skip", 0))
        for posting, position in by_day(uow, PostingRow, self.ledger, asked, cursor):
            if mine(asked, posting.merchant_id, posting.store_id):
                rows = [posting, *filter(None, [posting.carried()])]
                for n in range(skip, len(rows)):
                    yield self.row(rows[n]), (position if n == len(rows) - 1 else
                                              {"day": position["day"], "at": posting.gsi1sk, "skip": n + 1})
            skip = 0

    def row(self, p: PostingRow) -> list[Any]:
        """A posting's cells."""
        if self.ledger == "points":
            return [p.created_at, p.posting_id, p.member_id, p.point_type, p.kind, int(p.amount),
                    int(p.available_delta or 0), int(p.pending_delta or 0), int(p.balance_after), p.source or "",
                    p.reason or "", p.merchant_id or "", p.store_id or ""]
        return [p.created_at, p.posting_id, p.member_id, p.kind, int(p.amount), int(p.principal_delta or 0),
                int(p.bonus_delta or 0), int(p.balance_after), p.ref or "", p.reason or "", p.merchant_id or "",
                p.store_id or "", p.entries or ""]


MEMBER_COLUMNS = ("member_id", "registered_at", "merchant_id", "store_id", "channel", "stage", "status",
                  "name", "gender", "birthday", "phone", "email")
PERSONAL = ("name", "birthday", "phone", "email")


@dataclass(frozen=True)
class Members:
    """The members a merchant registered in the period, oldest first."""

    program: str

    def header(self, asked: Asked) -> list[str]:
        """The columns, personal ones marked ``(masked)`` unless revealed."""
        return [c if asked.reveal or c not in PERSONAL else f"{c} (masked)" for c in MEMBER_COLUMNS]

    def estimate(self, uow: UnitOfWork, asked: Asked) -> int | None:
        """The registrations the daily statistics counted for the merchant in the period (not by store)."""
        if asked.store_id:
            return None
        return sum(int(d["members_registered"]) for d in stats.daily(uow, asked.merchant_id or "ALL", asked.start,
                                                                      asked.end))

    def rows(self, uow: UnitOfWork, asked: Asked, cursor: Any) -> Iterator[tuple[list[Any], Any]]:
        """The members after ``cursor`` (``{after: <registered_at>#<id>}``), a listing page at a time."""
        hq = Principal("staff", "job:exports", "super_admin", program_id=self.program)    # checked when created
        after = (cursor or {}).get("after")
        while True:
            page = members.listing(uow, hq, asked.merchant_id, asked.start, asked.end, after, PAGE,
                                   asked.store_id, None, reveal=asked.reveal)
            for m in page["members"]:
                after = f"{m['registered_at']}#{m['member_id']}"
                if not asked.reveal:
                    m = {**m, "name": _initial(m.get("name")), "birthday": _year(m.get("birthday"))}
                yield [m.get(c) if m.get(c) is not None else "" for c in MEMBER_COLUMNS], {"after": after}
            if page["next"] is None:
                return
            after = page["next"]


def _initial(name: str | None) -> str | None:
    """A name masked as the directory masks a contact's: its first character (张**)."""
    return None if not name else name[0] + "*" * min(len(name) - 1, 3)


def _year(birthday: str | None) -> str | None:
    """A birthday masked to its year (1990-**-**)."""
    return None if not birthday else birthday[:4] + "-**-**"


POINTS_COLUMNS = ("posted_at", "posting_id", "member_id", "point_type", "kind", "points", "available_delta",
                  "pending_delta", "balance_after", "source", "reason", "merchant_id", "store_id")
STORED_VALUE_COLUMNS = ("posted_at", "posting_id", "member_id", "kind", "amount_fen", "principal_delta_fen",
                        "bonus_delta_fen", "balance_after_fen", "ref", "reason", "merchant_id", "store_id",
                        "journal_lines")


def dumps(cursor: Any) -> str:
    """A cursor as recorded on the export."""
    return json.dumps(cursor, separators=(",", ":"))
