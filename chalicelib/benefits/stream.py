"""Reaching a tier grants its ``on_upgrade`` coupon packs, from the ``tier.upgraded`` event,
exactly once under redelivery (the applied marker is written with the entitlements)."""

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
    for g in B.benefits(rules, f):
        if g["kind"] == "coupon_pack" and g["grant"] == "on_upgrade":
            service.grant(uow, member.member_id, g["rule"], g["ref"], f"upgrade:{data['to']}:{data['at'][:10]}",
                          ACTOR, g["because"])
    if uow.pending:
        apply_once(CONSUMER, event, uow)
