"""A points lot's next expiry reminder is listed on ``keys1`` (keys only), not on ``gsi1`` (which
copies the whole lot): every spend that took part of a lot rewrote its gsi1 copy (1 WCU a lot a
spend). Now a spend from a lot writes no index; the lot's creation lists it once (as before). Lots
listed on gsi1 before are still reminded, and their reminder moves them to keys1. On moto, with
the emulator's trace of index writes; figures by hand."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.db.uow import UnitOfWork
from chalicelib.points.tables import LotItem
from chalicelib.shared import clock
from devstack import emulator
from tests.integration.conftest import AppClient
from tests.integration.test_points_features import earn, rules
from tests.outbox import outbox_events

DEC_1 = datetime(2026, 12, 1, 4, tzinfo=UTC)         # the year's lots end on 31 December: reminded 1 Dec (30 days)


def _lots(mid: str) -> list[LotItem]:
    uow = UnitOfWork("test")
    return list(uow.query(LotItem, f"MEMBER#{mid}", None, consistent=True))


def _lot_index_writes(call) -> list[dict]:
    emulator.trace(True)
    call()
    return [e["index_wcu"] for e in emulator.trace(False) if "#LOT#" in e["key"].get("sk", "")]


def test_a_spend_from_a_lot_writes_no_index_and_the_reminder_is_on_keys1(aws):
    api = AppClient()
    clock.freeze(datetime(2026, 11, 1, 4, tzinfo=UTC))
    mid = api.member("13800503001")
    rules(api, reminder_days=[30, 3])
    created = _lot_index_writes(lambda: earn(api, mid, "o1", 10_000))       # 100 points, last day 31 Dec
    assert {"keys1": 1, "due2": 1} in created and not any("gsi1" in w for w in created)
    lot = next(x for x in _lots(mid) if x.point_type == "points" and "#LOT#" in x.sk)
    assert (lot.gsi1pk, lot.k1sk.split("#", 1)[0]) == (None, "2026-12-01")
    spent = _lot_index_writes(lambda: api.ok("POST", f"/v1/members/{mid}/points/redeem",
                                             {"points": 40, "reward": "mug"}))
    assert spent == [{}]                                                    # 60 left: no index written
    clock.freeze(DEC_1)
    assert api.run_job("points-reminders")["reminders_sent"] == 1
    lot = next(x for x in _lots(mid) if x.point_type == "points" and "#LOT#" in x.sk)
    assert lot.k1sk.split("#", 1)[0] == "2026-12-28"                        # the next one, 3 days before
    assert [(e.data["points"], e.data["days_left"]) for e in outbox_events(None, kind="points.expiring")] == [(60, 30)]
    clock.freeze(None)


def test_a_lot_listed_on_gsi1_before_is_reminded_and_moves_to_keys1(aws):
    api = AppClient()
    clock.freeze(datetime(2026, 11, 1, 4, tzinfo=UTC))
    mid = api.member("13800503002")
    rules(api, reminder_days=[30, 3])
    earn(api, mid, "o1", 10_000)
    uow = UnitOfWork("test")                                                 # as written before 2026-12-06
    lot = next(x for x in _lots(mid) if x.point_type == "points" and "#LOT#" in x.sk)
    lot.gsi1pk, lot.gsi1sk = lot.k1pk.replace("points-reminder", "points-remind"), lot.k1sk
    lot.k1pk = lot.k1sk = None
    uow.save(lot)
    uow.commit()
    clock.freeze(DEC_1)
    assert api.run_job("points-reminders")["reminders_sent"] == 1
    assert api.run_job("points-reminders")["reminders_sent"] == 0           # moved on: not sent twice
    moved = next(x for x in _lots(mid) if x.point_type == "points" and "#LOT#" in x.sk)
    assert (moved.gsi1pk, moved.gsi1sk, moved.k1sk.split("#", 1)[0]) == (None, None, "2026-12-28")
    clock.freeze(None)
