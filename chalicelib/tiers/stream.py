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

from datetime import datetime

from chalicelib.db.uow import UnitOfWork
from chalicelib.events.dispatch import apply_once, subscribe
from chalicelib.points import service as points
from chalicelib.shared import clock
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import DEFAULT_PROGRAM
from chalicelib.tiers import jobs, repository, standing
from chalicelib.tiers.ladder import LADDER
from chalicelib.tiers.tables import TierItem

CONSUMER = "tiers"
ACTOR = "stream:tiers"
REVIEWS = 40             # periods reviewed before a posting of a day long after its tier's period ended


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
    balance = int(data["balance"])
    if item is not None and _review_due(item, at):
        # The period ended before this posting and its review has not run: run it now (a tier move
        # would begin a new period and skip the review and its reset). A review that begins a
        # period counts this posting (below: it moves nothing more, as any posting a review read
        # before the stream brought it); one that begins a grace leaves it to move the tier by
        # the growth as the review (and its reset) left it.
        for _ in range(REVIEWS):                         # a period a review, as the job's runs
            before = int(item.version)
            jobs.review_member(uow.program, item, clock.program_date(at), at)
            uow = UnitOfWork(ACTOR, event.correlation_id, program=event.program_id or DEFAULT_PROGRAM)
            item = repository.of(uow).tier(member_id)
            if item is None or int(item.version) == before or not _review_due(item, at):
                break
        now = points.growth_total(uow, member_id)       # judged by what it read: postings up to it are
        total, balance, sequence = now.total, points.balance(uow, member_id, "growth"), now.sequence   # judged
    if item is not None and item.growth_seq is not None and int(data["sequence"]) <= int(item.growth_seq):
        return                                  # applied already, or older than one that was
    write = item is None or item.growth_base is None
    item = item or standing.new(member_id, ladder, at, 0)     # the base tier's period counts all growth
    read = int(item.version)
    moved = standing.apply_growth(uow, item, ladder, change, balance, total, data["kind"], at, ACTOR, version)
    if not (moved or write):
        return
    item.growth_seq = sequence
    standing.save(uow, item, read, ladder, clock.program_date())
    apply_once(CONSUMER, event, uow)


def _review_due(item: TierItem, at: datetime) -> bool:
    """Whether ``item``'s period (or its grace) ended before the day of ``at`` and no review has
    begun the next one."""
    end = item.grace_until or item.valid_until
    return bool(item.valid_until and end and end < clock.program_date(at).isoformat())
