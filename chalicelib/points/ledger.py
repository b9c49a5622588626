"""One change to one member's points of one type, staged on a unit of work.

The account item's ``version`` is the lock: every change reads the account, stages lot writes and
one posting numbered ``version + 1``, and commits on the condition that the version is unchanged.
So a member's changes are serialised, postings are gap-free, and a retry that lost the race
starts again from fresh state. Invariants the tests check after every step:

* ``available`` = sum of live lots' remaining = sum of postings' ``available_delta``;
* ``pending`` = sum of pending lots = sum of ``pending_delta``; ``held`` and ``debt`` likewise;
* no lot below zero; the balance a member sees is ``available - debt``.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Iterator

from chalicelib.events.model import DomainEvent
from chalicelib.points.store import AccountItem, LotItem, PostingItem
from chalicelib.shared import clock
from chalicelib.shared.errors import ConcurrentUpdate, Conflict
from chalicelib.shared.ids import new_id
from chalicelib.store.uow import UnitOfWork

LOT_PAGE = 20


class InsufficientPoints(Conflict):
    slug, title = "insufficient-points", "Not enough points"


class TooManyLots(Conflict):
    slug, title = "too-many-lots", "The change touches more lots than one transaction can hold"


MAX_LOTS = 80          # leaves room in the 100-item transaction for account, posting, order, event, claim


def _changed() -> ConcurrentUpdate:
    return ConcurrentUpdate("the points account changed while the request ran; retry")


class Ledger:
    def __init__(self, member_id: str, point_type: str, uow: UnitOfWork, today: date,
                 reminder_days: list[int] | None = None) -> None:
        self.member_id, self.point_type, self.uow, self.today = member_id, point_type, uow, today
        self.reminder_days = reminder_days or []
        self.account = AccountItem.load(member_id, point_type)
        self.read_version = int(self.account.version)
        self.lots: dict[str, LotItem] = {}           # sk -> state after this change
        self.read_remaining: dict[str, int | None] = {}
        self.touched: list[dict[str, Any]] = []
        self.delta = {"available": 0, "pending": 0, "held": 0, "debt": 0}
        self.totals = {"earned": 0, "redeemed": 0, "expired": 0}
        self.expired_on_return = 0
        self._new_lots = 0

    # --- reading ------------------------------------------------------------------------------
    def _live(self) -> Iterator[LotItem]:
        """Live lots, soonest expiry first (never-expiring last), as this change has left them."""
        seen = set()
        for lot in LotItem.query(f"MEMBER#{self.member_id}", LotItem.sk.startswith(f"PTS#{self.point_type}#LOT#"),
                                 consistent_read=True, page_size=LOT_PAGE):
            seen.add(lot.sk)
            yield self._track(lot)
        for sk, lot in sorted(self.lots.items()):         # lots this change created
            if sk not in seen and "#LOT#" in sk:
                yield lot

    def _track(self, lot: LotItem) -> LotItem:
        if lot.sk not in self.lots:
            self.lots[lot.sk] = lot
            self.read_remaining[lot.sk] = int(lot.remaining)
        return self.lots[lot.sk]

    def _get(self, key: tuple[str, str]) -> LotItem | None:
        if key[1] in self.lots:
            return self.lots[key[1]]
        try:
            return self._track(LotItem.get(*key, consistent_read=True))
        except LotItem.DoesNotExist:
            return None

    # --- changes ------------------------------------------------------------------------------
    def add_lot(self, points: int, expires_on: date | None, *, pending: bool = False,
                unlock_on: date | None = None, source: str | None = None, lot_id: str | None = None,
                earned_at: str | None = None) -> dict[str, Any]:
        """A new lot. Points earned while in debt repay the debt first (pending lots: at unlock).

        A lot's id is the account sequence that created it, so lots with the same expiry are
        spent oldest first, deterministically.
        """
        if lot_id is None:
            self._new_lots += 1
            lot_id = f"{self.read_version + 1:010d}-{self._new_lots:02d}"
        repaid = 0
        if not pending and self.debt > 0:
            repaid = min(self.debt, points)
            self.delta["debt"] -= repaid
        keep = points - repaid
        exp = expires_on.isoformat() if expires_on else None
        key = (LotItem.pending_key(self.member_id, self.point_type, lot_id) if pending
               else LotItem.live_key(self.member_id, self.point_type, exp, lot_id))
        if keep > 0:
            lot = LotItem(*key, lot_id=lot_id, member_id=self.member_id, point_type=self.point_type,
                          original=points, remaining=keep, expires_on=exp,
                          unlock_on=unlock_on.isoformat() if unlock_on else None,
                          earned_at=earned_at or clock.iso(clock.now()), source=source)
            lot.set_due(self.reminder_days, self.today)
            self.lots[key[1]] = lot
            self.read_remaining[key[1]] = None
        bucket = "pending" if pending else "available"
        self.delta[bucket] += keep
        self.totals["earned"] += points
        entry = {"lot_id": lot_id, "expires_on": exp, "delta": keep, "bucket": bucket}
        if repaid:
            entry["debt_repaid"] = repaid
        self.touched.append(entry)
        return {"lot_id": lot_id, "expires_on": exp, "points": points, "pending": pending}

    def take(self, points: int) -> list[dict[str, Any]]:
        """Take ``points`` from live lots, soonest expiry first."""
        if points > self.available:
            raise InsufficientPoints(f"{points} points needed, {self.available} available",
                                     available=self.available)
        taken, need = [], points
        for lot in self._live():
            if need == 0:
                break
            remaining = int(lot.remaining)
            if remaining <= 0:
                continue
            part = min(remaining, need)
            lot.remaining = remaining - part
            need -= part
            taken.append({"lot_id": lot.lot_id, "expires_on": lot.expires_on, "points": part})
            self.touched.append({"lot_id": lot.lot_id, "expires_on": lot.expires_on, "delta": -part,
                                 "bucket": "available"})
        if need:
            raise InsufficientPoints(f"{points} points needed; the lots hold {points - need}")
        self.delta["available"] -= points
        return taken

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
        self.delta[bucket] -= part
        self.touched.append({"lot_id": lot.lot_id, "expires_on": lot.expires_on, "delta": -part, "bucket": bucket})
        return part

    def put_back(self, lot_ref: dict[str, Any], points: int) -> None:
        """Return points to their original lot and expiry; already expired ones expire at once."""
        exp = lot_ref.get("expires_on")
        self.touched.append({"lot_id": lot_ref["lot_id"], "expires_on": exp, "delta": points, "bucket": "available"})
        if exp and date.fromisoformat(exp) < self.today:
            self.touched.append({"lot_id": lot_ref["lot_id"], "expires_on": exp, "delta": -points,
                                 "bucket": "available", "expired": True})
            self.totals["expired"] += points
            self.expired_on_return += points
            return
        key = LotItem.live_key(self.member_id, self.point_type, exp, lot_ref["lot_id"])
        lot = self._get(key)
        if lot is None:
            lot = LotItem(*key, lot_id=lot_ref["lot_id"], member_id=self.member_id, point_type=self.point_type,
                          original=points, remaining=0, expires_on=exp, earned_at=clock.iso(clock.now()),
                          source="restored")
            lot.set_due(self.reminder_days, self.today)
            self.lots[key[1]] = lot
            self.read_remaining[key[1]] = None
        lot.remaining = int(lot.remaining) + points
        self.delta["available"] += points

    def expire(self, lot: LotItem) -> int:
        lot = self._track(lot) if lot.sk not in self.lots else self.lots[lot.sk]
        points = int(lot.remaining)
        if points <= 0:
            return 0
        lot.remaining = 0
        self.delta["available"] -= points
        self.totals["expired"] += points
        self.touched.append({"lot_id": lot.lot_id, "expires_on": lot.expires_on, "delta": -points,
                             "bucket": "available", "expired": True})
        return points

    def unlock(self, lot: LotItem) -> int:
        """A pending lot becomes spendable (repaying any debt first)."""
        lot = self._track(lot)
        points = int(lot.remaining)
        lot.remaining = 0
        self.delta["pending"] -= points
        self.touched.append({"lot_id": lot.lot_id, "expires_on": lot.expires_on, "delta": -points, "bucket": "pending"})
        self.totals["earned"] -= points          # add_lot counts it again; it was counted when earned
        exp = date.fromisoformat(lot.expires_on) if lot.expires_on else None
        self.add_lot(points, exp, lot_id=lot.lot_id, source=lot.source, earned_at=lot.earned_at)
        return points

    def owe(self, points: int) -> None:
        """Record points that could not be clawed back as debt (negative balance policy 'debt')."""
        self.delta["debt"] += points

    # --- state --------------------------------------------------------------------------------
    @property
    def available(self) -> int:
        return int(self.account.available) + self.delta["available"]

    @property
    def debt(self) -> int:
        return int(self.account.debt) + self.delta["debt"]

    # --- commit -------------------------------------------------------------------------------
    def stage(self, kind: str, amount: int, *, reason: str | None, source: str | None, actor: str | None,
              idempotency_key: str | None, event_type: str, event_data: dict[str, Any] | None = None,
              merchant_id: str | None = None) -> PostingItem:
        """Stage the account, the lots, one posting and one event on the unit of work."""
        lot_writes = [sk for sk, lot in self.lots.items() if self.read_remaining.get(sk) != int(lot.remaining)]
        if len(lot_writes) > MAX_LOTS:
            raise TooManyLots(f"this change touches {len(lot_writes)} lots; at most {MAX_LOTS} at once")
        a = self.account
        version = self.read_version + 1
        now = clock.iso(clock.now())
        for bucket, d in self.delta.items():
            setattr(a, bucket, int(getattr(a, bucket) or 0) + d)
        for total, d in self.totals.items():
            setattr(a, total, int(getattr(a, total) or 0) + d)
        if kind in ("redeem", "hold_confirmed"):
            a.redeemed = int(a.redeemed or 0) + amount
        a.version, a.updated_at = version, now
        condition = AccountItem.version == self.read_version if self.read_version else AccountItem.pk.does_not_exist()
        self.uow.save(a, condition, on_conflict=_changed)
        for sk in lot_writes:
            lot, before = self.lots[sk], self.read_remaining.get(sk)
            if before is None:
                self.uow.create(lot, on_conflict=_changed)
            elif int(lot.remaining) == 0:
                self.uow.delete(lot, LotItem.remaining == before, on_conflict=_changed)
            else:
                self.uow.update(lot, [LotItem.remaining.set(int(lot.remaining))], LotItem.remaining == before,
                                on_conflict=_changed)
        posting = PostingItem(PostingItem.partition(self.member_id), f"PTS#{self.point_type}#POST#{version:012d}",
                              posting_id=new_id(), member_id=self.member_id, point_type=self.point_type,
                              kind=kind, amount=amount, available_delta=self.delta["available"],
                              pending_delta=self.delta["pending"], held_delta=self.delta["held"],
                              debt_delta=self.delta["debt"], balance_after=int(a.available) - int(a.debt),
                              lots=json.dumps(self.touched, separators=(",", ":")), reason=reason, actor=actor,
                              source=source, idempotency_key=idempotency_key, created_at=now)
        self.uow.create(posting, on_conflict=_changed)
        self.uow.emit(DomainEvent(event_type, f"member:{self.member_id}", {
            "member_id": self.member_id, "point_type": self.point_type, "kind": kind, "amount": amount,
            "posting_id": posting.posting_id, "sequence": version, "balance": int(a.available) - int(a.debt),
            "delta": dict(self.delta), "lots": self.touched, **(event_data or {})}, merchant_id=merchant_id))
        return posting

