"""Edges of earning, spending, holds and the points jobs, through the app on every backend: the
program's last day of the year, a hold's last millisecond, a job run at the exact instant work falls
due, odd amounts in the share cap, limits exactly reached, and races a request can lose."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.db.uow import UnitOfWork
from chalicelib.points import earning, program, spending
from chalicelib.points import repository as points_repository
from chalicelib.points.ledger import Ledger
from chalicelib.points.repository import PointsRepository
from chalicelib.points.schemas import RecordBehavior
from chalicelib.points.tables import AccountItem, CounterItem, LotItem, PointsDayItem, PostingItem
from chalicelib.shared import clock, retry
from chalicelib.shared.credentials import mint_token
from chalicelib.shared.errors import ConcurrentUpdate
from chalicelib.shared.principal import Principal
from tests.aws import client as aws_client
from tests.integration.conftest import scan
from tests.integration.test_points_features import T0, balanced, earn, rules
from tests.outbox import outbox_events

OPS = Principal("staff", "ops", "super_admin")
SHANGHAI_MIDNIGHT = datetime(2026, 12, 31, 16, 0, tzinfo=UTC)     # 2027-01-01 00:00 in the program's zone
MS = timedelta(milliseconds=1)
real_finish_release, real_release_hold = spending.finish_release, spending.release_hold


def postings(api, mid, limit=50):
    return api.ok("GET", f"/v1/members/{mid}/points/ledger?limit={limit}")["postings"]


def behave(api, mid, body, token=None):
    return api.call("POST", f"/v1/members/{mid}/points/behaviors", body, token=token)


@pytest.fixture
def three_lots(monkeypatch):
    """One transaction may touch only 3 lots."""
    from chalicelib.points import chunked, ledger, refunds
    for module in (ledger, chunked, spending, refunds):
        monkeypatch.setattr(module, "MAX_LOTS", 3)


# --- earning: the program's 31 December ---------------------------------------------------------

def test_an_order_on_the_programs_31_december_earns_under_year_end_expiry(api):
    """Year-end points earned on 31 December (the program's day, UTC+8) last that day: not born expired."""
    clock.freeze(SHANGHAI_MIDNIGHT - MS)                          # 23:59:59.999 on 31 December, program time
    mid = api.member("13800150001")
    reply = earn(api, mid, "NYE", 10_000)
    assert reply["points"] == 100 and reply["expires_on"] == "2026-12-31"
    paid = earn(api, mid, "NYE-paid", 5_000, occurred_at="2026-12-31T00:30:00+08:00")
    assert paid["points"] == 50 and paid["expires_on"] == "2026-12-31"
    assert balanced(mid)["available"] == 150
    clock.freeze(SHANGHAI_MIDNIGHT)                               # 1 January in the program, still 31 Dec in UTC
    new_year = earn(api, mid, "NY", 10_000)
    assert (new_year["points"], new_year["expires_on"]) == (100, "2027-12-31")
    late = earn(api, mid, "NYE-late", 10_000, occurred_at=clock.iso(SHANGHAI_MIDNIGHT - MS))
    assert late["points"] == 0 and "expired on 2026-12-31" in late["explanation"][-1]
    assert balanced(mid)["available"] == 250


# --- the share cap ------------------------------------------------------------------------------

def test_the_share_of_an_odd_order_rounds_down_for_redemptions_and_holds(api):
    """999 fen at 50% may be paid with 499 points (¥4.99), not 500."""
    clock.freeze(T0)
    mid = api.member("13800150002")
    api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 2_000, "reason": "stock"})
    order = {"merchant_id": "m1", "order_amount_fen": 999}
    status, problem = api.call("POST", f"/v1/members/{mid}/points/redeem", {"points": 500, "order_id": "ODD1", **order})
    assert status == 422 and "499 points for 999 fen" in problem["detail"]
    api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 499, "order_id": "ODD1", **order})
    assert api.call("POST", f"/v1/members/{mid}/points/holds", {"points": 500, "order_id": "ODD2", **order})[0] == 422
    hold = api.ok("POST", f"/v1/members/{mid}/points/holds", {"points": 499, "order_id": "ODD2", **order})
    api.ok("POST", f"/v1/members/{mid}/points/holds/{hold['hold_id']}/confirm", {})
    assert balanced(mid)["available"] == 2_000 - 2 * 499


# --- holds: the last millisecond, the order they pay --------------------------------------------

def test_a_hold_confirms_until_the_millisecond_before_it_expires_and_lapses_at_that_instant(api):
    clock.freeze(T0)
    mid = api.member("13800150003")
    earn(api, mid, "o1", 10_000)
    first = api.ok("POST", f"/v1/members/{mid}/points/holds", {"points": 30, "ttl_seconds": 60})
    second = api.ok("POST", f"/v1/members/{mid}/points/holds", {"points": 20, "ttl_seconds": 60})
    assert first["expires_at"] == clock.iso(T0 + timedelta(seconds=60))
    clock.freeze(T0 + timedelta(seconds=60) - MS)
    api.ok("POST", f"/v1/members/{mid}/points/holds/{first['hold_id']}/confirm", {})
    assert api.run_job("points-holds")["holds_released"] == 0          # the other is not yet due
    clock.freeze(T0 + timedelta(seconds=60))                          # its expiry instant
    status, problem = api.call("POST", f"/v1/members/{mid}/points/holds/{second['hold_id']}/confirm", {})
    assert status == 409 and problem["type"].endswith("/hold-not-open")
    assert api.run_job("points-holds")["holds_released"] == 1
    account = balanced(mid)
    assert (account["available"], account["held"], account["redeemed"]) == (70, 0, 30)
    reasons = [(p["kind"], p["reason"]) for p in postings(api, mid, 1)]
    assert reasons == [("hold_released", "expired")]                   # a lapse is an expiry, not a refund


def test_confirming_a_hold_records_the_spend_on_an_order_whose_id_has_colons(api):
    clock.freeze(T0)
    mid = api.member("13800150004")
    earn(api, mid, "o1", 100_000)
    hold = api.ok("POST", f"/v1/members/{mid}/points/holds",
                  {"points": 300, "order_id": "POS:7:42", "order_amount_fen": 9_999, "merchant_id": "m1"})
    api.ok("POST", f"/v1/members/{mid}/points/holds/{hold['hold_id']}/confirm", {})
    order = api.ok("GET", "/v1/orders/POS:7:42?merchant_id=m1")
    assert (order["member_id"], order["amount_fen"], order["spent_points"]) == (mid, 9_999, 300)
    refund = api.ok("POST", "/v1/orders/POS:7:42/refunds", {"refund_id": "r1", "amount_fen": 9_999, "merchant_id": "m1"})
    assert refund["restored"] == 300 and balanced(mid)["available"] == 1_000


def test_a_hold_reserves_its_share_so_a_later_redemption_cannot_use_it(api):
    """A hold reserves its share of the order when made (test_points_hold_orders): a redemption
    on the same order finds only what is left, and the confirm always finds its room."""
    clock.freeze(T0)
    mid = api.member("13800150005")
    api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 20_000, "reason": "stock"})
    order = {"order_id": "SH1", "order_amount_fen": 10_000, "merchant_id": "m1"}       # at most 5,000 points
    hold = api.ok("POST", f"/v1/members/{mid}/points/holds", {"points": 4_000, **order})
    status, problem = api.call("POST", f"/v1/members/{mid}/points/redeem", {"points": 2_000, **order})
    assert status == 422 and (problem["limit_points"], problem["spent_points"]) == (5_000, 4_000)
    api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 1_000, **order})
    api.ok("POST", f"/v1/members/{mid}/points/holds/{hold['hold_id']}/confirm", {})
    assert api.ok("GET", "/v1/orders/SH1?merchant_id=m1")["spent_points"] == 5_000
    account = balanced(mid)
    assert (account["available"], account["held"], account["redeemed"]) == (15_000, 0, 5_000)


def test_a_hold_from_before_amounts_were_kept_confirms_without_a_share_check(api):
    """Holds made before holds kept their order's amount have none (the share was checked when
    they were made), nor did they claim their order: the confirm records the spend (and makes
    the order) without inventing an amount."""
    clock.freeze(T0)
    mid = api.member("13800150006")
    api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 1_000, "reason": "stock"})
    hold = api.ok("POST", f"/v1/members/{mid}/points/holds",
                  {"points": 500, "order_id": "OLD1", "order_amount_fen": 1_000, "merchant_id": "m1"})
    uow = UnitOfWork()
    item = points_repository.of(uow).hold(mid, "points", hold["hold_id"])
    item.order_amount_fen = item.claimed = None                         # as such a hold was stored
    UnitOfWork().put(item)
    gone = UnitOfWork()
    gone.delete(points_repository.of(uow).order("m1", "OLD1"))          # and no order made by it
    gone.commit()
    api.ok("POST", f"/v1/members/{mid}/points/holds/{hold['hold_id']}/confirm", {})
    order = api.ok("GET", "/v1/orders/OLD1?merchant_id=m1")
    assert (order["amount_fen"], order["spent_points"]) == (None, 500)
    assert balanced(mid)["redeemed"] == 500


def test_a_confirm_that_loses_its_hold_to_another_settle_is_refused_not_failed(api, monkeypatch):
    """The other confirm commits after this one read the hold but before it read the account:
    only the hold's condition fails, and the caller is told the hold is no longer open."""
    clock.freeze(T0)
    mid = api.member("13800150007")
    earn(api, mid, "o1", 10_000)
    hold = api.ok("POST", f"/v1/members/{mid}/points/holds", {"points": 40})
    real, raced = program.ledger, []

    def ledger_after_a_race(uow, *args, **kwargs):
        if not raced:
            raced.append(True)
            other = UnitOfWork("other")
            spending.confirm_hold(mid, hold["hold_id"], "points", OPS, other, None)
            other.commit()
        return real(uow, *args, **kwargs)
    monkeypatch.setattr(program, "ledger", ledger_after_a_race)
    uow = UnitOfWork("test")
    spending.confirm_hold(mid, hold["hold_id"], "points", OPS, uow, None)
    with pytest.raises(spending.HoldNotOpen):
        uow.commit()
    monkeypatch.undo()
    account = balanced(mid)
    assert (account["available"], account["held"], account["redeemed"]) == (60, 0, 40)


# --- behaviours ---------------------------------------------------------------------------------

def test_members_record_their_own_check_in_and_nothing_else(api):
    clock.freeze(T0)
    mid = api.member("13800150008")
    rules(api, behaviors={"check_in": {"points": 5}, "review": {"points": 10}})
    me = mint_token("member", mid, 60)
    status, reply = behave(api, mid, {"behavior": "check_in", "ref": "d1"}, token=me)
    assert status == 201 and reply["points"] == 5
    status, problem = behave(api, mid, {"behavior": "review", "ref": "rv1"}, token=me)
    assert status == 403
    assert balanced(mid)["available"] == 5


def test_a_behaviour_worth_no_points_writes_no_posting_and_one_point_is_paid(api):
    clock.freeze(T0)
    mid = api.member("13800150009")
    rules(api, behaviors={"share": {"points": 0}, "review": {"points": 1}})
    status, reply = behave(api, mid, {"behavior": "share", "ref": "s1"})
    assert status == 201 and reply["points"] == 0 and "balance" not in reply
    assert balanced(mid)["version"] == 0 and postings(api, mid) == []
    status, reply = behave(api, mid, {"behavior": "review", "ref": "rv1"})
    assert (reply["points"], reply["balance"]) == (1, 1)
    assert balanced(mid)["available"] == 1


def test_a_behaviour_no_rule_rewards_is_refused_and_leaves_nothing(api):
    clock.freeze(T0)
    mid = api.member("13800150010")
    rules(api, behaviors={"check_in": {"points": 5}})
    status, problem = behave(api, mid, {"behavior": "review", "ref": "rv1"})
    assert status == 422 and "review" in problem["detail"]
    status, problem = behave(api, mid, {"behavior": "custom", "custom_event": "dance", "ref": "x"})
    assert status == 422
    assert not [c for c in scan(CounterItem) if c.pk == f"MEMBER#{mid}" and c.sk.startswith("PTS#")]
    assert balanced(mid)["version"] == 0


def test_a_custom_behaviour_needs_a_named_event_even_if_an_unnamed_one_is_configured(api):
    clock.freeze(T0)
    mid = api.member("13800150028")
    rules(api, custom_events={"": {"points": 5}})
    status, problem = behave(api, mid, {"behavior": "custom", "custom_event": "", "ref": "x"})
    assert status == 422 and "custom_event" in problem["detail"]
    status, problem = behave(api, mid, {"behavior": "custom", "ref": "y"})
    assert status == 422
    assert balanced(mid)["available"] == 0


def test_a_referral_needs_another_existing_member(api):
    clock.freeze(T0)
    mid = api.member("13800150011")
    rules(api, behaviors={"referral": {"points": 100, "referee_points": 50}})
    for body in ({"behavior": "referral", "ref": "self", "referee_member_id": mid},
                 {"behavior": "referral", "ref": "ghost", "referee_member_id": "M-NOBODY"},
                 {"behavior": "referral", "ref": "none"}):
        status, problem = behave(api, mid, body)
        assert status == 422, (body, status, problem)
    assert balanced(mid)["available"] == 0


def test_the_referee_gets_exactly_the_referee_points_and_nothing_when_they_are_zero(api):
    clock.freeze(T0)
    mid, one, zero = api.member("13800150012"), api.member("13800150013"), api.member("13800150014")
    rules(api, behaviors={"referral": {"points": 10, "referee_points": 1}})
    reply = api.ok("POST", f"/v1/members/{mid}/points/behaviors",
                   {"behavior": "referral", "ref": one, "referee_member_id": one})
    assert reply["referee_points"] == 1 and balanced(one)["available"] == 1
    rules(api, behaviors={"referral": {"points": 10, "referee_points": 0}})
    reply = api.ok("POST", f"/v1/members/{mid}/points/behaviors",
                   {"behavior": "referral", "ref": zero, "referee_member_id": zero})
    assert reply["referee_points"] == 0
    assert balanced(zero)["version"] == 0 and postings(api, zero) == []
    assert balanced(mid)["available"] == 20


def _behavior(mid: str, body: dict) -> UnitOfWork:
    uow = UnitOfWork("test")
    earning.record_behavior(mid, RecordBehavior(**body), OPS, uow, None)
    return uow


def test_two_requests_racing_for_a_behaviour_limit_make_the_loser_retry(api):
    """Both read the day's counter at 0; the second commit finds it moved: a retryable
    concurrent update (the API retries it), never a failure."""
    clock.freeze(T0)
    mid = api.member("13800150015")
    rules(api, behaviors={"share": {"points": 0, "per_day": 2}})
    first, second = _behavior(mid, {"behavior": "share", "ref": "a"}), _behavior(mid, {"behavior": "share", "ref": "b"})
    first.commit()
    with pytest.raises(ConcurrentUpdate):
        second.commit()
    _behavior(mid, {"behavior": "share", "ref": "b"}).commit()           # the retry reads 1 and uses the second
    status, problem = behave(api, mid, {"behavior": "share", "ref": "c"})
    assert status == 409 and problem["type"].endswith("/limit-reached")


def test_two_check_ins_racing_on_one_day_reward_one(api):
    clock.freeze(T0)
    mid = api.member("13800150016")
    rules(api, behaviors={"check_in": {"points": 0}})
    first, second = (_behavior(mid, {"behavior": "check_in", "ref": r}) for r in ("a", "b"))
    first.commit()
    with pytest.raises(earning.LimitReached):
        second.commit()
    counter = points_repository.of(UnitOfWork()).counter(mid, "PTS#CHECKIN")
    assert (counter.streak, counter.last_day) == (1, "2026-03-01")


# --- pending lots unlock ------------------------------------------------------------------------

def test_pending_points_unlock_at_the_first_instant_of_their_day_keeping_their_expiry(api):
    clock.freeze(T0)                                                  # 2026-03-01, 12:00 in the program
    mid = api.member("13800150017")
    rules(api, pending_days=7, expiry={"policy": "days", "days": 100})
    reply = earn(api, mid, "o1", 20_000)
    assert reply["expires_on"] == "2026-06-09"
    clock.freeze(datetime(2026, 3, 7, 16, tzinfo=UTC) - MS)            # 23:59:59.999 on 7 March, program time
    assert api.run_job("points-expiry")["points_unlocked"] == 0
    clock.freeze(datetime(2026, 3, 7, 16, tzinfo=UTC))                 # 8 March begins
    assert api.run_job("points-expiry")["points_unlocked"] == 200
    account = balanced(mid)
    assert (account["available"], account["pending"], account["earned"]) == (200, 0, 200)
    lots = api.ok("GET", f"/v1/members/{mid}/points")["accounts"]["points"]["next_lots"]
    assert lots == [{"expires_on": "2026-06-09", "points": 200}]
    unlock = postings(api, mid, 1)[0]
    assert unlock["kind"] == "unlock" and (unlock["pending_delta"], unlock["available_delta"]) == (-200, 200)
    assert [(lot["bucket"], lot["delta"], lot["expires_on"]) for lot in unlock["lots"]] == [
        ("pending", -200, "2026-06-09"), ("available", 200, "2026-06-09")]
    clock.freeze(datetime(2026, 6, 9, 16, tzinfo=UTC))                 # 10 June: the day after its last
    assert api.run_job("points-expiry")["points_expired"] == 200


def test_pending_points_that_never_expire_unlock(api):
    clock.freeze(T0)
    mid = api.member("13800150018")
    rules(api, pending_days=3, expiry={"policy": "never"})
    earn(api, mid, "o1", 20_000)
    clock.freeze(T0 + timedelta(days=3))
    assert api.run_job("points-expiry") == {"items_read": 1, "points_expired": 0, "points_unlocked": 200}
    account = balanced(mid)
    assert (account["available"], account["pending"], account["earned"]) == (200, 0, 200)
    assert api.ok("GET", f"/v1/members/{mid}/points")["accounts"]["points"]["next_lots"] == [
        {"expires_on": None, "points": 200}]


# --- the expiry job -----------------------------------------------------------------------------

def test_points_expire_at_the_first_instant_of_the_day_after_their_last(api):
    clock.freeze(datetime(2026, 12, 1, 4, tzinfo=UTC))
    mid = api.member("13800150019")
    earn(api, mid, "o1", 10_000)                                      # year end: last day 2026-12-31
    clock.freeze(SHANGHAI_MIDNIGHT - MS)
    assert api.run_job("points-expiry")["points_expired"] == 0
    api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 10, "reward": "last-minute"})
    clock.freeze(SHANGHAI_MIDNIGHT)
    assert api.run_job("points-expiry")["points_expired"] == 90
    account = balanced(mid)
    assert (account["available"], account["expired"]) == (0, 90)


def test_an_item_the_expiry_job_gives_up_on_is_named_by_program_and_key(api, monkeypatch):
    clock.freeze(datetime(2026, 12, 1, 4, tzinfo=UTC))
    mid = api.member("13800150020")
    earn(api, mid, "o1", 10_000)
    lot = postings(api, mid, 1)[0]["lots"][0]

    def contended(self, lot):
        raise ConcurrentUpdate("always")
    monkeypatch.setattr(Ledger, "expire", contended)
    clock.freeze(SHANGHAI_MIDNIGHT)
    result = api.run_job("points-expiry")
    pk, sk = AccountItem.key(mid, "points")                             # the account whose next date it was
    assert result["accounts_gave_up"] == 1 and result["accounts_gave_up_items"] == [f"default/{pk}/{sk}"]
    assert LotItem.live_key(mid, "points", lot["expires_on"], lot["lot_id"])[0] == pk
    monkeypatch.undo()
    assert api.run_job("points-expiry")["points_expired"] == 100        # still due: the next run does it


def _stale_dates(monkeypatch, as_of: datetime) -> None:
    """The accounts the job will see are those due at ``as_of`` as read now (an overlapping run
    read the index before what the test does next)."""
    stale = list(points_repository.of(UnitOfWork("test")).due_dates(as_of, expiry=True))
    assert len(stale) == 1
    monkeypatch.setattr(PointsRepository, "due_dates", lambda self, when, expiry=False: iter(stale))


def test_a_lot_spent_after_the_index_was_read_is_left_alone(api, monkeypatch):
    clock.freeze(datetime(2026, 12, 31, 15, tzinfo=UTC))              # 23:00 on its last day
    mid = api.member("13800150036")
    earn(api, mid, "o1", 10_000)
    _stale_dates(monkeypatch, SHANGHAI_MIDNIGHT)
    api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 100, "reward": "all of it"})
    clock.freeze(SHANGHAI_MIDNIGHT)
    assert api.run_job("points-expiry") == {"items_read": 1, "points_expired": 0, "points_unlocked": 0}
    account = balanced(mid)
    assert (account["available"], account["expired"], account["redeemed"]) == (0, 0, 100)


def test_the_expiry_job_retries_a_lost_race_on_a_fresh_read_of_the_lot(api, monkeypatch):
    """The index copy goes stale when a write lands on the lot during the job's try: here a refund
    of its order, which (the lot past its last day) expires the lot itself, as the job would. The
    job's next try reads the lot again, not the index copy, finds nothing left, and expires nothing
    twice."""
    from chalicelib.points import refunds
    from chalicelib.points.schemas import Refund
    clock.freeze(datetime(2026, 12, 1, 4, tzinfo=UTC))
    mid = api.member("13800150037")
    earn(api, mid, "o1", 10_000)
    tries, real_expire = [], Ledger.expire

    def raced(self, lot):
        tries.append(1)
        if len(tries) == 1:                                          # the job's first try: the refund lands
            other = UnitOfWork("other")
            refunds.refund("o1", Refund(refund_id="r1", amount_fen=100, merchant_id="m1"), OPS, other, None)
            other.commit()
        return real_expire(self, lot)
    monkeypatch.setattr(Ledger, "expire", raced)
    clock.freeze(SHANGHAI_MIDNIGHT)
    assert api.run_job("points-expiry") == {"items_read": 1, "points_expired": 0, "points_unlocked": 0}
    monkeypatch.undo()
    account = balanced(mid)
    assert (account["available"], account["expired"], account["clawed_back"]) == (0, 100, 0)
    assert len(tries) == 2          # the job's try (lost), the refund's own expiry; none after: the lot is gone


# --- rolling expiry ----------------------------------------------------------------------------

def rolling(api, days=30):
    """Rolling expiry, in force long before the test's orders (back-dated ones included)."""
    api.ok("PUT", "/v1/points/rules", {"rules": {"expiry": {"policy": "rolling", "days": days}},
                                       "effective_from": "2025-01-01T00:00:00Z"})



def test_rolling_points_last_through_their_last_day_and_expire_at_the_next_days_first_instant(api, three_lots):
    clock.freeze(T0)                                                  # 1 March: the last day is 31 March
    mid = api.member("13800150032")
    rolling(api)
    for i in range(2):
        api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 10, "reason": f"lot {i}"})
    earn(api, mid, "o1", 10_000)          # 3 lots; the order's lot also notes its expiry on the order: 4 items
    clock.freeze(datetime(2026, 3, 31, 16, tzinfo=UTC) - MS)          # 23:59:59.999 on 31 March, program time
    # its next date is a reminder's of 1 March, never sent (no reminders run here): the expiry job
    # visits it (an expiry may be due behind it), expires nothing and leaves the reminder due
    assert api.run_job("points-expiry") == {"items_read": 1, "points_expired": 0, "points_unlocked": 0}
    clock.freeze(datetime(2026, 3, 31, 16, tzinfo=UTC))               # 1 April begins
    assert api.run_job("points-expiry") == {"items_read": 1, "points_expired": 120, "points_unlocked": 0}
    # two transactions of at most 3 items: the two adjustments' lots, then the order's lot and its order
    assert [(p["kind"], p["amount"]) for p in postings(api, mid, 3)] == [("expire", 100), ("expire", 20), ("earn", 100)]
    clock.freeze(datetime(2026, 4, 2, 4, tzinfo=UTC))
    assert api.run_job("points-expiry") == {"items_read": 0, "points_expired": 0, "points_unlocked": 0}
    account = balanced(mid)
    assert (account["available"], account["expired"], account["version"]) == (0, 120, 5)


def test_a_back_dated_purchase_never_pulls_the_rolling_date_back(api):
    """Every purchase pushes the expiry out: an order paid 20 days ago but recorded after a newer
    one does not shorten the window the newer purchase opened."""
    clock.freeze(T0)
    mid = api.member("13800150033")
    rolling(api)
    earn(api, mid, "recent", 10_000)                                  # rolling until 31 March
    earn(api, mid, "late", 10_000, occurred_at=clock.iso(T0 - timedelta(days=20)))
    clock.freeze(T0 + timedelta(days=11))
    assert api.run_job("points-expiry")["points_expired"] == 0
    assert balanced(mid)["available"] == 200
    clock.freeze(datetime(2026, 3, 31, 16, tzinfo=UTC))
    assert api.run_job("points-expiry")["points_expired"] == 200


def test_a_purchase_after_the_window_ended_expires_the_lapsed_points_once_even_under_an_overlapping_run(
        api, monkeypatch):
    """The window ended on 31 March: a purchase on 1 April renews nothing. Its earn expires the
    lapsed 100 (the job, which read the index before, then finds nothing to do) and keeps its own."""
    clock.freeze(T0)
    mid = api.member("13800150034")
    rolling(api)
    earn(api, mid, "o1", 10_000)
    clock.freeze(T0 + timedelta(days=31))                             # 1 April: due
    _stale_dates(monkeypatch, clock.now())
    reply = earn(api, mid, "o2", 10_000)
    assert (reply["points"], reply["balance"], reply["expires_on"]) == (100, 100, "2026-05-01")
    assert api.run_job("points-expiry") == {"items_read": 1, "points_expired": 0, "points_unlocked": 0}
    account = balanced(mid)
    assert (account["available"], account["expired"]) == (100, 100)
    assert [(p["kind"], p["amount"]) for p in postings(api, mid, 3)] == [("earn", 100), ("expire", 100), ("earn", 100)]


def test_points_past_their_rolling_window_leave_the_balance_and_cannot_be_spent_before_the_job(api):
    """Last day 31 March: on 1 April, before any run, the 150 are out of the balance, and a
    redemption, a hold or a removal of them is refused."""
    clock.freeze(T0)
    mid = api.member("13800150036")
    rolling(api)
    earn(api, mid, "o1", 10_000)
    earn(api, mid, "o2", 5_000)
    clock.freeze(datetime(2026, 3, 31, 16, tzinfo=UTC) - MS)          # 23:59:59.999 on 31 March, program time
    view = api.ok("GET", f"/v1/members/{mid}/points")["accounts"]["points"]
    assert (view["balance"], view["spendable"], view["lapsed"]) == (150, 150, 0)
    clock.freeze(datetime(2026, 3, 31, 16, tzinfo=UTC))               # 1 April begins
    view = api.ok("GET", f"/v1/members/{mid}/points")["accounts"]["points"]
    assert (view["balance"], view["spendable"], view["lapsed"], view["value_fen"]) == (0, 0, 150, 0)
    assert (view["next_lots"], view["expiring_soon"]) == ([], [])
    status, problem = api.call("POST", f"/v1/members/{mid}/points/redeem", {"points": 10, "reward": "gift"})
    assert status == 409 and problem["detail"] == "10 points needed, 0 spendable"
    assert api.call("POST", f"/v1/members/{mid}/points/holds", {"points": 10})[0] == 409
    assert api.call("POST", f"/v1/members/{mid}/points/adjustments", {"points": -10, "reason": "fix"})[0] == 409
    account = balanced(mid)
    assert (account["available"], account["redeemed"], account["held"]) == (150, 0, 0)
    assert api.run_job("points-expiry")["points_expired"] == 150


def test_rolling_points_show_the_members_window_end_which_each_purchase_moves(api):
    """Earn replies, previewEarn, next_lots and expiring_soon show the account's last day, not null."""
    clock.freeze(T0)                                                  # 1 March
    mid = api.member("13800150038")
    rolling(api)
    assert earn(api, mid, "o1", 10_000)["expires_on"] == "2026-03-31"
    clock.freeze(T0 + timedelta(days=10))                             # 11 March
    preview = {"merchant_id": "m1", "amount_fen": 5_000}
    assert api.ok("POST", "/v1/points/rules/preview", {**preview, "member_id": mid})["expires_on"] == "2026-04-10"
    assert api.ok("POST", "/v1/points/rules/preview", preview)["expires_on"] == "2026-04-10"
    view = api.ok("GET", f"/v1/members/{mid}/points")["accounts"]["points"]
    assert view["next_lots"] == [{"expires_on": "2026-03-31", "points": 100}]
    assert view["expiring_soon"] == [{"expires_on": "2026-03-31", "points": 100}]
    assert earn(api, mid, "o2", 5_000)["expires_on"] == "2026-04-10"
    view = api.ok("GET", f"/v1/members/{mid}/points")["accounts"]["points"]
    assert view["next_lots"] == [{"expires_on": "2026-04-10", "points": 100}, {"expires_on": "2026-04-10", "points": 50}]
    assert view["expiring_soon"] == [{"expires_on": "2026-04-10", "points": 150}]
    clock.freeze(T0 + timedelta(days=5))                              # 6 March: 10 April is not within 30 days
    assert api.ok("GET", f"/v1/members/{mid}/points")["accounts"]["points"]["expiring_soon"] == []


def test_an_order_whose_rolling_window_ended_before_it_was_recorded_earns_none(api):
    """Paid 19 February under a 2-day window (last day 21 February), recorded 1 March: as under
    `days`, no points are made that were expired on arrival."""
    clock.freeze(T0)
    mid = api.member("13800150037")
    rolling(api, days=2)
    reply = earn(api, mid, "late", 10_000, occurred_at=clock.iso(T0 - timedelta(days=10)))
    assert reply["points"] == 0
    assert reply["explanation"][-1] == "none: points earned then expired on 2026-02-21, before the order was recorded"
    assert balanced(mid)["available"] == 0
    inside = earn(api, mid, "inside", 10_000, occurred_at=clock.iso(T0 - timedelta(days=2)))   # last day today
    assert (inside["points"], inside["expires_on"]) == (100, "2026-03-01")


def test_a_back_dated_purchase_whose_window_ends_today_keeps_the_points_through_today(api, monkeypatch):
    """Paid exactly 30 days ago, recorded while a run is under way: the window's last day is today."""
    clock.freeze(T0)
    mid = api.member("13800150035")
    rolling(api)
    earn(api, mid, "o1", 10_000)                                      # last day 31 March
    clock.freeze(T0 + timedelta(days=31))                             # 1 April, 12:00 in the program
    _stale_dates(monkeypatch, clock.now())
    reply = earn(api, mid, "o2", 10_000, occurred_at=clock.iso(clock.now() - timedelta(days=30)))
    assert reply["points"] == 100
    assert api.run_job("points-expiry")["points_expired"] == 0
    assert balanced(mid)["available"] == 200


def test_rolling_points_are_reminded_30_15_3_days_before_the_window_ends_and_a_purchase_moves_them(api):
    """Finding 4 (c): a 40-day window from 1 March ends 10 April: reminded 11 March; a purchase on
    20 March moves it to 29 April, so the 15-day reminder of 10 April is not sent, and the next is
    30 days before 29 April, of all 150 points."""
    clock.freeze(T0)
    mid = api.member("13800150039")
    rolling(api, days=40)
    earn(api, mid, "o1", 10_000)
    sent = []
    for day, order in ((11, None), (20, "o2"), (26, None), (30, None), (31, None)):
        clock.freeze(datetime(2026, 3, day, 4, tzinfo=UTC))
        if order:
            assert earn(api, mid, order, 5_000)["expires_on"] == "2026-04-29"
        sent.append(api.run_job("points-reminders")["reminders_sent"])
    assert sent == [1, 0, 0, 1, 0]
    reminded = [e.data for e in outbox_events() if e.type == "points.expiring"]
    assert [(r["expires_on"], r["points"], r["days_left"]) for r in reminded] == [
        ("2026-04-10", 100, 30), ("2026-04-29", 150, 30)]


# --- reminders ----------------------------------------------------------------------------------

def _reminders(when: datetime) -> list:
    return list(points_repository.of(UnitOfWork("test")).due_dates(when))


def test_a_reminder_due_tomorrow_is_sent_tomorrow(api):
    clock.freeze(datetime(2026, 12, 1, 4, tzinfo=UTC))
    mid = api.member("13800150021")
    rules(api, reminder_days=[3, 2])
    earn(api, mid, "o1", 10_000)                                      # last day 2026-12-31
    days = []
    for day in (27, 28, 29, 30):
        clock.freeze(datetime(2026, 12, day, 4, tzinfo=UTC))
        days.append(api.run_job("points-reminders")["reminders_sent"])
    assert days == [0, 1, 1, 0]
    sent = outbox_events(kind="points.expiring")
    assert sorted(e.data["days_left"] in (2, 3) for e in sent) == [True, True]


def test_after_its_last_reminder_the_account_waits_for_the_expiry_and_then_leaves_the_index(aws):
    """The lot has no index keys of its own; the account's are removed, not set to NULL, when it
    has no date left (DynamoDB refuses a NULL index key)."""

    from chalicelib.shared.config import settings
    from tests.integration.conftest import AppClient
    api = AppClient()
    clock.freeze(datetime(2026, 12, 28, 4, tzinfo=UTC))
    mid = api.member("13800150027")
    rules(api, reminder_days=[3])
    earn(api, mid, "o1", 10_000)                                      # last day 2026-12-31: reminded today
    assert api.run_job("points-reminders")["reminders_sent"] == 1

    def items(what: str) -> list[dict]:
        found = aws_client("dynamodb").scan(
            TableName=settings().main_table, FilterExpression=f"member_id = :m AND point_type = :t AND {what}",
            ExpressionAttributeValues={":m": {"S": mid}, ":t": {"S": "points"}})
        return found["Items"]
    [lot] = items("attribute_exists(lot_id)")
    assert not {"gsi1pk", "gsi1sk", "k1pk", "k1sk", "duepk", "duesk"} & set(lot)
    [account] = items("attribute_exists(version)")
    assert account["duesk"]["S"].startswith("2027-01-01#") and account["duesk"]["S"].endswith("#expiry")
    clock.freeze(datetime(2027, 1, 1, 4, tzinfo=UTC))
    assert api.run_job("points-expiry")["points_expired"] == 100
    [account] = items("attribute_exists(version)")
    assert not {"duepk", "duesk"} & set(account)
    clock.freeze(None)


def test_a_stale_reminder_is_not_sent_twice_nor_for_points_spent_meanwhile(api, monkeypatch):
    """Two overlapping runs read the same due accounts: the second finds them moved on (or their
    points gone)."""
    clock.freeze(datetime(2026, 12, 1, 4, tzinfo=UTC))
    kept, spent = api.member("13800150022"), api.member("13800150023")
    earn(api, kept, "o1", 10_000)
    earn(api, spent, "o2", 10_000)
    stale = _reminders(clock.now())
    assert len(stale) == 2
    api.ok("POST", f"/v1/members/{spent}/points/redeem", {"points": 100, "reward": "all"})   # its lot is gone
    monkeypatch.setattr(PointsRepository, "due_dates", lambda self, as_of, expiry=False: iter(stale))
    assert api.run_job("points-reminders") == {"items_read": 2, "reminders_sent": 1}
    assert api.run_job("points-reminders") == {"items_read": 2, "reminders_sent": 0}
    assert len(outbox_events(kind="points.expiring")) == 1


# --- the holds job ------------------------------------------------------------------------------

def test_a_hold_released_by_an_overlapping_run_counts_once(api, monkeypatch):
    clock.freeze(T0)
    mid = api.member("13800150024")
    earn(api, mid, "o1", 10_000)
    api.ok("POST", f"/v1/members/{mid}/points/holds", {"points": 60, "ttl_seconds": 60})
    clock.freeze(T0 + timedelta(minutes=2))
    stale = list(points_repository.of(UnitOfWork("test")).due_holds(clock.now()))
    monkeypatch.setattr(PointsRepository, "due_holds", lambda self, as_of: iter(stale))
    assert api.run_job("points-holds")["holds_released"] == 1
    assert api.run_job("points-holds") == {"items_read": 1, "holds_released": 0, "points_expired_on_return": 0}
    assert balanced(mid)["available"] == 100


def test_a_give_back_finished_by_the_holds_job_is_a_refund_not_an_expiry(api, monkeypatch):
    from chalicelib.points import chunked, ledger, refunds
    for module in (ledger, chunked, spending, refunds):
        monkeypatch.setattr(module, "MAX_LOTS", 3)                   # one transaction gives back 3 lots
    clock.freeze(T0)
    mid = api.member("13800150026")
    for i in range(8):
        api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 1, "reason": f"lot {i}"})
    api.ok("POST", f"/v1/members/{mid}/points/redeem",
           {"points": 5, "order_id": "RB1", "order_amount_fen": 100_000, "merchant_id": "m1"})
    monkeypatch.setattr(spending, "finish_release", lambda *a: (_ for _ in ()).throw(RuntimeError("stopped")))
    refund = api.ok("POST", "/v1/orders/RB1/refunds", {"refund_id": "r1", "amount_fen": 100_000, "merchant_id": "m1"})
    assert (refund["restored"], refund["restoring"]) == (5, 2)
    monkeypatch.setattr(spending, "finish_release", real_finish_release)
    assert api.run_job("points-holds")["holds_released"] == 1
    last = postings(api, mid, 1)[0]
    assert (last["kind"], last["amount"], last["reason"], last["actor"]) == ("hold_released", 2, "refunded",
                                                                             "job:points-holds")
    assert balanced(mid)["available"] == 8


def test_a_lapsed_hold_over_many_lots_reports_every_point_that_expired_on_its_way_back(api, three_lots):
    clock.freeze(T0)                                                  # 1 March; lots last until 2 March
    mid = api.member("13800150029")
    rules(api, expiry={"policy": "days", "days": 1})
    for i in range(8):
        api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 1, "reason": f"lot {i}"})
    clock.freeze(datetime(2026, 3, 2, 15, tzinfo=UTC))                 # 23:00 on their last day
    api.ok("POST", f"/v1/members/{mid}/points/holds", {"points": 8, "ttl_seconds": 3_600})
    clock.freeze(datetime(2026, 3, 2, 16, 30, tzinfo=UTC))             # 3 March: the hold and the lots ran out
    assert api.run_job("points-holds") == {"items_read": 1, "holds_released": 1, "points_expired_on_return": 8}
    account = balanced(mid)
    assert (account["available"], account["held"], account["expired"]) == (0, 0, 8)
    assert [p["kind"] for p in postings(api, mid, 3)] == ["hold_released"] * 3     # 3 + 3 + 2 lots


def test_a_lapse_step_that_loses_a_race_is_retried_within_the_run(api, monkeypatch):
    clock.freeze(T0)
    mid = api.member("13800150030")
    earn(api, mid, "o1", 10_000)
    api.ok("POST", f"/v1/members/{mid}/points/holds", {"points": 60, "ttl_seconds": 60})
    raced = []

    def loses_once(*args, **kwargs):
        if not raced:
            raced.append(True)
            raise ConcurrentUpdate("another request changed the account")
        return real_release_hold(*args, **kwargs)
    monkeypatch.setattr(spending, "release_hold", loses_once)
    monkeypatch.setattr(retry.time, "sleep", lambda seconds: None)
    clock.freeze(T0 + timedelta(minutes=2))
    assert api.run_job("points-holds") == {"items_read": 1, "holds_released": 1, "points_expired_on_return": 0}
    assert raced and balanced(mid)["available"] == 100


def test_a_spend_in_steps_whose_filling_hold_is_released_meanwhile_is_not_completed(api, three_lots, monkeypatch):
    """The filling hold is given back (cancelled, or lapsed by the job) after the last step read it:
    the spend must not turn a hold that no longer holds anything into a redemption."""
    from chalicelib.points import chunked
    clock.freeze(T0)
    mid = api.member("13800150031")
    for i in range(10):
        api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 1, "reason": f"lot {i}"})
    real_fill, raced = chunked.fill, []

    def fill_then_released(program_id, member_id, point_type, points, hold_id, *args):
        h = real_fill(program_id, member_id, point_type, points, hold_id, *args)
        if h is not None and not raced:
            raced.append(hold_id)
            spending.finish_release(program_id, member_id, hold_id, point_type, "job:points-holds", "expired")
        return h
    monkeypatch.setattr(chunked, "fill", fill_then_released)
    status, problem = api.call("POST", f"/v1/members/{mid}/points/redeem", {"points": 8, "reward": "tv"}, key="k")
    assert raced and status == 409 and problem["type"].endswith("/spend-in-progress")
    account = balanced(mid)
    assert (account["available"], account["held"], account["redeemed"]) == (10, 0, 0)


def test_a_resumed_spend_that_can_no_longer_be_covered_takes_nothing_more(api, three_lots, monkeypatch):
    """A spend in steps stopped with 15 points held; other spends leave exactly one transaction's
    worth of lots (3), too few for the 20 still needed: the retry is refused and holds no more."""
    from chalicelib.points import chunked
    clock.freeze(T0)
    mid = api.member("13800150038")
    for points in (5, 5, 5, 5, 10, 10, 10, 1, 1, 1, 1):                # spent in this order
        api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": points, "reason": "stock"})
    real = chunked.finish_fill
    monkeypatch.setattr(chunked, "finish_fill", lambda *a: (_ for _ in ()).throw(RuntimeError("stopped")))
    assert api.call("POST", f"/v1/members/{mid}/points/redeem", {"points": 35, "reward": "tv"}, key="k")[0] == 500
    assert balanced(mid)["held"] == 15
    monkeypatch.setattr(chunked, "finish_fill", real)
    api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 25, "reward": "a"})   # lots of 5, 10, 10
    api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 11, "reward": "b"})   # 10 and 1: three 1s left
    status, problem = api.call("POST", f"/v1/members/{mid}/points/redeem", {"points": 35, "reward": "tv"}, key="k")
    assert status == 409 and problem["type"].endswith("/insufficient-points")
    account = balanced(mid)
    assert (account["available"], account["held"], account["redeemed"]) == (3, 15, 36)


def test_a_spend_step_that_keeps_conflicting_is_retried_with_capped_backoff_then_given_up(api, three_lots,
                                                                                          monkeypatch):
    from chalicelib.points import chunked
    from chalicelib.points.rules import ProgramRules
    clock.freeze(T0)
    mid = api.member("13800150039")
    for i in range(10):
        api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 1, "reason": f"lot {i}"})
    commits, waits = [], []

    class Contended(UnitOfWork):
        def commit(self, claim=None):
            commits.append(1)
            if len(commits) > 2 * chunked.STEP_TRIES:
                raise RuntimeError("retried without end")
            raise ConcurrentUpdate("another request changed the account")
    monkeypatch.setattr(chunked, "UnitOfWork", Contended)
    monkeypatch.setattr(retry.random, "uniform", lambda low, high: waits.append((low, high)) or 0.0)
    monkeypatch.setattr(retry.time, "sleep", lambda seconds: None)
    with pytest.raises(ConcurrentUpdate):
        chunked.fill("default", mid, "points", 8, "F-TEST", OPS, ProgramRules(), None)
    assert len(commits) == chunked.STEP_TRIES == 20
    assert waits == [(0, 0.002 * 2 ** min(n, 6)) for n in range(1, 20)]
    monkeypatch.undo()
    account = balanced(mid)
    assert (account["available"], account["held"]) == (10, 0)


# --- the inflation job --------------------------------------------------------------------------

def _day(issued: int, redeemed: int) -> None:
    UnitOfWork().put(PointsDayItem(*PointsDayItem.key("points", "2026-03-01"), day="2026-03-01", issued=issued,
                                   redeemed=redeemed))


def test_inflation_with_nothing_redeemed_warns_without_a_ratio_and_one_point_redeemed_has_one(api):
    clock.freeze(T0)
    _day(500, 0)
    result = api.run_job("points-inflation")["programs"]["default"]
    assert (result["ratio_percent"], result["warned"]) == (None, True)
    clock.freeze(T0 + timedelta(days=1))
    _day(500, 1)
    result = api.run_job("points-inflation")["programs"]["default"]
    assert (result["issued"], result["redeemed"], result["ratio_percent"], result["warned"]) == (500, 1, 50_000, True)


# --- reconciliation -----------------------------------------------------------------------------

def test_the_reconcile_job_finds_a_ledger_missing_a_posting_whose_sums_still_agree(api):
    clock.freeze(T0)
    mid = api.member("13800150025")
    for i in range(3):
        earn(api, mid, f"o{i}", 10_000)
    assert api.run_job("points-reconcile")["balanced"] is True
    uow = UnitOfWork()
    second, third = (uow.get(PostingItem, (PostingItem.partition(mid), PostingItem.sort_key("points", v)))
                     for v in (2, 3))
    third.available_delta = int(third.available_delta) + int(second.available_delta)   # the sums still agree
    fix = UnitOfWork("test")
    fix.save(third)
    fix.delete(second)
    fix.commit()
    result = api.run_job("points-reconcile")
    assert result["balanced"] is False and result["mismatched_accounts"] == [["default", mid, "points"],
                                                                             ["default", mid, "growth"]]
    # (the posting deleted carried the growth posting of its earn: growth has a gap too, points/folded.py)
