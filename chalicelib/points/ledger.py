"""One change to one member's points of one type, staged on a unit of work.

Built on the shared :class:`~chalicelib.ledger.account.JournalAccount` (the account version is
the lock; one posting per version) and the pure lot arithmetic of :mod:`chalicelib.ledger.lots`.
What is points-specific lives here: lots as items in the member's partition, pending lots,
debt repaid first by new points, and the lot trail every posting and event records.
Invariants the tests check after every step:

* ``available`` = sum of live lots' remaining = sum of postings' ``available_delta``;
* ``pending`` = sum of pending lots = sum of ``pending_delta``; ``held`` and ``debt`` likewise;
* no lot below zero; the balance a member sees is ``available - debt``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from itertools import islice
from typing import Any

from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger import lots as L
from chalicelib.ledger.account import JournalAccount
from chalicelib.points import dates, filing, folded, owed, repository
from chalicelib.points.tables import AccountItem, LotItem, PostingItem
from chalicelib.shared import clock
from chalicelib.shared.errors import Conflict, changed

BUCKETS = ("available", "pending", "held", "debt")
TOTALS = ("earned", "redeemed", "expired", "clawed_back", "restored")
MAX_LOTS = 80          # leaves room in the 100-item transaction for account, posting, order, event, claim


class InsufficientPoints(Conflict):
    slug, title = "insufficient-points", "Not enough points"


class TooManyLots(Conflict):
    slug, title = "too-many-lots", "The change touches more lots than one transaction can hold"


_changed = changed("the points account")


def window_ended(account: AccountItem, today: date, taken_at: str | None) -> bool:
    """Whether points without a last day of their own, taken from ``account`` at ``taken_at`` (a
    hold's making; None: unknown) and not in a lot since, ended with a rolling window: the
    account's window ended before ``today``, or the rolling expiry took the account's lots after
    they were taken (unknown when: and no purchase has opened a window since). Such points
    expire on their way back, as dated ones past their day do."""
    if L.is_expired(account.rolling_until, today):
        return True
    gone = account.rolling_expired_at
    if not gone:
        return False
    return taken_at < gone if taken_at else not account.rolling_until


class Ledger:
    """Lots and balances of one account as this change leaves them; :meth:`stage` writes them."""

    def __init__(self, member_id: str, point_type: str, uow: UnitOfWork, today: date,
                 reminder_days: list[int] | None = None) -> None:
        self.member_id, self.point_type, self.uow, self.today = member_id, point_type, uow, today
        self.reminder_days = reminder_days or []
        repo, item = repository.of(uow), repository.of(uow).account(member_id, point_type)
        self.account_state = (folded.FoldedAccount(uow, item, repo.shared(member_id), BUCKETS, TOTALS, _changed)
                              if point_type in folded.FOLDED
                              else JournalAccount(uow, item, BUCKETS, TOTALS, on_conflict=_changed))
        self.lots: dict[str, LotItem] = {}           # sk -> state after this change
        self.read_remaining: dict[str, int | None] = {}
        self.touched: list[dict[str, Any]] = []
        self.expired_on_return = 0
        self._new_lots = 0
        self._lapsed: set[str] = set()               # lots past their last day that the job has not expired yet
        self._window_read = self.account.rolling_until   # the rolling date before this change (earns move it)
        self._open_read = self.account.open_holds
        self._open = (json.loads(self._open_read) if self._open_read is not None
                      else {} if not int(self.account.held or 0) else None)   # nothing held: no hold is open

    @property
    def account(self) -> AccountItem:
        """The account item as read (deltas are applied when staged)."""
        return self.account_state.item

    @property
    def delta(self) -> dict[str, int]:
        """The bucket deltas this change has staged so far."""
        return self.account_state.delta

    # --- reading ------------------------------------------------------------------------------
    def live_lots(self) -> Iterator[LotItem]:
        """Live lots, soonest expiry first (never-expiring last), as this change has left them."""
        seen = set()
        for lot in repository.of(self.uow).live_lots(self.member_id, self.point_type):
            seen.add(lot.sk)
            yield self._track(lot)
        for sk, lot in sorted(self.lots.items()):         # lots this change created
            if sk not in seen and "#LOT#" in sk:
                yield lot

    def spendable_lots(self) -> Iterator[LotItem]:
        """The live lots a spend may take, soonest first: a lot past its last day is no longer the
        member's, whether or not the expiry job has run (which only makes it permanent). Those
        come first in expiry order, so once a spendable lot is offered every lapsed one was seen
        (:attr:`lapsed`). Past the account's rolling date every live lot has lapsed: none is offered."""
        if self.rolled:
            return
        for lot in self.live_lots():
            if L.is_expired(lot.expires_on, self.today):
                self._lapsed.add(lot.sk)
                continue
            yield lot

    @property
    def rolled(self) -> bool:
        """Whether the account's rolling window ended before today (its live lots have all lapsed)."""
        return L.is_expired(self.account.rolling_until, self.today)

    @property
    def lapsed(self) -> int:
        """Points in the lots past their last day that this change has seen (:meth:`spendable_lots`);
        past the account's rolling date, every point available as read."""
        if self.rolled:
            return int(self.account.available or 0)
        return sum(int(self.lots[sk].remaining) for sk in self._lapsed)

    def _track(self, lot: LotItem) -> LotItem:
        if lot.sk not in self.lots:
            self.lots[lot.sk] = lot
            self.read_remaining[lot.sk] = int(lot.remaining)
        return self.lots[lot.sk]

    def _get(self, key: tuple[str, str]) -> LotItem | None:
        if key[1] in self.lots:
            return self.lots[key[1]]
        found = repository.of(self.uow).lot(key)
        return self._track(found) if found else None

    def _new(self, key: tuple[str, str], lot: LotItem) -> LotItem:
        lot.set_due()                  # a pending lot's unlock; a live one's dates are its account's:
        if lot.expires_on and not lot.is_pending:
            dates.bring_forward(self.account, lot.expires_on, self.reminder_days, self.today)
        self.lots[key[1]] = lot
        self.read_remaining[key[1]] = None
        return lot

    def _trail(self, lot_id: str, expires_on: str | None, delta: int, bucket: str, **extra: Any) -> None:
        self.touched.append({"lot_id": lot_id, "expires_on": expires_on, "delta": delta, "bucket": bucket, **extra})

    # --- changes ------------------------------------------------------------------------------
    def add_lot(self, points: int, expires_on: date | None, *, pending: bool = False,
                unlock_on: date | None = None, source: str | None = None, lot_id: str | None = None,
                earned_at: str | None = None) -> dict[str, Any]:
        """A new lot. Points earned while in debt repay the debt first (pending lots: at unlock)."""
        if lot_id is None:
            self._new_lots += 1
            lot_id = L.sequence_lot_id(self.account_state.next_version, self._new_lots)
        repaid = min(self.debt, points) if not pending and self.debt > 0 else 0
        self.account_state.move("debt", -repaid)
        keep = points - repaid
        exp = expires_on.isoformat() if expires_on else None
        key = (LotItem.pending_key(self.member_id, self.point_type, lot_id) if pending
               else LotItem.live_key(self.member_id, self.point_type, exp, lot_id))
        if keep > 0:
            self._new(key, LotItem(*key, lot_id=lot_id, member_id=self.member_id, point_type=self.point_type,
                                   original=points, remaining=keep, expires_on=exp,
                                   unlock_on=unlock_on.isoformat() if unlock_on else None,
                                   earned_at=earned_at or clock.iso(clock.now()), source=source))
        bucket = "pending" if pending else "available"
        self.account_state.move(bucket, keep)
        self.account_state.count("earned", points)
        self._trail(lot_id, exp, keep, bucket, **({"debt_repaid": repaid} if repaid else {}))
        return {"lot_id": lot_id, "expires_on": exp, "points": points, "pending": pending}

    def take(self, points: int, lots: list[LotItem] | None = None) -> list[dict[str, Any]]:
        """Take ``points`` from live lots, soonest expiry first (from ``lots``, the soonest this
        change has read already, when given). What a member owes (debt) is not theirs to spend: the
        spendable balance is ``available - debt``. A spend from more than ``MAX_LOTS`` lots is
        refused (:class:`TooManyLots`, nothing changed: the caller may spend in steps) after
        reading one lot more, never every lot it would take (a thousand, under load many seconds)."""
        if points > self.available - self.debt:     # refused before taking, but told without lapsed lots:
            next(self.spendable_lots(), None)        # they come first, so reading to the first live one sees them
            self._refuse_beyond(points, self.spendable)
        read: list[LotItem] = []

        def soonest() -> Iterator[LotItem]:             # lazily: a small spend reads only the lots it takes
            for lot in islice(self.spendable_lots(), MAX_LOTS + 1):
                read.append(lot)
                yield lot
        try:
            plan = L.take_soonest(soonest() if lots is None else lots, points)
        except L.ShortOfLots as short:
            self._refuse_beyond(points, self.spendable)
            if len(read) > MAX_LOTS:
                raise TooManyLots(f"spending {points} points touches more than {MAX_LOTS} lots; at most "
                                  f"{MAX_LOTS} at once") from None
            raise InsufficientPoints(f"{points} points needed; the lots hold {short.found}") from None
        self._refuse_beyond(points, self.spendable)
        if len(plan) > MAX_LOTS:           # nothing changed yet: the caller may spend in steps
            raise TooManyLots(f"spending {points} points touches {len(plan)} lots; at most {MAX_LOTS} at once")
        taken = []
        for lot, part in plan:
            lot.remaining = int(lot.remaining) - part
            taken.append({"lot_id": lot.lot_id, "expires_on": lot.expires_on, "points": part})
            self._trail(lot.lot_id, lot.expires_on, -part, "available")
        self.account_state.move("available", -points)
        return taken

    def _refuse_beyond(self, points: int, spendable: int) -> None:
        if points > spendable:
            raise InsufficientPoints(f"{points} points needed, {max(spendable, 0)} spendable"
                                     + (f" ({self.debt} owed)" if self.debt else ""), available=max(spendable, 0))

    def take_from(self, lot_ref: dict[str, Any], points: int) -> int:
        """Take up to ``points`` from one named lot (a clawback); returns what it held."""
        pending = lot_ref.get("pending") and self._get(
            LotItem.pending_key(self.member_id, self.point_type, lot_ref["lot_id"]))
        lot = pending or self._get(LotItem.live_key(self.member_id, self.point_type, lot_ref["expires_on"],
                                                    lot_ref["lot_id"]))
        if lot is None or int(lot.remaining) <= 0:
            return 0
        part = min(int(lot.remaining), points)
        lot.remaining = int(lot.remaining) - part
        bucket = "pending" if lot.is_pending else "available"
        self.account_state.move(bucket, -part)
        self.account_state.count("clawed_back", part)
        self._trail(lot.lot_id, lot.expires_on, -part, bucket)
        return part

    def expire_lapsed(self, lot_ref: dict[str, Any]) -> int:
        """Expire what a named lot past its last day (a dated one's, or the account's rolling
        window's) still holds, as the expiry job will (a clawback then finds it expired, not the
        member's to take back); returns the points."""
        exp = lot_ref.get("expires_on")
        if lot_ref.get("pending") or not (L.is_expired(exp, self.today) or (exp is None and self.rolled)):
            return 0
        lot = self._get(LotItem.live_key(self.member_id, self.point_type, exp, lot_ref["lot_id"]))
        return self.expire(lot) if lot is not None else 0

    def put_back(self, lot_ref: dict[str, Any], points: int, taken_at: str | None = None) -> None:
        """Return points to their original lot and expiry; already expired ones expire at once
        (points without a date, taken at ``taken_at``, whose rolling window ended: :func:`window_ended`).
        Points of a lot whose order's refund found them gone (:meth:`owe_for`) repay that debt first."""
        exp = lot_ref.get("expires_on")
        points -= self._repay_owed(lot_ref["lot_id"], exp, points)
        if points <= 0:
            return
        self._trail(lot_ref["lot_id"], exp, points, "available")
        if L.is_expired(exp, self.today) or (exp is None and window_ended(self.account, self.today, taken_at)):
            self._trail(lot_ref["lot_id"], exp, -points, "available", expired=True)
            self.account_state.count("expired", points)
            self.expired_on_return += points
            return
        key = LotItem.live_key(self.member_id, self.point_type, exp, lot_ref["lot_id"])
        lot = self._get(key) or self._new(key, LotItem(
            *key, lot_id=lot_ref["lot_id"], member_id=self.member_id, point_type=self.point_type,
            original=points, remaining=0, expires_on=exp, earned_at=clock.iso(clock.now()), source="restored"))
        lot.remaining = int(lot.remaining) + points
        self.account_state.move("available", points)

    def give_back(self, plan: list[tuple[str, str | None, int]], room: int = MAX_LOTS,
                  taken_at: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Restore what ``plan`` (:func:`~chalicelib.ledger.lots.give_back_plan`: lot_id, expires_on,
        points) gives back to its lots, into at most ``room`` lots; returns the lots beyond (the
        caller sends them back in steps). ``taken_at``: when each lot's points were spent (lot_id:
        instant; points without a date from a rolling window that ended since expire on their way)."""
        at = taken_at or {}
        self.account_state.count("restored", sum(part for _, _, part in plan))
        for lot_id, exp, part in plan[:room]:
            self.put_back({"lot_id": lot_id, "expires_on": exp}, part, at.get(lot_id))
        return [{"lot_id": lot_id, "expires_on": exp, "points": part, **({"at": at[lot_id]} if lot_id in at else {})}
                for lot_id, exp, part in plan[room:]]

    def expire(self, lot: LotItem) -> int:
        """Expire what is left of ``lot``; returns the points expired."""
        lot = self._track(lot)
        points = int(lot.remaining)
        if points <= 0:
            return 0
        lot.remaining = 0
        self.account_state.move("available", -points)
        self.account_state.count("expired", points)
        self._trail(lot.lot_id, lot.expires_on, -points, "available", expired=True)
        return points

    def unlock(self, lot: LotItem) -> int:
        """A pending lot becomes spendable (repaying any debt first)."""
        lot = self._track(lot)
        points = int(lot.remaining)
        lot.remaining = 0
        self.account_state.move("pending", -points)
        self._trail(lot.lot_id, lot.expires_on, -points, "pending")
        self.account_state.count("earned", -points)      # add_lot counts it again; it was counted when earned
        exp = date.fromisoformat(lot.expires_on) if lot.expires_on else None
        self.add_lot(points, exp, lot_id=lot.lot_id, source=lot.source, earned_at=lot.earned_at)
        return points

    def hold(self, points: int) -> None:
        """Count taken points as held (a checkout hold) until confirmed or released."""
        self.account_state.move("held", points)

    def opened(self, hold_id: str, expires_at: str) -> None:
        """A hold of this account is open until ``expires_at``: the account names it
        (``open_holds``), so a read finds the holds past their time without reading every hold
        the member ever had (:func:`.lapsing.lapsed`)."""
        if self._open is not None:
            self._open[hold_id] = expires_at

    def closed(self, hold_id: str) -> None:
        """A hold of this account is no longer open (confirmed, or released)."""
        if self._open is not None:
            self._open.pop(hold_id, None)

    def release(self, points: int) -> None:
        """Held points leave the held bucket (spent on confirm, or put back on release)."""
        self.account_state.move("held", -points)

    def excused(self, lot_ref: dict[str, Any], order_earned_at: str | None, expired_before: int) -> bool:
        """Whether a refund takes none of an order's ``lot_ref`` back whatever it holds (growth a
        reset expired: :class:`.growth.GrowthLedger`); points: never (their lots say)."""
        return False

    def owe(self, points: int) -> None:
        """Record points that could not be clawed back as debt (negative balance policy 'debt')."""
        self.account_state.move("debt", points)
        self.account_state.count("clawed_back", points)

    def owe_for(self, lots: list[dict[str, Any]], points: int) -> None:
        """Debt a refund added because the order's ``lots`` no longer held their points (held, or
        spent): when they come back to the lot they repay it (:mod:`.owed`)."""
        self.account.owed_lots = owed.note(self.account.owed_lots, lots, points)

    def _repay_owed(self, lot_id: str, exp: str | None, points: int) -> int:
        """What of ``points`` coming back to ``lot_id`` repays the debt noted against it."""
        if not self.account.owed_lots:
            return 0
        paid, self.account.owed_lots = owed.repay(self.account.owed_lots, lot_id, points, self.debt)
        if paid:
            self.account_state.move("debt", -paid)
            self._trail(lot_id, exp, paid, "available")                        # back to the lot,
            self._trail(lot_id, exp, -paid, "available", debt_repaid=paid)    # and on to the debt
        return paid

    # --- state --------------------------------------------------------------------------------
    @property
    def available(self) -> int:
        """Spendable points as this change leaves them."""
        return self.account_state.balance("available")

    @property
    def spendable(self) -> int:
        """What the member may spend as this change leaves it: available, less what is owed and
        the lapsed lots seen (all of them, once a spend has read past them)."""
        return self.available - self.debt - self.lapsed

    @property
    def debt(self) -> int:
        """Points owed as this change leaves them."""
        return self.account_state.balance("debt")

    # --- commit -------------------------------------------------------------------------------
    def stage(self, kind: str, amount: int, *, reason: str | None, source: str | None, event_type: str,
              event_data: dict[str, Any] | None = None, merchant_id: str | None = None,
              store_id: str | None = None) -> PostingItem:
        """Stage the account, the lots, one posting (with the lot trail) and one event on the unit
        of work (:meth:`JournalAccount.post`: who and under which key are the unit's)."""
        self._stage_lots()
        if kind in ("redeem", "hold_confirmed"):
            self.account_state.count("redeemed", amount)
        self.account.listed()                  # on keys1: an account still on gsi1 moves in this write
        if self._open is None and not self.account_state.balance("held"):
            self._open = {}                    # holds from before: none is open once nothing is held
        if self._open is not None and (self._open or self._open_read is not None):
            self.account.open_holds = json.dumps(self._open, separators=(",", ":"), sort_keys=True)
        state, version = self.account_state, self.account_state.next_version
        balance = self.available - self.debt
        data = {"member_id": self.member_id, "point_type": self.point_type, "kind": kind,
                "amount": amount, "posting_id": state.posting_id, "sequence": version,
                "balance": balance, "delta": dict(self.delta), "lots": self.touched, **(event_data or {})}
        if self.point_type == "growth":          # what tier periods count from (:func:`.accounts.counted`)
            data["growth_total"] = balance + int(self.account.expired or 0) + state.totals["expired"]
        data.update(self._file_rolling(data))
        return state.post(PostingItem, (PostingItem.partition(self.member_id),
                                        PostingItem.sort_key(self.point_type, version)), kind, amount,
                          balance_after=balance, event_type=event_type, subject=f"member:{self.member_id}", data=data,
                          reason=reason, merchant_id=merchant_id, store_id=store_id, member_id=self.member_id,
                          point_type=self.point_type, lots=json.dumps(self.touched, separators=(",", ":")),
                          source=source)

    def _file_rolling(self, data: dict[str, Any]) -> dict[str, Any]:
        """On an account with a rolling window (now, before this change, or points still filed under
        one), what the liability needs to file its points without a date under the window's month
        (:mod:`.filing`); the account keeps what is filed so (``rolling_owed``)."""
        before, after, owed = self._window_read, self.account.rolling_until, int(self.account.rolling_owed or 0)
        if not (before or after or owed):
            return {}
        self.account.rolling_owed = owed + filing.by_own_expiry(data).get(filing.NEVER, 0)
        return {"rolling_from": before, "rolling_until": after, "rolling_owed": owed}

    def _stage_lots(self) -> None:
        changed = [sk for sk, lot in self.lots.items() if self.read_remaining.get(sk) != int(lot.remaining)]
        if len(changed) > MAX_LOTS:
            raise TooManyLots(f"this change touches {len(changed)} lots; at most {MAX_LOTS} at once")
        for sk in changed:
            lot, before = self.lots[sk], self.read_remaining.get(sk)
            if before is None:
                self.uow.create(lot, on_conflict=_changed)
            elif int(lot.remaining) == 0:
                self.uow.delete(lot, LotItem.remaining == before, on_conflict=_changed)
            else:
                self.uow.update(lot, [LotItem.remaining.set(int(lot.remaining))], LotItem.remaining == before,
                                on_conflict=_changed)

