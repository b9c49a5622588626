"""Each program's calendar in its own time zone, at the storage boundary (issue #20, item 16): the
due index is read to the latest day anywhere, an item waits for its own program's day, and the
job's handler runs in that program's zone. Shanghai is UTC+8, Los Angeles UTC-8 in winter."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime

import pytest
from pynamodb.attributes import UnicodeAttribute

from chalicelib.db import backend
from chalicelib.db.due import due_items, due_keys, run_due
from chalicelib.db.items import DueIndex, MainModel
from chalicelib.db.uow import UnitOfWork
from chalicelib.programs import listing, zones  # noqa: F401 - set due.PROGRAMS and clock.ZONES, as app.py names them
from chalicelib.programs.tables import LISTING, ProgramItem
from chalicelib.shared import cache, clock

NEW_YEAR = date(2027, 1, 1)


class Chore(MainModel):
    """Some work due on a day (the shape every due item has)."""

    duepk = UnicodeAttribute(null=True)
    duesk = UnicodeAttribute(null=True)
    due = DueIndex()


@pytest.fixture
def programs(db):
    cache.clear_all()
    uow = UnitOfWork("test")
    for program, zone in (("east", "Asia/Shanghai"), ("west", "America/Los_Angeles")):
        uow.put(ProgramItem(*ProgramItem.key(program), program_id=program, name=program, timezone=zone,
                            status="active", created_at="2026-01-01", gsi1pk=LISTING, gsi1sk=program))
    for program in ("east", "west", "default"):          # default: no record, the deployment's zone
        duepk, duesk = due_keys("chore", NEW_YEAR, f"{program}-1")
        UnitOfWork("test", program=program).put(Chore(f"CHORE#{program}", "1", duepk=duepk, duesk=duesk))
    yield
    cache.clear_all()


def run(as_of: datetime) -> dict[str, str]:
    """The programs whose chore is due at ``as_of``, each with the day its handler sees."""
    seen: dict[str, str] = {}

    def handle(due, _attempt):
        seen[due[0]] = clock.program_date(as_of).isoformat()
        return Counter(done=1)
    result = run_due(due_items(backend.current(), Chore, "chore", as_of), handle, lambda due: due[0], "chore")
    assert result.items_read == len(seen)
    return seen


def test_an_item_waits_for_its_own_programs_midnight(programs):
    assert clock.zone_of("east") == "Asia/Shanghai" and clock.zone_of("west") == "America/Los_Angeles"
    assert run(datetime(2026, 12, 31, 15, 59, tzinfo=UTC)) == {}           # 23:59 in Shanghai
    # 00:30 on 1 January in Shanghai is 08:30 on 31 December in Los Angeles
    assert run(datetime(2026, 12, 31, 16, 30, tzinfo=UTC)) == {"east": "2027-01-01", "default": "2027-01-01"}
    # 00:30 in Los Angeles: its chore is due, and its handler sees its own day (Shanghai's is the 1st too)
    assert run(datetime(2027, 1, 1, 8, 30, tzinfo=UTC)) == {"east": "2027-01-01", "west": "2027-01-01",
                                                            "default": "2027-01-01"}
    # 16:30 UTC on 1 January: Shanghai is on the 2nd, Los Angeles still on the 1st
    assert run(datetime(2027, 1, 1, 16, 30, tzinfo=UTC)) == {"east": "2027-01-02", "west": "2027-01-01",
                                                             "default": "2027-01-02"}


def test_outside_a_program_the_deployments_zone_applies(programs):
    at = datetime(2026, 12, 31, 20, 0, tzinfo=UTC)
    assert clock.program_date(at) == NEW_YEAR                              # Asia/Shanghai by default
    with clock.in_program("west"):
        assert clock.program_date(at) == date(2026, 12, 31)
        assert clock.day_start(NEW_YEAR) == datetime(2027, 1, 1, 8, 0, tzinfo=UTC)
    assert clock.program_date(at) == NEW_YEAR
