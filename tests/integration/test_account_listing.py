"""The accounts' listing on the keys-only index ``keys1`` (#24 Cost; ``chalicelib/ledger/listing.py``).

The points, growth and stored value accounts were listed on gsi1, which projects ALL: every change
of a balance rewrote the account's copy there (1 WCU, two an earn). They are listed on keys1 now:
a change that keeps the keys writes nothing to any index, an account still on gsi1 moves at its
next change (once), the reconciliations read both indexes under one cursor while accounts move,
and a migration moves the rest."""

from __future__ import annotations

import zlib
from collections import defaultdict

import pytest

from chalicelib.db import tenancy
from chalicelib.db.tables import MAIN
from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger.listing import migrate_account_listing
from chalicelib.points.tables import LISTING as POINTS
from chalicelib.points.tables import AccountItem
from chalicelib.programs.tables import LISTING as PROGRAMS
from chalicelib.programs.tables import ProgramItem
from chalicelib.shared import clock
from chalicelib.shared.config import settings
from chalicelib.stored_value.tables import LISTING as STORED_VALUE
from chalicelib.stored_value.tables import SvAccountItem
from devstack import emulator
from tests import dynamodb_local
from tests.integration.conftest import AppClient
from tests.integration.test_points_features import earn
from tests.integration.test_stored_value import RULES, T0, pay, top_up

ACCOUNTS = ("PTS#points#LOT", "PTS#growth#LOT", "SV#ACCOUNT")


@pytest.fixture(params=["ddblocal"] if dynamodb_local.enabled() else ["aws"])
def client(request):
    """A boto3 client of the main table's DynamoDB (moto; DynamoDB Local in its tier)."""
    yield request.getfixturevalue(request.param)


def _traced(call) -> dict[str, list[dict]]:
    """The index writes of each account item ``call`` wrote, by sort key (the emulator's trace)."""
    emulator.trace(True)
    call()
    written: dict[str, list[dict]] = defaultdict(list)
    for entry in emulator.trace(False):
        if entry["key"].get("sk") in ACCOUNTS:
            written[entry["key"]["sk"]].append(entry["index_wcu"])
    return dict(written)


def _as_before(client, member_id: str, sk: str, listing_key: str, shards: int, prefix: str) -> None:
    """Store an account as the code before keys1 listed it: on gsi1, with no keys1 keys."""
    shard = zlib.crc32(member_id.encode()) % shards
    client.update_item(TableName=MAIN.physical_name(settings()),
                       Key={"pk": {"S": f"default/MEMBER#{member_id}"}, "sk": {"S": sk}},
                       UpdateExpression="SET gsi1pk = :p, gsi1sk = :s REMOVE k1pk, k1sk",
                       ExpressionAttributeValues={":p": {"S": f"default/{prefix}{shard}"}, ":s": {"S": listing_key}})


def test_a_changed_account_writes_no_index_copy_and_an_old_one_moves_once(aws):
    """An earn updates the points account (growth's with it), a top-up and a payment the stored value
    account: none writes anything to an index (it wrote 1 gsi1 WCU each, ALL projected). An
    account stored as before (on gsi1) moves at its next change, a gsi1 delete and a keys1 put,
    and writes no index after that."""
    api = AppClient()
    try:
        clock.freeze(T0)
        api.ok("PUT", "/v1/stored-value/rules", {"rules": RULES, "effective_from": "2026-01-01T00:00:00Z"})
        mid = api.member("13800246101")
        earn(api, mid, "keys-0", 10_000)
        assert top_up(api, mid, 20_000, "KEYS-T0")[0] == 201
        writes = _traced(lambda: (earn(api, mid, "keys-1", 10_000), top_up(api, mid, 20_000, "KEYS-T1"),
                                  pay(api, mid, 5_000, "KEYS-O1")))
        assert writes == {"PTS#points#LOT": [{}], "SV#ACCOUNT": [{}, {}]}      # growth: on the points item
        _as_before(aws, mid, "PTS#points#LOT", f"{mid}#points", 16, "PTSACCT#")      # 16 shards, as the oldest
        _as_before(aws, mid, "SV#ACCOUNT", mid, 16, "SVACCT#")
        moving = _traced(lambda: (earn(api, mid, "keys-2", 10_000), pay(api, mid, 5_000, "KEYS-O2")))
        assert moving == {"PTS#points#LOT": [{"gsi1": 1, "keys1": 1}], "SV#ACCOUNT": [{"gsi1": 1, "keys1": 1}]}
        moved = _traced(lambda: (earn(api, mid, "keys-3", 10_000), pay(api, mid, 5_000, "KEYS-O3")))
        assert moved == {"PTS#points#LOT": [{}], "SV#ACCOUNT": [{}]}
        account = aws.get_item(TableName=MAIN.physical_name(settings()),
                               Key={"pk": {"S": f"default/MEMBER#{mid}"}, "sk": {"S": "PTS#points#LOT"}})["Item"]
        assert "gsi1pk" not in account and account["k1pk"]["S"] == f"default/{POINTS.partition(mid)}"
        assert api.ok("GET", "/v1/points/reconciliation")["accounts_checked"] == 2       # points and growth, once (one item)
        assert api.ok("GET", "/v1/stored-value/reconciliation")["accounts_checked"] == 1
    finally:
        clock.freeze(None)


def _population(prefix: str, n: int) -> dict[str, list[str]]:
    """``n`` zero accounts of each ledger, listed as a stage half-way through the move shows them:
    a third on keys1, a third still on gsi1, a third on gsi1 in the 16 shards of before, and one on
    both (its move not yet seen by one index). The members by where they are listed."""
    uow, kinds = UnitOfWork("test"), defaultdict(list)
    for i in range(n):
        member = f"01J{prefix}{i:05d}"
        kind = "both" if i == 7 else ("keys1", "gsi1", "gsi1-16")[i % 3]
        kinds[kind].append(member)
        for item, key in ((AccountItem.new(member, "points"), f"{member}#points"), (SvAccountItem.new(member), member)):
            listing = POINTS if isinstance(item, AccountItem) else STORED_VALUE
            if kind != "keys1":
                shards = 16 if kind == "gsi1-16" else listing.shards
                item.gsi1pk, item.gsi1sk = f"{listing.prefix}{zlib.crc32(member.encode()) % shards}", key
            if kind in ("gsi1", "gsi1-16"):
                item.k1pk = item.k1sk = None
            uow.put(item)
    return dict(kinds)


def _tamper(member: str) -> None:
    uow = UnitOfWork("test")
    points = uow.get(AccountItem, AccountItem.key(member, "points"), consistent=True)
    points.available = 7                                    # no posting says so
    uow.put(points)
    prepaid = uow.get(SvAccountItem, SvAccountItem.key(member), consistent=True)
    prepaid.principal = 7
    uow.put(prepaid)


def test_a_half_moved_population_is_reconciled_once_each_and_a_mismatch_is_found_on_either_index(db, monkeypatch):
    """Accounts on keys1, on gsi1 (in 64 shards and in the 16 of before) and one on both: a run
    checks each exactly once (the one on both too) in both ledgers, and finds an account that does
    not add up whichever index lists it."""
    from chalicelib.points import reconcile as points
    from chalicelib.stored_value import reconcile as stored_value
    kinds = _population("HALF", 30)
    assert {k: len(v) for k, v in kinds.items()} == {"keys1": 10, "gsi1": 9, "gsi1-16": 10, "both": 1}
    members = sorted(m for v in kinds.values() for m in v)
    checked: list[str] = []
    real_points, real_prepaid = points.account, stored_value.account
    monkeypatch.setattr(points, "account", lambda uow, m, t: (checked.append(f"{m}#{t}"), real_points(uow, m, t))[1])
    monkeypatch.setattr(stored_value, "account", lambda uow, m: (checked.append(m), real_prepaid(uow, m))[1])
    run = points.next_pages(UnitOfWork("job:points-reconcile"))
    assert (run["balanced"], run["accounts_checked"]) == (True, 30)
    assert sorted(checked) == [f"{m}#points" for m in members]                        # each once
    checked.clear()
    run = stored_value.next_pages(UnitOfWork("job:stored-value-reconcile"))
    assert (run["balanced"], run["accounts_checked"], sorted(checked)) == (True, 30, members)
    off = [kinds["keys1"][0], kinds["gsi1"][0], kinds["gsi1-16"][-1], kinds["both"][0]]
    for member in off:
        _tamper(member)
    found = [m["member_id"] for m in points.next_pages(UnitOfWork("job:points-reconcile"))["mismatches"]]
    assert sorted(found) == sorted(off)
    found = [m["member_id"] for m in stored_value.next_pages(UnitOfWork("job:stored-value-reconcile"))["mismatches"]]
    assert sorted(found) == sorted(off)
    assert points.everything(UnitOfWork("test"))["accounts_checked"] == 30              # the endpoint's proof


def test_the_cursor_pages_through_both_indexes_as_one_listing(db, monkeypatch):
    """A page of 2 a shard a run: each shard's checks are its accounts in listing order, whichever
    index lists each, the one on both once, until its pass ends."""
    from chalicelib.points import reconcile
    clock.freeze(T0)
    try:
        kinds = _population("PAGE", 60)
        listed: dict[int, set[str]] = defaultdict(set)
        for kind, members in kinds.items():
            for m in members:
                listed[zlib.crc32(m.encode()) % (16 if kind == "gsi1-16" else POINTS.shards)].add(m)
        assert max(len(v) for v in listed.values()) > 2                   # some shard takes several pages
        checked: dict[int, list[str]] = defaultdict(list)
        where = {m: s for s, ms in listed.items() for m in ms}
        real = reconcile.account
        monkeypatch.setattr(reconcile, "account", lambda uow, m, t: (checked[where[m]].append(m), real(uow, m, t))[1])
        for _ in range(max(len(v) for v in listed.values()) // 2 + 1):
            assert reconcile.next_pages(UnitOfWork("job:points-reconcile"), page=2)["balanced"]
        for shard, members in listed.items():
            assert checked[shard][:len(members)] == sorted(members), shard            # the first pass: each once
        full = reconcile.everything(UnitOfWork("test"), 1)["progress"]["last_full_pass"]
        assert full is not None and full["checked"] == 60
    finally:
        clock.freeze(None)


class _Flaky:
    """The migration's client, with a failure and a concurrent move at chosen updates."""

    def __init__(self, client, fail_at: int, raced_at: int) -> None:
        self.client, self.fail_at, self.raced_at, self.updates = client, fail_at, raced_at, 0

    def __getattr__(self, name):
        return getattr(self.client, name)

    def update_item(self, **request):
        self.updates += 1
        if self.updates == self.fail_at:
            raise RuntimeError("the connection dropped")
        if self.updates == self.raced_at:           # the live code moved this account just before
            self.client.update_item(TableName=request["TableName"], Key=request["Key"],
                                    UpdateExpression="SET k1pk = :p, k1sk = :s REMOVE gsi1pk, gsi1sk",
                                    ExpressionAttributeValues=request["ExpressionAttributeValues"])
        return self.client.update_item(**request)


def test_the_migration_moves_every_account_left_on_gsi1_once_and_resumes_after_a_failure(client):
    """Two programs, each half-moved: a run that fails on one account (and finds one the live code
    moved meanwhile) moves the others and sets no marker; the next moves the one left; a third
    finds the marker. Every account is then on keys1 alone, in its shard of 64, and checked."""
    from chalicelib.points import reconcile
    main = MAIN.physical_name(settings())
    UnitOfWork("test").put(ProgramItem(*ProgramItem.key("east"), program_id="east", name="east", status="active",
                                       timezone="Asia/Shanghai", created_at="2026-01-01", gsi1pk=PROGRAMS,
                                       gsi1sk="east"))
    kinds = _population("MIGR", 12)
    on_gsi1 = 2 * (len(kinds["gsi1"]) + len(kinds["gsi1-16"]) + len(kinds["both"]))     # points and stored value
    uow = UnitOfWork("test", program="east")
    east = AccountItem.new("01JEAST00001", "points")
    east.k1pk, east.k1sk, east.gsi1pk, east.gsi1sk = None, None, POINTS.partition(east.member_id), "01JEAST00001#points"
    uow.put(east)
    flaky = _Flaky(client, fail_at=3, raced_at=5)
    first = migrate_account_listing(flaky, main, (POINTS, STORED_VALUE), page_size=2)
    assert (first["moved"], first["moved_already"], len(first["failed"])) == (on_gsi1 + 1 - 2, 1, 1)
    second = migrate_account_listing(client, main, (POINTS, STORED_VALUE), page_size=2)
    assert second == {"moved": 1, "moved_already": 0, "failed": []}
    assert migrate_account_listing(client, main, (POINTS, STORED_VALUE)) == {"moved": 0, "moved_already": 0,
                                                                              "failed": []}
    accounts = [i for page in client.get_paginator("scan").paginate(TableName=main) for i in page["Items"]
                if i["sk"]["S"] in ("PTS#points#LOT", "SV#ACCOUNT")]
    assert len(accounts) == 2 * 12 + 1 and not [a for a in accounts if "gsi1pk" in a]
    for a in accounts:
        program, logical = tenancy.split(a["pk"]["S"])
        member = logical.removeprefix("MEMBER#")
        listing = POINTS if a["sk"]["S"] == "PTS#points#LOT" else STORED_VALUE
        assert a["k1pk"]["S"] == tenancy.physical(program, listing.partition(member))
    assert reconcile.next_pages(UnitOfWork("job:points-reconcile"))["accounts_checked"] == 12
    assert reconcile.next_pages(UnitOfWork("job:points-reconcile", program="east"))["accounts_checked"] == 1
