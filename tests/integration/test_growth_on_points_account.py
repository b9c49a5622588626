"""Growth on the points account (points/folded.py; docs/scale.md *Growth on the points account*):
one item carries both, each ledger counting its own version (its postings' sequence), every
write of the item conditioned on both versions as read; growth's item of before is carried onto
it when a change reads it and deleted in the same transaction, and a migration carries the rest
and deletes the lot era's lots. Through the app on every backend, figures computed by hand."""

from __future__ import annotations

import json

import pytest

from chalicelib.db.backend import SortKey
from chalicelib.db.tables import MAIN
from chalicelib.db.uow import UnitOfWork
from chalicelib.points import repository
from chalicelib.points.growth import fold
from chalicelib.points.migration import migrate_growth_accounts
from chalicelib.points.tables import AccountItem, LotItem, PostingItem
from chalicelib.shared import clock
from chalicelib.shared.config import settings
from tests.integration.conftest import AppClient
from tests.integration.test_growth_balance import as_before
from tests.integration.test_points_features import balanced, earn
from tests.integration.test_tiers import T0
from tests.racing import bump


def _item(mid: str, point_type: str = "points") -> AccountItem | None:
    return UnitOfWork("test").get(AccountItem, AccountItem.key(mid, point_type), consistent=True)


def _sequences(mid: str, point_type: str) -> list[int]:
    """The sequences of the account's postings (growth's: its own and those points postings carry)."""
    return [int(str(p.sk).rsplit("#", 1)[1]) for p in repository.of(UnitOfWork("test")).postings(mid, point_type)]


def _stored(mid: str, point_type: str) -> list[int]:
    """The sequences of the posting items stored under ``point_type``'s keys."""
    return [int(str(p.sk).rsplit("#", 1)[1]) for p in UnitOfWork("test").query(
        PostingItem, f"LEDGER#{mid}", SortKey.prefix(f"PTS#{point_type}#POST#"), consistent=True)]


def _growth_lots(mid: str) -> list[LotItem]:
    return list(UnitOfWork("test").query(LotItem, f"MEMBER#{mid}", SortKey.prefix("PTS#growth#LOT#"),
                                         consistent=True))


def _adjust(api, mid: str, points: int, point_type: str) -> dict:
    return api.ok("POST", f"/v1/members/{mid}/points/adjustments",
                  {"points": points, "point_type": point_type, "reason": "by hand"})


def _accounts(api, mid: str) -> dict:
    return api.ok("GET", f"/v1/members/{mid}/points")["accounts"]


def test_one_item_carries_points_and_growth_each_with_its_own_sequence(api):
    clock.freeze(T0)
    mid = api.member("13800535001")
    earn(api, mid, "o1", 10_000)                        # 100 points, 100 growth
    earn(api, mid, "o2", 5_000)                         # 50 and 50
    _adjust(api, mid, 30, "growth")                     # growth alone: the points version stays
    _adjust(api, mid, -20, "points")                    # points alone: the growth version stays
    assert _item(mid, "growth") is None                 # no item of growth's own
    item = _item(mid)
    assert (int(item.available), int(item.version), int(item.g_available), int(item.g_version)) == (130, 3, 180, 3)
    assert (int(item.g_earned), int(item.earned)) == (180, 150)
    assert _sequences(mid, "points") == [1, 2, 3] and _sequences(mid, "growth") == [1, 2, 3]
    assert _stored(mid, "growth") == [3]                # the earns' growth postings are in the points ones
    accounts = _accounts(api, mid)
    assert (accounts["points"]["balance"], accounts["growth"]["balance"]) == (130, 180)
    assert (accounts["points"]["version"], accounts["growth"]["version"]) == (3, 3)
    growth = api.ok("GET", f"/v1/members/{mid}/points/ledger?point_type=growth")["postings"]
    assert [p["sequence"] for p in growth] == [3, 2, 1] and growth[0]["balance_after"] == 180
    assert balanced(mid, "growth")["available"] == 180 and balanced(mid)["available"] == 130
    checked = api.ok("GET", "/v1/points/reconciliation")
    assert (checked["accounts_checked"], checked["balanced"]) == (2, True)


def test_a_growth_change_landing_between_a_spends_read_and_its_commit_is_kept(racing):
    """The item is put whole: a points spend conditioned on its own version alone would put back
    the growth it read. Conditioned on both, it is tried again on what the other change left."""
    api = AppClient()
    mid = api.member("13800535002")
    earn(api, mid, "o1", 10_000)
    racing.race(AccountItem, lambda raw: (bump("g_version")(raw), bump("g_available", 40)(raw)))
    reply = api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 30, "reward": "gift"})
    assert racing.raced == 1 and reply["balance"] == 70
    item = _item(mid)
    assert (int(item.available), int(item.version), int(item.g_available), int(item.g_version)) == (70, 2, 140, 2)


def test_a_points_change_landing_between_a_growth_changes_read_and_its_commit_is_kept(racing):
    api = AppClient()
    mid = api.member("13800535003")
    earn(api, mid, "o1", 10_000)
    racing.race(AccountItem, lambda raw: (bump("version")(raw), bump("available", -25)(raw)))
    _adjust(api, mid, 15, "growth")
    assert racing.raced == 1
    item = _item(mid)
    assert (int(item.available), int(item.version), int(item.g_available), int(item.g_version)) == (75, 2, 115, 2)


def test_growth_of_before_is_read_beside_and_carried_at_the_next_change_that_reads_it(api):
    clock.freeze(T0)
    mid = api.member("13800535004")
    earn(api, mid, "o1", 10_000)
    _adjust(api, mid, 25, "growth")
    as_before(mid)                                      # growth 125 at version 2, an item of its own
    assert _item(mid).g_version is None and int(_item(mid, "growth").version) == 2
    checked = api.ok("GET", "/v1/points/reconciliation")    # the item of before, by its own listing key
    assert (checked["accounts_checked"], checked["balanced"]) == (2, True)
    _adjust(api, mid, -10, "points")                    # reads no growth: carries nothing
    assert _item(mid).g_version is None and _item(mid, "growth") is not None
    assert _accounts(api, mid)["growth"]["balance"] == 125        # read beside (a read writes nothing)
    assert _item(mid, "growth") is not None
    earn(api, mid, "o2", 2_000)                         # 20 and 20: carried, the old item deleted with it
    assert _item(mid, "growth") is None
    item = _item(mid)
    assert (int(item.g_available), int(item.g_version), int(item.g_earned)) == (145, 3, 145)
    assert (int(item.available), int(item.version)) == (110, 3)
    assert _sequences(mid, "growth") == [1, 2, 3]
    assert balanced(mid, "growth")["available"] == 145
    assert api.ok("GET", "/v1/points/reconciliation")["accounts_checked"] == 2


def test_a_member_with_no_growth_of_before_is_noted_so_by_a_change_that_looked(api):
    mid = api.member("13800535005")
    _adjust(api, mid, 50, "points")
    assert _item(mid).g_version is None                 # a points change does not look
    _accounts(api, mid)
    assert _item(mid).g_version is None                 # a read writes nothing
    uow = UnitOfWork("test")
    repository.of(uow).account(mid, "growth")           # looks: none
    item = repository.of(uow).shared(mid)
    item.stage(uow, lambda: None)
    uow.commit()
    assert int(_item(mid).g_version) == 0               # noted: later reads do not look again
    _adjust(api, mid, 5, "growth")
    assert int(_item(mid).g_version) == 1 and _sequences(mid, "growth") == [1]


def test_the_migration_carries_the_rest_and_deletes_the_lots_of_before(api):
    clock.freeze(T0)
    era = api.member("13800535007")                     # the lot era: lots, no recent days
    earn(api, era, "o1", 10_000)
    as_before(era, recent=None)
    lot = LotItem(*LotItem.live_key(era, "growth", None, "0000000001-01"), lot_id="0000000001-01", member_id=era,
                  point_type="growth", original=100, remaining=100, expires_on=None, earned_at=clock.iso(T0))
    UnitOfWork("test").put(lot)
    live = api.member("13800535008")                    # carried live before the migration: its lot left
    earn(api, live, "o2", 3_000)
    as_before(live, recent=None)
    UnitOfWork("test").put(LotItem(*LotItem.live_key(live, "growth", None, "0000000001-01"), lot_id="0000000001-01",
                                   member_id=live, point_type="growth", original=30, remaining=30,
                                   expires_on=None, earned_at=clock.iso(T0)))
    earn(api, live, "o3", 1_000)
    assert _item(live, "growth") is None and json.loads(_item(live).recent) == {"2026-03-01": 40}
    assert (fold("default", era), fold("default", live)) == ((True, 1), (False, 1))
    assert fold("default", era) == (False, 0)           # once
    item = _item(era)
    assert (int(item.g_available), int(item.g_version), json.loads(item.recent)) == (100, 1, {"2026-03-01": 100})
    assert _item(era, "growth") is None and not _growth_lots(era) and not _growth_lots(live)
    assert balanced(era, "growth")["available"] == 100 and balanced(live, "growth")["available"] == 40


@pytest.mark.parametrize("where", ["g_available", "available"])
def test_the_reconciliation_finds_a_mismatch_in_either_ledger_of_the_item(api, where):
    mid = api.member("13800535009")
    earn(api, mid, "o1", 10_000)
    uow = UnitOfWork("test")
    item = repository.of(uow).shared(mid).item
    setattr(item, where, int(getattr(item, where)) + 1)
    uow.save(item)
    uow.commit()
    found = api.ok("GET", "/v1/points/reconciliation")
    assert not found["balanced"]
    assert [m["point_type"] for m in found["mismatches"]] == ["growth" if where == "g_available" else "points"]


def test_the_migration_run_finds_them_by_a_scan_once_and_then_is_skipped(aws):
    api = AppClient()
    clock.freeze(T0)
    try:
        members = [api.member(f"1380053510{i}") for i in range(3)]
        for i, mid in enumerate(members):
            earn(api, mid, f"m{i}", 1_000 * (i + 1))
        for mid in members[:2]:
            as_before(mid)
        table = MAIN.physical_name(settings())
        assert migrate_growth_accounts(aws, table) == {"carried": 2, "lots_deleted": 0, "failed": []}
        assert [(_item(m, "growth"), int(_item(m).g_available)) for m in members] == [(None, 10), (None, 20),
                                                                                     (None, 30)]
        as_before(members[2])                           # one of before after the run: the marker skips the scan
        assert migrate_growth_accounts(aws, table) == {"carried": 0, "lots_deleted": 0, "failed": []}
        assert balanced(members[2], "growth")["available"] == 30        # read beside until a change carries it
    finally:
        clock.freeze(None)


def test_the_growth_statement_pages_through_postings_carried_and_its_own(api):
    """An earn's growth posting is carried in its points posting (one item, keys1 lists it for the
    statement); a change of growth alone posts one of its own; a points change none. The growth
    statement reads both, newest first, page by page; the points statement only points."""
    clock.freeze(T0)
    mid = api.member("13800535010")
    for i in range(3):
        earn(api, mid, f"s{i}", 1_000 * (i + 1))                  # growth 10, 20, 30: carried
        _adjust(api, mid, 1, "growth")                            # of its own
        api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 1, "reward": "gift"})   # points only
    assert _stored(mid, "growth") == [2, 4, 6] and _stored(mid, "points") == [1, 2, 3, 4, 5, 6]
    pages, before = [], None
    while True:
        page = api.ok("GET", f"/v1/members/{mid}/points/ledger?point_type=growth&limit=2"
                      + (f"&before={before}" if before else ""))
        pages.append([(p["sequence"], p["kind"], p["amount"], p["balance_after"]) for p in page["postings"]])
        before = page["next_before"]
        if before is None or len(pages) > 5:
            break
    assert pages == [[(6, "adjust", 1, 63), (5, "earn", 30, 62)], [(4, "adjust", 1, 32), (3, "earn", 20, 31)],
                     [(2, "adjust", 1, 11), (1, "earn", 10, 10)]]
    points = api.ok("GET", f"/v1/members/{mid}/points/ledger?point_type=points&limit=10")["postings"]
    assert [(p["sequence"], p["kind"]) for p in points] == [(6, "redeem"), (5, "earn"), (4, "redeem"), (3, "earn"),
                                                             (2, "redeem"), (1, "earn")]
    status, problem = api.call("GET", f"/v1/members/{mid}/points/ledger?point_type=grwth")   # attacks H and I
    assert status == 422 and "grwth" in problem["detail"]
    earned = api.ok("GET", f"/v1/members/{mid}/points/ledger?point_type=growth&limit=1&before=2")["postings"][0]
    assert earned["lots"][0]["delta"] == 10 and earned["source"] == "order:m1:s0"
    assert earned["posting_id"] != points[-1]["posting_id"]       # each posting keeps its own id


def test_a_growth_posting_staged_before_the_points_one_is_carried_all_the_same(api):
    from chalicelib.points import program
    mid = api.member("13800535011")
    earn(api, mid, "w1", 1_000)
    uow = UnitOfWork("test")
    rules = program.rules_at(uow, clock.now())[1]
    today = program.today()
    growth = program.ledger(uow, mid, "growth", rules, today)
    growth.add_lot(7, None, source="test")
    g = growth.stage("adjust", 7, reason="first", source=None, event_type="points.adjusted")
    points = program.ledger(uow, mid, "points", rules, today)
    points.add_lot(3, None, source="test")
    p = points.stage("adjust", 3, reason="second", source="test", event_type="points.adjusted")
    uow.commit()
    assert _stored(mid, "growth") == [] and _stored(mid, "points") == [1, 2]
    assert _sequences(mid, "growth") == [1, 2]
    assert [int(str(p.sk)[-12:]) for p in repository.of(UnitOfWork("t")).postings(mid, "growth", before=2)] == [1]
    stored = repository.of(UnitOfWork("test")).postings(mid, "growth", limit=1, newest_first=True)
    carried = next(iter(stored))
    assert (carried.posting_id, int(carried.amount), carried.reason, carried.source) == (g.posting_id, 7, "first",
                                                                                          None)   # not the points'

    assert p.posting_id != g.posting_id and balanced(mid, "growth")["available"] == 17


def test_an_export_stopped_between_a_postings_points_and_growth_rows_carries_on_with_the_growth_row(api):
    from chalicelib.reports.exports_sources import POINTS_COLUMNS, Asked, Postings
    clock.freeze(T0)
    mid = api.member("13800535012")
    earn(api, mid, "x1", 5_000)
    earn(api, mid, "x2", 7_000)
    source = Postings("points", POINTS_COLUMNS)
    asked = Asked("points_ledger", T0.date(), T0.date())
    every = list(source.rows(UnitOfWork("test"), asked, None))
    assert [(r[3], r[5]) for r, _ in every] == [("points", 50), ("growth", 50), ("points", 70), ("growth", 70)]
    for n, (_, position) in enumerate(every):
        rest = [r for r, _ in source.rows(UnitOfWork("test"), asked, json.loads(json.dumps(position)))]
        assert rest == [r for r, _ in every[n + 1:]], (n, position)


def _statement(api, mid: str, limit: int) -> list[int]:
    sequences, before = [], None
    for _ in range(20):
        page = api.ok("GET", f"/v1/members/{mid}/points/ledger?point_type=growth&limit={limit}"
                      + (f"&before={before}" if before else ""))
        sequences += [p["sequence"] for p in page["postings"]]
        before = page["next_before"]
        if before is None:
            break
    return sequences


def test_the_growth_statement_skips_no_line_while_its_index_lags(memory):
    """keys1 shows a write a moment later on AWS (the fake's lag_indexes): a carried line keys1
    does not name yet is found among the newest points postings, so no page has a hole below a
    line it shows (attack I: an earn then a growth line of its own showed [3, 1])."""
    api = AppClient()
    mid = api.member("13800535013")
    earn(api, mid, "l1", 10_000)
    memory.lag_indexes()
    earn(api, mid, "l2", 5_000)                                   # growth 2: carried, keys1 not showing it
    _adjust(api, mid, 7, "growth")                                # growth 3: its own
    earn(api, mid, "l3", 2_000)                                   # growth 4: carried, the newest
    for limit in (50, 2, 1):
        assert _statement(api, mid, limit) == [4, 3, 2, 1], limit
    memory.lag_indexes(False)
    assert _statement(api, mid, 3) == [4, 3, 2, 1]


def test_the_program_reconciliation_checks_at_most_limit_accounts(api):
    for i in range(2):
        earn(api, api.member(f"1380053502{i}"), f"r{i}", 1_000)   # two items: four accounts
    assert [api.ok("GET", f"/v1/points/reconciliation?limit={n}")["accounts_checked"] for n in (1, 2, 3, 7)] == \
        [1, 2, 3, 4]
