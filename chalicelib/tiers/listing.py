"""The members of each tier, listed without a scan: ``TIERMEMBERS#<tier>#<shard> / <member>``
(16 shards by crc32 of the member id: a flash of upgrades spreads its writes), a projection of
the tier items kept by a stream consumer of its own (``tier-listing``), exactly once under
redelivery (the applied marker commits with the move).

On each tier event (upgraded, retained, downgraded, set manually) the consumer reads the member's
tier item as it is now and lists the member under the tier it holds (growth or a manual floor, as
``getMemberTier`` answers), moving the listing item out of the old tier's partition and into the
new one in one transaction with ``MEMBER#<id> / TIERLISTED``, which records the tier item version
the listing reflects. The move happens only for a newer version than the one recorded (and on the
recorded one still being there), so a late or redelivered event, which finds the listing at the
current version already, changes nothing, and never moves a member back to an older tier.

Members whose tier items were written before this consumer existed are listed by
:func:`chalicelib.tiers.migration.migrate_tier_listing` (once, resumable), which calls
:func:`place` for each.

A member whose manual floor has ended is listed under the floor's tier until the ``tier-review``
job records the end (hourly, on the program's day after it): that change is an event too.
Members who never had a tier item (no growth yet) hold the base tier and are not listed.
"""

from __future__ import annotations

from pynamodb.expressions.condition import Condition

from chalicelib.coupons import service as coupons
from chalicelib.db.backend import SortKey
from chalicelib.db.uow import UnitOfWork
from chalicelib.events.dispatch import apply_once, subscribe
from chalicelib.shared import clock
from chalicelib.shared.errors import ConcurrentUpdate, ValidationProblem, changed
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import DEFAULT_PROGRAM
from chalicelib.tiers import repository, standing
from chalicelib.tiers.ladder import LADDER
from chalicelib.tiers.tables import LISTING_SHARDS, TierListedItem, TierMemberItem

CONSUMER = "tier-listing"
ACTOR = "stream:tier-listing"
TIER_EVENTS = ("tier.upgraded", "tier.retained", "tier.downgraded", "tier.set_manually")
_moved = changed("the member's tier listing")


@subscribe(CONSUMER, *TIER_EVENTS)
def on_tier_change(event: DomainEvent) -> None:
    """List the event's member under the tier they hold now (if the listing is behind)."""
    uow = UnitOfWork(ACTOR, event.correlation_id, program=event.program_id or DEFAULT_PROGRAM)
    follow(uow, event.data["member_id"])
    apply_once(CONSUMER, event, uow)


def follow(uow: UnitOfWork, member_id: str) -> bool:
    """Stage the move of the member's listing item to the tier the tier item holds now, if the
    item is newer than what the listing reflects and the tier differs; False: nothing to move."""
    item = repository.of(uow).tier(member_id)
    if item is None:
        return False
    listed = uow.get(TierListedItem, TierListedItem.key(member_id), consistent=True)
    if listed is not None and int(listed.tier_version) >= int(item.version):
        return False                                 # a late or redelivered event: the listing is current
    _, ladder = LADDER.at(uow, clock.now())
    held, source = standing.effective(ladder, item, clock.program_date())
    tier = ladder.tiers[held].code
    if listed is not None and listed.tier == tier:
        return False                                 # same tier (a retention, growth counted): not moved
    since = item.since if source == "growth" and item.tier == tier else (item.updated_at or item.since)
    on: Condition = TierListedItem.pk.does_not_exist()
    if listed is not None:
        uow.delete(TierMemberItem(*TierMemberItem.key(listed.tier, member_id)))
        on = TierListedItem.tier_version == int(listed.tier_version)
    uow.save(TierMemberItem(*TierMemberItem.key(tier, member_id), member_id=member_id, since=since))
    uow.save(TierListedItem(*TierListedItem.key(member_id), member_id=member_id, tier=tier, since=since,
                            tier_version=int(item.version)), on, _moved)
    return True


def place(program: str, member_id: str, actor: str = "migration:tier-listing", tries: int = 5) -> bool:
    """List one member as :func:`follow` does, committed now (the migration; a lost race with the
    stream consumer is tried again from fresh reads). Whether the listing moved."""
    with clock.in_program(program):
        for attempt in range(tries):
            uow = UnitOfWork(actor, program=program)
            moved = follow(uow, member_id)
            try:
                uow.commit()
            except ConcurrentUpdate:
                if attempt == tries - 1:
                    raise
                continue
            return moved
    return False


class Members:
    """A tier's members for a targeted coupon issue (:class:`chalicelib.coupons.audience.TierMembers`)."""

    shards = LISTING_SHARDS

    def check(self, uow: UnitOfWork, tier: str) -> None:
        """A tier of the ladder in force, above the base tier (whose members mostly have no tier
        item, so are not listed: issue to a list of them instead)."""
        version, ladder = LADDER.at(uow, clock.now())
        if not ladder.has(tier):
            raise ValidationProblem(f"no tier '{tier}' on the ladder in force (version {version})")
        if ladder.index(tier) == 0:
            raise ValidationProblem(f"'{tier}' is the base tier, held by every member without another: "
                                    "issue to a list of members instead")

    def page(self, uow: UnitOfWork, tier: str, shard: int, after: str | None, limit: int) -> list[tuple[str, str]]:
        """Up to ``limit`` members of the tier's shard after member ``after``, in member id order."""
        sort = SortKey.above(after) if after else None
        found = uow.query(TierMemberItem, TierMemberItem.partition(tier, shard), sort, limit=limit, consistent=True)
        return [(m.member_id, m.since) for m in found]


coupons.on_tier_members(Members())
