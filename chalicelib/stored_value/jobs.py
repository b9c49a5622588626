"""Scheduled stored value work.

* ``stored-value-reconcile``: every account of every program against its postings and their
  double-entry lines; any difference emits ``stored_value.reconciliation_failed``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.db.uow import UnitOfWork
from chalicelib.jobs import job
from chalicelib.programs.service import served
from chalicelib.shared import clock
from chalicelib.shared.events import DomainEvent
from chalicelib.stored_value import reconcile


@job("stored-value-reconcile")
def reconcile_all(as_of: datetime) -> dict[str, Any]:
    """Prove every program's stored value; report (and announce) any difference."""
    checked, failed = 0, []
    for program_id in served(UnitOfWork("job:stored-value-reconcile")):
        uow = UnitOfWork("job:stored-value-reconcile", program=program_id)
        result = reconcile.everything(uow)
        checked += result["accounts_checked"]
        if not result["balanced"]:
            failed.append(program_id)
            uow.emit(DomainEvent("stored_value.reconciliation_failed", "program:stored_value", {
                "day": clock.program_date(as_of).isoformat(), "totals": result["totals"],
                "accounts": [m["member_id"] for m in result["mismatches"]]}))
            uow.commit()
    return {"accounts_checked": checked, "balanced": not failed, "failed_programs": failed}
