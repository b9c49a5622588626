"""Holds past their time: a hold lapses at its ``expires_at``, whatever the holds job has done (as a
lot past its last day is no longer the member's before the expiry job runs). Until the job (or a
spend that needs the points, :func:`.spending.give_back_lapsed`) gives its points back to their
lots, an open hold past its time reads as ``expired`` and its points count as the member's again:
out of ``held``, in ``balance`` and ``spendable`` (those whose lot has ended meanwhile in
``lapsed``). The job only makes it permanent (a ``hold_released`` posting, "expired")."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger import holds
from chalicelib.ledger import lots as L
from chalicelib.points import repository
from chalicelib.points.ledger import window_ended
from chalicelib.points.tables import AccountItem, HoldItem
from chalicelib.shared import clock

EXPIRED = "expired"


def is_lapsed(h: HoldItem) -> bool:
    """An open hold whose time is up (it can no longer be confirmed)."""
    return h.status == holds.OPEN and h.hold_expires_at <= clock.iso(clock.now())


def status(h: HoldItem) -> str:
    """The hold's status as read: ``expired`` for an open hold past its time."""
    return EXPIRED if is_lapsed(h) else str(h.status)


def lapsed(uow: UnitOfWork, account: AccountItem) -> list[HoldItem]:
    """The account's open holds past their time: those the account names (``open_holds``) whose
    time is up, each read by its key (none at all while every one is in time), so the cost does
    not grow with the holds the member ever had; an account from before it named its holds reads
    them all (until nothing is held)."""
    repo, member_id, point_type = repository.of(uow), account.member_id, account.point_type
    if account.open_holds is None:
        return [h for h in repo.holds(member_id, point_type) if is_lapsed(h)]
    now = clock.iso(clock.now())
    due = sorted(hold_id for hold_id, expires_at in json.loads(account.open_holds).items() if expires_at <= now)
    return [h for h in (repo.hold(member_id, point_type, hold_id) for hold_id in due) if h is not None and is_lapsed(h)]


@dataclass(frozen=True)
class Holding:
    """What the member holds of one account now, lapsed holds counted back (:func:`holding`)."""

    available: int            # the account's available points and those of its lapsed holds
    held: int                 # held by holds still open in time
    debt: int
    ended: int                # of the lapsed holds' points, those whose lot ended meanwhile (they expire on return)
    returning: list[dict[str, Any]] = field(default_factory=list)   # the lapsed holds' other points, by lot


def holding(uow: UnitOfWork, account: AccountItem, today: date) -> Holding:
    """What the member holds of ``account`` now, whether or not the holds job has run: a lapsed
    hold's points are out of ``held`` and back in ``available`` (those whose lot has ended
    meanwhile in ``ended``), the lots they go back to in ``returning``. The account's holds are
    read only when it holds points; every read of a member's points (their account, a quote,
    the members list) counts them so."""
    available, held, debt = int(account.available or 0), int(account.held or 0), int(account.debt or 0)
    if not held:
        return Holding(available, held, debt, 0)
    freed = ended = 0
    returning: list[dict[str, Any]] = []
    for h in lapsed(uow, account):
        freed += h.outstanding
        for lot in json.loads(h.lots):
            exp = lot.get("expires_on")
            if L.is_expired(exp, today) or (exp is None and window_ended(account, today, h.created_at)):
                ended += int(lot["points"])
            else:
                returning.append({"lot_id": lot["lot_id"], "expires_on": exp, "points": int(lot["points"])})
    return Holding(available + freed, held - freed, debt, ended, returning)
