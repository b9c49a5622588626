"""Every read of points data, and the keys it uses, in one place: ``repository.of(uow)``.

Writes are staged on the unit of work by the ledger and the services; reads come through here,
so the same code runs on DynamoDB and on the in-memory fake.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import date, datetime
from itertools import chain, islice, takewhile
from typing import cast

from chalicelib.db.backend import SortKey
from chalicelib.db.due import due_items
from chalicelib.db.uow import UnitOfWork
from chalicelib.events.folding import read_shards
from chalicelib.orders import service as orders
from chalicelib.points import folded
from chalicelib.points.tables import (
    DATES,
    LISTING,
    AccountItem,
    CounterItem,
    HoldItem,
    LiabilityItem,
    LotItem,
    PointsDayItem,
    PointsOrderItem,
    PostingItem,
)
from chalicelib.shared import clock

LOT_PAGE = 20          # lots read per page while spending: most spends touch one or two lots
LAG_READ = 20          # the newest points postings a growth page reads for carried lines keys1 shows late


class PointsRepository:
    """Reads of accounts, lots, holds, orders, counters, rules and figures."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self._first_lots: dict[tuple[str, str], tuple[list[LotItem], bool]] = {}
        self._shared: dict[str, folded.Read] = {}

    # accounts and lots ------------------------------------------------------------------------
    def account(self, member_id: str, point_type: str) -> AccountItem:
        """The account (consistent), or a new one at version 0. Points and growth share the points
        account's item (:mod:`.folded`): read once a unit, growth seen through a view of it."""
        if point_type not in folded.FOLDED:
            found = self.uow.get(AccountItem, AccountItem.key(member_id, point_type), consistent=True)
            return found or AccountItem.new(member_id, point_type)
        read = self.shared(member_id)
        if point_type == "points":
            return read.item
        if read.needs_look():             # growth's item from before, until it is carried
            read.take(self.uow.get(AccountItem, AccountItem.key(member_id, "growth"), consistent=True),
                      lambda: self.newest_lots(member_id, "growth", folded.SEED_LOTS))
        return cast("AccountItem", folded.GrowthView(read.item))

    def shared(self, member_id: str) -> folded.Read:
        """The member's points account item as this unit read it (read on first use)."""
        if member_id not in self._shared:
            found = self.uow.get(AccountItem, AccountItem.key(member_id, "points"), consistent=True)
            self._shared[member_id] = folded.Read.of(found, member_id)
        return self._shared[member_id]

    def account_and_lots(self, member_id: str, point_type: str) -> AccountItem | None:
        """The account (None if never posted to) and its first page of live lots, in one
        consistent Query: the account's sort key sorts just before its lots'. This unit's later
        :meth:`account` and :meth:`live_lots` start from what it read."""
        pk, sk = AccountItem.key(member_id, point_type)
        page = self.uow.query_kinds(AccountItem, pk, SortKey.between(sk, f"{sk}#~"),
                                    lambda found: AccountItem if found == sk else LotItem, LOT_PAGE + 1)
        account = page[0] if page and page[0].sk == sk else None
        lots = page[1:] if account is not None else page
        if point_type == "points":       # the item this unit stages (read already: that one)
            read = self._shared.setdefault(member_id, folded.Read.of(account, member_id))
            account = read.item if read.exists else None
        self.uow.remember(AccountItem, (pk, sk), account)
        self._first_lots[(member_id, point_type)] = (lots, len(page) <= LOT_PAGE)
        return account

    def live_lots(self, member_id: str, point_type: str, *, consistent: bool = True,
                  page_size: int | None = LOT_PAGE, limit: int | None = None,
                  until: str | None = None, after: str | None = None) -> Iterator[LotItem]:
        """Live lots, soonest expiry first (never-expiring last); ``until`` stops at an expiry date,
        ``after`` starts past one."""
        first = self._first_lots.pop((member_id, point_type), None)
        if first is not None and consistent and limit is None and until is None and after is None:
            return self._after_first(member_id, point_type, *first)
        prefix = f"PTS#{point_type}#LOT#"
        low, high = f"{prefix}{after}~" if after else prefix, f"{prefix}{until}~" if until else f"{prefix}~"
        sort = SortKey.between(low, high) if until or after else SortKey.prefix(prefix)
        return self.uow.query(LotItem, f"MEMBER#{member_id}", sort, consistent=consistent,
                              page_size=page_size, limit=limit)

    def lots_after(self, member_id: str, point_type: str, sk: str, limit: int) -> list[LotItem]:
        """At most ``limit`` live lots after the one at sort key ``sk``, in order, in one Query page
        (eventually consistent: an account's read)."""
        high = f"PTS#{point_type}#LOT#~"
        found = self.uow.query(LotItem, f"MEMBER#{member_id}", SortKey.between(sk, high), consistent=False,
                               page_size=limit + 1, limit=limit + 1)
        return [lot for lot in found if lot.sk != sk][:limit]

    def _after_first(self, member_id: str, point_type: str, lots: list[LotItem], complete: bool) -> Iterator[LotItem]:
        """The lots :meth:`account_and_lots` read, then (if it read a full page) the rest."""
        yield from lots
        if complete:
            return
        prefix = f"PTS#{point_type}#LOT#"
        after = lots[-1].sk if lots else prefix
        for lot in self.uow.query(LotItem, f"MEMBER#{member_id}", SortKey.between(after, f"{prefix}~"),
                                  consistent=True, page_size=LOT_PAGE):
            if lot.sk != after:
                yield lot

    def newest_lots(self, member_id: str, point_type: str, limit: int) -> Iterator[LotItem]:
        """At most ``limit`` live lots, last expiry and newest lot first, in one Query (consistent):
        what a growth account from before seeds its recent days from (points/growth.py)."""
        return self.uow.query(LotItem, f"MEMBER#{member_id}", SortKey.prefix(f"PTS#{point_type}#LOT#"),
                              consistent=True, forward=False, limit=limit, page_size=limit)

    def pending_lots(self, member_id: str, point_type: str) -> Iterator[LotItem]:
        """Lots waiting for their order's return window to close."""
        return self.uow.query(LotItem, f"MEMBER#{member_id}", SortKey.prefix(f"PTS#{point_type}#PEND#"),
                              consistent=True)

    def lot(self, key: tuple[str, str]) -> LotItem | None:
        """One lot by key (consistent)."""
        return self.uow.get(LotItem, key, consistent=True)

    def postings(self, member_id: str, point_type: str, *, before: int | None = None,
                 limit: int | None = None, newest_first: bool = False) -> Iterator[PostingItem]:
        """The account's postings by sequence; ``before`` pages backwards from a sequence. Growth's
        are items of their own and those points postings carry (:mod:`.folded`): every one (an
        audit) from the points postings read in full, a page from those keys1 lists."""
        if point_type != "growth":
            return self._postings(member_id, point_type, before, limit, newest_first)
        if limit is not None and newest_first:
            return iter(self._growth_page(member_id, before, limit))
        own = self._postings(member_id, "growth", before, limit, newest_first)
        carried = self._carried(member_id, before, limit, newest_first)
        merged = heapq.merge(own, carried, key=lambda p: p.sequence, reverse=newest_first)
        return islice(merged, limit) if limit is not None else merged

    def _growth_page(self, member_id: str, before: int | None, limit: int) -> list[PostingItem]:
        """At most ``limit`` growth postings, newest first, below ``before``: each sequence from the
        account's (or ``before``'s) down, none skipped. keys1 names those carried in points
        postings, and on AWS it shows a write a moment later: a sequence it does not name yet is
        looked for in the newest ``LAG_READ`` points postings (consistent; the lagging ones are
        the newest). A first page still missing its newest lines starts below them (they show a
        moment later); a page stops above any other line not found (the next page starts there)."""
        top = int(self.account(member_id, "growth").version or 0)
        top = min(top, before - 1) if before is not None else top
        wanted = list(range(top, max(top - limit, 0), -1))
        if not wanted:
            return []
        found = {p.sequence: p for p in self._postings(member_id, "growth", top, limit, True)}
        found.update((c.sequence, c) for c in self._carried(member_id, top + 1, limit, True))
        if missing := set(wanted) - set(found):
            for posting in self._postings(member_id, "points", None, LAG_READ, True):
                carried = posting.carried()
                if carried is not None and carried.sequence in missing:
                    found[carried.sequence] = carried
        if before is None:
            while wanted and wanted[0] not in found:
                wanted.pop(0)
        page = list(takewhile(lambda n: n in found, wanted))
        return [found[n] for n in page]

    def _carried(self, member_id: str, before: int | None, limit: int | None,
                 newest_first: bool) -> Iterator[PostingItem]:
        """The growth postings points postings carry, by sequence (before ``before``)."""
        if limit is None:
            for posting in self._postings(member_id, "points", None, None, newest_first):
                growth = posting.carried()
                if growth is not None and (before is None or growth.sequence < before):
                    yield growth
            return
        sort = SortKey.below(f"{before:012d}") if before else None
        listed = list(self.uow.query(PostingItem, PostingItem.growth_listing(member_id), sort, index="keys1",
                                     forward=not newest_first, limit=limit))
        keys = [(str(i.pk), str(i.sk)) for i in listed]
        for start in range(0, len(keys), 100):          # a BatchGetItem reads at most 100
            for found in self.uow.get_many(PostingItem, keys[start:start + 100]):
                carried = found.carried() if found is not None else None
                if carried is not None:
                    yield carried

    def _postings(self, member_id: str, point_type: str, before: int | None, limit: int | None,
                  newest_first: bool) -> Iterator[PostingItem]:
        low = PostingItem.sort_key(point_type, 0)[:-12]
        high = PostingItem.sort_key(point_type, before) if before else f"{low}~"
        return self.uow.query(PostingItem, PostingItem.partition(member_id), SortKey.between(low, high),
                              forward=not newest_first, limit=limit, consistent=True)

    def accounts_in_shard(self, shard: int, after: str | None = None, limit: int | None = None) -> list[str]:
        """The listing keys (``<member>#<type>``: :meth:`AccountItem.listed_as`) of one listing shard
        (reconciliation) in order, those after ``after`` (a cursor), at most ``limit``, on keys1 and
        on gsi1 until every account has moved (ledger/listing.py). Read what to compare by key."""
        return LISTING.page(self.uow, AccountItem, shard, after, limit)

    # holds, orders, counters ------------------------------------------------------------------
    def hold(self, member_id: str, point_type: str, hold_id: str) -> HoldItem | None:
        """One checkout hold (consistent)."""
        return self.uow.get(HoldItem, HoldItem.key(member_id, point_type, hold_id), consistent=True)

    def holds(self, member_id: str, point_type: str) -> Iterator[HoldItem]:
        """Every hold of an account, open or settled."""
        return self.uow.query(HoldItem, f"MEMBER#{member_id}", SortKey.prefix(f"PTS#{point_type}#HOLD#"),
                              consistent=True)

    def order(self, merchant_id: str, order_id: str) -> PointsOrderItem | None:
        """What an order earned, spent and refunded (consistent)."""
        return orders.order(self.uow, merchant_id, order_id, PointsOrderItem)

    def orders_of(self, member_id: str, limit: int, before: str | None = None) -> Iterator[PointsOrderItem]:
        """The member's orders, newest first; ``before`` is the listing key of the last one seen."""
        return orders.orders_of(self.uow, member_id, limit, before, PointsOrderItem)

    def counter(self, member_id: str, name: str) -> CounterItem | None:
        """A limit counter or the check-in streak (consistent)."""
        return self.uow.get(CounterItem, CounterItem.key(member_id, name), consistent=True)

    # program ----------------------------------------------------------------------------------
    def liability(self, point_type: str) -> list[LiabilityItem]:
        """Outstanding points by expiry month."""
        return list(read_shards(self.uow, LiabilityItem, LiabilityItem.key(point_type, "")[0]))

    def days(self, point_type: str, start: date, end: date) -> list[PointsDayItem]:
        """Daily figures from ``start`` to ``end``, both included."""
        pk, low = PointsDayItem.key(point_type, start.isoformat())
        return list(read_shards(self.uow, PointsDayItem, pk, SortKey.between(low, f"DAY#{end.isoformat()}")))

    # due work ---------------------------------------------------------------------------------
    def due_lots(self, as_of: datetime) -> Iterator[tuple[str, LotItem]]:
        """Lots due to unlock or expire by ``as_of`` in every program (index copies), with their program."""
        return due_items(self.uow.backend, LotItem, "points-lot", as_of)

    def due_rolling(self, as_of: datetime) -> Iterator[tuple[str, AccountItem]]:
        """Accounts whose rolling expiry date has passed by ``as_of``."""
        return due_items(self.uow.backend, AccountItem, "points-rolling", as_of)

    def due_dates(self, as_of: datetime, expiry: bool = False) -> Iterator[tuple[str, AccountItem]]:
        """Accounts whose next date (:mod:`.dates`) has come by ``as_of``; ``expiry``: those whose
        date holds an expiry, or a reminder's of a day gone by anywhere (the others unread)."""
        before = clock.latest_date(as_of).isoformat()
        keep = (lambda position: not position.endswith("#remind") or position < before) if expiry else None
        return due_items(self.uow.backend, AccountItem, DATES, as_of, keep=keep)

    def due_holds(self, as_of: datetime) -> Iterator[tuple[str, HoldItem]]:
        """Holds that may have lapsed by ``as_of``."""
        return due_items(self.uow.backend, HoldItem, "points-hold", as_of)

    def due_reminders(self, as_of: datetime) -> Iterator[tuple[str, LotItem]]:
        """Lots whose next expiry reminder falls by ``as_of``: on ``keys1`` (each read by key), then
        those still on ``gsi1`` from before (index copies) until their next reminder moves them."""
        return chain(due_items(self.uow.backend, LotItem, "points-reminder", as_of, index="keys1"),
                     due_items(self.uow.backend, LotItem, "points-remind", as_of, index="gsi1"))


def of(uow: UnitOfWork) -> PointsRepository:
    """The unit's points repository."""
    return uow.repo(PointsRepository)

