"""Member codes over real HTTP on the local stack (#27 item 6): the member app gets its code, a
till resolves it, a replay is refused, a code from 3 minutes ago is refused, 8 tills resolving one
code at once resolve it once, and wrong codes lock a till out with Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.db.uow import UnitOfWork
from chalicelib.member_codes import domain
from chalicelib.member_codes.tables import HandleItem
from chalicelib.shared import clock
from chalicelib.shared.codes import luhn_digit
from tests.e2e.conftest import all_at_once, fresh_phone
from tests.e2e.test_tenancy_http import A, pos, register_at, staff

RESOLVE = "/v1/member-codes/resolve"


def member_app(api, stack, member):
    """The member app's headers: a member token minted by HQ after a verified login."""
    r = api.call("POST", "/v1/auth/member-tokens", {"member_id": member, "verified_by": "sms_otp"},
                 headers=staff(api, stack, A, "super_admin"))
    assert r.status_code == 201, r.text
    return api.bearer(r.json()["token"])


def code_of(api, app_headers):
    r = api.call("GET", "/v1/members/me/member-code", headers=app_headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_the_app_shows_a_code_a_till_resolves_it_once_and_a_replay_is_refused(api, stack):
    member, phone = register_at(api, stack, A)
    app = member_app(api, stack, member)
    shown = code_of(api, app)
    assert len(shown["code"]) == 18 and shown["code"][0] == "9" and member not in shown["code"]
    assert 1 <= shown["refresh_in_seconds"] <= 60 and shown["step_seconds"] == 60
    tag = fresh_phone()
    r = api.call("POST", RESOLVE, {"code": shown["code"]}, signed_by=pos(stack, A), key=f"mc-{tag}")
    assert r.status_code == 200, r.text
    found = r.json()
    assert found["member_id"] == member and found["phone"].endswith("****" + phone[-4:])
    assert found["paid_plan_active"] is False and found["tier"]["code"]
    # the data left behind: the handle's step used, nothing readable of the secret
    handle = UnitOfWork(program=A[0]).get(HandleItem, HandleItem.key(shown["code"][1:11]), consistent=True)
    assert handle.member_id == member and int(handle.used_step) in (domain.step(clock.now()) - 1,
                                                                    domain.step(clock.now()))
    # a retry of the same request replays its answer; the same code at another till is refused
    again = api.call("POST", RESOLVE, {"code": shown["code"]}, signed_by=pos(stack, A), key=f"mc-{tag}")
    assert again.status_code == 200 and again.headers.get("Idempotent-Replayed") == "true"
    replay = api.call("POST", RESOLVE, {"code": shown["code"]}, headers=staff(api, stack, A, "clerk"),
                      key=f"mc2-{tag}")
    assert replay.status_code == 409 and replay.json()["type"].endswith("/member-code-used")


def test_a_code_from_three_minutes_ago_is_refused(api, stack):
    member, _ = register_at(api, stack, A)
    app = member_app(api, stack, member)
    clock.freeze(datetime.now(UTC) - timedelta(minutes=3))       # (the stack runs in this process)
    try:
        old = code_of(api, app)["code"]
    finally:
        clock.freeze(None)
    r = api.call("POST", RESOLVE, {"code": old}, signed_by=pos(stack, A), key=f"old-{fresh_phone()}")
    assert r.status_code == 422 and r.json()["type"].endswith("/member-code-rejected")
    fresh = code_of(api, app)["code"]
    assert fresh != old and fresh[:11] == old[:11]
    assert api.call("POST", RESOLVE, {"code": fresh}, signed_by=pos(stack, A), key=f"new-{fresh_phone()}").status_code == 200


def test_eight_tills_resolving_one_code_at_once_resolve_it_once(api, stack):
    member, _ = register_at(api, stack, A)
    code = code_of(api, member_app(api, stack, member))["code"]
    tag = fresh_phone()
    clerk = staff(api, stack, A, "clerk")
    replies = all_at_once(8, lambda i: api.call("POST", RESOLVE, {"code": code}, key=f"t8-{tag}-{i}",
                                                signed_by=pos(stack, A) if i % 2 else None,
                                                headers=None if i % 2 else clerk))
    statuses = sorted(r.status_code for r in replies.values())
    assert statuses == [200] + [409] * 7, statuses
    assert all(r.json()["type"].endswith("/member-code-used") for r in replies.values() if r.status_code == 409)


def test_wrong_codes_lock_a_till_out_with_retry_after(api, stack):
    from chalicelib.member_codes.service import GUARD
    from devstack.credentials import staff_token
    guesser = api.bearer(staff_token("clerk", f"mc-guess-{fresh_phone()}", A[1], "demo-store", program_id=A[0]))
    member, _ = register_at(api, stack, A)
    right = code_of(api, member_app(api, stack, member))["code"]
    for n in range(GUARD.tries):
        body = f"9{int(fresh_phone()[-10:]):010d}{n:06d}"
        r = api.call("POST", RESOLVE, {"code": body + luhn_digit(body)}, headers=guesser, key=f"w-{fresh_phone()}")
        assert r.status_code == 422, r.text
    locked = api.call("POST", RESOLVE, {"code": right}, headers=guesser, key=f"w-{fresh_phone()}")
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) >= 1, locked.text
    assert locked.json()["type"].endswith("/too-many-wrong-member-codes")
    # another till is not locked, and the right code is still unused
    assert api.call("POST", RESOLVE, {"code": right}, signed_by=pos(stack, A), key=f"w-{fresh_phone()}").status_code == 200
