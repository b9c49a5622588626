"""Member codes through the app in process, on moto and on the fake: the member's code resolves
at a till once, within its two minutes, to the member (masked); the secret is sealed in the table;
wrong codes lock the caller out; another program never resolves a code; a member registers and
is found by an Alipay user id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.db.uow import UnitOfWork
from chalicelib.member_codes import service
from chalicelib.member_codes.tables import HandleItem, MemberCodeItem
from chalicelib.shared import clock
from chalicelib.shared.credentials import mint_token
from chalicelib.shared.principal import Principal
from tests.integration.conftest import AppClient, scan, seed_merchants

RESOLVE = "/v1/member-codes/resolve"
NOON = datetime(2026, 12, 4, 12, 0, 10, tzinfo=UTC)


def _clerk(who="clerk-1", program="default"):
    return mint_token("staff", who, 60, role="clerk", merchant_id="m1", store_id="s1", program_id=program)


def _code(api, member):
    return api.ok("GET", "/v1/members/me/member-code", token=mint_token("member", member, 60))


def test_a_code_resolves_once_to_the_member_masked(api):
    clock.freeze(NOON)
    member = api.member("13800300001")
    shown = _code(api, member)
    assert shown["member_id"] == member and len(shown["code"]) == 18 and member not in shown["code"]
    assert shown["valid_until"] == "2026-12-04T12:02:00.000Z" and shown["refresh_in_seconds"] == 50
    assert _code(api, member)["code"] == shown["code"]                     # the same minute: the same code
    status, found = api.call("POST", RESOLVE, {"code": shown["code"]}, token=_clerk(), key="r1")
    assert status == 200, found
    assert found["member_id"] == member and found["phone"] == "138****0001" and found["paid_plan_active"] is False
    assert found["tier"]["code"]
    assert api.call("POST", RESOLVE, {"code": shown["code"]}, token=_clerk(), key="r1") == (200, found)   # a retry
    again = api.call("POST", RESOLVE, {"code": shown["code"]}, token=_clerk("clerk-2"), key="r2")
    assert again[0] == 409 and again[1]["type"].endswith("/member-code-used")
    fresh = _code(api, member)                          # the same minute, its code used: the next minute's
    assert fresh["code"] != shown["code"] and fresh["code"][:11] == shown["code"][:11]  # the same handle
    assert fresh["valid_until"] == "2026-12-04T12:03:00.000Z"
    assert api.call("POST", RESOLVE, {"code": fresh["code"]}, token=_clerk(), key="r3")[0] == 200
    assert api.call("POST", RESOLVE, {"code": fresh["code"]}, token=_clerk(), key="r4")[0] == 409
    clock.freeze(NOON + timedelta(minutes=2))
    nxt = _code(api, member)
    assert nxt["code"] not in (shown["code"], fresh["code"])
    assert api.call("POST", RESOLVE, {"code": nxt["code"]}, token=_clerk(), key="r5")[0] == 200


def test_a_third_checkout_in_a_minute_is_told_when_its_code_comes_never_shown_a_used_one(api):
    """members.md: once a minute's code is used, the next minute's is shown. After that one was used
    too (three checkouts in a minute), getMemberCode showed it again: a code every till refuses
    (409), with ``refresh_in_seconds`` up to two minutes. Now 429 with ``Retry-After``: when the
    next code that resolves exists."""
    clock.freeze(NOON)                                                          # 12:00:10
    member = api.member("13800300009")
    used = []
    for n in range(2):
        shown = _code(api, member)["code"]
        assert shown not in used and api.call("POST", RESOLVE, {"code": shown}, token=_clerk(), key=f"t{n}")[0] == 200
        used.append(shown)
    status, problem = api.call("GET", "/v1/members/me/member-code", token=mint_token("member", member, 60))
    assert status == 429 and problem["type"].endswith("/member-code-not-ready"), problem
    assert problem["retry_after"] == 50                                       # 12:01:00, the next step
    clock.freeze(NOON + timedelta(seconds=50))
    third = _code(api, member)
    assert third["code"] not in used and third["valid_until"] == "2026-12-04T12:04:00.000Z"
    assert api.call("POST", RESOLVE, {"code": third["code"]}, token=_clerk(), key="t2")[0] == 200


def test_a_code_of_the_previous_minute_resolves_and_one_of_three_minutes_ago_does_not(api):
    clock.freeze(NOON)
    member = api.member("13800300002")
    old = _code(api, member)["code"]
    clock.freeze(NOON + timedelta(seconds=65))                               # the next minute: skew
    shown = _code(api, member)["code"]
    assert api.call("POST", RESOLVE, {"code": old}, token=_clerk(), key="s1")[0] == 200
    # the newer code is still unused, but an older one after it never resolves
    clock.freeze(NOON + timedelta(minutes=3))
    late = api.call("POST", RESOLVE, {"code": shown}, token=_clerk(), key="s2")
    assert late[0] == 422 and late[1]["type"].endswith("/member-code-rejected")


def test_a_used_step_refuses_older_codes_too(api):
    clock.freeze(NOON)
    member = api.member("13800300003")
    first = _code(api, member)["code"]
    clock.freeze(NOON + timedelta(seconds=60))
    second = _code(api, member)["code"]
    assert api.call("POST", RESOLVE, {"code": second}, token=_clerk(), key="u1")[0] == 200
    assert api.call("POST", RESOLVE, {"code": first}, token=_clerk(), key="u2")[0] == 409     # a screenshot


def test_the_secret_is_sealed_and_the_handle_is_not_the_member(api):
    clock.freeze(NOON)
    member = api.member("13800300004")
    code = _code(api, member)["code"]
    mine = [i for i in scan(MemberCodeItem) if i.pk == f"MEMBER#{member}" and i.sk == "MCODE"]
    handles = [i for i in scan(HandleItem) if i.pk.startswith("MCODE#")]
    assert len(mine) == 1 and mine[0].handle == code[1:11]
    handle = next(h for h in handles if h.member_id == member)
    assert handle.pk == f"MCODE#{code[1:11]}" and handle.sealed == mine[0].sealed
    import base64
    assert len(base64.b64decode(handle.sealed)) == 12 + 32 + 16                # nonce, 32 base32 chars, tag
    assert "JBSW" not in handle.sealed and code[11:17] not in handle.sealed


def test_wrong_codes_lock_the_caller_out_with_retry_after(api, monkeypatch):
    monkeypatch.setattr(service.GUARD, "tries", 3)
    monkeypatch.setattr(service.GUARD, "reject_floor_seconds", 0.0)
    clock.freeze(NOON)
    member = api.member("13800300005")
    right = _code(api, member)["code"]
    guesser = _clerk("guesser")
    wrong = right[:11] + ("000000" if right[11:17] != "000000" else "111111")
    from chalicelib.shared.codes import luhn_digit
    wrong = wrong + luhn_digit(wrong)
    for n in range(3):
        r = api.call("POST", RESOLVE, {"code": wrong}, token=guesser, key=f"g{n}")
        assert r[0] == 422, r
    locked = api.call("POST", RESOLVE, {"code": right}, token=guesser, key="g-right")
    assert locked[0] == 429 and locked[1]["type"].endswith("/too-many-wrong-member-codes")
    assert locked[1]["retry_after"] >= 1
    assert api.call("POST", RESOLVE, {"code": right}, token=_clerk("honest"), key="h")[0] == 200
    # coupon codes keep their own count: the guesser still looks coupons up
    assert api.call("POST", "/v1/coupons/validate", {"code": "800000000000000000", "order_id": "g",
                                                     "order_amount_fen": 100}, token=guesser)[0] == 422


def test_another_program_never_resolves_a_code(db):
    clock.freeze(NOON)
    try:
        seed_merchants("p2")
        one = AppClient()
        member = one.member("13800300006")
        code = _code(one, member)["code"]
        two = AppClient()
        refused = two.call("POST", RESOLVE, {"code": code}, token=_clerk("p2-clerk", "p2"), key="p2")
        assert refused[0] == 422, refused
        assert one.call("POST", RESOLVE, {"code": code}, token=_clerk(), key="p1")[0] == 200   # unused by p2
    finally:
        clock.freeze(None)


def test_checkout_resolves_inside_its_own_unit_of_work(api):
    clock.freeze(NOON)
    member = api.member("13800300007")
    code = _code(api, member)["code"]
    till = Principal("staff", "clerk-1", "clerk", "m1", "s1")
    abandoned = UnitOfWork("test")
    assert service.resolve(abandoned, code, till) == member                 # staged, never committed
    work = UnitOfWork("test")
    assert service.resolve(work, code, till) == member                      # so still unused
    work.commit()
    import pytest
    with pytest.raises(service.CodeUsed):
        service.resolve(UnitOfWork("test"), code, till)


def test_a_member_registers_and_is_found_by_an_alipay_user_id(api):
    made = api.ok("POST", "/v1/members", {"identities": [{"type": "alipay_user_id", "value": "2088102146225135"}]})
    assert made["identities"] == [{"type": "alipay_user_id", "value": "2088102146225135"}]
    found = api.ok("GET", "/v1/members/lookup?type=alipay_user_id&value=2088102146225135")
    assert found["member_id"] == made["member_id"]
    assert api.ok("POST", "/v1/members/lookup", {"type": "alipay_user_id", "value": "2088102146225135"})[
        "member_id"] == made["member_id"]
    taken = api.call("POST", "/v1/members", {"identities": [{"type": "alipay_user_id", "value": "2088102146225135"}]})
    assert taken[0] == 409
    assert api.call("POST", "/v1/members", {"identities": [{"type": "alipay_user_id", "value": "20 88!"}]})[0] == 422
