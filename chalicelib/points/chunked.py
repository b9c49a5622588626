"""Changes too big for one transaction: spending from, or giving back to, more than MAX_LOTS lots.

A DynamoDB transaction holds at most 100 items, so one change touches at most ``MAX_LOTS`` lots.
A member with a thousand small lots still redeems, cancels and is refunded in one request: the
change goes through a hold, in steps that each leave the ledger balanced (every step is one
account version, one posting, one event):

* **Spending** (redeem, hold) first moves the soonest lots, ``MAX_LOTS`` at a time, into a
  *filling* hold (each step: lots down, ``held`` up). The request's own transaction then takes
  the last lots and turns the hold into the redemption (or the open checkout hold), together
  with its idempotency record. The hold's id comes from the caller and its Idempotency-Key, so a
  retry resumes where the first try stopped; a hold abandoned while filling lapses after
  ``FILL_SECONDS`` (the holds job gives its points back). Each step is timed
  (:func:`chalicelib.shared.deadline.measured`), and another is taken only while the request's
  deadline still holds ``STEPS_AHEAD`` steps as slow as the slowest this request has taken (the
  next step, the transaction that finishes the spend, the rest of the request: a checkout's other
  holds and its record) and ``FILL_MARGIN_SECONDS``: so the margin grows with the load. Else
  the request answers 503 ``busy`` with ``Retry-After`` (this try stopped at its deadline), and
  its retry under the same key carries on from the steps taken, so no request runs past API
  Gateway's 29 s however many lots a spend takes and however slow a step is (each try takes at
  least one step: the first step of a request is always taken).
* **Giving back** (cancelling or lapsing a big hold, refunding an order that spent many lots)
  commits the decision with the first ``MAX_LOTS`` lots; the rest wait in a *releasing* hold
  (still counted as ``held``) and go back ``MAX_LOTS`` at a time right after the commit, as long
  as the request's deadline holds another step (:func:`room_after`), the rest by the holds job
  (the hold is due at once), as when the process stops first. ``returned`` on the hold is the
  lock of each step, so each lot goes back once.

Lots are never merged: each keeps its expiry and its identity (refund clawback and give-back
find their lots by id).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger import holds
from chalicelib.points import program, repository
from chalicelib.points import rules as R
from chalicelib.points.ledger import MAX_LOTS, Ledger
from chalicelib.points.tables import HoldItem
from chalicelib.shared import clock, deadline
from chalicelib.shared.errors import Busy, ConcurrentUpdate, Conflict
from chalicelib.shared.principal import Principal
from chalicelib.shared.retry import Contention

FILL_SECONDS = 300          # a spend left half-taken gives its points back after this
STEP_TRIES = 20
FILL_MARGIN_SECONDS = 5.0   # the steps stop with this much of the request's deadline left, besides STEPS_AHEAD steps
STEPS_AHEAD = 3             # the next step, the spend's finishing transaction, the rest of the request (each measured)


class SpendInProgress(Conflict):
    slug, title = "spend-in-progress", "Another spend with this Idempotency-Key is in progress"
    remembered = False       # the key belongs to the spend in progress, which may still finish


def fill_id(by: Principal, point_type: str, key: str | None) -> str | None:
    """The id of the filling hold of the caller's request ``key`` (None without a key)."""
    return holds.step_id("F", by.scope, point_type, key) if key else None


def due_at(h: HoldItem, member_id: str, when: datetime) -> None:
    """Put the hold on the holds job's due index at ``when``."""
    holds.due_at(h, when, f"{member_id}#{h.sk}")


def fill(program_id: str, member_id: str, point_type: str, points: int, hold_id: str, by: Principal,
         rules: R.ProgramRules, merchant: str | None) -> HoldItem | None:
    """Move the soonest lots of a spend of ``points`` into the filling hold ``hold_id``, one
    transaction per ``MAX_LOTS`` lots, until the rest fits the request's own transaction; the
    hold as left (None if nothing needed moving)."""
    contention = Contention(STEP_TRIES)
    so_far = ""
    while True:
        if not deadline.room_for(STEPS_AHEAD, FILL_MARGIN_SECONDS):
            raise Busy(f"this try stopped at its deadline while taking a large spend in steps{so_far}; retry with "
                       "the same Idempotency-Key to carry on from the steps taken", retry_after=1)
        with deadline.measured():
            h, so_far = _step(program_id, member_id, point_type, points, hold_id, by, rules, merchant, contention)
        if not so_far:
            return h


def _step(program_id: str, member_id: str, point_type: str, points: int, hold_id: str, by: Principal,
          rules: R.ProgramRules, merchant: str | None, contention: Contention) -> tuple[HoldItem | None, str]:
    """One step of :func:`fill`: the hold and what is taken so far, or the hold and "" when the
    rest fits the request's own transaction."""
    while True:
        uow = UnitOfWork(by.ref, program=program_id)
        h = repository.of(uow).hold(member_id, point_type, hold_id)
        if h is not None and (h.status != "filling" or int(h.target or 0) != points):
            raise SpendInProgress(f"the spend with this Idempotency-Key is {h.status}, for {h.target or h.points} "
                                  f"points; send another key for another spend")
        have = int(h.points) if h else 0
        ledger = program.ledger(uow, member_id, point_type, rules, program.today())
        first = list(islice(ledger.spendable_lots(), MAX_LOTS + 1))
        chunk = sum(int(lot.remaining) for lot in first[:MAX_LOTS])
        if len(first) <= MAX_LOTS or chunk >= points - have:
            return h, ""                                # the rest fits one transaction
        taken = ledger.take(chunk, first[:MAX_LOTS])    # exactly those lots, soonest first (read once)
        ledger.hold(chunk)
        fresh = h is None
        if h is None:
            h = HoldItem(*HoldItem.key(member_id, point_type, hold_id), hold_id=hold_id, member_id=member_id,
                         point_type=point_type, points=0, lots="[]", target=points,
                         merchant_id=merchant, store_id=by.store_id, created_at=clock.iso(clock.now()))
        h.points, h.lots = have + chunk, json.dumps(json.loads(h.lots) + taken, separators=(",", ":"))
        due_at(h, member_id, clock.now() + timedelta(seconds=FILL_SECONDS))
        if fresh:
            holds.create(uow, h, holds.FILLING, on_conflict=_changed)
        else:
            holds.move(uow, h, holds.FILLING, HoldItem.points == have, on_conflict=_changed)
        ledger.stage("hold", chunk, reason="a large spend, taken in steps", source=f"hold:{hold_id}",
                     event_type="points.held",
                     event_data={"hold_id": hold_id, "filling": True, "target": points}, merchant_id=merchant,
                     store_id=by.store_id)
        try:
            uow.commit()
        except ConcurrentUpdate:
            if not contention.lost():
                raise
            continue
        return h, f" ({have + chunk} of {points} points taken so far)"


def room_after() -> bool:
    """Whether a step after a request's commit (giving back a big hold's lots) still fits its
    deadline: one step as slow as the slowest this request has taken and ``FILL_MARGIN_SECONDS``,
    and at least ``2 * FILL_MARGIN_SECONDS`` left before the first (unlike a spend's steps, none
    is needed: the holds job gives back what is left). Outside a request: always."""
    return deadline.room_for(1, FILL_MARGIN_SECONDS) and deadline.allows(2 * FILL_MARGIN_SECONDS)


def finish_fill(ledger: Ledger, h: HoldItem, points: int) -> list[dict[str, Any]]:
    """In the request's transaction: the filled points leave ``held`` and the rest is taken from
    the lots; every lot the spend took, soonest first."""
    ledger.release(int(h.points))
    return json.loads(h.lots) + ledger.take(points - int(h.points))


def close_fill(uow: UnitOfWork, h: HoldItem, status: str) -> None:
    """Stage the filling hold as spent (``confirmed``), off the due index."""
    holds.move(uow, h, status, HoldItem.points == int(h.points), on_conflict=_changed)


def give_back_later(uow: UnitOfWork, ledger: Ledger, rest: list[dict[str, Any]], source: str,
                    merchant: str | None, order: str | None) -> HoldItem:
    """Stage a releasing hold for lots a change could not give back in its own transaction: their
    points count as ``held`` until the steps after the commit put them back."""
    points = sum(int(lot["points"]) for lot in rest)
    ledger.hold(points)
    hold_id = holds.step_id("R", source, str(ledger.account_state.next_version))
    h = HoldItem(*HoldItem.key(ledger.member_id, ledger.point_type, hold_id), hold_id=hold_id,
                 member_id=ledger.member_id, point_type=ledger.point_type, points=points,
                 lots=json.dumps(rest, separators=(",", ":")), returning=json.dumps(rest, separators=(",", ":")),
                 returned=0, merchant_id=merchant, order=order, created_at=clock.iso(clock.now()))
    due_at(h, ledger.member_id, clock.now())
    holds.create(uow, h, holds.RELEASING, on_conflict=_changed)
    return h


def _changed() -> ConcurrentUpdate:
    return ConcurrentUpdate("the hold changed while the request ran; retry")
