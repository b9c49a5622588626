"""Growth value (what tiers are earned by) without lots: the account's balance is the growth.

Growth is never spent, held or pending, and never expires by date: only a tier period's reset
expires it, by when it was recorded. So it needs no lots (each was a transaction item, 2 WCU, at
every earn: docs/scale.md "What an earn writes"). The account keeps instead the net growth
recorded on each of its last :data:`RECENT_DAYS` program days (``recent``, a small JSON map
pruned at every write), which is all a reset needs:

* **a reset** (:meth:`GrowthLedger.reset`) expires the growth recorded before the new period's
  first day: the balance less the net growth recorded since (from that day, or from
  :data:`RECENT_DAYS` before the review's day if the review ran later than that), never below 0
  nor beyond what the account holds; it notes its cut on the account (``reset_cut``) whatever it
  expired (a grace's reset runs when the grace begins, so no grace outlasts the days kept);
* **a removal by hand** takes from the balance (beyond it: refused); one recorded since a cut
  counts against what the new period recorded, as every change since it does;
* **a refund** claws the order's share from the balance, owed (debt) only when the balance is
  short; an order whose growth was recorded before the last reset's cut had it expired: its
  refund takes nothing back (``already_expired``).

The account is the points account's item (:mod:`.folded`): growth's figures are its ``g_``
attributes. Accounts from before (an item of their own; of the lot era, lots and no ``recent``)
are carried onto it when a change reads them, ``recent`` from their newest lots; their lots are
read by nothing from then on and a migration deletes them (:func:`fold`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.db.backend import SortKey
from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger import lots as L
from chalicelib.points import repository
from chalicelib.points.folded import RECENT_DAYS
from chalicelib.points.ledger import InsufficientPoints, Ledger
from chalicelib.points.tables import AccountItem, LotItem
from chalicelib.shared import clock
from chalicelib.shared.errors import changed

DELETE_LOTS = 90         # lots of before deleted a transaction by :func:`fold`


def counted(item: AccountItem) -> int:
    """Every change of a growth account but its resets, summed: the balance with what resets
    expired added back. What a tier period counts its growth from (the period's growth is this
    less what it was when the period began, :mod:`chalicelib.tiers.standing`); every growth
    posting's event carries it after the change (``growth_total``). Growth is never pending or
    held, and only a reset expires it."""
    return int(item.available or 0) - int(item.debt or 0) + int(item.expired or 0)


def recorded_since(recent: dict[str, int], day: date, today: date) -> int:
    """Net growth recorded from ``day`` on, of the days ``recent`` keeps (those from
    :data:`RECENT_DAYS` before ``today``)."""
    start = max(day, today - timedelta(days=RECENT_DAYS)).isoformat()
    return sum(n for d, n in recent.items() if d >= start)


class GrowthLedger(Ledger):
    """A change to a member's growth account: balances and ``recent``, no lots."""

    _recent: dict[str, int] | None = None

    # --- what is recorded when -----------------------------------------------------------------
    @property
    def recent(self) -> dict[str, int]:
        """Net growth recorded on each of the account's last days (program days, ISO), as this
        change leaves it; resets are not in it. (An account of the lot era has them from its
        lots once carried onto the points account: :func:`.folded.carry`.)"""
        if self._recent is None:
            raw = self.account.recent
            self._recent = json.loads(raw) if raw is not None else {}
        return self._recent

    def _note(self, change: int) -> None:
        """``change`` to the balance recorded now (a reset's is not noted)."""
        if change:
            day = clock.program_date().isoformat()
            self.recent[day] = self.recent.get(day, 0) + change

    # --- changes ---------------------------------------------------------------------------------
    def live_lots(self) -> Iterator[LotItem]:
        """Growth has no lots (an account's lots from before are read by nothing)."""
        return iter(())

    def add_lot(self, points: int, expires_on: date | None, *, pending: bool = False,
                unlock_on: date | None = None, source: str | None = None, lot_id: str | None = None,
                earned_at: str | None = None) -> dict[str, Any]:
        """Growth added (an order, a task, by hand): it repays what is owed first. The entry names
        the change (``lot_id``: its sequence, for the trail) and when it was recorded."""
        assert not pending and expires_on is None, "growth is never pending and never expires by date"
        if lot_id is None:
            self._new_lots += 1
            lot_id = L.sequence_lot_id(self.account_state.next_version, self._new_lots)
        repaid = min(self.debt, points) if self.debt > 0 else 0
        self.account_state.move("debt", -repaid)
        self.account_state.move("available", points - repaid)
        self.account_state.count("earned", points)
        self._trail(lot_id, None, points - repaid, "available", **({"debt_repaid": repaid} if repaid else {}))
        self._note(points)
        return {"lot_id": lot_id, "expires_on": None, "points": points, "pending": False,
                "recorded_at": clock.iso(clock.now())}

    def take(self, points: int, lots: list[LotItem] | None = None) -> list[dict[str, Any]]:
        """Growth removed by hand, from the balance; beyond it: refused."""
        balance = self.available - self.debt
        if points > balance:
            raise InsufficientPoints(f"{points} growth to remove; the balance holds {max(balance, 0)}"
                                     + (f" ({self.debt} owed)" if self.debt else ""), available=max(balance, 0))
        self.account_state.move("available", -points)
        self._trail("balance", None, -points, "available")
        self._note(-points)
        return [{"lot_id": "balance", "expires_on": None, "points": points}]

    def take_from(self, lot_ref: dict[str, Any], points: int) -> int:
        """A refund's clawback, from the balance (not the order's own lot); returns what it took."""
        part = min(max(self.available, 0), points)
        if part <= 0:
            return 0
        self.account_state.move("available", -part)
        self.account_state.count("clawed_back", part)
        self._trail(lot_ref.get("lot_id") or "balance", None, -part, "available")
        self._note(-part)
        return part

    def excused(self, lot_ref: dict[str, Any], order_earned_at: str | None, expired_before: int) -> bool:
        """Whether an order's growth (its entry ``lot_ref``) was recorded before the last reset's
        cut, so that reset expired it: its refund takes none of it back. An entry from before
        says when only by the order's time; a reset from before lots went noted what it expired
        of the order's lot on the order (``expired_before``)."""
        if expired_before > 0:
            return True
        cut = self.account.reset_cut
        at = lot_ref.get("recorded_at") or order_earned_at
        return bool(cut and at and at < cut)

    def owe(self, points: int) -> None:
        """Growth a refund could not take back, owed (the next growth repays it first)."""
        super().owe(points)
        self._note(-points)

    def owe_for(self, lots: list[dict[str, Any]], points: int) -> None:
        """Growth owed is repaid by the next growth, never by a lot coming back."""

    def reset_done(self, cut: datetime) -> bool:
        """Whether a reset at ``cut`` (or a later one) has run on this account."""
        return bool(self.account.reset_cut and self.account.reset_cut >= clock.iso(cut))

    def reset(self, cut: datetime, today: date) -> int:
        """Expire the growth recorded before ``cut`` (a tier period's first instant), reviewed on
        ``today``: the balance less what was recorded since, within what the account holds;
        returns it (0 when the balance is no more than that). Of a review later than ``recent``'s
        days, what was recorded before them counts as before the cut. The account notes the cut
        (``reset_cut``) whatever expired: an order recorded before it had its growth reset, and
        its refunds take none back."""
        effective = max(cut, clock.day_start(today - timedelta(days=RECENT_DAYS)))
        since = recorded_since(self.recent, clock.program_date(effective), today)
        points = max(0, min(self.available, self.available - self.debt - since))
        if points:
            self.account_state.move("available", -points)
            self.account_state.count("expired", points)
            self._trail("balance", None, -points, "available", expired=True)
        self.account.reset_cut = max(self.account.reset_cut or "", clock.iso(effective))
        return points

    # --- commit ------------------------------------------------------------------------------------
    def keep_recent(self) -> None:
        """Put ``recent`` on the account, pruned to its days."""
        start = (clock.program_date() - timedelta(days=RECENT_DAYS)).isoformat()
        kept = {d: n for d, n in sorted(self.recent.items()) if d >= start and n}
        self.account.recent = json.dumps(kept, separators=(",", ":"))

    def stage(self, kind: str, amount: int, **kwargs: Any) -> Any:
        """As :meth:`Ledger.stage`, with ``recent`` pruned to its days."""
        self.keep_recent()
        return super().stage(kind, amount, **kwargs)


def fold(program_id: str, member_id: str) -> tuple[bool, int]:
    """Carry a member's growth account of before (an item of its own) onto the points account
    (:mod:`.folded`), its ``recent`` seeded from its lots if it had lots, and then delete those
    lots (read by nothing once ``recent`` is set), ``DELETE_LOTS`` a transaction: (whether this
    run carried it, the lots deleted). Safe to repeat and beside live changes: the carry is
    conditioned as every write of the points account is, and a carried account is not carried
    again."""
    uow = UnitOfWork("migration:growth-accounts", program=program_id)
    repo = repository.of(uow)
    repo.account(member_id, "growth")
    shared = repo.shared(member_id)
    carried = shared.legacy is not None
    if carried:
        ledger = GrowthLedger(member_id, "growth", uow, clock.program_date())
        ledger.keep_recent()
        shared.stage(uow, changed("the points account"))
        uow.commit()
    deleted = 0
    while True:
        lots = list(UnitOfWork(program=program_id).query(LotItem, f"MEMBER#{member_id}",
                                                         SortKey.prefix("PTS#growth#LOT#"), limit=DELETE_LOTS))
        if not lots:
            return carried, deleted
        chunk = UnitOfWork("migration:growth-accounts", program=program_id)
        for lot in lots:
            chunk.delete(lot)
        chunk.commit()
        deleted += len(lots)
