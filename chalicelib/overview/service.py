"""One read for the member's screen (and the staff's member page): the items every part needs
are fetched in one batch, then tiers, benefits and tasks each answer from what was read."""

from __future__ import annotations

from typing import Any

from chalicelib.benefits import service as benefits
from chalicelib.db.uow import UnitOfWork
from chalicelib.members import service as members
from chalicelib.shared.principal import Principal
from chalicelib.tasks import service as tasks
from chalicelib.tiers import service as tiers


def overview(uow: UnitOfWork, member_id: str, by: Principal) -> dict[str, Any]:
    """Tier and plan (validity, growth, what the next tier and keeping this one need), the tasks
    with their progress, and the benefits with the best of each kind: one DynamoDB request."""
    own, wanted = members.record_key(member_id, by)
    uow.prefetch([*wanted, *tiers.member_keys(own), *tasks.progress_keys(uow, own)])
    tier = tiers.member_tier(uow, member_id, by)
    perks = benefits.member_benefits(uow, member_id, by)
    goals = tasks.member_tasks(uow, member_id, by)
    return {"member_id": tier["member_id"], "tier": tier, "benefits": {k: perks[k] for k in
            ("benefits", "best", "next_tier", "rules_version")}, "tasks": goals["tasks"]}
