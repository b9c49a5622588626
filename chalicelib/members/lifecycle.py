"""The daily lifecycle review: new -> active -> dormant -> churned, from days without activity.

Each member item carries the day its stage can next change in the sparse ``due`` index, so the
job reads only the members that are due (one query per due shard, then one conditional write per
member it reviews), never a scan. A missed run is caught up by the next one; a second run of the
same day reads nothing, because every reviewed member's next review moves into the future.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from chalicelib.db.due import run_due
from chalicelib.db.uow import UnitOfWork
from chalicelib.jobs import job
from chalicelib.members import repository
from chalicelib.members.service import lifecycle_rules
from chalicelib.members.tables import MemberItem
from chalicelib.shared import clock
from chalicelib.shared.errors import changed
from chalicelib.shared.events import DomainEvent

ACTOR = "job:member-lifecycle"


@job("member-lifecycle")
def review(as_of: datetime) -> dict[str, Any]:
    """Move every due member to the stage their last activity puts them in."""
    reader = UnitOfWork(ACTOR)
    run = run_due(repository.of(reader).due_for_review(as_of),
                  lambda due, _: _review_one(due[0], due[1].member_id, clock.program_date(as_of), as_of),
                  lambda due: f"{due[0]}/{due[1].member_id}", "member-lifecycle", attempts=3)
    return {"members_read": run.items_read, "stages_changed": run.counts["changed"], **run.give_ups()}


def _review_one(program: str, member_id: str, today: date, as_of: datetime) -> Counter:
    uow = UnitOfWork(ACTOR, program=program)
    member = repository.of(uow).load(member_id, consistent=True)
    if member is None or member.review_on is None or member.review_on > today or member.status != "active":
        return Counter()
    tz_date = clock.program_date
    registered = tz_date(clock.parse_iso(member.registered_at))
    last = tz_date(clock.parse_iso(member.last_active_at or member.registered_at))
    stage, next_review = lifecycle_rules().stage(registered, last, today)
    updated = replace(member, stage=stage, review_on=next_review, version=member.version + 1,
                      updated_at=clock.iso(as_of))
    uow.save_versioned(MemberItem.of(updated), member.version, changed("the member"), stored=True)
    if stage != member.stage:
        uow.emit(DomainEvent("member.stage_changed", f"member:{member_id}",
                             {"member_id": member_id, "from": member.stage, "to": stage},
                             occurred_at=clock.iso(as_of), merchant_id=member.merchant_id))
    uow.commit()          # a concurrent change (the member acted) raises, and run_due looks again
    return Counter(changed=int(stage != member.stage))
