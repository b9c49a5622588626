"""Third-party codes over real HTTP on the local stack (issue #26): HQ imports a platform's codes, a
till writes one off with the saving worked out by hand, a replay answers the same, 8 tills at once
write a code off once, wrong codes lock the caller out, an undo is refused after the template's
window and allowed within it; a live-verified template asks a real HTTP provider on 127.0.0.1, and
a provider that is down is a 503 that changes nothing."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.e2e.conftest import all_at_once, fresh_phone
from tests.e2e.test_tenancy_http import A, pos, register_at, staff

TPL = "/v1/coupon-templates"
TERMS = {"kind": "third_party", "title": "抖音团购 30元代金券", "platform": "douyin", "amount_off_fen": 3_000,
         "undo_window_minutes": 30, "validity": {"days_after_claim": 30},
         "cost_bearer": {"shares": {"brand": 70, "merchant": 30}}}


def _template(api, stack, tag, terms=TERMS):
    body = {"terms": terms, "stock": 0, "state": "active", "merchant_id": A[1]}
    r = api.call("POST", TPL, body, headers=staff(api, stack, A, "super_admin"), key=f"tp-{tag}-{fresh_phone()}")
    assert r.status_code == 201, r.text
    return r.json()["template_id"]


def _import(api, stack, template, codes, key):
    return api.call("POST", f"{TPL}/{template}/codes", {"codes": codes}, headers=staff(api, stack, A, "super_admin"),
                    key=key)


def _statuses(replies):
    return sorted(r.status_code for r in replies.values())


def test_imported_codes_at_the_till(api, stack):
    from chalicelib.coupons.tables import CouponItem
    from chalicelib.shared import clock
    tag = fresh_phone()
    template = _template(api, stack, "imp")
    codes = [f"DY{tag}{i:03d}" for i in range(3)]
    imported = _import(api, stack, template, codes + [codes[0].lower()], f"imp-{tag}")
    assert imported.status_code == 201, imported.text
    assert (imported.json()["imported"], imported.json()["duplicates"]) == (3, 1)
    assert imported.json()["stock"] == {"total": 3, "left": 3, "taken": 0}
    again = _import(api, stack, template, codes[1:], f"imp2-{tag}").json()
    assert (again["imported"], again["duplicates"], again["stock"]["total"]) == (0, 2, 3)

    # 2 × 12.90 + 1 × 26.00 = 51.80; 30.00 off spread in proportion: 30 × 25.80 / 51.80 = 14.942 -> 14.94,
    # 30 × 26.00 / 51.80 = 15.058 -> 15.05, the odd fen to the larger remainder (cake): 14.94 + 15.06
    cart = {"code": codes[0], "order_id": f"tp-{tag}", "store_id": "demo-store",
            "lines": [{"sku": "tea", "quantity": 2, "unit_price_fen": 1_290},
                      {"sku": "cake", "quantity": 1, "unit_price_fen": 2_600}]}
    used = api.call("POST", "/v1/coupons/write-offs", cart, signed_by=pos(stack, A), key=f"tpw-{tag}")
    assert used.status_code == 201, used.text
    assert used.json()["saving"]["fen"] == 3_000
    assert [x["fen"] for x in used.json()["saving"]["lines"]] == [1_494, 1_506]
    assert used.json()["coupon"]["cost"] == {"brand": 2_100, "merchant": 900}
    replay = api.call("POST", "/v1/coupons/write-offs", cart, signed_by=pos(stack, A), key=f"tpw-{tag}")
    assert replay.status_code == 201 and replay.json() == used.json()
    coupon = used.json()["coupon"]
    stored = CouponItem.get(*_physical(coupon["member_id"], coupon["coupon_id"]), consistent_read=True)
    assert stored.state == "used" and int(stored.saving_fen) == 3_000 and codes[0] not in stored.code

    # one code at 8 tills at once: written off once
    clerk = staff(api, stack, A, "clerk")
    till = [pos(stack, A), None] * 4
    replies = all_at_once(8, lambda i: api.call("POST", "/v1/coupons/write-offs",
                                                {"code": codes[1], "order_id": f"t8-{tag}-{i}",
                                                 "order_amount_fen": 9_000},
                                                signed_by=till[i], headers=None if till[i] else clerk,
                                                key=f"tp8-{tag}-{i}"))
    assert _statuses(replies).count(201) == 1, _statuses(replies)
    assert all(r.json()["type"].endswith("/coupon-used") for r in replies.values() if r.status_code != 201)
    shown = api.call("GET", f"{TPL}/{template}", headers=staff(api, stack, A, "super_admin")).json()
    assert shown["stock"] == {"total": 3, "left": 1, "taken": 2}

    # the undo window: refused after 30 minutes, allowed within
    undo = {"code": codes[0], "order_id": cart["order_id"]}
    try:
        clock.freeze(clock.now() + timedelta(minutes=31))
        late = api.call("POST", "/v1/coupons/write-offs/undo", undo, signed_by=pos(stack, A), key=f"tpu1-{tag}")
        assert late.status_code == 409 and "30 minutes" in late.json()["detail"]
    finally:
        clock.freeze(None)
    undone = api.call("POST", "/v1/coupons/write-offs/undo", undo, signed_by=pos(stack, A), key=f"tpu2-{tag}")
    assert undone.status_code == 200 and undone.json()["restored"] and undone.json()["coupon"]["state"] == "unused"
    reused = api.call("POST", "/v1/coupons/write-offs", {**cart, "order_id": f"tp2-{tag}"}, signed_by=pos(stack, A),
                      key=f"tpw2-{tag}")
    assert reused.status_code == 201 and reused.json()["coupon"]["coupon_id"] == coupon["coupon_id"]


def _physical(member_id, coupon_id):
    from chalicelib.coupons.tables import CouponItem
    pk, sk = CouponItem.key(member_id, coupon_id)
    return f"{A[0]}/{pk}", sk


def test_wrong_third_party_codes_count_toward_the_callers_lockout(api, stack):
    from chalicelib.coupons import guard
    from devstack.credentials import staff_token
    tag = fresh_phone()
    template = _template(api, stack, "lock")
    assert _import(api, stack, template, [f"MT{tag}"], f"lk-{tag}").status_code == 201
    guesser = api.bearer(staff_token("clerk", f"guess-{tag}", A[1], "demo-store", program_id=A[0]))
    for i in range(guard.TRIES):
        r = api.call("POST", "/v1/coupons/validate", {"code": f"MT{tag}{i:02d}", "order_id": "g",
                                                      "order_amount_fen": 9_000}, headers=guesser)
        assert r.status_code == 422 and r.json()["type"].endswith("/coupon-code-rejected"), r.text
    locked = api.call("POST", "/v1/coupons/validate", {"code": f"MT{tag}", "order_id": "g", "order_amount_fen": 9_000},
                      headers=guesser)
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) >= 1


class _Platform(BaseHTTPRequestHandler):
    codes: dict[str, str | None] = {}            # code -> the order it was consumed for

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        code, order = body["code"], body.get("order_id")
        status, reply = 200, {}
        if code not in self.codes:
            status = 404
        elif self.path == "/verify":
            status, reply = (200, {"face_value_fen": 3_000, "valid_until": None, "ref": f"ref-{code}"}) \
                if self.codes[code] is None else (404, {})
        elif self.path == "/consume":
            if self.codes[code] not in (None, order):
                status = 409
            else:
                self.codes[code] = order
        elif self.path == "/cancel":
            self.codes[code] = None
        data = json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def platform(monkeypatch):
    from chalicelib.coupons import verifiers
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Platform)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv(verifiers.URL, f"http://127.0.0.1:{server.server_address[1]}")
    yield server
    server.shutdown()
    server.server_close()


def test_a_live_code_is_verified_consumed_and_cancelled_at_the_platform(api, stack, platform):
    tag = fresh_phone()
    template = _template(api, stack, "live", {**TERMS, "codes": "live"})
    code = f"LV{tag}"
    _Platform.codes[code] = None
    api.call("PATCH", f"{TPL}/{template}", {"add_stock": 5}, headers=staff(api, stack, A, "super_admin"),
             key=f"lv-s-{tag}")
    member = register_at(api, stack, A)[0]
    cart = {"code": code, "template_id": template, "order_id": f"lv-{tag}", "order_amount_fen": 9_000,
            "member_id": member}
    unknown = api.call("POST", "/v1/coupons/validate", {**cart, "code": f"LX{tag}"}, signed_by=pos(stack, A))
    assert unknown.status_code == 422
    used = api.call("POST", "/v1/coupons/write-offs", cart, signed_by=pos(stack, A), key=f"lv-w-{tag}")
    assert used.status_code == 201, used.text
    assert used.json()["saving"]["fen"] == 3_000 and _Platform.codes[code] == cart["order_id"]
    listed = api.call("GET", f"/v1/members/{member}/coupons", signed_by=pos(stack, A)).json()["coupons"]
    assert [c["state"] for c in listed] == ["used"]
    undone = api.call("POST", "/v1/coupons/write-offs/undo", {"code": code, "order_id": cart["order_id"]},
                      signed_by=pos(stack, A), key=f"lv-u-{tag}")
    assert undone.status_code == 200 and undone.json()["restored"] and _Platform.codes[code] is None

    # the provider goes down: 503 and nothing changes here
    platform.shutdown()
    platform.server_close()
    second = f"LW{tag}"
    _Platform.codes[second] = None
    down = api.call("POST", "/v1/coupons/write-offs", {**cart, "code": second, "order_id": f"lv2-{tag}"},
                    signed_by=pos(stack, A), key=f"lv-d-{tag}")
    assert down.status_code == 503 and down.json()["type"].endswith("/coupon-platform-unavailable"), down.text
    again = api.call("POST", "/v1/coupons/write-offs", {**cart, "order_id": f"lv3-{tag}"},
                     signed_by=pos(stack, A), key=f"lv-d2-{tag}")
    assert again.status_code == 503                       # the restored code's write-off needs the platform too
    listed = api.call("GET", f"/v1/members/{member}/coupons", signed_by=pos(stack, A)).json()["coupons"]
    assert [c["state"] for c in listed] == ["unused"]
