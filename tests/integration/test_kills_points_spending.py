"""Issue #21: what a redemption and a checkout hold leave in the books, seen by their callers: the
posting that names what the points paid for, the amounts each posting holds, a cancel's postings,
events and reply, a hold whose merchant only its order names (older holds), a cancel naming a
member merged away, and the races a settle can lose. On the in-memory fake."""

from __future__ import annotations

import pytest

from chalicelib.db.uow import UnitOfWork
from chalicelib.members.tables import MemberItem
from chalicelib.points import chunked, ledger, refunds, spending
from chalicelib.points import repository as points_repository
from chalicelib.points.tables import HoldItem
from chalicelib.shared import clock
from chalicelib.shared.credentials import mint_token
from tests.integration.conftest import AppClient
from tests.integration.test_points_features import T0, balanced
from tests.outbox import outbox_events
from tests.racing import put


@pytest.fixture
def api(memory):
    clock.freeze(T0)
    yield AppClient()
    clock.freeze(None)


@pytest.fixture
def race(racing):
    clock.freeze(T0)
    yield AppClient(), racing
    clock.freeze(None)


@pytest.fixture
def three_lots(monkeypatch):
    """One transaction may touch only 3 lots."""
    for module in (ledger, chunked, spending, refunds):
        monkeypatch.setattr(module, "MAX_LOTS", 3)


def one_point_lots(api, mid, n):
    for i in range(n):
        api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 1, "reason": f"lot {i}"})


def stock(api, phone, points=1_000):
    mid = api.member(phone)
    api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": points, "reason": "stock"})
    return mid


def postings(api, mid, limit=50):
    return api.ok("GET", f"/v1/members/{mid}/points/ledger?limit={limit}")["postings"]


def events(kind, mid):
    found = [e.as_dict() for e in outbox_events(kind=kind)]
    return sorted((e for e in found if e["data"]["member_id"] == mid), key=lambda e: e["data"]["sequence"])


def hold_path(mid, hold_id, action=""):
    return f"/v1/members/{mid}/points/holds/{hold_id}" + (f"/{action}" if action else "")


# --- what a redemption's posting names --------------------------------------------------------

def test_a_redemption_on_an_order_is_posted_against_that_order_with_the_reason_given(api):
    mid = stock(api, "13800121001")
    api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 100, "order_id": "POS:9", "order_amount_fen": 10_000,
                                                        "merchant_id": "m1", "reason": "cash offset"})
    last = postings(api, mid, 1)[0]
    assert (last["kind"], last["amount"], last["source"], last["reason"]) == ("redeem", 100, "order:m1:POS:9",
                                                                             "cash offset")


def test_a_reward_redemption_is_posted_against_the_reward_and_says_why(api):
    mid = stock(api, "13800121002")
    api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 100, "reward": "mug"})
    api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 50, "reward": "tea", "reason": "birthday"})
    shown = [(p["source"], p["reason"]) for p in postings(api, mid, 2)]
    assert shown == [("reward:tea", "birthday"), ("reward:mug", "mug")]          # the reward, when no reason


def test_a_redemption_on_an_order_without_its_amount_is_refused_before_any_step_is_taken(api, three_lots):
    """With more lots than one transaction holds, a spend is taken in steps that commit on their
    own: a spend that must be refused is refused before the first one."""
    mid = api.member("13800121003")
    one_point_lots(api, mid, 10)
    status, problem = api.call("POST", f"/v1/members/{mid}/points/redeem",
                               {"points": 8, "order_id": "NOAMT", "merchant_id": "m1"}, key="no-amount")
    assert status == 422 and "order_amount_fen" in problem["detail"], problem
    account = balanced(mid)
    assert (account["available"], account["held"], account["redeemed"]) == (10, 0, 0)
    assert [p["kind"] for p in postings(api, mid, 1)] == ["adjust"]


# --- holds: the amount each posting holds -----------------------------------------------------

def test_a_hold_posts_exactly_the_points_it_holds(api):
    mid = stock(api, "13800121004")
    hold = api.ok("POST", f"/v1/members/{mid}/points/holds", {"points": 30})
    last = postings(api, mid, 1)[0]
    assert (last["kind"], last["amount"], last["held_delta"], last["source"]) == ("hold", 30, 30,
                                                                                 f"hold:{hold['hold_id']}")
    assert (balanced(mid)["held"], hold["balance"]) == (30, 970)


def test_a_hold_taken_in_steps_posts_each_part_once_and_the_parts_add_up_to_the_hold(api, three_lots):
    mid = api.member("13800121005")
    one_point_lots(api, mid, 10)
    hold = api.ok("POST", f"/v1/members/{mid}/points/holds", {"points": 8}, key="steps")
    parts = [(p["kind"], p["amount"], p["held_delta"]) for p in postings(api, mid, 3)]
    assert parts == [("hold", 2, 2), ("hold", 3, 3), ("hold", 3, 3)]            # 3 + 3 in steps, 2 with the hold
    held = events("points.held", mid)
    assert [(e["data"]["amount"], e["data"].get("filling")) for e in held] == [(3, True), (3, True), (2, None)]
    assert {e["data"]["hold_id"] for e in held} == {hold["hold_id"]}
    account = balanced(mid)
    assert (account["available"], account["held"], hold["balance"]) == (2, 8, 2)


def test_a_hold_on_no_order_names_none(api):
    mid = stock(api, "13800121006")
    hold = api.ok("POST", f"/v1/members/{mid}/points/holds", {"points": 30})
    assert api.ok("GET", hold_path(mid, hold["hold_id"]))["order"] is None
    api.ok("POST", hold_path(mid, hold["hold_id"], "confirm"), {})
    assert api.ok("GET", hold_path(mid, hold["hold_id"]))["order"] is None
    assert api.ok("GET", f"/v1/members/{mid}/orders")["orders"] == []


# --- a spend in steps -------------------------------------------------------------------------

def test_a_spend_whose_rest_fits_one_transaction_exactly_takes_it_there_not_in_another_step(api, three_lots):
    mid = api.member("13800121007")
    one_point_lots(api, mid, 10)
    spent = api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 6, "reward": "tv"}, key="six")
    assert (spent["points"], len(spent["lots"]), spent["balance"]) == (6, 6, 4)
    assert [p["kind"] for p in postings(api, mid, 3)] == ["redeem", "hold", "adjust"]   # one step of 3, then 3
    redeemed = events("points.redeemed", mid)
    held = events("points.held", mid)
    assert len(redeemed) == 1 and len(held) == 1
    assert redeemed[0]["data"]["hold_id"] == held[0]["data"]["hold_id"]         # the redemption closed that hold
    assert held[0]["data"]["filling"] is True
    account = balanced(mid)
    assert (account["available"], account["held"], account["redeemed"]) == (4, 0, 6)


def test_a_spend_in_steps_takes_no_more_steps_than_it_needs(api, three_lots, monkeypatch):
    """Every step is its own transaction: count them (a spend that never stops stepping fails here
    rather than running on)."""
    commits = []

    class Counted(UnitOfWork):
        def commit(self, claim=None):
            commits.append(1)
            if len(commits) > 10:
                raise RuntimeError("a spend in steps that does not stop")
            return super().commit(claim)
    mid = api.member("13800121008")
    one_point_lots(api, mid, 10)
    monkeypatch.setattr(chunked, "UnitOfWork", Counted)
    spent = api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 8, "reward": "tv"}, key="eight")
    assert len(commits) == 2                                                   # 3 + 3, then 2 with the redemption
    assert (spent["points"], len(spent["lots"]), spent["balance"]) == (8, 8, 2)
    assert [p["kind"] for p in postings(api, mid, 4)] == ["redeem", "hold", "hold", "adjust"]


def test_a_spend_whose_lots_were_spent_down_meanwhile_is_taken_in_one_transaction(api, three_lots, monkeypatch):
    """Another redemption commits after this one found it needs steps but before the steps read
    the lots: what is left now fits one transaction, and the spend is made there."""
    from chalicelib.points.schemas import Redeem
    from chalicelib.shared.principal import Principal
    mid = api.member("13800121009")
    one_point_lots(api, mid, 5)
    api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 100, "reason": "big"})
    real, raced = chunked.fill, []

    def fill_after_another_spend(*args):
        if not raced:
            raced.append(True)
            other = UnitOfWork("other", program="default")
            spending.redeem(mid, Redeem(points=3, reward="pin"), Principal("staff", "ops", "super_admin"), other,
                            "other-key")
            other.commit()
        return real(*args)
    monkeypatch.setattr(chunked, "fill", fill_after_another_spend)
    spent = api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 8, "reward": "tv"}, key="k")
    assert raced and (spent["points"], [lot["points"] for lot in spent["lots"]], spent["balance"]) == (8, [1, 1, 6], 94)
    account = balanced(mid)
    assert (account["available"], account["held"], account["redeemed"]) == (94, 0, 11)


def test_a_hold_in_steps_whose_filling_hold_lapsed_meanwhile_is_refused_and_holds_nothing(api, three_lots,
                                                                                          monkeypatch):
    """The holds job gives the filling hold back after the last step read it: the checkout hold is
    not opened on lots that went back."""
    mid = api.member("13800121010")
    one_point_lots(api, mid, 10)
    real, raced = chunked.fill, []

    def fill_then_lapsed(program_id, member_id, point_type, points, hold_id, *args):
        h = real(program_id, member_id, point_type, points, hold_id, *args)
        if h is not None and not raced:
            raced.append(hold_id)
            spending.finish_release(program_id, member_id, hold_id, point_type, "job:points-holds", "expired")
        return h
    monkeypatch.setattr(chunked, "fill", fill_then_lapsed)
    status, problem = api.call("POST", f"/v1/members/{mid}/points/holds", {"points": 8}, key="k")
    assert raced and status == 409 and problem["type"].endswith("/hold-not-open"), problem
    account = balanced(mid)
    assert (account["available"], account["held"], account["redeemed"]) == (10, 0, 0)


def test_a_spend_step_that_finds_its_filling_hold_settled_meanwhile_stops(race, three_lots):
    """The filling hold is settled by someone else between a step's read and its write: the step
    does not write over it, and the spend is refused."""
    api, fake = race
    mid = api.member("13800121011")
    one_point_lots(api, mid, 10)
    fake.race(HoldItem, put("status", {"S": "released"}))       # only the existing hold: the second step
    status, problem = api.call("POST", f"/v1/members/{mid}/points/redeem", {"points": 8, "reward": "tv"}, key="k")
    assert fake.raced == 1 and status == 409 and problem["type"].endswith("/spend-in-progress"), problem
    assert [p["kind"] for p in postings(api, mid, 2)] == ["hold", "adjust"]      # the first step only: no redemption


# --- cancelling a hold ------------------------------------------------------------------------

def test_a_cancel_is_posted_as_its_caller_and_its_reply_has_nothing_still_returning(api):
    mid = stock(api, "13800121012")
    hold = api.ok("POST", f"/v1/members/{mid}/points/holds", {"points": 30})
    back = api.ok("POST", hold_path(mid, hold["hold_id"], "cancel"), {})
    assert (back["status"], back["points"], back["balance"]) == ("released", 30, 1_000)
    assert back.get("returning") is None
    made, cancelled = postings(api, mid, 2)[::-1]
    assert (cancelled["kind"], cancelled["amount"], cancelled["reason"]) == ("hold_released", 30, "cancelled")
    assert cancelled["actor"] == made["actor"] != spending.LAPSE_ACTOR
    released = events("points.hold_released", mid)
    assert [(e["data"]["left"], e["actor"]) for e in released] == [(0, made["actor"])]


def test_a_big_cancel_gives_back_in_steps_as_its_caller_counting_down_what_is_left(api, three_lots, monkeypatch):
    mid = api.member("13800121013")
    one_point_lots(api, mid, 10)
    hold = api.ok("POST", f"/v1/members/{mid}/points/holds", {"points": 8}, key="big")
    steps = []

    def bounded(*args, **kwargs):
        steps.append(1)
        if len(steps) > 5:
            raise RuntimeError("a give-back that does not stop")
        return real(*args, **kwargs)
    real = spending.release_hold
    monkeypatch.setattr(spending, "release_hold", bounded)
    back = api.ok("POST", hold_path(mid, hold["hold_id"], "cancel"), {})
    assert (back["status"], back["returning"]) == ("released", 5)                # 3 now, 3 + 2 just after
    assert len(steps) == 2                                                        # two steps after the cancel
    account = balanced(mid)
    assert (account["available"], account["held"]) == (10, 0)
    cancel, *after = [p for p in postings(api, mid, 3)][::-1]
    made = [p for p in postings(api, mid, 10) if p["kind"] == "hold"][0]
    assert (cancel["amount"], cancel["actor"]) == (3, made["actor"])
    assert [(p["amount"], p["actor"]) for p in after] == [(3, made["actor"]), (2, made["actor"])]    # as their events
    released = events("points.hold_released", mid)
    assert [e["data"]["left"] for e in released] == [5, 2, 0]
    assert {e["actor"] for e in released} == {made["actor"]}                      # the steps are the caller's
    assert api.ok("GET", hold_path(mid, hold["hold_id"]))["status"] == "released"


def test_a_cancel_naming_a_member_merged_away_cancels_the_survivors_hold(api):
    old, survivor = api.member("13800121014"), stock(api, "13800121015")
    hold = api.ok("POST", f"/v1/members/{survivor}/points/holds", {"points": 30})
    uow = UnitOfWork("test")
    item = uow.get(MemberItem, MemberItem.key(old), consistent=True)
    item.status, item.merged_into = "merged", survivor
    uow.save(item)
    uow.commit()
    back = api.ok("POST", hold_path(old, hold["hold_id"], "cancel"), {})
    assert (back["status"], back["balance"]) == ("released", 1_000)
    assert balanced(survivor)["held"] == 0


def test_a_cancel_that_loses_its_hold_to_a_confirm_is_refused_not_applied(race):
    """Someone confirms the hold between the cancel's read and its write: the cancel retries, and
    finds the hold spent."""
    api, fake = race
    mid = stock(api, "13800121016")
    hold = api.ok("POST", f"/v1/members/{mid}/points/holds", {"points": 30})
    fake.race(HoldItem, put("status", {"S": "confirmed"}))
    status, problem = api.call("POST", hold_path(mid, hold["hold_id"], "cancel"), {})
    assert fake.raced == 1 and status == 409 and problem["type"].endswith("/hold-not-open"), problem
    assert points_repository.of(UnitOfWork()).hold(mid, "points", hold["hold_id"]).status == "confirmed"


def test_a_cancel_that_loses_a_race_on_its_step_is_retried_and_gives_back_once(race):
    api, fake = race
    mid = stock(api, "13800121017")
    hold = api.ok("POST", f"/v1/members/{mid}/points/holds", {"points": 30})
    fake.race(HoldItem, put("returned", {"N": "0"}))             # another step's lock moved (nothing back yet)
    back = api.ok("POST", hold_path(mid, hold["hold_id"], "cancel"), {})
    assert fake.raced == 1 and (back["status"], back["balance"]) == ("released", 1_000)
    account = balanced(mid)
    assert (account["available"], account["held"]) == (1_000, 0)


# --- holds whose merchant only their order names (older holds) ---------------------------------

def _as_older_hold(mid, hold_id, **changes):
    uow = UnitOfWork()
    item = points_repository.of(uow).hold(mid, "points", hold_id)
    item.merchant_id = None                                   # stored before holds named their merchant
    for name, value in changes.items():
        setattr(item, name, value)
    UnitOfWork().put(item)


def test_an_older_hold_belongs_to_the_merchant_its_order_names(api):
    mid = stock(api, "13800121018")
    hold = api.ok("POST", f"/v1/members/{mid}/points/holds",
                  {"points": 30, "order_id": "POS:7:1", "order_amount_fen": 10_000, "merchant_id": "m1"})
    _as_older_hold(mid, hold["hold_id"])
    m1 = mint_token("staff", "m1-manager", 60, role="store_manager", merchant_id="m1")
    m2 = mint_token("staff", "m2-manager", 60, role="store_manager", merchant_id="m2")
    shown = api.ok("GET", hold_path(mid, hold["hold_id"]), token=m1)
    assert (shown["merchant_id"], shown["order"]) == ("m1", "m1:POS:7:1")
    assert api.call("GET", hold_path(mid, hold["hold_id"]), token=m2)[0] == 404
    assert api.call("POST", hold_path(mid, hold["hold_id"], "cancel"), {}, token=m2)[0] == 404
    assert api.ok("POST", hold_path(mid, hold["hold_id"], "cancel"), {}, token=m1)["status"] == "released"


def test_an_older_hold_on_no_order_names_no_merchant_and_is_headquarters_only(api):
    mid = stock(api, "13800121019")
    hold = api.ok("POST", f"/v1/members/{mid}/points/holds", {"points": 30})
    _as_older_hold(mid, hold["hold_id"])
    m1 = mint_token("staff", "m1-manager", 60, role="store_manager", merchant_id="m1")
    shown = api.ok("GET", hold_path(mid, hold["hold_id"]))
    assert (shown["merchant_id"], shown["order"], shown["points"]) == (None, None, 30)
    assert api.call("GET", hold_path(mid, hold["hold_id"]), token=m1)[0] == 404
    assert api.ok("POST", hold_path(mid, hold["hold_id"], "cancel"), {})["status"] == "released"
