"""Growth on the member's points account: one item, two ledgers (#24 Cost: docs/scale.md).

An earn moves a member's points and growth together. Each account was an item of its own, so an
earn wrote both (2 WCU each in its transaction). Now the points account item
(``MEMBER#<m> / PTS#points#LOT``) carries growth too: its buckets and totals as ``g_available``,
``g_debt``, ``g_earned``, ``g_expired``, ``g_clawed_back``, its own version ``g_version`` (the
growth postings' sequence, as the growth account's version was: the tiers' ``growth_seq`` guard
reads it) and growth's ``recent`` and ``reset_cut`` (:mod:`.growth`). The growth ledger sees them
through :class:`GrowthView`, an account item of its own as far as it can tell.

* **The lock.** Each ledger counts its own version on, so each one's postings stay gap-free; the
  item is put whole, so every write of it is conditioned on *both* versions as this unit read
  them (:meth:`Read.condition`): a points spend and a growth adjustment of one member serialise,
  as two spends do. A unit that changes both (an earn, a refund, a task's reward) puts the item
  once, with both changes (:meth:`Read.stage`).
* **Accounts from before** (growth's own item, ``PTS#growth#LOT``): an item without ``g_version``
  may not have taken it yet. Reading growth then reads that item too, and carries it onto the
  points item (:func:`carry`); the write of the points item deletes it in the same transaction
  (on its version: never half-taken). A points item that was checked and had none notes
  ``g_version`` 0, so later reads skip the look. :func:`.growth.fold` (``python -m infra.migrate``)
  folds the rest and deletes the lots of the lot era.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger.account import JournalAccount
from chalicelib.points.tables import VIEW_FIELDS, AccountItem, LotItem, PostingItem
from chalicelib.shared import clock
from chalicelib.shared.errors import ConcurrentUpdate

RECENT_DAYS = 7          # growth's recent days kept: a reset's review runs on its period's first day or soon after
SEED_LOTS = 50           # growth's account of the lot era: its newest lots read once, for its recent days
FOLDED = ("points", "growth")          # the point types whose accounts share the points item
_MAPPED = {"available": "g_available", "debt": "g_debt", "earned": "g_earned", "expired": "g_expired",
           "clawed_back": "g_clawed_back", "version": "g_version"}
_ZERO = ("pending", "held", "redeemed", "restored")        # growth is never pending, held or spent
_NONE = ("rolling_until", "rolling_owed", "rolling_expired_at", "owed_lots", "open_holds")
_SHARED = ("member_id", "recent", "reset_cut", "updated_at", "pk", "sk")


class GrowthView:
    """The member's growth account as an account item: the growth attributes of the points
    account item, under the names every account has."""

    point_type = "growth"

    def __init__(self, item: AccountItem) -> None:
        object.__setattr__(self, "item", item)

    def __getattr__(self, name: str) -> Any:
        if name in _MAPPED:
            return getattr(self.item, _MAPPED[name])
        if name in _SHARED:
            return getattr(self.item, name)
        if name in _ZERO:
            return 0
        if name in _NONE:
            return None
        raise AttributeError(f"a growth account has no {name}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _MAPPED:
            setattr(self.item, _MAPPED[name], value)
        elif name in _SHARED:
            setattr(self.item, name, value)
        elif name not in (*_ZERO, *_NONE) or value:
            raise AttributeError(f"a growth account has no {name} to set")

    def listed(self) -> GrowthView:
        """Listed for the reconciliation as the points account is (its item)."""
        self.item.listed()
        return self

    def view(self) -> dict[str, int]:
        """The balances and totals, as :meth:`AccountItem.view`."""
        return {k: int(getattr(self, k) or 0) for k in VIEW_FIELDS}


@dataclass
class Read:
    """A member's points account item as this unit read it, and what its write is conditioned on."""

    item: AccountItem
    exists: bool
    version: int
    g_version: int | None               # None: no g_version stored (growth from before not looked for)
    looked: bool = False                # growth's item from before looked for in this unit
    legacy: AccountItem | None = None   # growth's item from before, carried onto ``item`` in this unit
    staged: bool = False
    posting: PostingItem | None = None  # the posting staged for this change (points' carries growth's)
    _uow: UnitOfWork | None = None      # where it is staged, and what its refusal says
    _on_conflict: Callable[[], ConcurrentUpdate] | None = None

    @classmethod
    def of(cls, found: AccountItem | None, member_id: str) -> Read:
        """The item as ``found`` (None: none yet, a new one to create)."""
        item = found or AccountItem.new(member_id, "points")
        g = None if found is None or found.g_version is None else int(found.g_version)
        return cls(item, found is not None, int(item.version or 0), g)

    def condition(self) -> Any:
        """Both versions as read (or no item at all)."""
        if not self.exists:
            return AccountItem.pk.does_not_exist()
        same = AccountItem.version == self.version
        return same & (AccountItem.g_version.does_not_exist() if self.g_version is None
                       else AccountItem.g_version == self.g_version)

    def needs_look(self) -> bool:
        """Whether growth's item from before must be looked for (once a unit)."""
        return self.g_version is None and not self.looked

    def take(self, legacy: AccountItem | None, lots: Callable[[], Iterable[LotItem]]) -> None:
        """What the look found: growth's item from before (carried, with ``lots``, its newest, for
        its recent days if it kept none), or none (noted)."""
        self.looked = True
        if legacy is not None and int(legacy.version or 0):
            carry(self.item, legacy, lots)
            self.legacy = legacy
            if self.staged:               # the item is staged already (points first): it carries it now
                self._delete_legacy()
        elif self.item.g_version is None:
            self.item.g_version = 0

    def stage(self, uow: UnitOfWork, on_conflict: Callable[[], ConcurrentUpdate]) -> None:
        """Stage the item, once however many of its ledgers changed it (the one put carries every
        change, serialised at the commit), and the delete of growth's item from before it took."""
        if self.staged:
            return
        self.staged, self._uow, self._on_conflict = True, uow, on_conflict
        uow.save(self.item, self.condition(), on_conflict)
        if self.legacy is not None:
            self._delete_legacy()

    def post(self, uow: UnitOfWork, posting: PostingItem, on_conflict: Callable[[], ConcurrentUpdate]) -> None:
        """Stage a posting of this item's change: the first an item of its own; the second (the
        other ledger's) carried in the points posting (:meth:`PostingItem.carry`), which is then
        the one item written (put where the growth posting was, if that came first)."""
        first = self.posting
        if first is None:
            uow.create(posting, on_conflict=on_conflict)
            self.posting = posting
            return
        points, growth = (first, posting) if first.point_type == "points" else (posting, first)
        points.carry(growth)
        if first is growth:
            uow.swap(growth, points)
        self.posting = points

    def _delete_legacy(self) -> None:
        assert self.legacy is not None and self._uow is not None
        self._uow.delete(self.legacy, AccountItem.version == int(self.legacy.version or 0), self._on_conflict)


def carry(item: AccountItem, legacy: AccountItem, lots: Callable[[], Iterable[LotItem]]) -> None:
    """Put growth's account from before (an item of its own) on the points account item; one of
    the lot era (no ``recent``) has its recent days from what its newest lots hold (``lots``:
    at most :data:`SEED_LOTS`, newest first; days further back are not read), so its lots are
    read by nothing once carried."""
    for name, attribute in _MAPPED.items():
        setattr(item, attribute, int(getattr(legacy, name) or 0))
    item.recent, item.reset_cut = legacy.recent, legacy.reset_cut
    if item.recent is None:
        since = (clock.program_date() - timedelta(days=RECENT_DAYS)).isoformat()
        days: dict[str, int] = {}
        for lot in lots():
            day = clock.program_date(clock.parse_iso(lot.earned_at)).isoformat()
            if day >= since:
                days[day] = days.get(day, 0) + int(lot.remaining)
        item.recent = json.dumps(dict(sorted(days.items())), separators=(",", ":"))


class FoldedAccount(JournalAccount):
    """A ledger's account on the shared item: its version counted on, the item staged under
    :meth:`Read.condition` (the points ledger's and the growth ledger's alike)."""

    def __init__(self, uow: UnitOfWork, item: Any, read: Read, buckets: tuple[str, ...], totals: tuple[str, ...],
                 on_conflict: Callable[[], ConcurrentUpdate]) -> None:
        super().__init__(uow, item, buckets, totals, on_conflict)
        self.shared = read

    def put(self) -> None:
        """Count this ledger's version on and stage the shared item."""
        self.item.version = self.read_version + 1
        self.shared.stage(self.uow, self.on_conflict)

    def record(self, posting: Any) -> None:
        """Stage the posting; the second of one change is carried in the points one (one item)."""
        self.shared.post(self.uow, posting, self.on_conflict)
