"""Refused attempts on the operations that read or hand out a program's figures and files (the
reports: dashboard, balance sheet, exports, settlement) are audited, as issue #29 asks: another
merchant's report, a period not allowed, a download not one's own. An operation opts in with
``endpoint(..., audit_refusals=True)``; the entry (``access.refused``) names the caller, the
operation, the status and the problem, in a unit of work of its own (nothing else is written). An
operation that audits its refusals in its own words (exports: ``export.refused``) marks the
problem ``audited``, and the request's body or query refused before it ran is caught here."""

from __future__ import annotations

from chalicelib.db import audit
from chalicelib.db.uow import UnitOfWork
from chalicelib.shared.errors import Problem
from chalicelib.shared.observability import logger
from chalicelib.shared.principal import Principal

AUDITED = frozenset({403, 404, 409, 422})        # a refusal of what was asked, not a throttle or a login


def record(operation_id: str, path: str, who: Principal, problem: Problem) -> None:
    """Audit one refused attempt (never fails the answer: a failure is logged)."""
    if problem.status not in AUDITED or not who.program_id or problem.audited:
        return                             # (audited already: by the operation, in its own words)
    try:
        audit.refused(UnitOfWork("access:refused", program=who.program_id), "access.refused", who.ref, problem,
                      merchant_id=who.merchant_id, unit_actor="access:refused",
                      detail=f"{operation_id} {path[:160]}: {problem.status} {problem.slug}: {problem.detail[:300]}")
    except Exception:  # noqa: BLE001 - the refusal is answered whatever the audit store does
        logger.exception("refusal not audited", extra={"operation": operation_id})
