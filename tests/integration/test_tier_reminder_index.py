"""A tier item's next reminder is listed on ``keys1`` (keys only), not on ``gsi1`` (which copies
the whole item): the tiers' stream consumer writes the tier item at each earn (the period's
growth), and on gsi1 every such write wrote the index too (1 WCU an earn in a program with a
ladder, `python -m bench.earn_items --ladder`). Items listed on gsi1 before are still reminded,
and move at their next write. Through the app on every backend."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.db.uow import UnitOfWork
from chalicelib.shared import clock
from chalicelib.tiers.tables import TierItem
from tests.integration.test_tiers import T0, earn, ladder  # noqa: F401  (ladder: the fixture)
from tests.outbox import outbox_events


def _item(mid: str) -> TierItem:
    return UnitOfWork("test").get(TierItem, TierItem.key(mid), consistent=True)


def _days_to_first_reminder(api, mid, last_day: int) -> list[str]:
    sent = []
    for day in range(300, last_day):
        clock.freeze(T0 + timedelta(days=day))
        sent += [clock.program_date().isoformat()] * api.run_job("tier-reminders")["reminders_sent"]
    return sent


def test_the_next_reminder_is_on_keys1_and_an_earns_growth_leaves_it_there(api, ladder):  # noqa: F811
    mid = api.member("13800502001")
    earn(api, mid, "o1", 1_200)                                  # Silver until 2027-02-28: reminded 2027-01-29
    item = _item(mid)
    assert (item.gsi1pk, item.gsi1sk) == (None, None)
    assert item.k1pk.endswith("DUE#tier-reminder#" + item.k1pk.rsplit("#", 1)[1])
    assert item.k1sk == f"2027-01-29#{mid}"
    earn(api, mid, "o2", 10)                                     # counted in the period: same reminder
    assert _item(mid).k1sk == item.k1sk and int(_item(mid).version) == int(item.version)   # not even written
    assert _days_to_first_reminder(api, mid, 340) == ["2027-01-29"]
    assert _item(mid).k1sk == f"2027-02-21#{mid}"              # the next one, 7 days before


def test_an_item_listed_on_gsi1_before_is_reminded_and_moves_to_keys1(api, ladder):  # noqa: F811
    mid = api.member("13800502002")
    earn(api, mid, "o1", 1_200)
    uow = UnitOfWork("test")                                     # as written before 2026-12-06
    item = uow.get(TierItem, TierItem.key(mid), consistent=True)
    item.gsi1pk, item.gsi1sk = item.k1pk.replace("tier-reminder", "tier-remind"), item.k1sk
    item.k1pk = item.k1sk = None
    uow.save(item)
    uow.commit()
    assert _days_to_first_reminder(api, mid, 340) == ["2027-01-29"]
    moved = _item(mid)
    assert (moved.gsi1pk, moved.k1sk) == (None, f"2027-02-21#{mid}")
    assert [e.data["days_left"] for e in outbox_events(None, kind="tier.expiring")] == [30]
