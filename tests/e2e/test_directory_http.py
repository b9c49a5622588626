"""The directory over real HTTP (issue #28 item 5), as the console drives it: the caller's program,
its merchants and stores a page at a time, each role seeing and changing what it may, two PATCHes
read at one version (one wins, the other 409), bad input refused with nothing changed."""

from __future__ import annotations

import json
import threading

from devstack.credentials import staff_token
from tests.e2e.conftest import fresh_phone, readable, stored_items
from tests.e2e.test_tenancy_http import A, B, staff
from tests.outbox import image_events

PROBLEM = "application/problem+json"


def _merchant(api, stack, stores=()):
    """A fresh merchant of the demo program with ``stores``, and its admin's headers."""
    hq = staff(api, stack, A, "super_admin")
    merchant = f"dir-{fresh_phone()}"
    assert api.call("POST", "/v1/merchants", {"merchant_id": merchant, "name": "Directory"}, headers=hq,
                    key=f"dm-{merchant}").status_code == 201
    for store in stores:
        assert api.call("POST", f"/v1/merchants/{merchant}/stores", {"store_id": store, "name": store}, headers=hq,
                        key=f"ds-{merchant}-{store}").status_code == 201
    admin = api.bearer(staff_token("merchant_admin", f"dir-admin-{merchant}", merchant, program_id=A[0]))
    return merchant, hq, admin


def _stored(stack, merchant):
    return stored_items(stack, lambda pk, item: pk == f"default/MERCHANT#{merchant}")


def test_merchants_and_stores_are_paged_and_scoped_by_role(api, stack):
    merchant, hq, admin = _merchant(api, stack, stores=("s-a", "s-b", "s-c"))
    # HQ pages through every merchant of the program, one Query a page
    seen, after = [], None
    for _ in range(1000):
        page = api.call("GET", "/v1/merchants", headers=hq, params={"limit": "2", **({"after": after} if after else {})})
        assert page.status_code == 200, page.text
        seen += [m["merchant_id"] for m in page.json()["merchants"]]
        after = page.json()["next"]
        if after is None:
            break
    assert seen == sorted(seen) and {A[1], B[1], merchant} <= set(seen) and "p2-merchant" not in seen
    # its admin sees its own merchant only, and its stores page by page
    own = api.call("GET", "/v1/merchants", headers=admin).json()
    assert [m["merchant_id"] for m in own["merchants"]] == [merchant] and own["next"] is None
    first = api.call("GET", f"/v1/merchants/{merchant}/stores", headers=admin, params={"limit": "2"}).json()
    rest = api.call("GET", f"/v1/merchants/{merchant}/stores", headers=admin,
                    params={"limit": "2", "after": first["next"]}).json()
    assert [s["store_id"] for s in first["stores"] + rest["stores"]] == ["s-a", "s-b", "s-c"] and rest["next"] is None
    # store staff: their merchant and its stores list, but only their own store
    clerk = api.bearer(staff_token("clerk", f"dir-clerk-{merchant}", merchant, "s-a", program_id=A[0]))
    assert api.call("GET", f"/v1/merchants/{merchant}", headers=clerk).status_code == 200
    assert api.call("GET", f"/v1/merchants/{merchant}/stores/s-a", headers=clerk).status_code == 200
    assert api.call("GET", f"/v1/merchants/{merchant}/stores/s-b", headers=clerk).status_code == 403
    # readers see the whole program
    auditor = api.bearer(staff_token("auditor", "dir-auditor", program_id=A[0]))
    assert api.call("GET", f"/v1/merchants/{merchant}/stores/s-b", headers=auditor).status_code == 200


def test_contacts_are_masked_and_roles_change_what_they_may(api, stack):
    merchant, hq, admin = _merchant(api, stack, stores=("s-a",))
    changed = api.call("PATCH", f"/v1/merchants/{merchant}", {"version": 0, "contact_name": "李四",
                                                              "contact_phone": "13912345678"},
                       headers=admin, key=f"dc-{merchant}")
    assert changed.status_code == 200, changed.text
    assert changed.json()["pii_masked"] and changed.json()["contact_phone"] == "139****5678"
    shown = api.call("GET", f"/v1/merchants/{merchant}", headers=hq).json()
    assert shown["contact_phone"] == "13912345678" and shown["version"] == 1
    refused = api.call("PATCH", f"/v1/merchants/{merchant}", {"version": 1, "status": "suspended"}, headers=admin,
                       key=f"dst-{merchant}")
    assert refused.status_code == 403
    assert api.call("PATCH", f"/v1/merchants/{merchant}", {"version": 1, "status": "suspended"}, headers=hq,
                    key=f"dsh-{merchant}").json()["status"] == "suspended"
    manager = api.bearer(staff_token("store_manager", f"dir-sm-{merchant}", merchant, "s-a", program_id=A[0]))
    store = f"/v1/merchants/{merchant}/stores/s-a"
    assert api.call("PATCH", store, {"version": 0, "latitude": 31.2, "longitude": 121.5}, headers=manager,
                    key=f"dsl-{merchant}").status_code == 403
    named = api.call("PATCH", store, {"version": 0, "name": "一号店", "address": "人民路 1 号"}, headers=manager,
                     key=f"dsn-{merchant}")
    assert named.status_code == 200 and named.json()["version"] == 1, named.text
    located = api.call("PATCH", store, {"version": 1, "latitude": 31.2, "longitude": 121.5}, headers=admin,
                       key=f"dsa-{merchant}")
    assert located.status_code == 200 and (located.json()["latitude"], located.json()["longitude"]) == (31.2, 121.5)
    # the events: before -> after, the contact only as "changed"
    events = [e.as_dict() for e in image_events(stored_items(stack, lambda pk, _: pk.endswith(f"merchant:{merchant}")).values())
              if e.type in ("merchant.updated", "store.updated")]
    text = json.dumps(events, ensure_ascii=False, separators=(",", ":"))
    assert len(events) == 4 and "13912345678" not in text and "李四" not in text and '"contact_phone":"changed"' in text
    stored = readable(list(stored_items(stack, lambda pk, _: pk.endswith(f"merchant:{merchant}")).values()))
    assert "merchant.updated" in stored and "13912345678" not in stored      # a search sees inside packed events


def test_another_merchants_admin_is_refused_and_nothing_changes(api, stack):
    other = api.bearer(staff_token("merchant_admin", "dir-b-admin", B[1], program_id=A[0]))
    before = _stored(stack, A[1])
    for method, path, body in (("GET", f"/v1/merchants/{A[1]}", None),
                               ("PATCH", f"/v1/merchants/{A[1]}", {"version": 0, "name": "taken over"}),
                               ("GET", f"/v1/merchants/{A[1]}/stores", None),
                               ("GET", f"/v1/merchants/{A[1]}/stores/demo-store", None),
                               ("PATCH", f"/v1/merchants/{A[1]}/stores/demo-store", {"version": 0, "name": "x"})):
        r = api.call(method, path, body, headers=other, key=f"dx-{fresh_phone()}")
        assert r.status_code == 403 and r.headers["Content-Type"].startswith(PROBLEM), (method, path, r.text)
    assert _stored(stack, A[1]) == before


def test_two_patches_read_at_one_version_one_wins_the_other_409(api, stack):
    merchant, hq, _ = _merchant(api, stack, stores=("s-a",))
    replies = {}

    def patch(i):
        replies[i] = api.call("PATCH", f"/v1/merchants/{merchant}/stores/s-a", {"version": 0, "name": f"name {i}"},
                              headers=hq, key=f"dr-{merchant}-{i}")
    threads = [threading.Thread(target=patch, args=(i,)) for i in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    statuses = sorted(r.status_code for r in replies.values())
    assert statuses == [200, 409, 409, 409], [r.text for r in replies.values()]
    lost = [r.json() for r in replies.values() if r.status_code == 409]
    assert all(p["type"].endswith("/version-changed") and p["current_version"] == 1 for p in lost)
    winner = next(r.json() for r in replies.values() if r.status_code == 200)
    stored = api.call("GET", f"/v1/merchants/{merchant}/stores/s-a", headers=hq).json()
    assert stored["name"] == winner["name"] and stored["version"] == 1


def test_bad_input_is_a_422_problem_and_changes_nothing(api, stack):
    merchant, hq, _ = _merchant(api, stack, stores=("s-a",))
    before = _stored(stack, merchant)
    store = f"/v1/merchants/{merchant}/stores/s-a"
    for path, body in ((store, {"version": 0, "latitude": 91, "longitude": 0}),
                       (store, {"version": 0, "longitude": -180.5, "latitude": 0}),
                       (store, {"version": 0, "latitude": 10}),                     # without its longitude
                       (store, {"version": 0, "name": "x", "colour": "red"}),       # an unknown field
                       (store, {"version": 0}),                                     # nothing to change
                       (store, {"version": 0, "name": None}),
                       (f"/v1/merchants/{merchant}", {"version": 0, "contact_phone": "call me"}),
                       (f"/v1/merchants/{merchant}", {"version": 0, "status": "closed"})):
        r = api.call("PATCH", path, body, headers=hq, key=f"db-{fresh_phone()}")
        assert r.status_code == 422 and r.headers["Content-Type"].startswith(PROBLEM), (body, r.status_code, r.text)
    assert _stored(stack, merchant) == before


def test_the_programs_name_and_time_zone(api, stack):
    program = f"dir-{fresh_phone()}"
    made = api.call("POST", "/v1/programs", {"program_id": program, "name": "Directory"},
                    headers=api.staff("platform_admin"), key=f"dp-{program}")
    assert made.status_code == 201, made.text
    owner = api.bearer(staff_token("super_admin", "dir-owner", program_id=program))
    shown = api.call("GET", "/v1/program", headers=owner).json()
    assert (shown["program_id"], shown["timezone"], shown["version"]) == (program, "Asia/Shanghai", 0)
    assert shown["settings"] == {"pay_as_member": False}
    before = stored_items(stack, lambda pk, item: pk == f"PROGRAM#{program}")
    for body in ({"version": 0, "timezone": "Mars/Olympus"}, {"version": 0, "name": "x", "currency": "CNY"},
                 {"version": 0}):
        r = api.call("PATCH", "/v1/program", body, headers=owner, key=f"dpb-{fresh_phone()}")
        assert r.status_code == 422 and r.headers["Content-Type"].startswith(PROBLEM), r.text
    ops = api.bearer(staff_token("ops_manager", "dir-ops", program_id=program))
    assert api.call("PATCH", "/v1/program", {"version": 0, "name": "x"}, headers=ops,
                    key=f"dpo-{program}").status_code == 403
    assert stored_items(stack, lambda pk, item: pk == f"PROGRAM#{program}") == before
    moved = api.call("PATCH", "/v1/program", {"version": 0, "timezone": "America/Los_Angeles", "name": "LA"},
                     headers=owner, key=f"dpt-{program}")
    assert moved.status_code == 200 and moved.json()["timezone"] == "America/Los_Angeles", moved.text
    assert api.call("GET", "/v1/program", headers=owner).json()["version"] == 1
    stale = api.call("PATCH", "/v1/program", {"version": 0, "name": "late"}, headers=owner, key=f"dps-{program}")
    assert stale.status_code == 409 and stale.json()["type"].endswith("/version-changed")
    events = [e for e in image_events(stored_items(stack, lambda pk, _: pk.endswith(f"program:{program}")).values())
              if e.type == "program.updated"]
    assert len(events) == 1 and "America/Los_Angeles" in str(events)
