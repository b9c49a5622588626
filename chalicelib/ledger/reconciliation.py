"""The daily reconciliation job every money ledger runs: its proof in every program, a failure
announced in the program where it was found (so that program's webhooks and console see it),
and one summary for the job run."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from chalicelib.db.uow import UnitOfWork
from chalicelib.shared import clock
from chalicelib.shared.events import DomainEvent


def every_program(actor: str, programs: Iterable[str], prove: Callable[[UnitOfWork], dict[str, Any]],
                  counted: str, failure: Callable[[dict[str, Any]], DomainEvent]) -> dict[str, Any]:
    """Run ``prove`` (a ledger's ``reconcile.everything``) in each of ``programs``; where it does
    not balance, commit the event ``failure(result)`` in that program. ``counted`` names the
    result's count of what was checked."""
    checked, failed, disagree = 0, [], []
    for program_id in programs:
        uow = UnitOfWork(actor, program=program_id)
        with clock.in_program(program_id):          # "today" is the program's
            result = prove(uow)
        checked += result[counted]
        if not result["figures_agree"]:
            disagree.append(program_id)
        if not result["balanced"]:
            failed.append(program_id)
            with clock.in_program(program_id):
                uow.emit(failure(result))
            uow.commit()
    return {counted: checked, "balanced": not failed, "failed_programs": failed, "figures_disagree": disagree}
