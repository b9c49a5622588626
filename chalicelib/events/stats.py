"""Daily counters for the operations dashboard, projected from events exactly once.

``STATS#<scope> / DAY#<local date>`` with scope ``ALL`` or a merchant id. A day is a calendar day
in the program's time zone, so 'new members today' matches what a store manager means by today.
"""

from __future__ import annotations

from datetime import date

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.db.backend import SortKey
from chalicelib.db.items import MainModel
from chalicelib.db.uow import UnitOfWork
from chalicelib.events.dispatch import apply_once, subscribe
from chalicelib.shared import clock
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import DEFAULT_PROGRAM

CONSUMER = "daily-stats"
COUNTERS = {"member.registered": "members_registered", "member.identity_bound": "identities_bound"}


class DailyStatsItem(MainModel):
    scope = UnicodeAttribute()
    day = UnicodeAttribute()
    members_registered = NumberAttribute(default=0)
    identities_bound = NumberAttribute(default=0)

    @staticmethod
    def key(scope: str, day: str) -> tuple[str, str]:
        """The row of one scope (``ALL`` or a merchant) and day."""
        return f"STATS#{scope}", f"DAY#{day}"


@subscribe(CONSUMER, *COUNTERS)
def count(event: DomainEvent) -> None:
    """Add one to the day's counter, for the program and for the event's merchant, exactly once."""
    counter = getattr(DailyStatsItem, COUNTERS[event.type])
    day = clock.program_date(clock.parse_iso(event.occurred_at)).isoformat()
    uow = UnitOfWork(program=event.program_id or DEFAULT_PROGRAM)
    for scope in {"ALL", event.merchant_id or "-"}:
        row = DailyStatsItem(*DailyStatsItem.key(scope, day))
        uow.update(row, [counter.add(1), DailyStatsItem.scope.set(scope), DailyStatsItem.day.set(day)])
    apply_once(CONSUMER, event, uow)


def daily(uow: UnitOfWork, scope: str, start: date, end: date) -> list[dict]:
    """The counters of each day from ``start`` to ``end`` that has any."""
    pk, low = DailyStatsItem.key(scope, start.isoformat())
    rows = uow.query(DailyStatsItem, pk, SortKey.between(low, DailyStatsItem.key(scope, end.isoformat())[1]))
    return [{"day": r.day, "members_registered": int(r.members_registered or 0),
             "identities_bound": int(r.identities_bound or 0)} for r in rows]
