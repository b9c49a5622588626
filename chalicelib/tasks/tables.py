"""Task progress: ``MEMBER#<id> / TASK#<task>#<period>``, one per task and period, with its
count, the target, and when it was completed (its reward is granted in the same transaction);
and, per order a task counted, ``MEMBER#<id> / TASKORDER#<order>``: the tasks and periods it
counted in, so that its refund takes back only what it counted, from the period it counted in;
kept ``COUNTED_KEPT_DAYS`` (TTL): a refund later than that takes nothing back from the tasks."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.db.items import MainModel

COUNTED_KEPT_DAYS = 400      # longer than any shop's refund window; then the record goes (TTL)


class ProgressItem(MainModel):
    member_id = UnicodeAttribute()
    task = UnicodeAttribute()
    period = UnicodeAttribute()
    progress = NumberAttribute(default=0)
    target = NumberAttribute()
    completed_at = UnicodeAttribute(null=True)
    version = NumberAttribute(default=0)

    @staticmethod
    def key(member_id: str, task: str, period: str) -> tuple[str, str]:
        return f"MEMBER#{member_id}", f"TASK#{task}#{period}"


class CountedItem(MainModel):
    member_id = UnicodeAttribute()
    order_id = UnicodeAttribute()
    counted = UnicodeAttribute()          # JSON {task id: period} of the tasks the order counted for

    @staticmethod
    def key(member_id: str, order_id: str) -> tuple[str, str]:
        return f"MEMBER#{member_id}", f"TASKORDER#{order_id}"
