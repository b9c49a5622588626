"""#24 item 6: the due partitions are each program's, with as many shards as a kind's peak needs.

A flash of earns in one program writes a points-lot due entry per earn (10,000 a second at the
load model's peak, a partition takes 1,000): its entries land on that program's 16 lot shards,
never on another program's. One job run still serves every program (the programs listing, then
each program's shards), and its continuations, one per lane and batch of programs, hand out each
item once. Entries written while the partitions were shared are moved by a migration. The due index
projects the keys only: the reader reads the items whole, as they are now.
"""

from __future__ import annotations

import zlib
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from pynamodb.attributes import UnicodeAttribute

from chalicelib import jobs
from chalicelib.db import backend, due
from chalicelib.db.items import DueIndex, MainModel
from chalicelib.db.migration import DUE, marker, migrate_due_keys
from chalicelib.db.tables import MAIN
from chalicelib.db.uow import UnitOfWork
from chalicelib.programs import listing  # noqa: F401 - sets due.PROGRAMS, as app.py names it
from chalicelib.programs.tables import LISTING, ProgramItem
from chalicelib.shared import cache, clock
from chalicelib.shared.config import settings
from tests.integration.test_points_features import T0, earn, rules

DAY = date(2027, 1, 1)
AS_OF = datetime(2027, 1, 2, 4, 0, tzinfo=UTC)
PROGRAMS = ("default", "east", "west")
EACH = 6


class Errand(MainModel):
    """Some work due on a day (the shape every due item has)."""

    duepk = UnicodeAttribute(null=True)
    duesk = UnicodeAttribute(null=True)
    due = DueIndex()
    note = UnicodeAttribute(null=True)


@pytest.fixture
def errands(db):
    cache.clear_all()
    for program in ("east", "west"):
        UnitOfWork("test").put(ProgramItem(*ProgramItem.key(program), program_id=program, name=program,
                                           timezone="Asia/Shanghai", status="active", created_at="2026-01-01",
                                           gsi1pk=LISTING, gsi1sk=program))
    for program in PROGRAMS:
        uow = UnitOfWork("test", program=program)
        for n in range(EACH):
            duepk, duesk = due.due_keys("errand", DAY, f"{program}-{n}")
            uow.put(Errand(f"ERRAND#{n}", "1", duepk=duepk, duesk=duesk, note=f"{program} {n}"))
    yield
    cache.clear_all()


def test_a_kinds_shard_count_follows_its_peak_and_every_shard_is_used():
    assert due.shards_of("points-lot") * 1_000 >= 10_000 > due.shards_of("gc-hold") * 1_000
    shards = {due.due_keys("points-lot", DAY, f"m{n}")[0] for n in range(1_000)}
    assert shards == {f"DUE#points-lot#{s}" for s in range(16)}


def test_each_programs_due_entries_are_in_its_own_partitions(errands):
    stored: dict[str, set[str]] = {p: set() for p in PROGRAMS}
    for item in backend.current().scan(Errand):              # as stored: program keys
        program, _, key = item.pk.partition("/")
        if key.startswith("ERRAND#"):
            stored[program].add(item.duepk)
    for program in PROGRAMS:
        assert all(pk.startswith(f"{program}/DUE#errand#") for pk in stored[program]), stored
    assert not stored["east"] & stored["west"] and not stored["east"] & stored["default"]
    # one program's shard holds only that program's entries
    for program in PROGRAMS:
        found = [item for shard in range(due.shards_of("errand"))
                 for item in backend.current().query(Errand, due.partition(program, "errand", shard), index=due.INDEX)]
        assert sorted(item.pk for item in found) == sorted(f"{program}/ERRAND#{n}" for n in range(EACH))


class Ticking:
    """The due reader's clock: a second each time it is read."""

    def __init__(self) -> None:
        self.t = 0.0

    def monotonic(self) -> float:
        self.t += 1
        return self.t


def test_one_run_and_its_continuations_hand_out_every_programs_items_once(errands, monkeypatch):
    handled: Counter[tuple[str, str]] = Counter()

    def errand_job(as_of: datetime) -> dict[str, object]:
        run = due.run_due(due.due_items(backend.current(), Errand, "errand", as_of),
                          lambda item, _: handled.update([(item[0], item[1].pk)]) or Counter(done=1),
                          lambda item: item[1].pk, "errands")
        return {"items_read": run.items_read}
    monkeypatch.setitem(jobs.JOBS, "errands", errand_job)
    monkeypatch.setattr(due, "time", Ticking())
    monkeypatch.setattr(due, "PROGRAMS_PER_PART", 2)
    monkeypatch.setenv("JOB_BUDGET_SECONDS", "4.5")
    jobs.WAITING.clear()
    first = jobs.run("errands", AS_OF)
    assert (first["continues"], first["result"]["items_read"]) == (True, 4)
    # bounded: one part per lane and batch of two programs, each carrying its own shards' cursor only
    assert [(w["shards"], w["programs"]) for w in jobs.WAITING] == [
        ([lane], batch) for lane in range(due.LANES) for batch in (["default", "east"], ["west"])]
    for w in jobs.WAITING:
        places = [place.rpartition("#") for place in w["cursor"].get("errand", {})]
        assert all(program in w["programs"] and int(shard) % due.LANES == w["shards"][0]
                   for program, _, shard in places)
    jobs.run_waiting()
    assert handled == Counter({(program, f"ERRAND#{n}"): 1 for program in PROGRAMS for n in range(EACH)})
    jobs.WAITING.clear()


def _old_shared_keys(client, table: str) -> int:
    """Put every due entry back where it was before #24 item 6: ``DUE#<kind>#<crc % 8>``, no program."""
    moved = 0
    for item in client.scan(TableName=table)["Items"]:
        for name, sort in (("duepk", "duesk"), ("gsi1pk", "gsi1sk")):
            value = item.get(name, {}).get("S", "")
            if "/DUE#" not in value:
                continue
            kind, item_id = value.split("/", 1)[1].split("#")[1], item[sort]["S"].split("#", 1)[1]
            old = f"DUE#{kind}#{zlib.crc32(item_id.encode()) % 8}"
            client.update_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]},
                               UpdateExpression="SET #k = :v", ExpressionAttributeNames={"#k": name},
                               ExpressionAttributeValues={":v": {"S": old}})
            moved += 1
    return moved


def test_a_due_entry_from_before_is_migrated_and_then_processed(aws):
    from tests.integration.conftest import AppClient
    api = AppClient()
    try:
        clock.freeze(T0)
        rules(api, expiry={"policy": "days", "days": 10}, reminder_days=[3])
        mid = api.member("13800246001")
        earn(api, mid, "o1", 10_000)                             # 100 points, expiring 10 March
        main = MAIN.physical_name(settings())
        old = _old_shared_keys(aws, main)
        assert old >= 2          # the lot and the member's review (the lot's reminder is on keys1 since 2026-12-06:
        #                          written by program from the start, never in the old shared keys)
        clock.freeze(T0 + timedelta(days=12))
        assert api.run_job("points-expiry")["points_expired"] == 0         # not where the jobs look now
        assert migrate_due_keys(aws, main) == {"moved": old, "changed": 0}
        assert api.run_job("points-expiry")["points_expired"] == 100
        assert migrate_due_keys(aws, main) == {"moved": 0, "changed": 0}   # the marker: nothing scanned
        aws.delete_item(TableName=main, Key=marker(DUE))
        assert migrate_due_keys(aws, main) == {"moved": 0, "changed": 0}   # idempotent: nothing left to move
    finally:
        clock.freeze(None)


def test_the_due_index_holds_keys_only_and_the_reader_reads_items_whole(errands):
    """As on DynamoDB, on the fake too: an index entry has no attribute but the keys, so a job that
    read one off the index would see an empty item; the reader hands out the item as stored."""
    [entry, *_] = [e for shard in range(due.shards_of("errand"))
                   for e in backend.current().query(Errand, due.partition("east", "errand", shard), index=due.INDEX)]
    assert entry.note is None and entry.duesk.startswith("2027-01-01#east-")
    found = sorted((program, item.note) for program, item in due.due_items(backend.current(), Errand, "errand", AS_OF))
    assert found == sorted((p, f"{p} {n}") for p in PROGRAMS for n in range(EACH))


def test_an_entry_whose_item_has_moved_on_is_passed_over(errands):
    """The index is eventually consistent: an entry may name a day its item has left since. The
    item read whole says so, and waits where it is now."""
    uow = UnitOfWork("test", program="west")
    later = due.due_keys("errand", DAY + timedelta(days=30), "west-0")
    uow.put(Errand("ERRAND#0", "1", duepk=later[0], duesk=later[1], note="west 0"))
    stale = Errand("west/ERRAND#0", "1", duesk=f"{DAY.isoformat()}#west-0")   # the index's old copy
    assert list(due._whole(backend.current(), Errand, iter([stale]), "duesk", whole=False)) == [(stale.duesk, None)]
    notes = [item.note for program, item in due.due_items(backend.current(), Errand, "errand", AS_OF)
             if program == "west"]
    assert sorted(notes) == [f"west {n}" for n in range(1, EACH)]


def test_the_template_can_keep_the_index_it_replaces_while_a_stage_moves():
    names = [i["IndexName"] for i in MAIN.cloudformation()["Properties"]["GlobalSecondaryIndexes"]]
    moving = [i for i in MAIN.cloudformation(keep_retiring=True)["Properties"]["GlobalSecondaryIndexes"]]
    assert names == ["gsi1", "due2", "keys1"]
    assert [(i["IndexName"], i["Projection"]["ProjectionType"]) for i in moving] == [
        ("due", "ALL"), ("gsi1", "ALL"), ("due2", "KEYS_ONLY"), ("keys1", "KEYS_ONLY")]


def test_saved_local_data_from_before_comes_back_and_its_due_work_is_done(aws, tmp_path):
    """The local stack's restore (devstack/snapshot.py) of data saved before #24 item 6: the
    items come back into tables built from today's specs (indexed by ``due2``), and the start's
    migrations move their due entries where the jobs read them."""
    from chalicelib.db.migration import migrate_all
    from devstack import snapshot
    from tests.integration.conftest import AppClient
    api = AppClient()
    try:
        clock.freeze(T0)
        rules(api, expiry={"policy": "days", "days": 10})
        mid = api.member("13800246002")
        earn(api, mid, "o1", 10_000)
        main = MAIN.physical_name(settings())
        assert _old_shared_keys(aws, main) >= 2
        saved = snapshot.save(tmp_path, settings().region, [main])
        for page in aws.get_paginator("scan").paginate(TableName=main):      # an empty stack
            for item in page["Items"]:
                aws.delete_item(TableName=main, Key={"pk": item["pk"], "sk": item["sk"]})
        assert snapshot.load(tmp_path, settings().region, [main]) == saved
        clock.freeze(T0 + timedelta(days=12))
        assert migrate_all(aws, [main], main)["due_keys"]["moved"] >= 2
        assert api.run_job("points-expiry")["points_expired"] == 100
    finally:
        clock.freeze(None)


def test_the_local_snapshot_keeps_binary_values_wherever_they_are(aws, tmp_path):
    """A binary value in a set or a map (a checkout's) once stopped the local stack's snapshots:
    everything written after it was lost at the next start."""
    from devstack import snapshot
    main = MAIN.physical_name(settings())
    item = {"pk": {"S": "SNAP#1"}, "sk": {"S": "X"}, "blob": {"B": b"\x00\xffz"},
            "set": {"BS": [b"\x01", b"\x02"]}, "map": {"M": {"inner": {"B": b"\x03"}}},
            "list": {"L": [{"B": b"\x04"}]}}
    aws.put_item(TableName=main, Item=item)
    saved = snapshot.save(tmp_path, settings().region, [main])
    aws.delete_item(TableName=main, Key={"pk": item["pk"], "sk": item["sk"]})
    assert snapshot.load(tmp_path, settings().region, [main]) == saved
    back = aws.get_item(TableName=main, Key={"pk": item["pk"], "sk": item["sk"]}, ConsistentRead=True)["Item"]
    assert back == item
