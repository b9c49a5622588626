"""Task progress from the outbox stream, exactly once under redelivery (the applied marker is
written with the progress and the rewards)."""

from __future__ import annotations

from chalicelib.db.uow import UnitOfWork
from chalicelib.events.dispatch import apply_once, subscribe
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import DEFAULT_PROGRAM
from chalicelib.tasks import service

CONSUMER = "tasks"


@subscribe(CONSUMER, "order.earned", "order.refunded", "member.behavior", "member.registered", "member.updated")
def on_event(event: DomainEvent) -> None:
    """Count the event for the member's tasks."""
    uow = UnitOfWork("stream:tasks", event.correlation_id, program=event.program_id or DEFAULT_PROGRAM)
    service.count(uow, event)
    if uow.pending:
        apply_once(CONSUMER, event, uow)
