"""Growth postings from the outbox stream move tiers: an upgrade follows the earning within the
stream's delay, not a nightly batch, and exactly once under redelivery.

A posting that moves no tier writes nothing: the period's growth is the growth account's count
less the period's base (:mod:`.standing`), so nothing is counted here. A posting that moves one
(or sets the base of an item from before, or makes the member's first tier item) writes the
item on its version with the posting's ``sequence`` (``growth_seq``), under the applied marker:
a posting at or before it, redelivered or late, changes nothing. A review that begins a period
sets it to the growth account's version it read (the period counts from what it read): a
posting the stream had not brought by then no longer moves the tier (a threshold it crossed is
crossed again by the member's next growth)."""

from __future__ import annotations

from chalicelib.db.uow import UnitOfWork
from chalicelib.events.dispatch import apply_once, subscribe
from chalicelib.points import service as points
from chalicelib.shared import clock
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import DEFAULT_PROGRAM
from chalicelib.tiers import repository, standing
from chalicelib.tiers.ladder import LADDER

CONSUMER = "tiers"
ACTOR = "stream:tiers"


@subscribe(CONSUMER, "growth.earned", "points.refunded", "points.adjusted")
def on_growth(event: DomainEvent) -> None:
    """Move the member's tier if a growth posting crosses a threshold (or a refund, one down)."""
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
    member_id, sequence = data["member_id"], int(data["sequence"])
    if "growth_total" in data:
        total = int(data["growth_total"])
    else:                                       # posted before events carried it: the count now
        total = points.growth_total(uow, member_id).total
    item = repository.of(uow).tier(member_id)
    if item is not None and item.growth_seq is not None and sequence <= int(item.growth_seq):
        return                                  # applied already, or older than one that was
    write = item is None or item.growth_base is None
    item = item or standing.new(member_id, ladder, at, 0)     # the base tier's period counts all growth
    read = int(item.version)
    moved = standing.apply_growth(uow, item, ladder, change, int(data["balance"]), total, data["kind"], at, ACTOR,
                                  version)
    if not (moved or write):
        return
    item.growth_seq = sequence
    standing.save(uow, item, read, ladder, clock.program_date())
    apply_once(CONSUMER, event, uow)
