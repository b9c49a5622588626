"""Scheduled stored value work.

* ``stored-value-reconcile``: the next page of accounts of every shard of every program against
  their postings and double-entry lines (a cursor per shard: successive runs cover every
  account); any difference emits ``stored_value.reconciliation_failed``.
* ``stored-value-bonus-expiry``: bonus whose lots' last day has passed is taken out (a posting
  to ``bonus_expired`` and a ``stored_value.bonus_expired`` event); it reads only the accounts
  that are due. That bonus had lapsed already (no spend takes it, no read shows it: the same
  ``bonus_lots.lapse``): the job only makes it permanent.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Any

from chalicelib.db import backend
from chalicelib.db.due import due_items, run_due
from chalicelib.db.uow import UnitOfWork
from chalicelib.jobs import job
from chalicelib.ledger import reconciliation
from chalicelib.programs.service import served
from chalicelib.shared import clock
from chalicelib.shared.events import DomainEvent
from chalicelib.stored_value import reconcile
from chalicelib.stored_value.account import SvChange
from chalicelib.stored_value.tables import SvAccountItem

EXPIRY_ACTOR = "job:stored-value-bonus-expiry"


@job("stored-value-reconcile")
def reconcile_all(as_of: datetime) -> dict[str, Any]:
    """Prove the next page of every program's stored value; report (and announce) any difference."""
    actor = "job:stored-value-reconcile"
    return reconciliation.every_program(
        actor, served(UnitOfWork(actor)), reconcile.next_pages, "accounts_checked",
        lambda result: DomainEvent("stored_value.reconciliation_failed", "program:stored_value", {
            "day": clock.program_date(as_of).isoformat(), "totals": result["totals"],
            "accounts": [m["member_id"] for m in result["mismatches"]]}))


@job("stored-value-bonus-expiry")
def expire_bonus(as_of: datetime) -> dict[str, Any]:
    """Take out the bonus that has expired, account by account (only the due ones are read)."""
    run = run_due(due_items(backend.current(), SvAccountItem, "sv-bonus", as_of),
                  lambda due, _: _expire(due[0], due[1].member_id, clock.program_date(as_of)),
                  lambda due: f"{due[0]}/{due[1].member_id}",
                  "stored-value-bonus-expiry")
    return {"items_read": run.items_read, "accounts_expired": run.counts["accounts"],
            "bonus_expired_fen": run.counts["fen"], **run.give_ups()}


def _expire(program_id: str, member_id: str, today: date) -> Counter:
    uow = UnitOfWork(EXPIRY_ACTOR, program=program_id)
    change = SvChange(uow, member_id)
    fen = change.expire_bonus(today)
    if fen == 0:                # what has expired is held by an open checkout: due again tomorrow
        return Counter()
    change.stage("bonus_expired", fen, ref=f"expiry:{today.isoformat()}",
                 event_type="stored_value.bonus_expired", data={"day": today.isoformat()})
    uow.commit()
    return Counter(accounts=1, fen=fen)
