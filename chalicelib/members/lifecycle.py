"""The daily lifecycle review: new -> active -> dormant -> churned, from days without activity.

Each member item carries the day its stage can next change in the sparse ``due`` index, so the
job reads only the members that are due (one query per due shard, then one conditional write per
member it reviews), never a scan. A missed run is caught up by the next one; a second run of the
same day reads nothing, because every reviewed member's next review moves into the future.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any

from chalicelib.events.model import DomainEvent
from chalicelib.members.service import lifecycle_rules
from chalicelib.members.store import MemberItem
from chalicelib.shared import clock
from chalicelib.shared.config import settings
from chalicelib.shared.errors import ConcurrentUpdate
from chalicelib.store.models import due_items
from chalicelib.store.uow import UnitOfWork


def review(as_of: datetime) -> dict[str, Any]:
    today = clock.local_date(as_of, settings().timezone)
    read = changed = 0
    for item in due_items(MemberItem, "lifecycle", today):
        read += 1
        changed += _review_one(item.member_id, today, as_of)
    return {"members_read": read, "stages_changed": changed}


def _review_one(member_id: str, today: date, as_of: datetime) -> int:
    rules = lifecycle_rules()
    tz = settings().timezone
    for _ in range(3):
        member = MemberItem.get(*MemberItem.key(member_id), consistent_read=True).domain()
        if member.review_on is None or member.review_on > today or member.status != "active":
            return 0
        registered = clock.local_date(clock.parse_iso(member.registered_at), tz)
        last = clock.local_date(clock.parse_iso(member.last_active_at or member.registered_at), tz)
        stage, next_review = rules.stage(registered, last, today)
        updated = replace(member, stage=stage, review_on=next_review, version=member.version + 1,
                          updated_at=clock.iso(as_of))
        uow = UnitOfWork("job:member-lifecycle")
        uow.save(MemberItem.of(updated), MemberItem.version == member.version,
                 on_conflict=lambda: ConcurrentUpdate("member changed"))
        if stage != member.stage:
            uow.emit(DomainEvent("member.stage_changed", f"member:{member_id}",
                                 {"member_id": member_id, "from": member.stage, "to": stage},
                                 occurred_at=clock.iso(as_of), merchant_id=member.merchant_id))
        try:
            uow.commit()
        except ConcurrentUpdate:
            continue          # the member acted meanwhile: look again
        return int(stage != member.stage)
    return 0
