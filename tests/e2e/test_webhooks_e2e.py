"""#25 webhooks on the local stack, in a program of their own: events written over HTTP travel the
stream, the fan-out, the webhooks queue (its visibility, receive count, dead-letter queue) and
the deliverer to receivers on 127.0.0.1 that verify every post with the standardwebhooks library.
The retry schedule is shortened for the suite (``WEBHOOK_RETRY_SECONDS``, tests/e2e/conftest.py)."""

from __future__ import annotations

import json
import time

import pytest

from chalicelib.shared.credentials import mint_token
from chalicelib.webhooks.repository import SUBSCRIPTIONS_SECONDS
from tests.e2e.conftest import fresh_phone
from tests.webhook_receiver import Receiver

PROGRAM = "hooks-e2e"
BASE = "/v1/webhooks/subscriptions"
LADDER = {"tiers": [{"code": "V1", "name": "普通", "threshold": 0},
                    {"code": "V2", "name": "白银", "threshold": 100, "validity_months": 12, "retain": 50}],
          "grace_days": 0}


@pytest.fixture(scope="module")
def hq(api, stack):
    platform = api.bearer(stack.credentials["staff_tokens"]["platform_admin"])
    assert api.call("POST", "/v1/programs", {"program_id": PROGRAM, "name": "Webhooks"}, headers=platform,
                    key=f"prog-{PROGRAM}").status_code in (201, 409)
    headers = api.bearer(mint_token("staff", "hooks-admin", 60, role="super_admin", program_id=PROGRAM))
    for shop in ("shop", "other"):
        assert api.call("POST", "/v1/merchants", {"merchant_id": shop, "name": shop}, headers=headers,
                        key=f"m-{shop}").status_code in (201, 409)
    assert api.call("PUT", "/v1/tiers/ladder", {"ladder": LADDER}, headers=headers,
                    key=f"ladder-{fresh_phone()}").status_code == 201
    return headers


def key_of(api, hq, merchant, capabilities):
    made = api.call("POST", f"/v1/merchants/{merchant}/api-keys", {"capabilities": capabilities}, headers=hq,
                    key=f"k-{merchant}-{fresh_phone()}")
    assert made.status_code == 201, made.text
    return {"key_id": made.json()["key_id"], "secret": made.json()["secret"]}


def subscribe(api, receiver, filters, headers=None, signed_by=None, **extra):
    made = api.call("POST", BASE, {"url": receiver.url, "filters": filters, **extra}, headers=headers,
                    signed_by=signed_by, key=f"sub-{fresh_phone()}")
    assert made.status_code == 201, made.text
    receiver.secrets.append(made.json()["secret"])
    time.sleep(SUBSCRIPTIONS_SECONDS + 0.2)          # the fan-out sees it from then on
    return made.json()["subscription_id"]


def member(api, hq):
    r = api.call("POST", "/v1/members", {"phone": fresh_phone(), "merchant_id": "shop"}, headers=hq, key=fresh_phone())
    assert r.status_code == 201, r.text
    return r.json()["member_id"]


def earn(api, hq, mid, fen, merchant="shop"):
    r = api.call("POST", f"/v1/members/{mid}/points/earn", {"order_id": f"o-{fresh_phone()}", "merchant_id": merchant,
                                                             "amount_fen": fen}, headers=hq, key=fresh_phone())
    assert r.status_code == 201, r.text
    return r.json()


def settle(stack, receiver=None, n=0, timeout=30.0):
    """Wait for the stream, then for the webhooks queue to be empty (and ``n`` posts, if given)."""
    stack.drain(timeout)
    if receiver is not None and n:
        receiver.wait_for(n, timeout)
    stack.wait_webhooks_idle(timeout)


def delete(api, hq, *subscriptions):
    for sub in subscriptions:
        api.call("DELETE", f"{BASE}/{sub}", headers=hq, key=f"del-{sub}")


def test_earns_redemptions_top_ups_and_upgrades_arrive_signed(api, stack, hq):
    receiver = Receiver()
    sub = subscribe(api, receiver, ["points.*", "stored_value.topped_up", "tier.upgraded", "order.earned"], headers=hq)
    try:
        mid = member(api, hq)
        earn(api, hq, mid, 20_000)                                           # 200 points, growth 200: V2
        assert api.call("POST", f"/v1/members/{mid}/points/redeem", {"points": 50, "order_id": f"r-{fresh_phone()}",
                                                                      "merchant_id": "shop",
                                                                      "order_amount_fen": 10_000},
                        headers=hq, key=fresh_phone()).status_code == 200
        assert api.call("POST", f"/v1/members/{mid}/stored-value/top-ups",
                        {"amount_fen": 5_000, "payment_ref": f"p-{fresh_phone()}", "merchant_id": "shop"},
                        headers=hq, key=fresh_phone()).status_code == 201
        want = {"points.earned", "order.earned", "points.redeemed", "stored_value.topped_up", "tier.upgraded"}
        deadline = time.monotonic() + 30
        while not want <= set(receiver.types()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert want <= set(receiver.types()), receiver.types()
        settle(stack)
        for post in receiver.posts:
            assert post["verified"], post["headers"]                           # every post verifies
            assert post["headers"]["webhook-id"] == post["body"]["id"]
            assert post["body"]["program_id"] == PROGRAM and post["body"]["subject"] == f"member:{mid}"
        assert len(receiver.ids()) == len(set(receiver.ids()))                 # each once
        redeemed = next(p["body"] for p in receiver.posts if p["body"]["type"] == "points.redeemed")
        assert redeemed["data"]["amount"] == -50 or abs(redeemed["data"]["amount"]) == 50
        log = api.call("GET", f"{BASE}/{sub}/deliveries", headers=hq).json()["deliveries"]
        assert {d["event_type"] for d in log} == set(receiver.types()) and all(d["status"] == "delivered" for d in log)
    finally:
        delete(api, hq, sub)
        receiver.close()


def test_a_receiver_that_fails_three_times_gets_every_event_once_in_effect(api, stack, hq):
    receiver = Receiver(answer=lambda n: (500, 0.0) if n <= 3 else (200, 0.0))
    sub = subscribe(api, receiver, ["order.earned"], headers=hq)
    try:
        mids = [member(api, hq) for _ in range(2)]
        for mid in mids:
            earn(api, hq, mid, 1_000)
        settle(stack, receiver, 5)
        seen = receiver.ids()
        delivered = {p["headers"]["webhook-id"] for p in receiver.posts[3:]}
        assert len(set(seen)) == 2 and delivered == set(seen)           # both arrive, after the failures
        log = {d["event_id"]: d for d in api.call("GET", f"{BASE}/{sub}/deliveries", headers=hq).json()["deliveries"]}
        assert {d["status"] for d in log.values()} == {"delivered"}
        assert sum(d["attempts"] for d in log.values()) == len(seen)    # every post is an attempt in the log
        assert sorted(a["status_code"] for d in log.values() for a in d["log"]) == [200, 200, 500, 500, 500]
    finally:
        delete(api, hq, sub)
        receiver.close()


def test_a_dead_receiver_is_dead_lettered_and_disabled_and_a_slow_one_holds_up_nobody(api, stack, hq, monkeypatch):
    monkeypatch.setenv("WEBHOOK_DISABLE_AFTER_EXHAUSTIONS", "1")
    monkeypatch.setenv("WEBHOOK_DISABLE_AFTER_DAYS", "0")
    dead = Receiver(answer=lambda n: (503, 0.0))
    slow = Receiver(answer=lambda n: (200, 12.0))          # past the 5 s read timeout
    healthy = Receiver()
    subs = [subscribe(api, dead, ["order.earned"], headers=hq), subscribe(api, slow, ["order.earned"], headers=hq),
            subscribe(api, healthy, ["order.earned"], headers=hq)]
    try:
        started = time.monotonic()
        earn(api, hq, member(api, hq), 1_000)
        healthy.wait_for(1, 20)
        took = time.monotonic() - started
        assert took < 10, took                              # not held up by the slow one's 5 s timeout
        stack.drain(20)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            shown = api.call("GET", f"{BASE}/{subs[0]}", headers=hq).json()
            if shown["status"] == "disabled":
                break
            time.sleep(0.2)
        assert shown["status"] == "disabled" and "exhausted" in shown["disabled_reason"], shown
        [d] = api.call("GET", f"{BASE}/{subs[0]}/deliveries", headers=hq).json()["deliveries"]
        assert d["status"] == "exhausted" and d["attempts"] == len(dead.posts) >= 2
        dead_lettered, deadline = [], time.monotonic() + 20       # (other tests' dead letters are there too)
        while time.monotonic() < deadline and not any(json.loads(m["Body"])["subscription_id"] == subs[0]
                                                      for m in dead_lettered):
            dead_lettered += stack.client("sqs").receive_message(QueueUrl=stack.webhooks_dlq_url, MaxNumberOfMessages=10,
                                                                 WaitTimeSeconds=1).get("Messages", [])
        assert any(json.loads(m["Body"])["subscription_id"] == subs[0] for m in dead_lettered)
        assert len(healthy.posts) == 1 and healthy.posts[0]["verified"]
        enabled = api.call("PATCH", f"{BASE}/{subs[0]}", {"enabled": True, "description": "back"}, headers=hq,
                           key=fresh_phone())
        assert enabled.status_code == 200 and enabled.json()["status"] == "enabled", enabled.text
        assert enabled.json()["exhausted_count"] == 0 and enabled.json()["description"] == "back"
    finally:
        delete(api, hq, *subs)
        for r in (dead, slow, healthy):
            r.close()


def test_replay_redelivers_with_the_same_ids_and_rotation_signs_with_both(api, stack, hq):
    receiver = Receiver()
    sub = subscribe(api, receiver, ["order.earned"], headers=hq)
    try:
        mid = member(api, hq)
        earn(api, hq, mid, 1_000)
        earn(api, hq, mid, 2_000)
        settle(stack, receiver, 2)
        first = receiver.ids()
        rotated = api.call("POST", f"{BASE}/{sub}/secret/rotate", {"overlap_hours": 1}, headers=hq, key=fresh_phone())
        assert rotated.status_code == 200, rotated.text
        old = list(receiver.secrets)
        receiver.secrets = [*old, rotated.json()["secret"]]
        since = api.call("GET", f"{BASE}/{sub}/deliveries", headers=hq).json()["since"]
        replay = api.call("POST", f"{BASE}/{sub}/replays", {"since": since}, headers=hq, key=fresh_phone())
        assert replay.status_code == 200 and replay.json()["replayed"] == 2, replay.text
        settle(stack, receiver, 4)
        assert sorted(receiver.ids()[2:]) == sorted(first)                 # the same webhook-ids
        assert all(p["verified"] == receiver.secrets for p in receiver.posts[2:])   # both secrets verify
        one = api.call("POST", f"{BASE}/{sub}/replays", {"event_id": first[0]}, headers=hq, key=fresh_phone())
        assert one.json()["replayed"] == 1
        settle(stack, receiver, 5)
        assert receiver.ids()[4] == first[0]
        old_window = api.call("POST", f"{BASE}/{sub}/replays", {"since": "2020-01-01T00:00:00Z"}, headers=hq,
                              key=fresh_phone())
        assert old_window.status_code == 422 and "30 days" in old_window.json()["detail"]
    finally:
        delete(api, hq, sub)
        receiver.close()


def test_a_merchants_key_subscription_never_receives_another_merchants_orders(api, stack, hq):
    receiver = Receiver()
    key = key_of(api, hq, "other", ["webhooks"])
    pos_only = key_of(api, hq, "other", ["pos"])
    refused = api.call("POST", BASE, {"url": receiver.url, "filters": ["*"]}, signed_by=pos_only, key=fresh_phone())
    assert refused.status_code == 403
    sub = subscribe(api, receiver, ["order.*", "points.*"], signed_by=key)
    try:
        assert api.call("POST", BASE, {"url": receiver.url, "filters": ["*"], "merchant_id": "shop"}, signed_by=key,
                        key=fresh_phone()).status_code == 403
        listed = api.call("GET", BASE, signed_by=key).json()["subscriptions"]
        assert [s["subscription_id"] for s in listed] == [sub] and listed[0]["merchant_id"] == "other"
        mid = member(api, hq)
        earn(api, hq, mid, 1_000, merchant="shop")
        earn(api, hq, mid, 3_000, merchant="other")
        settle(stack, receiver, 2)
        assert sorted(receiver.types()) == ["order.earned", "points.earned"]
        assert {p["body"]["merchant_id"] for p in receiver.posts} == {"other"}
        assert all(p["verified"] for p in receiver.posts)
    finally:
        delete(api, hq, sub)
        receiver.close()
