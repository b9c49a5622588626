"""Issue #25 attacked from outside: webhooks as an integrator and a security tester see them, from
the README, the integrator docs, the served OpenAPI document and issue #25 only (not the source).

Each test asserts what the documents promise. A test that passes guards a promise kept; a test
that fails is a finding (listed in the attack's report)."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from chalicelib.shared.credentials import mint_token
from tests.e2e.conftest import all_at_once, fresh_phone
from tests.e2e.test_tenancy_http import P2, staff
from tests.webhook_receiver import Receiver

PROGRAM = "hooks-attack"
BASE = "/v1/webhooks/subscriptions"
SEEN_AFTER = 1.3          # the fan-out reads subscriptions once a second (tests/e2e/test_webhooks_e2e.py)
PROBLEM = "application/problem+json"


# --- set-up ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hq(api, stack):
    """HQ (super_admin) of a program of this file's own, with merchants ma and mb."""
    platform = api.bearer(stack.credentials["staff_tokens"]["platform_admin"])
    made = api.call("POST", "/v1/programs", {"program_id": PROGRAM, "name": "Attack"}, headers=platform,
                    key=f"prog-{PROGRAM}")
    assert made.status_code in (201, 409), made.text
    headers = api.bearer(mint_token("staff", "attack-admin", 60, role="super_admin", program_id=PROGRAM))
    for shop in ("ma", "mb"):
        r = api.call("POST", "/v1/merchants", {"merchant_id": shop, "name": shop}, headers=headers, key=f"m-{shop}")
        assert r.status_code in (201, 409), r.text
        r = api.call("POST", f"/v1/merchants/{shop}/stores", {"store_id": f"{shop}-s1", "name": "s1"},
                     headers=headers, key=f"s-{shop}")
        assert r.status_code in (201, 409), r.text
    return headers


def key_of(api, hq, merchant, capabilities, store_id=None):
    body: dict[str, Any] = {"capabilities": capabilities}
    if store_id:
        body["store_id"] = store_id
    made = api.call("POST", f"/v1/merchants/{merchant}/api-keys", body, headers=hq, key=f"k-{merchant}-{fresh_phone()}")
    assert made.status_code == 201, made.text
    return {"key_id": made.json()["key_id"], "secret": made.json()["secret"]}


@pytest.fixture(scope="module")
def keys(api, hq):
    return {"ma": key_of(api, hq, "ma", ["webhooks"]), "mb": key_of(api, hq, "mb", ["webhooks"]),
            "ma_pos": key_of(api, hq, "ma", ["pos"]), "mb_pos": key_of(api, hq, "mb", ["pos"]),
            "ma_store": key_of(api, hq, "ma", ["webhooks", "pos"], store_id="ma-s1")}


def create(api, url, filters, headers=None, signed_by=None, key=None, **extra):
    return api.call("POST", BASE, {"url": url, "filters": filters, **extra}, headers=headers, signed_by=signed_by,
                    key=key or f"sub-{fresh_phone()}")


def subscribe(api, receiver, filters, headers=None, signed_by=None, wait=True, **extra):
    made = create(api, receiver.url, filters, headers=headers, signed_by=signed_by, **extra)
    assert made.status_code == 201, made.text
    receiver.secrets.append(made.json()["secret"])
    if wait:
        time.sleep(SEEN_AFTER)
    return made.json()["subscription_id"]


def delete(api, headers, *subs, signed_by=None):
    for sub in subs:
        api.call("DELETE", f"{BASE}/{sub}", headers=headers, signed_by=signed_by, key=f"del-{sub}-{fresh_phone()}")


def member(api, hq, merchant="ma", **extra):
    r = api.call("POST", "/v1/members", {"phone": fresh_phone(), "merchant_id": merchant, **extra}, headers=hq,
                 key=fresh_phone())
    assert r.status_code == 201, r.text
    return r.json()["member_id"]


def earn(api, hq, mid, fen, merchant="ma", order_id=None):
    r = api.call("POST", f"/v1/members/{mid}/points/earn",
                 {"order_id": order_id or f"o-{fresh_phone()}", "merchant_id": merchant, "amount_fen": fen},
                 headers=hq, key=fresh_phone())
    assert r.status_code == 201, r.text
    return r.json()


def settle(stack, receiver=None, n=0, timeout=30.0):
    stack.drain(timeout)
    if receiver is not None and n:
        receiver.wait_for(n, timeout)
    stack.wait_webhooks_idle(timeout)


def listed(api, headers=None, signed_by=None):
    r = api.call("GET", BASE, headers=headers, signed_by=signed_by)
    assert r.status_code == 200, r.text
    return {s["subscription_id"]: s for s in r.json()["subscriptions"]}


def untoward(receiver):
    """Posts a refused caller could have caused: a test post, or an event posted twice (a replay)."""
    ids = receiver.ids()
    return [p["body"]["type"] for p in receiver.posts
            if p["body"]["type"] == "webhook.test" or ids.count(p["headers"]["webhook-id"]) > 1]


def is_problem(r, *statuses):
    assert r.status_code in statuses, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith(PROBLEM), r.headers
    assert r.json()["status"] == r.status_code


class Scripted:
    """A receiver whose answer is fully scripted: ``answer(n, path) -> (status, headers, body bytes,
    delay)``; keeps every request (method, path, headers, body)."""

    def __init__(self, answer) -> None:
        self.answer = answer
        self.posts: list[dict[str, Any]] = []
        me = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                n = int(self.headers.get("Content-Length", "0") or 0)
                body = self.rfile.read(n).decode() if n else ""
                me.posts.append({"method": self.command, "path": self.path, "body": body,
                                 "headers": {k.lower(): v for k, v in self.headers.items()}})
                status, headers, payload, delay = me.answer(len(me.posts), self.path)
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    if delay:                                      # a slow drip: headers, then the body slowly
                        self.send_header("Content-Length", str(len(payload)))
                        self.end_headers()
                        for i in range(len(payload)):
                            self.wfile.write(payload[i:i + 1])
                            self.wfile.flush()
                            time.sleep(delay)
                    else:
                        self.send_header("Content-Length", str(len(payload)))
                        self.end_headers()
                        self.wfile.write(payload)
                except OSError:
                    pass

            do_POST = do_GET = do_PUT = _any  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = self.base + "/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- who may touch a subscription ------------------------------------------------------------------

def _every_operation(api, sub, headers=None, signed_by=None):
    """Every operation on one subscription, as this caller: {operation: reply}."""
    p = f"{BASE}/{sub}"
    k = fresh_phone()
    return {
        "get": api.call("GET", p, headers=headers, signed_by=signed_by),
        "update": api.call("PATCH", p, {"url": "http://127.0.0.1:9/evil", "filters": ["*"]}, headers=headers,
                           signed_by=signed_by, key=f"u-{k}"),
        "disable": api.call("PATCH", p, {"enabled": False}, headers=headers, signed_by=signed_by, key=f"d-{k}"),
        "rotate": api.call("POST", f"{p}/secret/rotate", {"overlap_hours": 0}, headers=headers, signed_by=signed_by,
                           key=f"r-{k}"),
        "deliveries": api.call("GET", f"{p}/deliveries", headers=headers, signed_by=signed_by),
        "replay": api.call("POST", f"{p}/replays", {"since": (datetime.now(UTC) - timedelta(hours=1))
                                                    .isoformat().replace("+00:00", "Z")},
                           headers=headers, signed_by=signed_by, key=f"rp-{k}"),
        "test": api.call("POST", f"{p}/test", headers=headers, signed_by=signed_by, key=f"t-{k}"),
        "delete": api.call("DELETE", p, headers=headers, signed_by=signed_by, key=f"x-{k}"),
    }


def test_another_program_sees_none_of_a_subscription(api, stack, hq):
    receiver = Receiver()
    sub = subscribe(api, receiver, ["*"], headers=hq, wait=False)
    before = api.call("GET", f"{BASE}/{sub}", headers=hq).json()
    try:
        other_hq = staff(api, stack, P2, "super_admin")
        p2_key = key_of(api, api.bearer(stack.credentials["programs"]["demo-2"]["staff_tokens"]["super_admin"]),
                        P2[1], ["webhooks"])
        for who in ({"headers": other_hq}, {"signed_by": p2_key}, {"headers": api.staff()}):
            replies = _every_operation(api, sub, **who)
            for _op, r in replies.items():
                is_problem(r, 404)
            assert sub not in listed(api, **who)
        assert api.call("GET", f"{BASE}/{sub}", headers=hq).json() == before
        settle(stack)
        assert untoward(receiver) == []                               # no test post, no replay
    finally:
        delete(api, hq, sub)
        receiver.close()


def test_another_merchants_key_sees_none_of_a_merchants_subscription_nor_hqs(api, stack, hq, keys):
    receiver, hq_receiver = Receiver(), Receiver()
    mine = subscribe(api, receiver, ["*"], signed_by=keys["ma"], wait=False)
    program_wide = subscribe(api, hq_receiver, ["*"], headers=hq, wait=False)
    states = {s: api.call("GET", f"{BASE}/{s}", headers=hq).json() for s in (mine, program_wide)}
    try:
        for sub in (mine, program_wide):
            for op, r in _every_operation(api, sub, signed_by=keys["mb"]).items():
                assert r.status_code == 404, (sub, op, r.status_code, r.text)
        # ma's key does not reach HQ's program-wide subscription either
        for op, r in _every_operation(api, program_wide, signed_by=keys["ma"]).items():
            assert r.status_code == 404, (op, r.status_code, r.text)
        assert set(listed(api, signed_by=keys["mb"])) & {mine, program_wide} == set()
        assert set(listed(api, signed_by=keys["ma"])) & {mine, program_wide} == {mine}
        assert {s: api.call("GET", f"{BASE}/{s}", headers=hq).json() for s in (mine, program_wide)} == states
        settle(stack)
        assert untoward(receiver) == [] and untoward(hq_receiver) == []
        # ma's subscription received nothing of mb's (the keys fixture made mb's keys just before)
        assert [p["raw"] for p in receiver.posts if '"mb' in p["raw"]] == []
    finally:
        delete(api, hq, mine, program_wide)
        receiver.close()
        hq_receiver.close()


def test_callers_without_the_right_are_refused_everything(api, stack, hq, keys):
    receiver = Receiver()
    sub = subscribe(api, receiver, ["*"], signed_by=keys["ma"], wait=False)
    before = api.call("GET", f"{BASE}/{sub}", headers=hq).json()
    program = PROGRAM
    clerk = api.bearer(mint_token("staff", "att-clerk", 60, role="clerk", program_id=program, merchant_id="ma",
                                  store_id="ma-s1"))
    manager = api.bearer(mint_token("staff", "att-mgr", 60, role="store_manager", program_id=program,
                                    merchant_id="ma", store_id="ma-s1"))
    mid = member(api, hq)
    minted = api.call("POST", "/v1/auth/member-tokens", {"member_id": mid, "verified_by": "sms_otp"}, headers=hq)
    assert minted.status_code == 201, minted.text
    member_token = api.bearer(minted.json()["token"])
    try:
        for name, who in (("clerk", {"headers": clerk}), ("store_manager", {"headers": manager}),
                          ("member", {"headers": member_token}), ("pos key", {"signed_by": keys["ma_pos"]})):
            made = create(api, receiver.url, ["*"], **who)
            assert made.status_code in (401, 403), (name, made.status_code, made.text)
            assert api.call("GET", BASE, **who).status_code in (401, 403), name
            for op, r in _every_operation(api, sub, **who).items():
                assert r.status_code in (401, 403, 404), (name, op, r.status_code, r.text)
        assert api.call("GET", f"{BASE}/{sub}", headers=hq).json() == before
        settle(stack)
        assert untoward(receiver) == []
    finally:
        delete(api, hq, sub)
        receiver.close()


def test_a_merchant_key_cannot_widen_its_subscription_to_the_program_or_another_merchant(api, stack, hq, keys):
    receiver = Receiver()
    try:
        for merchant in ("mb", None):
            body = {"url": receiver.url, "filters": ["*"], "merchant_id": merchant}
            r = api.call("POST", BASE, body, signed_by=keys["ma"], key=fresh_phone())
            if merchant is None:          # null: "a merchant's key: its own, always"
                assert r.status_code in (201, 403), r.text
                if r.status_code == 201:
                    assert r.json()["merchant_id"] == "ma"
                    delete(api, hq, r.json()["subscription_id"])
            else:
                is_problem(r, 403, 404)
        # an HQ subscription for a merchant of another program, or of no merchant at all
        for merchant in (P2[1], "no-such-shop"):
            r = create(api, receiver.url, ["*"], headers=hq, merchant_id=merchant)
            is_problem(r, 404, 422)
        # PATCH cannot move a subscription to another merchant (merchant_id is not updatable)
        sub = subscribe(api, receiver, ["*"], signed_by=keys["ma"], wait=False)
        r = api.call("PATCH", f"{BASE}/{sub}", {"merchant_id": "mb"}, signed_by=keys["ma"], key=fresh_phone())
        is_problem(r, 422)
        assert api.call("GET", f"{BASE}/{sub}", headers=hq).json()["merchant_id"] == "ma"
        delete(api, hq, sub)
    finally:
        receiver.close()


def test_a_store_scoped_key_does_not_get_the_merchants_whole_stream(api, stack, hq, keys):
    """A store-scoped key 'acts for its store only' (docs/operators/programs.md): it must not manage
    the merchant-level subscriptions, nor subscribe to the merchant's every event. (Subscriptions
    are a merchant's: a store-scoped key is refused every webhook operation, 403.)"""
    receiver = Receiver()
    merchant_sub = subscribe(api, receiver, ["*"], signed_by=keys["ma"], wait=False)
    try:
        is_problem(api.call("GET", BASE, signed_by=keys["ma_store"]), 403)
        r = api.call("GET", f"{BASE}/{merchant_sub}", signed_by=keys["ma_store"])
        assert r.status_code in (403, 404), r.text
        made = create(api, receiver.url, ["*"], signed_by=keys["ma_store"])
        if made.status_code == 201:                          # if allowed at all, it must be the store's only
            delete(api, hq, made.json()["subscription_id"])
            assert made.json().get("store_id") == "ma-s1", made.json()
        else:
            is_problem(made, 403)
    finally:
        delete(api, hq, merchant_sub)
        receiver.close()


# --- bad input -------------------------------------------------------------------------------------

BAD_URLS = ["ftp://127.0.0.1/hooks", "http://user:pass@127.0.0.1:9/hooks", "http://127.0.0.1:9/hooks#frag",
            "http://127.0.0.1:9/" + "a" * 2100, "javascript:alert(1)", "http:///nohost", "http://", "not a url",
            "file:///etc/passwd", "gopher://127.0.0.1:9/", "http://127.0.0.1:99999/", "http://[::1/",
            "http://127.0.0.1:9/ho oks", "http://127.0.0.1:9/\nX-Injected: 1", "http://例子.测试/hooks"]
# (strings are trimmed before they are judged, as every request's are: "  http://127.0.0.1:9/hooks"
# and "HTTP://127.0.0.1:9/\r\n" are the URLs without the spaces; test_trimmed_urls_are_stored_trimmed)
# ("**", "points.**" and "*earned" are accepted: each matches known types, so they are not refused here)
BAD_FILTERS = [[], ["nothing.known"], [""], ["points.?"], ["*"] * 21, ["points."],
               ["points.earned", 3], [None], "points.*", ["*.*.*"], ["POINTS.*"], ["points.[a-z]*"]]


def test_bad_urls_are_problems_and_change_nothing(api, stack, hq):
    before = listed(api, headers=hq)
    wrong = []
    for url in BAD_URLS:
        r = create(api, url, ["*"], headers=hq)
        if not (r.status_code == 422 and r.headers["Content-Type"].startswith(PROBLEM)):
            wrong.append((url[:60], r.status_code))
    made = set(listed(api, headers=hq)) - set(before)
    delete(api, hq, *made)
    assert wrong == [] and not made, (wrong, made)


def test_bad_filters_are_problems_and_change_nothing(api, stack, hq):
    before = listed(api, headers=hq)
    wrong = []
    for filters in BAD_FILTERS:
        r = create(api, "http://127.0.0.1:9/hooks", filters, headers=hq)
        if not (r.status_code == 422 and r.headers["Content-Type"].startswith(PROBLEM)):
            wrong.append((str(filters)[:40], r.status_code))
    made = set(listed(api, headers=hq)) - set(before)
    delete(api, hq, *made)
    assert wrong == [] and not made, (wrong, made)


def test_bad_bodies_and_types_are_problems_and_change_nothing(api, stack, hq):
    before = listed(api, headers=hq)
    wrong = []
    url = "http://127.0.0.1:9/hooks"
    for body in ({"url": url, "filters": ["*"], "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
                 {"url": url, "filters": ["*"], "enabled": False, "extra": 1},
                 {"url": url}, {"filters": ["*"]}, {"url": 5, "filters": ["*"]}, {"url": url, "filters": {"a": 1}},
                 {"url": url, "filters": ["*"], "description": "x" * 201},
                 {"url": url, "filters": ["*"], "merchant_id": 7}, [], "x", None):
        r = api.call("POST", BASE, body, headers=hq, key=fresh_phone())
        if not (r.status_code in (400, 422) and r.headers["Content-Type"].startswith(PROBLEM)):
            wrong.append((str(body)[:60], r.status_code))
    made = set(listed(api, headers=hq)) - set(before)
    delete(api, hq, *made)
    assert wrong == [] and not made, (wrong, made)


def test_bad_updates_rotations_and_replays_are_problems_and_change_nothing(api, stack, hq):
    receiver = Receiver()
    sub = subscribe(api, receiver, ["points.*"], headers=hq, wait=False)
    before = api.call("GET", f"{BASE}/{sub}", headers=hq).json()
    p = f"{BASE}/{sub}"
    wrong = []
    try:
        for body in ({"url": "ftp://x.example/"}, {"filters": []}, {"filters": ["nothing.known"]},
                     {"enabled": "false"}, {"enabled": 0}, {"status": "disabled"}, {"secret": "whsec_x"},
                     {"url": None, "filters": ["points.[a-z]*"]}, {"description": "x" * 201}):
            r = api.call("PATCH", p, body, headers=hq, key=fresh_phone())
            if not (r.status_code == 422 and r.headers["Content-Type"].startswith(PROBLEM)):
                wrong.append((str(body)[:60], r.status_code))
        for body in ({"overlap_hours": -1}, {"overlap_hours": 169}, {"overlap_hours": "24"}, {"overlap_hours": True},
                     {"overlap_hours": 1.5}, {"overlap_hours": 24, "secret": "whsec_x"}):
            r = api.call("POST", f"{p}/secret/rotate", body, headers=hq, key=fresh_phone())
            if not (r.status_code == 422 and r.headers["Content-Type"].startswith(PROBLEM)):
                wrong.append((str(body)[:60], r.status_code))
        now = datetime.now(UTC)
        for body in ({}, {"event_id": "x" * 26}, {"event_id": "01" + "Z" * 24}, {"after": "garbage"},
                     {"since": "yesterday"}, {"since": (now - timedelta(days=31)).isoformat()},
                     {"since": (now + timedelta(days=1)).isoformat(), "event_id": "0" * 26},
                     {"since": now.isoformat(), "after": "!" * 26}, {"event_id": 5}):
            r = api.call("POST", f"{p}/replays", body, headers=hq, key=fresh_phone())
            if not (r.status_code in (404, 422) and r.headers["Content-Type"].startswith(PROBLEM)):
                wrong.append((str(body)[:60], r.status_code))
        for q in ({"since": "nope"}, {"limit": "0"}, {"limit": "201"}, {"status": "weird"}, {"after": "short"},
                  {"since": (now - timedelta(days=40)).isoformat().replace("+00:00", "Z")}):
            r = api.call("GET", f"{p}/deliveries", headers=hq, params=q)
            if not (r.status_code == 422 and r.headers["Content-Type"].startswith(PROBLEM)):
                wrong.append((str(q)[:60], r.status_code))
        after = api.call("GET", p, headers=hq).json()
        settle(stack)
        assert wrong == [] and after == before, wrong
        assert receiver.posts == []
    finally:
        delete(api, hq, sub)
        receiver.close()


# --- idempotency -----------------------------------------------------------------------------------

def test_a_retried_create_answers_the_same_subscription_and_secret_and_another_body_is_refused(api, stack, hq):
    receiver = Receiver()
    body = {"url": receiver.url, "filters": ["points.*"], "description": "crm"}
    k = f"idem-{fresh_phone()}"
    before = set(listed(api, headers=hq))
    try:
        first = api.call("POST", BASE, body, headers=hq, key=k)
        again = api.call("POST", BASE, body, headers=hq, key=k)
        assert first.status_code == again.status_code == 201, (first.text, again.text)
        assert again.json()["subscription_id"] == first.json()["subscription_id"]
        assert again.json()["secret"] == first.json()["secret"]            # a retry answers the same secret
        other = api.call("POST", BASE, {**body, "filters": ["*"]}, headers=hq, key=k)
        is_problem(other, 422)
        assert set(listed(api, headers=hq)) - before == {first.json()["subscription_id"]}
    finally:
        delete(api, hq, *(set(listed(api, headers=hq)) - before))
        receiver.close()


def test_an_idempotency_key_reused_by_another_caller_never_replays_anothers_secret(api, stack, hq, keys):
    """The stored reply of a create holds the secret: another merchant, HQ or another program
    sending the same Idempotency-Key and body gets a subscription of its own."""
    url = "http://127.0.0.1:9/hooks"
    k = f"shared-{fresh_phone()}"
    body = {"url": url, "filters": ["points.*"]}
    callers = [{"signed_by": keys["ma"]}, {"signed_by": keys["mb"]}, {"headers": hq},
               {"headers": staff(api, stack, P2, "super_admin")}]
    replies = [api.call("POST", BASE, body, key=k, **who) for who in callers]
    try:
        assert [r.status_code for r in replies] == [201] * 4, [r.text[:200] for r in replies]
        assert len({r.json()["subscription_id"] for r in replies}) == 4
        assert len({r.json()["secret"] for r in replies}) == 4
        assert [r.json()["merchant_id"] for r in replies] == ["ma", "mb", None, None]
    finally:
        for who, r in zip(callers, replies, strict=True):
            if r.status_code == 201:
                delete(api, who.get("headers"), r.json()["subscription_id"], signed_by=who.get("signed_by"))


def test_a_retried_rotation_answers_the_same_new_secret_and_rotates_once(api, stack, hq):
    receiver = Receiver()
    sub = subscribe(api, receiver, ["points.*"], headers=hq, wait=False)
    k = f"rot-{fresh_phone()}"
    try:
        first = api.call("POST", f"{BASE}/{sub}/secret/rotate", {"overlap_hours": 2}, headers=hq, key=k)
        again = api.call("POST", f"{BASE}/{sub}/secret/rotate", {"overlap_hours": 2}, headers=hq, key=k)
        assert first.status_code == again.status_code == 200, (first.text, again.text)
        assert again.json()["secret"] == first.json()["secret"] and again.json()["secret_id"] == first.json()["secret_id"]
        is_problem(api.call("POST", f"{BASE}/{sub}/secret/rotate", {"overlap_hours": 3}, headers=hq, key=k), 422)
        shown = api.call("GET", f"{BASE}/{sub}", headers=hq).json()
        assert len(shown["secrets"]) == 2                                  # one rotation, not two
        assert "secret" not in shown and first.json()["secret"] not in json.dumps(shown)   # shown once only
        assert first.json()["secret"].startswith("whsec_")
    finally:
        delete(api, hq, sub)
        receiver.close()


def test_a_retried_test_post_posts_once(api, stack, hq):
    receiver = Receiver()
    sub = subscribe(api, receiver, ["order.earned"], headers=hq, wait=False)
    try:
        k = f"t-{fresh_phone()}"
        t1 = api.call("POST", f"{BASE}/{sub}/test", headers=hq, key=k)
        t2 = api.call("POST", f"{BASE}/{sub}/test", headers=hq, key=k)
        assert t1.status_code == t2.status_code == 200 and t1.json() == t2.json(), (t1.text, t2.text)
        time.sleep(1)
        assert receiver.types().count("webhook.test") == 1, receiver.ids()
    finally:
        delete(api, hq, sub)
        receiver.close()


def test_a_retried_replay_replays_once(api, stack, hq):
    receiver = Receiver()
    sub = subscribe(api, receiver, ["order.earned"], headers=hq)
    try:
        earn(api, hq, member(api, hq), 1_000)
        settle(stack, receiver, 1)
        event = receiver.ids()[0]
        k = f"r-{fresh_phone()}"
        replies = [api.call("POST", f"{BASE}/{sub}/replays", {"event_id": event}, headers=hq, key=k) for _ in range(3)]
        assert [r.status_code for r in replies] == [200, 200, 200]
        assert len({r.text for r in replies}) == 1
        settle(stack)
        time.sleep(1)
        settle(stack)
        assert receiver.ids().count(event) == 2, receiver.ids()           # the event and one replay
    finally:
        delete(api, hq, sub)
        receiver.close()


# --- delivery ----------------------------------------------------------------------------------------

def test_the_test_endpoint_posts_a_signed_webhook_test_and_reports_the_outcome(api, stack, hq):
    receiver = Receiver()
    sub = subscribe(api, receiver, ["points.*"], headers=hq, wait=False)
    try:
        started = time.time()
        r = api.call("POST", f"{BASE}/{sub}/test", headers=hq, key=fresh_phone())
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["delivered"] is True and out["status_code"] == 204 and out["error"] is None
        [post] = receiver.posts
        assert post["verified"] == receiver.secrets
        assert post["headers"]["webhook-id"] == out["event_id"] == post["body"]["id"]
        assert post["body"]["type"] == "webhook.test" and post["body"]["program_id"] == PROGRAM
        assert "occurred_at" in post["body"]
        assert abs(int(post["headers"]["webhook-timestamp"]) - started) < 10
        assert post["headers"].get("content-type", "").startswith("application/json")
    finally:
        delete(api, hq, sub)
        receiver.close()


def test_redirects_are_never_followed(api, stack, hq):
    target = Scripted(lambda n, path: (204, {}, b"", 0))
    for status in (301, 302, 303, 307, 308):
        hop = Scripted(lambda n, path, status=status: (status, {"Location": target.url + "/stolen"}, b"", 0))
        made = create(api, hop.url, ["order.earned"], headers=hq)
        assert made.status_code == 201, made.text
        sub = made.json()["subscription_id"]
        try:
            out = api.call("POST", f"{BASE}/{sub}/test", headers=hq, key=fresh_phone()).json()
            assert out["delivered"] is False and out["status_code"] == status, out
            assert len(hop.posts) == 1
            assert target.posts == [], (status, target.posts)
        finally:
            delete(api, hq, sub)
            hop.close()
    target.close()


def test_a_huge_answer_is_cut_to_1_kb(api, stack, hq):
    huge = Scripted(lambda n, path: (200, {"Content-Type": "text/plain"}, b"A" * 5_000_000, 0))
    made = create(api, huge.url, ["order.earned"], headers=hq)
    assert made.status_code == 201
    sub = made.json()["subscription_id"]
    try:
        r = api.call("POST", f"{BASE}/{sub}/test", headers=hq, key=fresh_phone())
        assert r.status_code == 200, r.text
        assert r.json()["delivered"] is True and len(r.json()["response"].encode()) <= 1024, len(r.json()["response"])
    finally:
        delete(api, hq, sub)
        huge.close()


def test_a_slow_drip_is_cut_off_by_the_short_timeout(api, stack, hq):
    """#25: 'a short connect/read timeout'; a receiver that sends a byte every half second must not
    hold a delivery (or the test endpoint) for the whole of its drip (20 s here)."""
    drip = Scripted(lambda n, path: (200, {"Content-Type": "text/plain"}, b"x" * 40, 0.5))
    made = create(api, drip.url, ["order.earned"], headers=hq)
    assert made.status_code == 201
    sub = made.json()["subscription_id"]
    try:
        started = time.monotonic()
        r = api.call("POST", f"{BASE}/{sub}/test", headers=hq, key=fresh_phone())
        took = time.monotonic() - started
        assert r.status_code == 200, r.text
        assert took < 12, (took, r.json())
    finally:
        delete(api, hq, sub)
        drip.close()


def test_a_receiver_past_the_timeout_is_reported_as_not_delivered(api, stack, hq):
    slow = Receiver(answer=lambda n: (200, 12.0))
    sub = subscribe(api, slow, ["order.earned"], headers=hq, wait=False)
    try:
        started = time.monotonic()
        r = api.call("POST", f"{BASE}/{sub}/test", headers=hq, key=fresh_phone())
        took = time.monotonic() - started
        assert r.status_code == 200 and r.json()["delivered"] is False and r.json()["error"], r.text
        assert took < 10, took
    finally:
        delete(api, hq, sub)
        slow.close()


def test_a_unicode_host_does_not_crash_the_test_endpoint(api, stack, hq):
    made = create(api, "http://例子.测试/hooks", ["order.earned"], headers=hq)
    assert made.status_code in (201, 422), made.text
    if made.status_code == 201:
        odd = made.json()["subscription_id"]
        try:
            r = api.call("POST", f"{BASE}/{odd}/test", headers=hq, key=fresh_phone())
            assert r.status_code == 200 and r.json()["delivered"] is False, (r.status_code, r.text)
        finally:
            delete(api, hq, odd)


def test_failures_then_success_are_logged_attempt_by_attempt(api, stack, hq):
    answers = {1: 500, 2: 418, 3: 200}
    receiver = Scripted(lambda n, path: (answers.get(n, 200), {}, f"answer {n} ".encode() + b"z" * 3000, 0))
    made = create(api, receiver.url, ["order.earned"], headers=hq)
    sub = made.json()["subscription_id"]
    time.sleep(SEEN_AFTER)
    try:
        earn(api, hq, member(api, hq), 1_000)
        stack.drain(30)
        deadline = time.monotonic() + 30
        while len(receiver.posts) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        settle(stack)
        assert len(receiver.posts) == 3
        assert len({p["headers"]["webhook-id"] for p in receiver.posts}) == 1        # stable across retries
        [d] = api.call("GET", f"{BASE}/{sub}/deliveries", headers=hq).json()["deliveries"]
        assert d["status"] == "delivered" and d["attempts"] == 3 and d["last_status_code"] == 200
        assert [a["status_code"] for a in d["log"]] == [500, 418, 200]
        for i, a in enumerate(d["log"], 1):
            assert a["response"].startswith(f"answer {i} ") and len(a["response"].encode()) <= 1024
            assert isinstance(a["latency_ms"], int) and a["latency_ms"] >= 0 and a["at"]
        ats = [datetime.fromisoformat(a["at"].replace("Z", "+00:00")) for a in d["log"]]
        assert ats == sorted(ats)
        # the webhook-timestamp of each retry is its own moment (Standard Webhooks: a fresh signature)
        stamps = [int(p["headers"]["webhook-timestamp"]) for p in receiver.posts]
        assert stamps == sorted(stamps)
    finally:
        delete(api, hq, sub)
        receiver.close()


def test_a_disabled_subscription_receives_nothing_and_a_deleted_one_nothing_ever(api, stack, hq):
    receiver = Receiver()
    sub = subscribe(api, receiver, ["order.earned"], headers=hq)
    try:
        off = api.call("PATCH", f"{BASE}/{sub}", {"enabled": False}, headers=hq, key=fresh_phone())
        assert off.status_code == 200 and off.json()["status"] == "disabled", off.text
        time.sleep(SEEN_AFTER)
        mid = member(api, hq)
        earn(api, hq, mid, 1_000)
        settle(stack)
        time.sleep(1)
        assert receiver.posts == []
        test = api.call("POST", f"{BASE}/{sub}/test", headers=hq, key=fresh_phone())
        assert test.status_code in (200, 409), test.text
        on = api.call("PATCH", f"{BASE}/{sub}", {"enabled": True}, headers=hq, key=fresh_phone())
        assert on.status_code == 200 and on.json()["status"] == "enabled"
        time.sleep(SEEN_AFTER)
        receiver.posts.clear()
        earn(api, hq, mid, 2_000)
        settle(stack, receiver, 1)
        assert receiver.types() == ["order.earned"]
        gone = api.call("DELETE", f"{BASE}/{sub}", headers=hq, key=fresh_phone())
        assert gone.status_code == 200 and gone.json()["status"] == "deleted"
        receiver.posts.clear()
        earn(api, hq, mid, 3_000)                                  # at once: the fan-out's view may lag
        time.sleep(SEEN_AFTER)
        earn(api, hq, mid, 4_000)
        settle(stack)
        time.sleep(1.5)
        settle(stack)
        assert receiver.posts == [], receiver.types()
        for method, path, body in (("GET", f"{BASE}/{sub}", None), ("PATCH", f"{BASE}/{sub}", {"enabled": True}),
                                   ("POST", f"{BASE}/{sub}/secret/rotate", {"overlap_hours": 1}),
                                   ("POST", f"{BASE}/{sub}/test", None),
                                   ("POST", f"{BASE}/{sub}/replays", {"since": (datetime.now(UTC) -
                                                                                 timedelta(hours=1)).isoformat()}),
                                   ("GET", f"{BASE}/{sub}/deliveries", None)):
            r = api.call(method, path, body, headers=hq, key=None if method == "GET" else fresh_phone())
            assert r.status_code in (404, 410), (method, path, r.status_code, r.text)
        assert sub not in listed(api, headers=hq)
        settle(stack)
        assert receiver.posts == []
    finally:
        receiver.close()


def test_a_delivery_already_queued_is_not_posted_after_its_subscription_is_deleted(api, stack, hq):
    # the receiver fails the first post; the subscription is deleted during the retry wait
    receiver = Receiver(answer=lambda n: (500, 0.0))
    sub = subscribe(api, receiver, ["order.earned"], headers=hq)
    try:
        earn(api, hq, member(api, hq), 1_000)
        stack.drain(20)
        receiver.wait_for(1, 20)
        assert api.call("DELETE", f"{BASE}/{sub}", headers=hq, key=fresh_phone()).status_code == 200
        n = len(receiver.posts)
        settle(stack)
        time.sleep(1)
        assert len(receiver.posts) == n, receiver.posts[n:]
    finally:
        receiver.close()


def test_a_url_change_takes_effect_for_retries_and_the_old_url_gets_nothing_more(api, stack, hq):
    old = Receiver(answer=lambda n: (500, 0.0))
    new = Receiver()
    sub = subscribe(api, old, ["order.earned"], headers=hq)
    new.secrets = old.secrets
    try:
        earn(api, hq, member(api, hq), 1_000)
        stack.drain(20)
        old.wait_for(1, 20)
        r = api.call("PATCH", f"{BASE}/{sub}", {"url": new.url}, headers=hq, key=fresh_phone())
        assert r.status_code == 200 and r.json()["url"] == new.url
        n = len(old.posts)
        settle(stack)
        time.sleep(1)
        assert len(old.posts) == n
        assert len(new.posts) == 1 and new.posts[0]["verified"]
    finally:
        delete(api, hq, sub)
        old.close()
        new.close()


# --- replays -----------------------------------------------------------------------------------------

def test_a_replay_of_an_event_never_delivered_to_the_subscription_is_refused(api, stack, hq, keys):
    """ma's key must not get mb's event by replaying its id on ma's subscription, nor HQ's
    subscription an event it never matched."""
    hq_receiver, ma_receiver, narrow = Receiver(), Receiver(), Receiver()
    program_wide = subscribe(api, hq_receiver, ["order.earned"], headers=hq, wait=False)
    ma_sub = subscribe(api, ma_receiver, ["*"], signed_by=keys["ma"], wait=False)
    narrow_sub = subscribe(api, narrow, ["tier.upgraded"], headers=hq)
    try:
        earn(api, hq, member(api, hq, "mb"), 1_000, merchant="mb")
        settle(stack, hq_receiver, 1)
        mb_event = hq_receiver.ids()[0]
        ma_receiver.posts.clear()
        r = api.call("POST", f"{BASE}/{ma_sub}/replays", {"event_id": mb_event}, signed_by=keys["ma"], key=fresh_phone())
        is_problem(r, 404, 422)
        r = api.call("POST", f"{BASE}/{narrow_sub}/replays", {"event_id": mb_event}, headers=hq, key=fresh_phone())
        is_problem(r, 404, 422)
        r = api.call("POST", f"{BASE}/{ma_sub}/replays", {"event_id": "01M90YTXGG0SYMH7HFN4E52073"},
                     signed_by=keys["ma"], key=fresh_phone())
        is_problem(r, 404, 422)
        settle(stack)
        time.sleep(1)
        assert mb_event not in ma_receiver.ids() and mb_event not in narrow.ids()
        # another program's HQ cannot replay it either, nor name it on its own subscription
        other = Receiver()
        p2_hq = staff(api, stack, P2, "super_admin")
        p2_sub = subscribe(api, other, ["*"], headers=p2_hq, wait=False)
        r = api.call("POST", f"{BASE}/{p2_sub}/replays", {"event_id": mb_event}, headers=p2_hq, key=fresh_phone())
        is_problem(r, 404, 422)
        settle(stack)
        assert mb_event not in other.ids()
        delete(api, p2_hq, p2_sub)
        other.close()
    finally:
        delete(api, hq, program_wide, narrow_sub)
        delete(api, hq, ma_sub)
        for r in (hq_receiver, ma_receiver, narrow):
            r.close()


def test_a_replay_since_covers_this_subscriptions_events_only_with_their_ids(api, stack, hq, keys):
    a, b = Receiver(), Receiver()
    sub_a = subscribe(api, a, ["order.earned"], signed_by=keys["ma"], wait=False)
    sub_b = subscribe(api, b, ["order.earned"], signed_by=keys["mb"])
    try:
        mid = member(api, hq)
        earn(api, hq, mid, 1_000, merchant="ma")
        earn(api, hq, mid, 2_000, merchant="mb")
        settle(stack, a, 1)
        b.wait_for(1)
        since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
        time.sleep(2.1)
        asked = time.time()
        r = api.call("POST", f"{BASE}/{sub_a}/replays", {"since": since}, signed_by=keys["ma"], key=fresh_phone())
        assert r.status_code == 200, r.text
        assert r.json()["replayed"] == 1 and r.json()["event_ids"] == a.ids()
        settle(stack, a, 2)
        assert a.ids() == [a.ids()[0]] * 2 and b.ids()[0] not in a.ids()
        # a replay is signed afresh: receivers refuse timestamps more than 5 minutes off
        assert int(a.posts[1]["headers"]["webhook-timestamp"]) >= int(asked) - 1
        assert a.posts[1]["headers"]["webhook-signature"] != a.posts[0]["headers"]["webhook-signature"]
        assert all(p["verified"] for p in a.posts)
        assert len(b.posts) == 1
    finally:
        delete(api, hq, sub_a, sub_b)
        a.close()
        b.close()


def test_a_replay_storm_posts_the_event_once_per_replay(api, stack, hq):
    receiver = Receiver()
    sub = subscribe(api, receiver, ["order.earned"], headers=hq)
    try:
        earn(api, hq, member(api, hq), 1_000)
        settle(stack, receiver, 1)
        event = receiver.ids()[0]
        replies = all_at_once(32, lambda i: api.call("POST", f"{BASE}/{sub}/replays", {"event_id": event}, headers=hq,
                                                     key=f"storm-{sub}-{i}"))
        ok = [r for r in replies.values() if r.status_code == 200]
        assert all(r.status_code in (200, 409, 429, 503) for r in replies.values()), \
            [(r.status_code, r.text[:100]) for r in replies.values() if r.status_code not in (200, 409, 429, 503)]
        settle(stack, timeout=90)         # a copy waiting out a delivery's lease holds its message up to ~63 s
        time.sleep(1.5)
        settle(stack, timeout=90)
        posted = receiver.ids().count(event)
        assert posted <= 1 + sum(r.json()["replayed"] for r in ok), (posted, len(ok))
        assert posted >= 2
        assert all(p["verified"] for p in receiver.posts)
    finally:
        delete(api, hq, sub)
        receiver.close()


# --- concurrency ---------------------------------------------------------------------------------------

def _fresh_program(api, stack, name):
    platform = api.bearer(stack.credentials["staff_tokens"]["platform_admin"])
    r = api.call("POST", "/v1/programs", {"program_id": name, "name": name}, headers=platform, key=f"prog-{name}")
    assert r.status_code in (201, 409), r.text
    return api.bearer(mint_token("staff", f"{name}-admin", 60, role="super_admin", program_id=name))


def test_a_burst_of_creates_never_passes_the_programs_limit(api, stack):
    stamp = fresh_phone()[-6:]
    seq, burst = _fresh_program(api, stack, f"lim-s-{stamp}"), _fresh_program(api, stack, f"lim-b-{stamp}")
    url = "http://127.0.0.1:9/hooks"
    limit = 0
    for _i in range(300):                                  # the limit, found one at a time
        r = create(api, url, ["points.*"], headers=seq)
        if r.status_code != 201:
            is_problem(r, 409, 422)
            break
        limit += 1
    assert 0 < limit < 300, limit
    replies = all_at_once(limit + 8, lambda i: create(api, url, ["points.*"], headers=burst, key=f"burst-{stamp}-{i}"))
    made = [r for r in replies.values() if r.status_code == 201]
    refused = [r for r in replies.values() if r.status_code != 201]
    assert all(r.status_code in (409, 422, 503) for r in refused), [(r.status_code, r.text[:100]) for r in refused]
    assert len(listed(api, headers=burst)) == len(made) <= limit, (len(made), limit)


def test_concurrent_rotations_leave_a_consistent_pair_of_secrets(api, stack, hq):
    receiver = Receiver()
    sub = subscribe(api, receiver, ["order.earned"], headers=hq, wait=False)
    original = receiver.secrets[0]
    try:
        replies = all_at_once(8, lambda i: api.call("POST", f"{BASE}/{sub}/secret/rotate", {"overlap_hours": 1},
                                                    headers=hq, key=f"rot-{sub}-{i}"))
        ok = {r.json()["secret_id"]: r.json()["secret"] for r in replies.values() if r.status_code == 200}
        assert ok and all(r.status_code in (200, 409, 503) for r in replies.values())
        assert len(set(ok.values())) == len(ok)                            # every new secret its own
        shown = api.call("GET", f"{BASE}/{sub}", headers=hq).json()["secrets"]
        current = [s for s in shown if s["retire_at"] is None]
        assert len(current) == 1 and current[0]["secret_id"] in ok
        # as if one after another: a rotation retires any secret still retiring from the one before,
        # so two sign at most: the newest, and the one it replaced (itself a rotation's answer, or the
        # original when only one rotation went through)
        assert len(shown) <= 2 and {s["secret_id"] for s in shown} - set(ok) <= {
            s["secret_id"] for s in shown if s["retire_at"] is not None}, shown
        receiver.secrets = [original, *ok.values()]
        out = api.call("POST", f"{BASE}/{sub}/test", headers=hq, key=fresh_phone()).json()
        assert out["delivered"], out
        [post] = receiver.posts
        assert ok[current[0]["secret_id"]] in post["verified"]
        assert len(post["verified"]) == len(shown)                         # signed by exactly the secrets shown
    finally:
        delete(api, hq, sub)
        receiver.close()


def _update_and_delete_at_once(api, hq, subs):
    def send(i):
        sub = subs[i // 2]
        if i % 2:
            return api.call("DELETE", f"{BASE}/{sub}", headers=hq, key=f"cd-{sub}")
        return api.call("PATCH", f"{BASE}/{sub}", {"enabled": True, "description": "again"}, headers=hq,
                        key=f"cu-{sub}")
    replies = all_at_once(2 * len(subs), send)
    assert all(r.status_code in (200, 404, 409, 503) for r in replies.values()), \
        [(r.status_code, r.text[:100]) for r in replies.values()]
    return replies


def test_concurrent_update_and_delete_never_resurrect_a_subscription(api, stack, hq):
    receiver = Receiver()
    subs = [subscribe(api, receiver, ["order.earned"], headers=hq, wait=False) for _ in range(8)]
    try:
        replies = _update_and_delete_at_once(api, hq, subs)
        for i in range(1, 16, 2):                              # whatever the race answered, delete for good
            if replies[i].status_code != 200:
                r = api.call("DELETE", f"{BASE}/{subs[i // 2]}", headers=hq, key=fresh_phone())
                assert r.status_code == 200, r.text
        time.sleep(0.5)
        for sub in subs:
            assert api.call("GET", f"{BASE}/{sub}", headers=hq).status_code == 404
        assert set(subs) & set(listed(api, headers=hq)) == set()
        time.sleep(SEEN_AFTER)
        earn(api, hq, member(api, hq), 1_000)
        settle(stack)
        time.sleep(1)
        assert receiver.posts == []
    finally:
        receiver.close()


def test_a_delete_that_loses_a_race_can_be_retried_with_its_key(api, stack, hq):
    """errors.md: a lost race is retried by the server, then answered 503 busy, and the same
    Idempotency-Key may be sent again; 409s are business refusals and remembered under the key."""
    receiver = Receiver()
    subs = [subscribe(api, receiver, ["order.earned"], headers=hq, wait=False) for _ in range(8)]
    try:
        replies = _update_and_delete_at_once(api, hq, subs)
        again = {i: api.call("DELETE", f"{BASE}/{subs[i // 2]}", headers=hq, key=f"cd-{subs[i // 2]}")
                 for i in range(1, 16, 2) if replies[i].status_code != 200}
        assert [r.status_code for r in again.values()] == [200] * len(again), \
            [(replies[i].status_code, replies[i].json().get("detail"), r.status_code) for i, r in again.items()]
    finally:
        delete(api, hq, *subs)
        receiver.close()


# --- signatures ----------------------------------------------------------------------------------------

def test_rotation_with_overlap_signs_with_both_and_without_overlap_with_the_new_only(api, stack, hq):
    receiver = Receiver()
    sub = subscribe(api, receiver, ["order.earned"], headers=hq, wait=False)
    first = receiver.secrets[0]
    try:
        r = api.call("POST", f"{BASE}/{sub}/secret/rotate", {"overlap_hours": 1}, headers=hq, key=fresh_phone())
        assert r.status_code == 200
        second = r.json()["secret"]
        retire = [s["retire_at"] for s in r.json()["secrets"] if s["retire_at"]]
        assert len(retire) == 1
        left = datetime.fromisoformat(retire[0].replace("Z", "+00:00")) - datetime.now(UTC)
        assert timedelta(minutes=55) < left <= timedelta(hours=1, minutes=1), left
        receiver.secrets = [first, second]
        api.call("POST", f"{BASE}/{sub}/test", headers=hq, key=fresh_phone())
        assert receiver.posts[-1]["verified"] == [first, second]
        assert len(receiver.posts[-1]["headers"]["webhook-signature"].split()) == 2
        r = api.call("POST", f"{BASE}/{sub}/secret/rotate", {"overlap_hours": 0}, headers=hq, key=fresh_phone())
        assert r.status_code == 200
        third = r.json()["secret"]
        assert [s["retire_at"] for s in r.json()["secrets"]] == [None], r.json()["secrets"]
        receiver.secrets = [first, second, third]
        api.call("POST", f"{BASE}/{sub}/test", headers=hq, key=fresh_phone())
        assert receiver.posts[-1]["verified"] == [third]
        # a forged post signed with the retired secret would not verify: the receiver's own check
        with pytest.raises(WebhookVerificationError):
            Webhook(third).verify(receiver.posts[0]["raw"], receiver.posts[0]["headers"])
    finally:
        delete(api, hq, sub)
        receiver.close()


# --- what a merchant's subscription and any body may carry -----------------------------------------------

def test_a_merchants_subscription_receives_nothing_of_another_merchants_business(api, stack, hq, keys):
    receiver, everything = Receiver(), Receiver()
    sub = subscribe(api, receiver, ["*"], signed_by=keys["ma"], wait=False)
    all_sub = subscribe(api, everything, ["*"], headers=hq)
    try:
        bob = member(api, hq, "mb")                                 # registered at mb
        order = f"mbo-{fresh_phone()}"
        earn(api, hq, bob, 30_000, merchant="mb", order_id=order)
        assert api.call("POST", f"/v1/members/{bob}/stored-value/top-ups",
                        {"amount_fen": 5_000, "payment_ref": f"p-{fresh_phone()}", "merchant_id": "mb"},
                        headers=hq, key=fresh_phone()).status_code == 201
        assert api.call("POST", f"/v1/members/{bob}/points/redeem",
                        {"points": 10, "order_id": f"mbr-{fresh_phone()}", "merchant_id": "mb",
                         "order_amount_fen": 10_000}, headers=hq, key=fresh_phone()).status_code == 200
        refund = api.call("POST", f"/v1/orders/{order}/refunds", {"refund_id": "r1", "amount_fen": 10_000,
                                                                  "merchant_id": "mb"}, headers=hq, key=fresh_phone())
        assert refund.status_code in (201, 200), refund.text
        assert api.call("POST", "/v1/merchants/mb/api-keys", {"capabilities": ["pos"]}, headers=hq,
                        key=fresh_phone()).status_code == 201
        settle(stack)
        time.sleep(1.5)
        settle(stack)
        assert len(everything.posts) >= 5, everything.types()
        leaked = [(p["body"]["type"], p["raw"][:300]) for p in receiver.posts
                  if "mb" in json.dumps(p["body"]).replace("member", "") or p["body"].get("merchant_id") not in ("ma",)]
        assert leaked == [], leaked
    finally:
        delete(api, hq, sub, all_sub)
        receiver.close()
        everything.close()


def test_no_body_carries_personal_data(api, stack, hq):
    receiver = Receiver()
    sub = subscribe(api, receiver, ["*"], headers=hq)
    phone, email = fresh_phone(), f"p{fresh_phone()}@example.com"
    try:
        r = api.call("POST", "/v1/members", {"phone": phone, "name": "王小明", "birthday": "1990-05-01",
                                             "merchant_id": "ma",
                                             "identities": [{"type": "email", "value": email}]},
                     headers=hq, key=fresh_phone())
        assert r.status_code == 201, r.text
        mid = r.json()["member_id"]
        new_phone = fresh_phone()
        assert api.call("PATCH", f"/v1/members/{mid}", {"name": "王大明"}, headers=hq,
                        key=fresh_phone()).status_code == 200
        assert api.call("PUT", f"/v1/members/{mid}/phone", {"phone": new_phone, "verified_by": "sms_otp"}, headers=hq,
                        key=fresh_phone()).status_code == 200
        earn(api, hq, mid, 1_000)
        settle(stack)
        time.sleep(1.5)
        settle(stack)
        assert receiver.posts, "no events at all"
        secrets = [phone, phone[-4:] + "\"", new_phone, "王小明", "王大明", "小明", "大明", email, "1990-05-01",
                   phone[:3] + "****" + phone[-4:]]
        found = [(p["body"]["type"], s) for p in receiver.posts for s in secrets
                 if s in p["raw"] or s in json.dumps(p["body"], ensure_ascii=False)]
        assert found == [], found
    finally:
        delete(api, hq, sub)
        receiver.close()


def test_a_burst_of_creates_with_one_key_makes_one_subscription(api, stack, hq):
    before = set(listed(api, headers=hq))
    k = f"one-{fresh_phone()}"
    body = {"url": "http://127.0.0.1:9/hooks", "filters": ["points.*"]}
    replies = all_at_once(16, lambda i: api.call("POST", BASE, body, headers=hq, key=k))
    made = set(listed(api, headers=hq)) - before
    try:
        ok = [r for r in replies.values() if r.status_code == 201]
        assert all(r.status_code in (201, 409, 503) for r in replies.values()), \
            [(r.status_code, r.text[:100]) for r in replies.values()]
        assert len(made) == 1 and {r.json()["subscription_id"] for r in ok} == made
        assert len({r.json()["secret"] for r in ok}) == 1
    finally:
        delete(api, hq, *made)


def test_the_delivery_log_pages_without_gaps_or_repeats(api, stack, hq):
    receiver = Receiver()
    sub = subscribe(api, receiver, ["order.earned"], headers=hq)
    try:
        mid = member(api, hq)
        for fen in range(1_000, 6_000, 1_000):
            earn(api, hq, mid, fen)
        settle(stack, receiver, 5)
        seen, after = [], None
        for _ in range(10):
            params = {"limit": "2", **({"after": after} if after else {})}
            page = api.call("GET", f"{BASE}/{sub}/deliveries", headers=hq, params=params)
            assert page.status_code == 200, page.text
            seen += [d["event_id"] for d in page.json()["deliveries"]]
            after = page.json()["next_after"]
            if not after:
                break
        assert sorted(seen) == sorted(receiver.ids()) and len(seen) == 5
        only = api.call("GET", f"{BASE}/{sub}/deliveries", headers=hq, params={"status": "exhausted"}).json()
        assert only["deliveries"] == []
    finally:
        delete(api, hq, sub)
        receiver.close()


def test_a_revoked_key_manages_its_subscriptions_no_more(api, stack, hq):
    key = key_of(api, hq, "ma", ["webhooks"])
    receiver = Receiver()
    sub = subscribe(api, receiver, ["order.earned"], signed_by=key, wait=False)
    try:
        r = api.call("POST", f"/v1/merchants/ma/api-keys/{key['key_id']}/revoke", {}, headers=hq, key=fresh_phone())
        assert r.status_code == 200, r.text
        time.sleep(5.5)                                            # refused everywhere within 5 s
        for op, r in _every_operation(api, sub, signed_by=key).items():
            assert r.status_code in (401, 403), (op, r.status_code)
        assert api.call("GET", f"{BASE}/{sub}", headers=hq).status_code == 200
    finally:
        delete(api, hq, sub)
        receiver.close()


def test_an_event_answered_with_a_redirect_is_not_delivered_and_the_target_gets_nothing(api, stack, hq):
    target = Scripted(lambda n, path: (204, {}, b"", 0))
    hop = Scripted(lambda n, path: (302, {"Location": target.url + "/stolen"}, b"", 0))
    made = create(api, hop.url, ["order.earned"], headers=hq)
    sub = made.json()["subscription_id"]
    time.sleep(SEEN_AFTER)
    try:
        earn(api, hq, member(api, hq), 1_000)
        stack.drain(20)
        deadline = time.monotonic() + 20
        while len(hop.posts) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(hop.posts) >= 2                                  # a 302 is a failure: retried
        assert target.posts == []
        [d] = api.call("GET", f"{BASE}/{sub}/deliveries", headers=hq).json()["deliveries"]
        assert d["status"] != "delivered" and d["log"][0]["status_code"] == 302, d
    finally:
        delete(api, hq, sub)
        settle(stack, timeout=60)
        hop.close()
        target.close()


def test_a_test_post_goes_to_its_own_subscription_only(api, stack, hq, keys):
    a, b, h = Receiver(), Receiver(), Receiver()
    sub_a = subscribe(api, a, ["*"], signed_by=keys["ma"], wait=False)
    sub_b = subscribe(api, b, ["*"], signed_by=keys["mb"], wait=False)
    sub_h = subscribe(api, h, ["*"], headers=hq)
    try:
        r = api.call("POST", f"{BASE}/{sub_b}/test", signed_by=keys["mb"], key=fresh_phone())
        assert r.status_code == 200 and r.json()["delivered"], r.text
        settle(stack)
        time.sleep(1.5)
        settle(stack)
        assert "webhook.test" not in a.types() + h.types()
        assert b.types().count("webhook.test") == 1
    finally:
        delete(api, hq, sub_a, sub_b, sub_h)
        for r in (a, b, h):
            r.close()


def test_a_merchants_disabled_subscription_is_not_announced_to_another_merchant(api, stack, hq, keys, monkeypatch):
    """#25: after repeated exhaustion the subscription is disabled 'with an event'
    (webhook.subscription_disabled): that event is about ma's subscription (its URL, its failures);
    mb's subscription must not receive it."""
    monkeypatch.setenv("WEBHOOK_DISABLE_AFTER_EXHAUSTIONS", "1")
    monkeypatch.setenv("WEBHOOK_DISABLE_AFTER_DAYS", "0")
    dead = Receiver(answer=lambda n: (503, 0.0))
    b, h = Receiver(), Receiver()
    sub_dead = subscribe(api, dead, ["order.earned"], signed_by=keys["ma"], wait=False)
    sub_b = subscribe(api, b, ["*"], signed_by=keys["mb"], wait=False)
    sub_h = subscribe(api, h, ["*"], headers=hq)
    try:
        earn(api, hq, member(api, hq), 1_000, merchant="ma")
        stack.drain(20)
        deadline = time.monotonic() + 60
        shown = {}
        while time.monotonic() < deadline:
            shown = api.call("GET", f"{BASE}/{sub_dead}", headers=hq).json()
            if shown["status"] == "disabled":
                break
            time.sleep(0.3)
        assert shown["status"] == "disabled", shown
        settle(stack, timeout=60)
        time.sleep(1.5)
        settle(stack, timeout=60)
        leaked = [p["raw"][:300] for p in b.posts if sub_dead in p["raw"] or dead.url in p["raw"]
                  or p["body"]["type"].startswith("webhook.")]
        assert leaked == [], leaked
        announced = [p for p in h.posts if p["body"]["type"] == "webhook.subscription_disabled"]
        for p in announced:
            assert dead.secrets[0] not in p["raw"]
    finally:
        delete(api, hq, sub_dead, sub_b, sub_h)
        for r in (dead, b, h):
            r.close()


def test_secrets_are_long_standard_webhooks_secrets_and_never_read_back(api, stack, hq):
    import base64
    receiver = Receiver()
    sub = subscribe(api, receiver, ["order.earned"], headers=hq, wait=False)
    try:
        secret = receiver.secrets[0]
        assert secret.startswith("whsec_") and len(base64.b64decode(secret[len("whsec_"):])) >= 24
        everywhere = [api.call("GET", f"{BASE}/{sub}", headers=hq).text, api.call("GET", BASE, headers=hq).text,
                      api.call("GET", f"{BASE}/{sub}/deliveries", headers=hq).text,
                      api.call("PATCH", f"{BASE}/{sub}", {"description": "x"}, headers=hq, key=fresh_phone()).text]
        assert not any(secret in t or secret[len("whsec_"):] in t for t in everywhere)
    finally:
        delete(api, hq, sub)
        receiver.close()


def test_a_replay_to_a_disabled_subscription_posts_nothing(api, stack, hq):
    """UpdateSubscription.enabled: 'false: deliver nothing'."""
    receiver = Receiver()
    sub = subscribe(api, receiver, ["order.earned"], headers=hq)
    try:
        earn(api, hq, member(api, hq), 1_000)
        settle(stack, receiver, 1)
        event = receiver.ids()[0]
        assert api.call("PATCH", f"{BASE}/{sub}", {"enabled": False}, headers=hq, key=fresh_phone()).status_code == 200
        r = api.call("POST", f"{BASE}/{sub}/replays", {"event_id": event}, headers=hq, key=fresh_phone())
        assert r.status_code == 200 or (r.status_code in (409, 422) and r.headers["Content-Type"].startswith(PROBLEM))
        settle(stack)
        time.sleep(1)
        settle(stack)
        assert receiver.ids() == [event], receiver.ids()
    finally:
        delete(api, hq, sub)
        receiver.close()


def test_a_filter_change_takes_effect(api, stack, hq):
    receiver = Receiver()
    sub = subscribe(api, receiver, ["order.earned"], headers=hq)
    try:
        r = api.call("PATCH", f"{BASE}/{sub}", {"filters": ["points.earned"]}, headers=hq, key=fresh_phone())
        assert r.status_code == 200 and r.json()["filters"] == ["points.earned"]
        time.sleep(SEEN_AFTER)
        earn(api, hq, member(api, hq), 1_000)
        settle(stack, receiver, 1)
        time.sleep(1)
        assert receiver.types() == ["points.earned"], receiver.types()
    finally:
        delete(api, hq, sub)
        receiver.close()


LADDER = {"tiers": [{"code": "V1", "name": "普通", "threshold": 0},
                    {"code": "V2", "name": "白银", "threshold": 100, "validity_months": 12, "retain": 50}],
          "grace_days": 0}


def test_a_members_events_reach_another_merchant_without_the_first_merchants_references(api, stack, hq, keys):
    """#25: 'a merchant's subscription receives only events about its own business records and
    members' events without other merchants' references'."""
    r = api.call("PUT", "/v1/tiers/ladder", {"ladder": LADDER}, headers=hq, key=f"ladder-{fresh_phone()}")
    assert r.status_code == 201, r.text
    receiver, everything = Receiver(), Receiver()
    sub = subscribe(api, receiver, ["*"], signed_by=keys["ma"], wait=False)
    all_sub = subscribe(api, everything, ["*"], headers=hq)
    try:
        bob = member(api, hq, "mb")
        order = f"mbt-{fresh_phone()}"
        earn(api, hq, bob, 20_000, merchant="mb", order_id=order)          # growth 200: V2, by mb's order
        settle(stack)
        time.sleep(1.5)
        settle(stack)
        assert "tier.upgraded" in everything.types(), everything.types()
        leaked = [(p["body"]["type"], p["raw"][:400]) for p in receiver.posts
                  if order in p["raw"] or '"mb"' in p["raw"] or "mb-s1" in p["raw"]]
        assert leaked == [], leaked
    finally:
        delete(api, hq, sub, all_sub)
        receiver.close()
        everything.close()


@pytest.mark.parametrize("payload", [("中" * 1000).encode(), b"\xff\xfe\x00\x81" * 600, b"\x00" * 2000],
                         ids=["multibyte-cut-at-1kb", "invalid-utf8", "nul-bytes"])
def test_odd_answers_are_logged_not_crashed_on(api, stack, hq, payload):
    receiver = Scripted(lambda n, path: (200, {"Content-Type": "text/plain; charset=utf-8"}, payload, 0))
    made = create(api, receiver.url, ["order.earned"], headers=hq)
    sub = made.json()["subscription_id"]
    time.sleep(SEEN_AFTER)
    try:
        r = api.call("POST", f"{BASE}/{sub}/test", headers=hq, key=fresh_phone())
        assert r.status_code == 200 and r.json()["delivered"] is True, (r.status_code, r.text[:300])
        # the first 1 KB of the answer, decoded (an invalid byte shows as U+FFFD, 3 bytes in UTF-8)
        assert len(r.json()["response"]) <= 1024
        earn(api, hq, member(api, hq), 1_000)
        stack.drain(20)
        deadline, log = time.monotonic() + 20, []
        while time.monotonic() < deadline:
            page = api.call("GET", f"{BASE}/{sub}/deliveries", headers=hq)
            assert page.status_code == 200, page.text[:300]
            log = page.json()["deliveries"]
            if log and log[0]["status"] == "delivered":
                break
            time.sleep(0.3)
        assert log and log[0]["status"] == "delivered", log
        assert len(log[0]["log"][-1]["response"]) <= 1024
    finally:
        delete(api, hq, sub)
        receiver.close()


def test_a_receiver_that_hangs_up_is_a_failed_attempt(api, stack, hq):
    class HangUp(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.connection.close()

        def log_message(self, *args: Any) -> None:
            pass
    server = ThreadingHTTPServer(("127.0.0.1", 0), HangUp)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    made = create(api, f"http://127.0.0.1:{server.server_address[1]}/hooks", ["order.earned"], headers=hq)
    sub = made.json()["subscription_id"]
    try:
        r = api.call("POST", f"{BASE}/{sub}/test", headers=hq, key=fresh_phone())
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["delivered"] is False and out["status_code"] is None and out["error"], out
        assert "timed out" not in out["error"], out           # it hung up; nothing timed out
    finally:
        delete(api, hq, sub)
        server.shutdown()
        server.server_close()


# last: while it fails, its crashed batch holds the webhooks queue for a while
def test_a_unicode_host_holds_up_nobody_and_its_failure_is_logged(api, stack, hq):
    """A subscription whose URL was accepted must fail like any unreachable endpoint: each attempt
    logged with its error, retried on its schedule, then exhausted; never a crashed batch that
    leaves the delivery 'delivering' with no error and holds the queue."""
    receiver = Receiver()
    healthy = subscribe(api, receiver, ["order.earned"], headers=hq, wait=False)
    made = create(api, "http://例子.测试/hooks", ["order.earned"], headers=hq)
    assert made.status_code in (201, 422), made.text
    subs = [healthy]
    try:
        if made.status_code == 201:
            odd = made.json()["subscription_id"]
            subs.append(odd)
            time.sleep(SEEN_AFTER)
            earn(api, hq, member(api, hq), 1_000)
            stack.drain(20)
            receiver.wait_for(1, 20)
            started = time.monotonic()
            stack.wait_webhooks_idle(300)
            idle_after = time.monotonic() - started
            assert len(receiver.posts) == 1, receiver.ids()          # the healthy one's post is not repeated
            [d] = api.call("GET", f"{BASE}/{odd}/deliveries", headers=hq).json()["deliveries"]
            assert d["status"] == "exhausted" and d["last_error"] and d["attempts"] == 4, (idle_after, d)
            assert idle_after < 15, idle_after                          # four attempts a second apart
    finally:
        delete(api, hq, *subs)
        try:                                   # leave the queue idle for the tests after this one
            stack.wait_webhooks_idle(300)
        finally:
            receiver.close()


def test_trimmed_urls_are_stored_trimmed(api, stack, hq):
    """Every request's strings are trimmed before they are judged: a URL given with spaces or a
    line end around it is stored without them (never with them: no header can ride in on it)."""
    made = []
    try:
        for given in ("  http://127.0.0.1:9/hooks", "HTTP://127.0.0.1:9/\r\n"):
            r = create(api, given, ["*"], headers=hq)
            assert r.status_code == 201, r.text
            made.append(r.json()["subscription_id"])
            assert r.json()["url"] == given.strip()
    finally:
        delete(api, hq, *made)
