"""The directory (issue #28 item 5) against the store: merchants and stores listed a page at a
time without a scan, read and changed by role and scope, every change conditional on the
version read and told in one event (no personal data in it); the program's name and time zone."""

from __future__ import annotations

import json

import pytest

from chalicelib.db.uow import UnitOfWork
from chalicelib.merchants import directory
from chalicelib.merchants.tables import MerchantItem, StoreItem
from chalicelib.programs import service as programs
from chalicelib.programs import zones
from chalicelib.programs.tables import LISTING, ProgramItem
from chalicelib.shared import clock
from chalicelib.shared.errors import ConcurrentUpdate, Forbidden, NotFound, ValidationProblem, VersionChanged
from chalicelib.shared.principal import Principal
from tests.outbox import outbox_events
from tests.racing import bump

SA = Principal("staff", "sa", "super_admin")
AUDITOR = Principal("staff", "au", "auditor")
M1_ADMIN = Principal("staff", "ma", "merchant_admin", "m1")
M2_ADMIN = Principal("staff", "mb", "merchant_admin", "m2")
S1_MANAGER = Principal("staff", "sm", "store_manager", "m1", "s1")


def _commit(change, program="default"):
    uow = UnitOfWork("test", program=program)
    reply = change(uow)
    uow.commit()
    return reply, uow


def _events(kind):
    return outbox_events(None, kind=kind)


def test_merchants_are_listed_a_page_at_a_time_without_a_scan(db):
    uow = UnitOfWork("test")
    for n in range(5):
        uow.put(MerchantItem(*MerchantItem.key(f"x{n}"), merchant_id=f"x{n}", name=f"x{n}", created_at="2026-01-01"))
    UnitOfWork("test", program="other").put(MerchantItem(*MerchantItem.key("zz"), merchant_id="zz", name="zz",
                                                         created_at="2026-01-01"))
    seen, after = [], None
    while True:
        page = directory.list_merchants(UnitOfWork("r"), SA, 3, after)
        seen += [m["merchant_id"] for m in page["merchants"]]
        after = page["next"]
        if after is None:
            break
    assert seen == ["m1", "m2", "x0", "x1", "x2", "x3", "x4"]           # another program's zz: never
    # merchant staff see their own merchant only
    assert [m["merchant_id"] for m in directory.list_merchants(UnitOfWork("r"), S1_MANAGER, 50, None)["merchants"]] == ["m1"]


def test_stores_are_paged_in_the_merchants_partition(db):
    uow = UnitOfWork("test")
    for store in ("a-1", "a", "b", "a-2"):
        uow.put(StoreItem(*StoreItem.key("m1", store), merchant_id="m1", store_id=store, name=store,
                          created_at="2026-01-01"))
    first = directory.list_stores(UnitOfWork("r"), M1_ADMIN, "m1", 2, None)
    second = directory.list_stores(UnitOfWork("r"), M1_ADMIN, "m1", 2, first["next"])
    third = directory.list_stores(UnitOfWork("r"), M1_ADMIN, "m1", 2, second["next"])
    ids = [s["store_id"] for page in (first, second, third) for s in page["stores"]]
    assert ids == ["a", "a-1", "a-2", "b", "s1"] and third["next"] is None
    with pytest.raises(Forbidden):
        directory.list_stores(UnitOfWork("r"), M2_ADMIN, "m1", 2, None)
    with pytest.raises(NotFound):
        directory.list_stores(UnitOfWork("r"), SA, "nobody", 2, None)


def test_a_merchant_update_is_versioned_and_its_event_holds_no_personal_data(db):
    reply, _ = _commit(lambda uow: directory.update_merchant(
        uow, SA, "m1", 0, {"name": "Merchant One", "contact_name": "张三", "contact_phone": "13800138000"}))
    assert reply["version"] == 1 and reply["contact_phone"] == "13800138000" and not reply["pii_masked"]
    masked = directory.get_merchant(UnitOfWork("r"), AUDITOR, "m1")
    assert masked["contact_phone"] == "138****8000" and masked["contact_name"] == "张*" and masked["pii_masked"]
    (event,) = _events("merchant.updated")
    assert event.data["changes"] == {"name": {"before": "m1", "after": "Merchant One"},
                                                      "contact_name": "changed", "contact_phone": "changed"}
    stored = json.dumps(event.as_dict(), ensure_ascii=False)
    assert "13800138000" not in stored and "张三" not in stored
    stale = UnitOfWork("test")
    with pytest.raises(VersionChanged):                        # read at 0, it is at 1: nothing staged
        directory.update_merchant(stale, SA, "m1", 0, {"name": "late"})
    assert not stale.pending
    # a merchant admin changes its own merchant, never its status, never another merchant
    _commit(lambda uow: directory.update_merchant(uow, M1_ADMIN, "m1", 1, {"contact_phone": None}))
    with pytest.raises(Forbidden):
        directory.update_merchant(UnitOfWork("t"), M1_ADMIN, "m1", 2, {"status": "suspended"})
    with pytest.raises(Forbidden):
        directory.update_merchant(UnitOfWork("t"), M2_ADMIN, "m1", 2, {"name": "taken"})
    after = directory.get_merchant(UnitOfWork("r"), SA, "m1")
    assert after["version"] == 2 and after["contact_phone"] is None and after["status"] == "active"


def test_of_two_updates_read_at_one_version_one_commits(racing):
    uow = UnitOfWork("test")
    directory.update_store(uow, SA, "m1", "s1", 0, {"name": "first"})
    racing.race(StoreItem, bump("version"))             # another PATCH committed in between
    with pytest.raises(ConcurrentUpdate):
        uow.commit()
    assert racing.raced == 1
    with pytest.raises(VersionChanged):                 # the endpoint's retry reads it again: 409
        directory.update_store(UnitOfWork("t"), SA, "m1", "s1", 0, {"name": "first"})
    assert directory.get_store(UnitOfWork("r"), SA, "m1", "s1")["name"] == "s1"


def test_store_roles_and_location(db):
    reply, _ = _commit(lambda uow: directory.update_store(uow, M1_ADMIN, "m1", "s1", 0, {
        "latitude": 31.2304, "longitude": 121.4737, "address": "上海市人民大道 1 号"}))
    assert (reply["latitude"], reply["longitude"], reply["version"]) == (31.2304, 121.4737, 1)
    (event,) = _events("store.updated")
    assert event.data["changes"]["latitude"] == {"before": None, "after": 31.2304}
    _commit(lambda uow: directory.update_store(uow, S1_MANAGER, "m1", "s1", 1, {"name": "门店一"}))
    for values in ({"status": "suspended"}, {"latitude": 1.0, "longitude": 1.0}):
        with pytest.raises(Forbidden):
            directory.update_store(UnitOfWork("t"), S1_MANAGER, "m1", "s1", 2, values)
    with pytest.raises(ValidationProblem):
        directory.update_store(UnitOfWork("t"), SA, "m1", "s1", 2, {"latitude": 1.0})
    other_store = Principal("staff", "x", "store_manager", "m1", "s9")
    with pytest.raises(Forbidden):
        directory.get_store(UnitOfWork("r"), other_store, "m1", "s1")
    stored = directory.get_store(UnitOfWork("r"), SA, "m1", "s1")
    assert stored["name"] == "门店一" and stored["version"] == 2 and stored["latitude"] == 31.2304


def test_an_unlisted_merchant_from_before_is_listed_by_its_first_update(db):
    raw = MerchantItem(*MerchantItem.key("old"), merchant_id="old", name="old", created_at="2025-01-01")
    raw.gsi1pk = raw.gsi1sk = None
    UnitOfWork("test").put(raw)
    assert "old" not in [m["merchant_id"] for m in directory.list_merchants(UnitOfWork("r"), SA, 50, None)["merchants"]]
    _commit(lambda uow: directory.update_merchant(uow, SA, "old", 0, {"name": "old one"}))
    assert "old" in [m["merchant_id"] for m in directory.list_merchants(UnitOfWork("r"), SA, 50, None)["merchants"]]


def test_a_program_time_zone_change_is_versioned_and_applies_from_now_on(db):
    UnitOfWork("test").put(ProgramItem(*ProgramItem.key("default"), program_id="default", name="Demo",
                                       timezone="Asia/Shanghai", status="active", created_at="2026-01-01T00:00:00.000Z",
                                       gsi1pk=LISTING, gsi1sk="default"))
    zones.forget("default")
    with pytest.raises(ValidationProblem):
        programs.update(UnitOfWork("t"), 0, {"timezone": "Mars/Olympus"})
    with clock.in_program("default"):
        assert clock.program_zone() == "Asia/Shanghai"
    reply, _ = _commit(lambda uow: programs.update(uow, 0, {"timezone": "America/Los_Angeles"}))
    assert reply["timezone"] == "America/Los_Angeles" and reply["version"] == 1
    with clock.in_program("default"):                  # this container forgot the old zone at commit
        assert clock.program_zone() == "America/Los_Angeles"
    (event,) = _events("program.updated")
    data = event.data
    assert data["changes"] == {"timezone": {"before": "Asia/Shanghai", "after": "America/Los_Angeles"}}
    assert data["timezone_from"]
    with pytest.raises(VersionChanged):
        programs.update(UnitOfWork("t"), 0, {"name": "late"})
    assert programs.own(UnitOfWork("r"))["settings"] == {"pay_as_member": False}
    zones.forget("default")


def test_the_migration_lists_merchants_from_before_the_listing(aws):
    from chalicelib.db.migration import MERCHANT_LISTING, marker, migrate_merchant_listing
    from chalicelib.merchants.tables import LISTING as MERCHANTS
    main = MerchantItem.Meta.table_name
    assert MERCHANTS == "MERCHANTS"                          # the migration (db layer) writes it literally
    for program in ("default", "p2"):
        raw = MerchantItem(*MerchantItem.key("old"), merchant_id="old", name="old", created_at="2025-01-01")
        raw.gsi1pk = raw.gsi1sk = None
        UnitOfWork("test", program=program).put(raw)
    assert migrate_merchant_listing(aws, main) == {"listed": 2}
    assert migrate_merchant_listing(aws, main) == {"listed": 0}         # the marker: done
    for program in ("default", "p2"):
        listed = directory.list_merchants(UnitOfWork("r", program=program), SA, 50, None)["merchants"]
        assert "old" in [m["merchant_id"] for m in listed]
    aws.delete_item(TableName=main, Key=marker(MERCHANT_LISTING))
    assert migrate_merchant_listing(aws, main) == {"listed": 0}         # idempotent: nothing left to list


def test_integers_sent_as_strings_are_refused_and_change_nothing(api):
    """errors.md: integers are strict ("100" is refused, not coerced). A version sent as a string
    was applied by updateMerchant, updateStore, updateProgram and updateStaff, and rotateApiKey
    took ``"overlap_hours": "24"``."""
    from tests.integration.conftest import seed_merchants
    seed_merchants()
    merchant = api.ok("GET", "/v1/merchants/m1")
    store = api.ok("GET", "/v1/merchants/m1/stores/s1")
    program = api.ok("GET", "/v1/program")
    staff = api.ok("POST", "/v1/staff", {"login": "strict-ints", "display_name": "x", "role": "clerk",
                                         "merchant_id": "m1", "store_id": "s1"})
    key = api.ok("POST", "/v1/merchants/m1/api-keys", {"store_id": "s1"})
    for path, version in (("/v1/merchants/m1", merchant["version"]), ("/v1/merchants/m1/stores/s1", store["version"]),
                          ("/v1/program", program["version"]), (f"/v1/staff/{staff['staff_id']}", staff["version"])):
        status, problem = api.call("PATCH", path, {"version": str(version), "display_name" if "staff" in path else
                                                   "name": "Stringly"})
        assert status == 422 and "version" in json.dumps(problem), (path, problem)
    assert api.ok("GET", "/v1/merchants/m1")["name"] == merchant["name"]
    assert api.ok("GET", "/v1/merchants/m1/stores/s1")["name"] == store["name"]
    assert api.ok("GET", "/v1/program")["name"] == program["name"]
    assert api.ok("GET", f"/v1/staff/{staff['staff_id']}")["display_name"] == "x"
    status, problem = api.call("POST", f"/v1/merchants/m1/api-keys/{key['key_id']}/rotate", {"overlap_hours": "24"})
    assert status == 422 and "overlap_hours" in json.dumps(problem)
    listed = api.ok("GET", "/v1/merchants/m1/api-keys")["keys"]
    assert [k["status"] for k in listed if k["key_id"] == key["key_id"]] == ["active"] and len(listed) == 1
