"""Reaching a tier grants its ``on_upgrade`` coupon packs, from the ``tier.upgraded`` event,
exactly once under redelivery (the applied marker is written with the entitlements and their
coupons, whose ids are derived from the entitlements). When a pack's coupons are refused (a
template out of stock, paused, the member at a limit), the entitlements are recorded all the same
with their packs owed (``granted``; the coupons' ``coupon-owed`` job issues them later): the
stream never stalls on a pack it cannot issue."""

from __future__ import annotations

from chalicelib.benefits import rules as B
from chalicelib.benefits import service
from chalicelib.db.uow import UnitOfWork
from chalicelib.events.dispatch import apply_once, subscribe
from chalicelib.members import service as members
from chalicelib.shared import clock
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import DEFAULT_PROGRAM

CONSUMER = "benefits-on-upgrade"
ACTOR = "stream:benefits"


@subscribe(CONSUMER, "tier.upgraded")
def on_upgrade(event: DomainEvent) -> None:
    """Grant the packs the new tier's rules give on reaching it."""
    data = event.data
    uow = UnitOfWork(ACTOR, event.correlation_id, program=event.program_id or DEFAULT_PROGRAM)
    at = clock.parse_iso(event.occurred_at)
    member = members.acting_on(uow, data["member_id"])
    f, _ = service.facts(uow, member, at)
    if f.codes[f.tier] != data["to"] and data["to"] in f.codes:
        f = f.at_tier(f.codes.index(data["to"]))        # a manual floor may show a higher tier
    _, rules = B.RULES.at(uow, at)
    packs = [g for g in B.benefits(rules, f) if g["kind"] == "coupon_pack" and g["grant"] == "on_upgrade"]
    if not packs:
        return
    period = f"upgrade:{data['to']}:{data['at'][:10]}"
    service.owing_if_refused(lambda owe_because: _grant(event, member.member_id, packs, period, owe_because))


def _grant(event: DomainEvent, member_id: str, packs: list[dict], period: str, owe_because: str | None) -> bool:
    """The packs' entitlements and coupons (or, ``owe_because``, the packs owed) with the marker, in one unit."""
    uow = UnitOfWork(ACTOR, event.correlation_id, program=event.program_id or DEFAULT_PROGRAM)
    for g in packs:
        try:
            service.grant(uow, member_id, g["rule"], g["ref"], period, ACTOR, g["because"], owe_because)
        except service.AlreadyGranted:        # this event's, redelivered; or another upgrade to the tier that day
            continue
    return apply_once(CONSUMER, event, uow) if uow.pending else False
