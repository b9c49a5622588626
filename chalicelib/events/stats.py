"""Daily counters for the operations dashboard, projected from events exactly once.

``STATS#<scope> / DAY#<local date>`` with scope ``ALL`` or a merchant id. A day is a calendar day
in the program's time zone, so 'new members today' matches what a store manager means by today.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.events.dispatch import apply_once, subscribe
from chalicelib.events.model import DomainEvent
from chalicelib.shared import clock
from chalicelib.shared.config import settings
from chalicelib.store.models import MainModel
from chalicelib.store.uow import UnitOfWork

CONSUMER = "daily-stats"
COUNTERS = {"member.registered": "members_registered", "member.identity_bound": "identities_bound"}


class DailyStatsItem(MainModel):
    scope = UnicodeAttribute()
    day = UnicodeAttribute()
    members_registered = NumberAttribute(default=0)
    identities_bound = NumberAttribute(default=0)


def local_day(at: datetime) -> str:
    return at.astimezone(ZoneInfo(settings().timezone)).date().isoformat()


@subscribe(CONSUMER, *COUNTERS)
def count(event: DomainEvent) -> None:
    counter = getattr(DailyStatsItem, COUNTERS[event.type])
    day = local_day(clock.parse_iso(event.occurred_at))
    uow = UnitOfWork()
    for scope in {"ALL", event.merchant_id or "-"}:
        row = DailyStatsItem(f"STATS#{scope}", f"DAY#{day}")
        uow.update(row, [counter.add(1), DailyStatsItem.scope.set(scope), DailyStatsItem.day.set(day)])
    apply_once(CONSUMER, event, uow)


def daily(scope: str, start: date, end: date) -> list[dict]:
    rows = DailyStatsItem.query(f"STATS#{scope}",
                                DailyStatsItem.sk.between(f"DAY#{start.isoformat()}", f"DAY#{end.isoformat()}"))
    return [{"day": r.day, "members_registered": int(r.members_registered or 0),
             "identities_bound": int(r.identities_bound or 0)} for r in rows]
