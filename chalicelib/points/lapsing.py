"""Holds past their time: a hold lapses at its ``expires_at``, whatever the holds job has done (as a
lot past its last day is no longer the member's before the expiry job runs). Until the job (or a
spend that needs the points, :func:`.spending.give_back_lapsed`) gives its points back to their
lots, an open hold past its time reads as ``expired`` and its points count as the member's again:
out of ``held``, in ``balance`` and ``spendable`` (those whose lot has ended meanwhile in
``lapsed``). The job only makes it permanent (a ``hold_released`` posting, "expired")."""

from __future__ import annotations

import json
from datetime import date

from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger import holds
from chalicelib.ledger import lots as L
from chalicelib.points import repository
from chalicelib.points.tables import HoldItem
from chalicelib.shared import clock

EXPIRED = "expired"


def is_lapsed(h: HoldItem) -> bool:
    """An open hold whose time is up (it can no longer be confirmed)."""
    return h.status == holds.OPEN and h.hold_expires_at <= clock.iso(clock.now())


def status(h: HoldItem) -> str:
    """The hold's status as read: ``expired`` for an open hold past its time."""
    return EXPIRED if is_lapsed(h) else str(h.status)


def lapsed(uow: UnitOfWork, member_id: str, point_type: str) -> list[HoldItem]:
    """The account's open holds past their time (read only when the account holds points)."""
    return [h for h in repository.of(uow).holds(member_id, point_type) if is_lapsed(h)]


def freed(uow: UnitOfWork, member_id: str, point_type: str, today: date) -> tuple[int, int]:
    """What the account's lapsed holds keep from it: (points they hold, of those the points whose
    lot has ended meanwhile, which expire on their way back)."""
    held = ended = 0
    for h in lapsed(uow, member_id, point_type):
        held += h.outstanding
        ended += sum(int(lot["points"]) for lot in json.loads(h.lots) if L.is_expired(lot["expires_on"], today))
    return held, ended
