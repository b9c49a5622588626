"""Growth postings from the outbox stream move tiers: an upgrade follows the earning within the
stream's delay, not a nightly batch, and exactly once under redelivery (the applied marker is
written with the change)."""

from __future__ import annotations

from chalicelib.db.uow import UnitOfWork
from chalicelib.events.dispatch import apply_once, subscribe
from chalicelib.shared import clock
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import DEFAULT_PROGRAM
from chalicelib.tiers import repository, standing
from chalicelib.tiers.ladder import LADDER

CONSUMER = "tiers"
ACTOR = "stream:tiers"


@subscribe(CONSUMER, "growth.earned", "points.refunded", "points.adjusted")
def on_growth(event: DomainEvent) -> None:
    """Count a growth posting in the member's period and move the tier if it crosses a threshold."""
    data = event.data
    if data.get("point_type") != "growth":
        return
    delta = data.get("delta") or {}
    change = int(delta.get("available", 0)) - int(delta.get("debt", 0))
    if change == 0:
        return
    at = clock.parse_iso(event.occurred_at)
    uow = UnitOfWork(ACTOR, event.correlation_id, program=event.program_id or DEFAULT_PROGRAM)
    version, ladder = LADDER.at(uow, at)
    if len(ladder.tiers) == 1:
        return                                  # no ladder configured: nothing to count or move
    member_id = data["member_id"]
    item = repository.of(uow).tier(member_id) or standing.new(member_id, ladder, at)
    read = int(item.version)
    standing.apply_growth(uow, item, ladder, change, int(data["balance"]), data["kind"], at, ACTOR, version)
    standing.save(uow, item, read, ladder, clock.program_date())
    apply_once(CONSUMER, event, uow)
