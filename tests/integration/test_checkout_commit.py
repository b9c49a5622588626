"""Checkout's commit saga through the app on every backend (issue #27 items 3-4): a quote committed
holds its coupons, points and stored value at once, with ids derived from the Idempotency-Key, and
completion spends them and earns on the order (figures by hand); a refusal at any step releases
every hold taken (failures injected at each step); a crash between steps resumes on retry under
the same key; cancel and the lapse release everything; bad commits change nothing."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from chalicelib.checkout import saga
from chalicelib.ledger import holds
from chalicelib.shared import clock
from chalicelib.shared.config import settings
from chalicelib.shared.credentials import mint_token
from chalicelib.shared.errors import Conflict
from tests.integration.test_checkout_quote import CART, QUOTES, T0, _member, _till

CHECKOUTS = "/v1/checkouts"


@pytest.fixture
def shop(api):
    clock.freeze(T0)
    return api


def _balances(api, mid):
    pts = api.ok("GET", f"/v1/members/{mid}/points")["accounts"]["points"]
    sv = api.ok("GET", f"/v1/members/{mid}/stored-value")
    coupons = api.ok("GET", f"/v1/members/{mid}/coupons")["coupons"]
    return {"points": (pts["available"], pts["held"]), "sv": sv["balance_fen"],
            "coupons": sorted(c["state"] for c in coupons)}


def _quote(api, mid, **extra):
    return api.ok("POST", QUOTES, {"member_id": mid, "channel": "pos", "lines": CART, **extra}, token=_till())


SCOPE = "staff:m1:s1:clerk-m1-s1"            # _till()'s idempotency scope


def _record(api, key):
    """The checkout a commit under ``key`` made, read as its till would (None: none)."""
    status, reply = api.call("GET", f"{CHECKOUTS}/{holds.step_id('K', SCOPE, key)}", token=_till())
    return reply if status == 200 else None


def test_a_commit_holds_everything_and_completion_spends_it_and_earns_on_the_order(shop):
    api = shop
    mid = _member(api, "13800271001")
    before = _balances(api, mid)
    assert before == {"points": (5_000, 0), "sv": 3_000, "coupons": ["unused"] * 3}
    q = _quote(api, mid)
    assert q["totals"]["to_pay_fen"] == 15_700 and q["points"]["points"] == 5_000     # test_checkout_quote's figures
    c = api.ok("POST", CHECKOUTS, {"quote_id": q["quote_id"], "lines": CART, "stored_value_fen": 3_000,
                                   "guide_id": "guide-7"}, key="co-1", token=_till())
    # by hand: coupons 20.00 + 23.00, points 50.00, stored value 30.00, cash 157.00 - 30.00 = 127.00;
    # the order is 207.00 (after member prices and coupons).
    assert c["status"] == "committed" and c["guide_id"] == "guide-7" and c["member_id"] == mid
    assert c["totals"] == {"list_total_fen": 25_000, "member_total_fen": 25_000, "member_discount_fen": 0,
                           "coupons_fen": 4_300, "points": 5_000, "points_fen": 5_000, "stored_value_fen": 3_000,
                           "gift_cards_fen": 0, "cash_fen": 12_700, "order_amount_fen": 20_700}
    for line in c["lines"]:
        assert line["member_discount_fen"] + sum(line["coupons"].values()) + line["points_fen"] + \
            line["stored_value_fen"] + sum(line["gift_cards"].values()) + line["cash_fen"] == line["list_total_fen"]
    # stored value 30.00 over what the lines have to pay (125.60 : 31.40) -> 24.00 + 6.00
    assert [x["stored_value_fen"] for x in c["lines"]] == [2_400, 600]
    held = _balances(api, mid)
    assert held == {"points": (0, 5_000), "sv": 0, "coupons": ["locked", "locked", "unused"]}
    ids = {h["hold_id"] for h in c["holds"]["coupons"]} | {c["holds"]["points"]["hold_id"],
                                                             c["holds"]["stored_value"]["hold_id"]}
    till = mint_token("staff", "clerk-m1-s1", 60, role="clerk", merchant_id="m1", store_id="s1")
    scope = api.ok("GET", f"{CHECKOUTS}/{c['checkout_id']}", token=till)
    assert scope == c
    assert c["holds"]["points"]["hold_id"] == saga.step_id(SCOPE, "co-1", "points")
    assert len(ids) == 4
    # a replay answers the same and holds nothing more
    assert api.call("POST", CHECKOUTS, {"quote_id": q["quote_id"], "lines": CART, "stored_value_fen": 3_000,
                                        "guide_id": "guide-7"}, key="co-1", token=_till()) == (201, c)
    assert _balances(api, mid) == held
    bad = api.call("POST", f"{CHECKOUTS}/{c['checkout_id']}/complete", {}, key="cp-0", token=_till())
    assert bad[0] == 422 and "payment_ref" in bad[1]["detail"]
    done = api.ok("POST", f"{CHECKOUTS}/{c['checkout_id']}/complete", {"payment_ref": "wx-4200001"}, key="cp-1",
                  token=_till())
    # earned on 207.00 less the 50.00 points paid: 157.00 at 1 point a yuan
    assert done["status"] == "completed" and done["earned"] == {"points": 157, "growth": done["earned"]["growth"]}
    after = _balances(api, mid)
    assert after == {"points": (157, 0), "sv": 0, "coupons": ["unused", "used", "used"]}
    order = api.ok("GET", f"/v1/orders/{c['order_id']}?merchant_id=m1")
    assert order["order_id"] == c["checkout_id"] and order["amount_fen"] == 20_700
    again = api.call("POST", f"{CHECKOUTS}/{c['checkout_id']}/complete", {"payment_ref": "wx-4200001"}, key="cp-2",
                     token=_till())
    assert again == (200, done) and _balances(api, mid) == after
    assert api.call("POST", f"{CHECKOUTS}/{c['checkout_id']}/cancel", {}, key="cc-1", token=_till())[0] == 409
    listed = api.ok("GET", f"/v1/members/{mid}/checkouts", token=_till())
    assert [x["checkout_id"] for x in listed["items"]] == [c["checkout_id"]]


@pytest.mark.parametrize("refused_at", ["coupon", "points", "stored_value"])
def test_a_refusal_at_any_step_releases_every_hold_taken(shop, monkeypatch, refused_at):
    api = shop
    mid = _member(api, f"1380027200{['coupon', 'points', 'stored_value'].index(refused_at)}")
    before = _balances(api, mid)
    q = _quote(api, mid)
    real = saga.in_unit
    calls = []

    def failing(program, actor, stage):
        calls.append(stage)
        parts = {"coupon": 2, "points": 3, "stored_value": 4}       # the nth step taken
        if len(calls) == parts[refused_at]:
            raise Conflict(f"injected at {refused_at}")
        return real(program, actor, stage)
    monkeypatch.setattr(saga, "in_unit", failing)
    status, reply = api.call("POST", CHECKOUTS, {"quote_id": q["quote_id"], "stored_value_fen": 1_000}, key="co-f",
                             token=_till())
    assert status == 409 and reply["type"].endswith("checkout-changed") and "injected" in reply["detail"]
    assert reply["differs"][0]["part"].startswith(refused_at)
    monkeypatch.setattr(saga, "in_unit", real)
    assert _balances(api, mid) == before
    record = _record(api, "co-f")
    assert record["status"] == "failed" and record["problem"]["part"].startswith(refused_at)
    # the same key answers the same; the quote may be committed again under another key
    assert api.call("POST", CHECKOUTS, {"quote_id": q["quote_id"], "stored_value_fen": 1_000}, key="co-f",
                    token=_till()) == (status, reply)
    ok = api.ok("POST", CHECKOUTS, {"quote_id": q["quote_id"], "stored_value_fen": 1_000}, key="co-g", token=_till())
    assert ok["status"] == "committed" and _balances(api, mid)["points"] == (0, 5_000)


def test_a_crash_between_steps_resumes_under_the_same_key(shop, monkeypatch):
    api = shop
    mid = _member(api, "13800273001")
    q = _quote(api, mid)
    real = saga.in_unit
    calls = []

    def crashing(program, actor, stage):
        calls.append(stage)
        if len(calls) == 3:                           # coupons taken, then the points step: the process dies
            raise RuntimeError("the Lambda timed out")
        return real(program, actor, stage)
    monkeypatch.setattr(saga, "in_unit", crashing)
    body = {"quote_id": q["quote_id"], "stored_value_fen": 2_000}
    status, _ = api.call("POST", CHECKOUTS, body, key="co-r", token=_till())
    assert status == 500
    assert _balances(api, mid)["coupons"] == ["locked", "locked", "unused"]       # the first steps stand
    monkeypatch.setattr(saga, "in_unit", real)
    c = api.ok("POST", CHECKOUTS, body, key="co-r", token=_till())
    assert c["status"] == "committed"
    assert _balances(api, mid) == {"points": (0, 5_000), "sv": 1_000, "coupons": ["locked", "locked", "unused"]}
    assert {h["hold_id"] for h in c["holds"]["coupons"]} == {saga.step_id(SCOPE, "co-r", f"coupon:{x['coupon_id']}")
                                                              for x in q["coupons"]["chosen"]}


def test_cancel_and_the_lapse_release_everything(shop):
    api = shop
    mid = _member(api, "13800274001")
    before = _balances(api, mid)
    first = api.ok("POST", CHECKOUTS, {"quote_id": _quote(api, mid)["quote_id"], "stored_value_fen": 500},
                   key="co-c", token=_till())
    cancelled = api.ok("POST", f"{CHECKOUTS}/{first['checkout_id']}/cancel", {"reason": "customer left"}, key="cc",
                       token=_till())
    assert cancelled["status"] == "cancelled" and cancelled["why"] == "customer left"
    assert _balances(api, mid) == before
    assert api.call("POST", f"{CHECKOUTS}/{first['checkout_id']}/complete", {"payment_ref": "x"}, key="cp",
                    token=_till())[0] == 409
    second = api.ok("POST", CHECKOUTS, {"quote_id": _quote(api, mid)["quote_id"], "stored_value_fen": 500,
                                        "ttl_seconds": 120}, key="co-l", token=_till())
    assert _balances(api, mid)["sv"] == 2_500
    clock.freeze(T0 + timedelta(minutes=4))
    ran = api.run_job("checkout-lapse")
    assert ran["holds_released"] == 1
    assert api.ok("GET", f"{CHECKOUTS}/{second['checkout_id']}", token=_till())["status"] == "cancelled"
    assert _balances(api, mid) == before
    assert api.run_job("checkout-lapse")["holds_released"] == 0


def test_bad_commits_are_refused_and_change_nothing(shop):
    api = shop
    mid = _member(api, "13800275001")
    before = _balances(api, mid)
    q = _quote(api, mid)
    body = {"quote_id": q["quote_id"]}
    assert api.call("POST", CHECKOUTS, {**body, "stored_value_fen": 20_000}, key="b1", token=_till())[0] == 422
    other = mint_token("staff", "clerk-m2", 60, role="clerk", merchant_id="m2", store_id="s9")
    assert api.call("POST", CHECKOUTS, body, key="b2", token=other)[0] == 404
    assert api.call("POST", CHECKOUTS, {**body, "lines": CART[:1]}, key="b3", token=_till())[0] == 409
    assert api.call("POST", CHECKOUTS, {"quote_id": "nope"}, key="b4", token=_till())[0] == 404
    member = mint_token("member", mid, 60)
    assert api.call("POST", CHECKOUTS, body, key="b5", token=member)[0] == 403
    assert api.call("POST", CHECKOUTS, {**body, "stored_value_fen": 1.5}, key="b6", token=_till())[0] == 422
    assert _balances(api, mid) == before
    assert [_record(api, k) for k in ("b1", "b2", "b3", "b4", "b6")] == [None] * 5
    used = api.ok("POST", CHECKOUTS, body, key="b7", token=_till())
    assert used["status"] == "committed"
    twice = api.call("POST", CHECKOUTS, body, key="b8", token=_till())
    assert twice[0] == 409 and twice[1]["type"].endswith("quote-committed")
    late = _quote(api, mid, use_points=False)
    clock.freeze(T0 + timedelta(minutes=6))
    expired = api.call("POST", CHECKOUTS, {"quote_id": late["quote_id"]}, key="b9", token=_till())
    assert expired[0] == 409 and expired[1]["type"].endswith("quote-expired")
    walk_in = api.ok("POST", QUOTES, {"lines": CART}, token=_till())
    refused = api.call("POST", CHECKOUTS, {"quote_id": walk_in["quote_id"], "stored_value_fen": 100}, key="b10",
                       token=_till())
    assert refused[0] == 422
    clock.freeze(T0 + timedelta(minutes=7))
    walk_in = api.ok("POST", QUOTES, {"lines": CART}, token=_till())
    paid = api.ok("POST", CHECKOUTS, {"quote_id": walk_in["quote_id"]}, key="b11", token=_till())
    assert paid["member_id"] is None and paid["totals"]["cash_fen"] == 25_000
    assert api.ok("POST", f"{CHECKOUTS}/{paid['checkout_id']}/complete", {"payment_ref": "cash-1"}, key="b12",
                  token=_till())["earned"] is None
    assert _balances(api, mid)["coupons"] == ["locked", "locked", "unused"]       # b7's, still held


def test_a_gift_card_pays_part_and_a_wrong_secret_releases_everything(shop, monkeypatch):
    from chalicelib.gift_cards import generation, keys
    from tests.integration.test_gift_cards import make_batch, secrets_of, sell
    api = shop
    monkeypatch.setattr(generation, "CHUNK", 4)
    batch = make_batch(api, count=2, merchant_ids=["m1"])
    assert sell(api, batch, 1, 2, "INV-CK")[0] == 201
    secrets = secrets_of(batch)
    number = keys.card_number(1, 1)

    def card_balance():
        return api.ok("GET", f"/v1/gift-cards/{number}")["balance_fen"]
    assert card_balance() == 10_000
    mid = _member(api, "13800276001")
    before = _balances(api, mid)
    q = _quote(api, mid)
    wrong = "0" * 16 if secrets[number] != "0" * 16 else "1" * 16
    tender = {"card_number": number, "amount_fen": 5_000}
    status, refused = api.call("POST", CHECKOUTS, {"quote_id": q["quote_id"], "stored_value_fen": 3_000,
                                                   "gift_cards": [{**tender, "secret": wrong}]}, key="gc-1", token=_till())
    assert status == 422 and refused["type"].endswith("gift-card-rejected"), refused
    assert _balances(api, mid) == before and card_balance() == 10_000
    c = api.ok("POST", CHECKOUTS, {"quote_id": q["quote_id"], "stored_value_fen": 3_000,
                                   "gift_cards": [{**tender, "secret": secrets[number]}]}, key="gc-2", token=_till())
    # 157.00 to pay: stored value 30.00, the card 50.00, cash 77.00
    assert (c["totals"]["gift_cards_fen"], c["totals"]["cash_fen"]) == (5_000, 7_700)
    assert sum(sum(x["gift_cards"].values()) for x in c["lines"]) == 5_000 and card_balance() == 5_000
    assert "secret" not in json.dumps(c)
    done = api.ok("POST", f"{CHECKOUTS}/{c['checkout_id']}/complete", {"payment_ref": "wx-gc"}, key="gc-3",
                  token=_till())
    assert done["status"] == "completed" and card_balance() == 5_000
    order = api.ok("GET", f"/v1/orders/{c['order_id']}?merchant_id=m1")
    assert order["amount_fen"] == 20_700


def test_a_points_step_in_many_steps_past_its_margin_answers_busy_and_the_retry_carries_on(shop, six_lots,
                                                                                          monkeypatch):
    """The points step of a member with more lots than a transaction takes is taken in steps
    (points/chunked.py); a try whose deadline leaves too little for another step answers 503 busy
    saying that it stopped at its deadline (not another try: there is none), and the retry under
    the same key carries on: the commit ends once, with every hold as a commit in one go leaves
    them (test_big_accounts has the redemption's 503)."""
    from chalicelib.points import chunked
    monkeypatch.setattr(chunked, "FILL_MARGIN_SECONDS", 10_000.0)
    api = shop
    mid = api.member("13800274001")
    for i in range(10):                                     # 5,000 points in 10 lots
        api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 500, "reason": f"lot {i}"})
    q = _quote(api, mid)
    assert q["points"]["points"] == 5_000
    status, busy = api.call("POST", CHECKOUTS, {"quote_id": q["quote_id"]}, key="co-steps", token=_till())
    assert status == 503 and busy["type"].endswith("/busy"), busy
    assert busy["detail"] == ("this try stopped at its deadline while taking a large spend in steps (3000 of 5000 "
                              "points taken so far); retry with the same Idempotency-Key to carry on from the steps "
                              "taken")
    assert _balances(api, mid)["points"] == (2_000, 3_000)                  # the step taken is kept
    c = api.ok("POST", CHECKOUTS, {"quote_id": q["quote_id"]}, key="co-steps", token=_till())
    assert c["status"] == "committed"
    assert _balances(api, mid)["points"] == (0, 5_000)
    assert api.ok("POST", CHECKOUTS, {"quote_id": q["quote_id"]}, key="co-steps", token=_till()) == c


@pytest.mark.parametrize("cost", [3.0, 8.0, 15.0])
def test_a_commit_in_slow_steps_answers_before_the_deadline_whatever_a_step_costs(shop, six_lots, slow_steps, cost):
    """Attack of session 47: a 1,000-lot checkout at load 13-24 answered after 37 s and 44 s, its
    steps slower than the fixed margin, and the commit ran another step after the deadline's
    check. Every try now answers within the request's budget, each a step or a hold further,
    saying it stopped at its deadline; the retries commit it once, every hold exact."""
    api = shop
    budget = settings().request_budget_seconds
    mid = api.member(f"1380027410{int(cost) % 10}")
    for i in range(25):                                     # 5,000 points in 25 lots: 4 steps of 6, then 1
        api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 200, "reason": f"lot {i}"})
    api.ok("POST", f"/v1/members/{mid}/stored-value/top-ups", {"amount_fen": 3_000, "payment_ref": f"p-{mid}",
                                                               "merchant_id": "m1"})
    q = _quote(api, mid)
    assert q["points"]["points"] == 5_000
    slow_steps.cost = cost
    body, tries = {"quote_id": q["quote_id"], "stored_value_fen": 3_000}, 0
    while True:
        tries += 1
        status, reply, took = slow_steps.call(api, "POST", CHECKOUTS, body, key="co-slow", token=_till())
        assert took < budget, (tries, took, reply)
        if status != 503:
            break
        assert reply["type"].endswith("/busy") and "stopped at its deadline" in reply["detail"], reply
        assert "another try" not in reply["detail"] and "same Idempotency-Key" in reply["detail"]
    assert status == 201 and reply["status"] == "committed", reply
    assert tries <= 6                                       # 4 steps, the finish, the stored value's hold
    assert _balances(api, mid)["points"] == (0, 5_000) and _balances(api, mid)["sv"] == 0
    slow_steps.cost = 0.0
    assert api.ok("POST", CHECKOUTS, body, key="co-slow", token=_till()) == reply


def test_completions_racing_under_other_keys_with_one_payment_answer_the_completed_checkout(shop, monkeypatch):
    """Attack of session 47: completions of one checkout sent at once under different keys with
    the same payment_ref: one that found the order earned by another meanwhile answered 409
    order-already-earned, remembered under its key for good. Now it answers as the completion
    did (200, the completed checkout), and so does its resend; points are earned once; only
    another payment is refused. The other completion is run inside this one, just before it
    earns (over HTTP the e2e test sends them at once)."""
    from chalicelib.checkout import completion
    api = shop
    mid = _member(api, "13800275001")
    q = _quote(api, mid)
    c = api.ok("POST", CHECKOUTS, {"quote_id": q["quote_id"], "stored_value_fen": 3_000}, key="race-co", token=_till())
    path = f"{CHECKOUTS}/{c['checkout_id']}/complete"
    real, other = completion._earn, []

    def earn_after_the_other(*args):
        if not other:                                       # the other till's completion finishes first
            other.append(None)
            other[0] = api.call("POST", path, {"payment_ref": "wx-race"}, key="race-a", token=_till())
        return real(*args)
    monkeypatch.setattr(completion, "_earn", earn_after_the_other)
    status, mine = api.call("POST", path, {"payment_ref": "wx-race"}, key="race-b", token=_till())
    monkeypatch.undo()
    assert other[0][0] == 200 and other[0][1]["status"] == "completed", other
    assert (status, mine) == (200, other[0][1])
    assert api.call("POST", path, {"payment_ref": "wx-race"}, key="race-b", token=_till()) == (200, mine)   # resent
    assert api.call("POST", path, {"payment_ref": "wx-race"}, key="race-c", token=_till()) == (200, mine)
    status, refused = api.call("POST", path, {"payment_ref": "wx-other"}, key="race-d", token=_till())
    assert status == 409 and refused["type"].endswith("/checkout-state"), refused
    assert _balances(api, mid)["points"] == (mine["earned"]["points"], 0)     # earned once, the rest spent


def test_a_cancel_and_its_commit_replayed_while_a_big_points_hold_is_still_releasing_change_nothing(
        shop, six_lots, monkeypatch):
    """A retry posts nothing twice: a cancel that gave back the first lots of a big points hold and
    left the rest to the holds job (its request out of time) is answered from its record when sent
    again, and so is the commit: neither gives back more lots (the job does, once)."""
    from chalicelib.db.uow import UnitOfWork
    from chalicelib.points import chunked
    from chalicelib.points import repository as points_repository
    api = shop
    mid = api.member("13800276001")
    for i in range(25):                                     # 5,000 points in 25 lots: the hold takes them in steps
        api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 200, "reason": f"lot {i}"})
    api.ok("POST", f"/v1/members/{mid}/stored-value/top-ups", {"amount_fen": 3_000, "payment_ref": f"p-{mid}",
                                                               "merchant_id": "m1"})
    commit = {"quote_id": _quote(api, mid)["quote_id"], "stored_value_fen": 3_000}
    c = api.ok("POST", CHECKOUTS, commit, key="co-big", token=_till())
    room_after = chunked.room_after
    monkeypatch.setattr(chunked, "room_after", lambda: False)      # no time left after the cancel's commit
    cancelled = api.ok("POST", f"{CHECKOUTS}/{c['checkout_id']}/cancel", {}, key="cc-big", token=_till())
    monkeypatch.setattr(chunked, "room_after", room_after)

    def stored():
        repo = points_repository.of(UnitOfWork())
        return repo.account(mid, "points").view(), sorted((h.hold_id, h.status, h.returned)
                                                          for h in repo.holds(mid, "points"))
    before = stored()
    assert [h[1] for h in before[1]] == ["releasing"] and before[0]["held"] == 5_000 - 6 * 200
    for path, body, key, first in ((f"{CHECKOUTS}/{c['checkout_id']}/cancel", {}, "cc-big", cancelled),
                                   (CHECKOUTS, commit, "co-big", c)):
        assert api.ok("POST", path, body, key=key, token=_till()) == first
        assert api.headers.get("Idempotent-Replayed") == "true"
        assert stored() == before                          # no lot given back by a replay
    assert api.run_job("points-holds")["holds_released"] == 1
    assert _balances(api, mid)["points"] == (5_000, 0)
