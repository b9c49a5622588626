"""The members of each tier (#26 item 2), through the app on every backend: the listing follows
upgrades, reviews' downgrades, manual floors and their end, each member in exactly one tier's
listing; a redelivered or late (older) tier event changes nothing; the migration lists members
whose tier was set before the listing existed, resumably and once. And an issue to a tier over
several job runs gives each member of the tier one coupon (stock and limits held), passes over a
member who entered after the issue was created, and resumes after a crash without duplicates."""

from __future__ import annotations

import dataclasses
import itertools
import json
import types
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.db.migration import marker
from chalicelib.db.uow import UnitOfWork
from chalicelib.shared import clock
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.ids import new_id
from chalicelib.tiers import listing
from chalicelib.tiers.tables import TierListedItem, TierMemberItem
from tests.integration.conftest import scan
from tests.integration.test_tiers import LADDER, T0, deliver, earn, tier
from tests.outbox import outbox_events

TPL = "/v1/coupon-templates"
TEA = {"kind": "no_threshold", "title": "5元奶茶券", "amount_off_fen": 500, "validity": {"days_after_claim": 30}}


@pytest.fixture
def ladder(api):
    clock.freeze(T0)
    api.ok("PUT", "/v1/tiers/ladder", {"ladder": LADDER, "effective_from": "2026-01-01T00:00:00Z"})


def members_of(code: str) -> set[str]:
    """The tier's listing, read as an issue reads it: its 16 shards, no scan."""
    uow, source = UnitOfWork("test"), listing.Members()
    return {m for shard in range(source.shards) for m, _since in source.page(uow, code, shard, None, 1_000)}


def rows() -> list[TierMemberItem]:
    return [i for i in scan(TierMemberItem) if i.pk.startswith("TIERMEMBERS#")]


def pointers() -> list[TierListedItem]:
    return [i for i in scan(TierListedItem) if i.sk == "TIERLISTED"]


def where(mids) -> dict[str, list[str]]:
    """Every listing that holds each member (exactly one, if the listing is right)."""
    found: dict[str, list[str]] = {m: [] for m in mids}
    for item in rows():
        if item.member_id in found:
            found[item.member_id].append(item.pk.split("#")[1])
    return found


def tier_events(mid: str) -> list[DomainEvent]:
    events = outbox_events(None)
    return sorted((e for e in events if e.type in listing.TIER_EVENTS and e.data["member_id"] == mid),
                  key=lambda e: (e.occurred_at, e.id))


def test_the_listing_follows_upgrades_downgrades_and_manual_floors(api, ladder):
    a, b, c, d = (api.member(f"1380041000{n}") for n in range(4))
    earn(api, a, "a1", 1_200)                                     # V2
    earn(api, b, "b1", 6_000)                                     # V3
    deliver()                                                     # the upgrade events the earnings caused
    assert (members_of("V2"), members_of("V3"), members_of("V4")) == ({a}, {b}, set())
    api.ok("PUT", f"/v1/members/{c}/tier", {"tier": "V4", "until": "2026-06-30", "reason": "VIP guest"})
    api.ok("PUT", f"/v1/members/{a}/tier", {"tier": "V3", "until": "2026-06-30", "reason": "event host"})
    deliver()
    assert (members_of("V2"), members_of("V3"), members_of("V4")) == (set(), {a, b}, {c})
    api.ok("PUT", f"/v1/members/{b}/tier", {"tier": "V2", "until": "2026-06-30", "reason": "below earned"})
    deliver()                                                     # a floor under the earned tier: still V3
    assert members_of("V3") == {a, b} and tier(api, b)["tier"]["code"] == "V3"
    clock.freeze(datetime(2027, 3, 1, 4, tzinfo=UTC))             # floors ended, validity over, no growth
    api.run_job("tier-review")
    deliver()
    assert [tier(api, m)["tier"]["code"] for m in (a, b, c)] == ["V1", "V2", "V1"]
    assert (members_of("V1"), members_of("V2"), members_of("V3"), members_of("V4")) == ({a, c}, {b}, set(), set())
    assert where([a, b, c, d]) == {a: ["V1"], b: ["V2"], c: ["V1"], d: []}   # d never had a tier item
    assert {x.member_id: x.tier for x in pointers()} == {a: "V1", b: "V2", c: "V1"}


def test_a_redelivered_or_late_event_changes_nothing(api, ladder):
    mid = api.member("13800410011")
    earn(api, mid, "o1", 1_200)                                   # V1 -> V2
    earn(api, mid, "o2", 5_000)                                   # V2 -> V3
    deliver()
    up_to_v2, up_to_v3 = tier_events(mid)
    assert (up_to_v2.data["to"], up_to_v3.data["to"]) == ("V2", "V3")

    def state():
        return (sorted((i.pk, i.sk, i.since) for i in rows()),
                sorted((i.tier, int(i.tier_version)) for i in pointers()))
    before = state()
    assert members_of("V3") == {mid}
    deliver()                                                     # the whole stream again: markers
    for event in (up_to_v3, up_to_v2):                            # and again as new deliveries, newest first
        listing.on_tier_change(dataclasses.replace(event, id=new_id()))
    assert state() == before

    # from scratch, the older upgrade arriving after the newer one: the member ends in V3
    uow = UnitOfWork("test")
    for item in [*rows(), *pointers()]:
        uow.delete(item)
    uow.commit()
    for event in (up_to_v3, up_to_v2):
        listing.on_tier_change(dataclasses.replace(event, id=new_id()))
    assert (members_of("V2"), members_of("V3")) == (set(), {mid})


def test_the_migration_lists_members_set_before_the_listing_resumably_and_once(aws, monkeypatch):
    from chalicelib.db.tables import MAIN
    from chalicelib.shared.config import settings
    from chalicelib.tiers import migration
    from tests.integration.conftest import AppClient
    api, client, table = AppClient(), aws, MAIN.physical_name(settings())
    clock.freeze(T0)
    try:
        api.ok("PUT", "/v1/tiers/ladder", {"ladder": LADDER, "effective_from": "2026-01-01T00:00:00Z"})
        mids = [api.member(f"138004100{20 + n}") for n in range(5)]
        for n, mid in enumerate(mids):
            earn(api, mid, f"m{n}", 1_200 if n % 2 else 6_000)
        deliver()
        uow = UnitOfWork("test")                                  # as before the listing existed
        for item in [*rows(), *pointers()]:
            uow.delete(item)
        uow.commit()
        real, calls = listing.place, itertools.count()

        def dies_on_the_fourth(program, member_id):
            if next(calls) == 3:
                raise KeyboardInterrupt("the migration's process stopped here")
            return real(program, member_id)
        monkeypatch.setattr(listing, "place", dies_on_the_fourth)
        with pytest.raises(KeyboardInterrupt):
            migration.migrate_tier_listing(client, table, page_size=1)
        assert 0 < len(pointers()) < 5
        monkeypatch.setattr(listing, "place", real)
        done = migration.migrate_tier_listing(client, table, page_size=1)      # from the saved position
        assert done["failed"] == [] and done["listed"] <= 3
        assert (members_of("V2"), members_of("V3")) == ({mids[1], mids[3]}, {mids[0], mids[2], mids[4]})
        assert migration.migrate_tier_listing(client, table) == {"listed": 0, "failed": []}    # marked done
        client.delete_item(TableName=table, Key=marker(migration.NAME))
        assert migration.migrate_tier_listing(client, table)["listed"] == 0                  # run again: nobody moved
    finally:
        clock.freeze(None)


# -- issuing to a tier -------------------------------------------------------------------------

def _runs_of(budget_pages: int, monkeypatch):
    """Job runs that stop after ``budget_pages`` pages each (the deadline, as a Lambda's)."""
    from chalicelib.coupons import issues
    left = {"n": budget_pages}

    def monotonic():
        left["n"] -= 1
        return 0.0 if left["n"] >= 0 else float("inf")
    monkeypatch.setattr(issues, "time", types.SimpleNamespace(monotonic=monotonic))

    def run(api):
        left["n"] = budget_pages
        return api.run_job("coupon-issues")
    return run


def test_an_issue_to_a_tier_gives_each_member_one_coupon_over_several_runs(api, ladder, monkeypatch):
    from chalicelib.coupons import issues
    monkeypatch.setattr(issues, "CHUNK", 1)                       # a page a member: many pages, many runs
    silver = [api.member(f"138004101{n:02d}") for n in range(7)]
    gold, base = api.member("13800410200"), api.member("13800410201")
    for n, mid in enumerate(silver):
        earn(api, mid, f"s{n}", 1_200)
    earn(api, gold, "g", 6_000)
    deliver()
    t = api.ok("POST", TPL, {"terms": TEA, "stock": 6, "state": "active", "per_member_limit": 1})["template_id"]
    api.ok("POST", f"/v1/members/{silver[0]}/coupons", {"template_id": t})               # has its one already
    started = api.ok("POST", f"{TPL}/{t}/issues", {"tier": "V2"})
    assert (started["tier"], started["total"], started["total_final"], started["status"]) == ("V2", 0, False, "issuing")
    clock.freeze(T0 + timedelta(hours=1))
    late = api.member("13800410202")
    earn(api, late, "late", 1_200)                                # enters V2 after the issue was created
    deliver()
    assert late in members_of("V2")
    run, runs = _runs_of(6, monkeypatch), 0
    while True:
        result = run(api)
        runs += 1
        shown = api.ok("GET", f"/v1/coupon-issues/{started['issue_id']}")
        if shown["status"] == "done":
            break
        assert not shown["total_final"] and shown["done"] == shown["total"] <= 7
        assert result["stopped_at_deadline"] and runs < 20
    assert runs >= 3
    # seven members held V2 then: five issued (the stock: 6 - 1 claimed); silver[0] is over its limit
    # or finds the stock gone (whichever it meets first, by its place in the listing), one more the stock gone
    assert (shown["total"], shown["total_final"], shown["done"], shown["issued"]) == (7, True, 7, 5)
    refused = shown["refused"]
    assert refused["limit"] + refused["stock"] == 2 and refused["stock"] >= 1
    assert (refused["not_found"], refused["other"]) == (0, 0)
    held = {m: len(api.ok("GET", f"/v1/members/{m}/coupons")["coupons"]) for m in [*silver, gold, base, late]}
    assert sorted(held[m] for m in silver) == [0, 1, 1, 1, 1, 1, 1] and held[silver[0]] == 1
    assert (held[gold], held[base], held[late]) == (0, 0, 0)
    assert api.ok("GET", f"{TPL}/{t}")["stock"] == {"total": 6, "left": 0, "taken": 6}
    assert run(api)["items_read"] == 0                            # off the due index


def test_an_issue_to_a_tier_resumes_after_a_crash_without_duplicates(api, ladder, monkeypatch):
    from chalicelib.coupons import issues
    monkeypatch.setattr(issues, "CHUNK", 2)
    monkeypatch.setattr(listing.Members, "shards", 2)            # fuller pages: a crash mid-page
    monkeypatch.setattr("chalicelib.tiers.tables.LISTING_SHARDS", 2)
    gold = [api.member(f"138004103{n:02d}") for n in range(6)]
    for n, mid in enumerate(gold):
        earn(api, mid, f"g{n}", 6_000)
    deliver()
    t = api.ok("POST", TPL, {"terms": TEA, "stock": 100, "state": "active"})["template_id"]
    started = api.ok("POST", f"{TPL}/{t}/issues", {"tier": "V3"})
    real, calls = issues._one, itertools.count()

    def dies_after_issuing_the_third(program, item, member_id):
        outcome = real(program, item, member_id)
        if next(calls) == 2:
            raise RuntimeError("the job's Lambda died here, the coupon issued, its page not counted")
        return outcome
    monkeypatch.setattr(issues, "_one", dies_after_issuing_the_third)
    api.run_job("coupon-issues")
    midway = api.ok("GET", f"/v1/coupon-issues/{started['issue_id']}")
    assert midway["status"] == "issuing" and midway["issued"] <= 2       # the pages before the crash only
    monkeypatch.setattr(issues, "_one", real)
    api.run_job("coupon-issues")
    done = api.ok("GET", f"/v1/coupon-issues/{started['issue_id']}")
    assert (done["status"], done["total"], done["issued"], done["done"]) == ("done", 6, 6, 6)
    assert [len(api.ok("GET", f"/v1/members/{m}/coupons")["coupons"]) for m in gold] == [1] * 6
    assert api.ok("GET", f"{TPL}/{t}")["stock"]["taken"] == 6


@pytest.mark.parametrize(("body", "words"), [
    ({}, "exactly one"), ({"tier": "V2", "member_ids": ["x"]}, "exactly one"),
    ({"tier": "V9"}, "no tier 'V9'"), ({"tier": "V1"}, "base tier")])
def test_a_bad_audience_is_refused_and_nothing_is_made(api, ladder, body, words):
    t = api.ok("POST", TPL, {"terms": TEA, "stock": 5, "state": "active"})["template_id"]
    status, problem = api.call("POST", f"{TPL}/{t}/issues", body)
    assert status in (400, 422) and words in json.dumps(problem), problem
    assert api.run_job("coupon-issues")["items_read"] == 0
