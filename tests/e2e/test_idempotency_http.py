"""Retries and duplicates post nothing twice."""

import threading

from tests.e2e.conftest import fresh_phone
from tests.outbox import outbox_events


def identity_events(stack, member_id):
    return [e.type for e in outbox_events(subject=f"member:{member_id}")]


def test_replay_returns_the_first_reply_and_posts_nothing(api, stack):
    body = {"phone": fresh_phone(), "name": "Li"}
    first = api.call("POST", "/v1/members", body, headers=api.staff(), key="reg-" + body["phone"])
    second = api.call("POST", "/v1/members", body, headers=api.staff(), key="reg-" + body["phone"])
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json() and second.headers["Idempotent-Replayed"] == "true"
    assert identity_events(stack, first.json()["member_id"]) == ["member.registered"]


def test_same_key_other_body_is_refused(api):
    phone = fresh_phone()
    api.call("POST", "/v1/members", {"phone": phone}, headers=api.staff(), key="reuse-" + phone)
    other = api.call("POST", "/v1/members", {"phone": fresh_phone()}, headers=api.staff(), key="reuse-" + phone)
    assert other.status_code == 422 and other.json()["type"].endswith("/idempotency-key-reused")


def test_keys_are_scoped_to_the_caller(api):
    phone = fresh_phone()
    a = api.call("POST", "/v1/members", {"phone": phone}, headers=api.staff("clerk"), key="shared-" + phone)
    b = api.call("POST", "/v1/members", {"phone": fresh_phone()}, headers=api.staff("ops_manager"), key="shared-" + phone)
    assert a.status_code == b.status_code == 201 and a.json()["member_id"] != b.json()["member_id"]


def test_ten_concurrent_replays_of_one_key_post_once(api, stack):
    body = {"phone": fresh_phone()}
    key = "burst-" + body["phone"]
    replies = []

    def send():
        replies.append(api.call("POST", "/v1/members", body, headers=api.staff(), key=key))

    threads = [threading.Thread(target=send) for _ in range(10)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert [r.status_code for r in replies] == [201] * 10
    ids = {r.json()["member_id"] for r in replies}
    assert len(ids) == 1
    assert identity_events(stack, ids.pop()) == ["member.registered"]


def test_a_bind_retried_after_success_replays_instead_of_conflicting(api):
    mid = api.call("POST", "/v1/members", {"phone": fresh_phone()}, headers=api.staff(), key=fresh_phone()).json()["member_id"]
    body = {"type": "card_no", "value": "VIP" + mid[-8:]}
    first = api.call("POST", f"/v1/members/{mid}/identities", body, headers=api.staff(), key="bind-" + mid)
    again = api.call("POST", f"/v1/members/{mid}/identities", body, headers=api.staff(), key="bind-" + mid)
    assert first.status_code == again.status_code == 201 and again.json() == first.json()
