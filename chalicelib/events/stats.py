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
from chalicelib.events.folding import FOLD_SHARDS, Deltas, folds, read_shards
from chalicelib.shared import clock
from chalicelib.shared.events import DomainEvent

CONSUMER = "daily-stats"
COUNTERS = {"member.registered": "members_registered", "member.identity_bound": "identities_bound"}


class DailyStatsItem(MainModel):
    shards = FOLD_SHARDS          # hot: every registration of the program adds to its ALL row
    scope = UnicodeAttribute()
    day = UnicodeAttribute()
    members_registered = NumberAttribute(default=0)
    identities_bound = NumberAttribute(default=0)

    @staticmethod
    def key(scope: str, day: str) -> tuple[str, str]:
        """The row of one scope (``ALL`` or a merchant) and day."""
        return f"STATS#{scope}", f"DAY#{day}"


@folds(CONSUMER, *COUNTERS)
def count(event: DomainEvent) -> Deltas:
    """One more on the day's counter, for the program and for the event's merchant."""
    counter = COUNTERS[event.type]
    day = clock.program_date(clock.parse_iso(event.occurred_at)).isoformat()
    deltas = Deltas()
    for scope in {"ALL", event.merchant_id or "-"}:
        deltas.add(DailyStatsItem, DailyStatsItem.key(scope, day), {counter: 1}, scope=scope, day=day)
    return deltas


def daily(uow: UnitOfWork, scope: str, start: date, end: date) -> list[dict]:
    """The counters of each day from ``start`` to ``end`` that has any."""
    pk, low = DailyStatsItem.key(scope, start.isoformat())
    rows = read_shards(uow, DailyStatsItem, pk, SortKey.between(low, DailyStatsItem.key(scope, end.isoformat())[1]))
    return [{"day": r.day, "members_registered": int(r.members_registered or 0),
             "identities_bound": int(r.identities_bound or 0)} for r in rows]
