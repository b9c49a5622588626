"""Growth value is a balance, not lots (docs/operators/points.md *Growth value*): an earn writes no
growth lot (2 WCU less), a refund claws the order's share from the balance and owes only what it
lacks, a removal takes from the balance, and a tier period's reset expires the balance less what
was recorded since the period's first day (the account keeps its last 7 days; a grace counts from
what it noted). Accounts from before (lots, no ``recent``) turn into this at their next change.
Through the app on every backend, figures computed by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from chalicelib.db.backend import SortKey
from chalicelib.db.uow import UnitOfWork
from chalicelib.points import folded, repository
from chalicelib.points.tables import AccountItem, LotItem
from chalicelib.shared import clock
from tests.integration.test_points_features import balanced
from tests.integration.test_tiers import T0, deliver, earn, ladder, tier  # noqa: F401  (ladder: the fixture)

NEXT_PERIOD = datetime(2027, 3, 1, 4, 0, tzinfo=UTC)       # noon of the first day after a 12-month period from T0


def _account(mid: str) -> AccountItem:
    return repository.of(UnitOfWork("test")).account(mid, "growth")


def as_before(mid: str, **figures) -> None:
    """The member's growth as stored before it moved onto the points account (points/folded.py):
    an item of its own (``figures`` set on it), the points account without it."""
    uow = UnitOfWork("test")
    item = repository.of(uow).shared(mid).item
    old = AccountItem.new(mid, "growth")
    for name, attribute in folded._MAPPED.items():
        setattr(old, name, int(getattr(item, attribute) or 0))
        setattr(item, attribute, None)
    old.recent, old.reset_cut, item.recent, item.reset_cut = item.recent, item.reset_cut, None, None
    for name, value in figures.items():
        setattr(old, name, value)
    uow.save(item)
    uow.save(old)
    uow.commit()


def _growth_lots(mid: str) -> list[LotItem]:
    return list(UnitOfWork("test").query(LotItem, f"MEMBER#{mid}", SortKey.prefix("PTS#growth#LOT#"),
                                         consistent=True))


def _refund(api, order: str, fen: int, rid: str) -> dict:
    return api.ok("POST", f"/v1/orders/{order}/refunds", {"refund_id": rid, "amount_fen": fen, "merchant_id": "m1"})


def _earn_undelivered(api, mid: str, order: str, yuan: int) -> dict:
    """An earn whose events the stream has not brought to the tiers yet."""
    return api.ok("POST", f"/v1/members/{mid}/points/earn", {"order_id": order, "amount_fen": yuan * 100,
                                                              "merchant_id": "m1"})


def _adjust(api, mid: str, growth: int):
    return api.call("POST", f"/v1/members/{mid}/points/adjustments",
                    {"points": growth, "point_type": "growth", "reason": "by hand"})


def _silver_then_a_first_day_order(api, ladder, phone: str) -> str:  # noqa: F811
    """A member at Silver from 1,200 growth (order o1, 2026-03-01, Silver until 2027-02-28) under a
    resetting ladder, and an order o2 of 300 on the next period's first day, the stream not yet
    run: its member id."""
    ladder(growth_at_period_end="reset")
    mid = api.member(phone)
    earn(api, mid, "o1", 1_200)
    clock.freeze(NEXT_PERIOD)
    _earn_undelivered(api, mid, "o2", 300)
    return mid


def test_an_earn_writes_no_growth_lot_and_the_account_keeps_only_its_last_days(api, ladder):  # noqa: F811
    mid = api.member("13800504001")
    earn(api, mid, "o1", 120)
    earn(api, mid, "o2", 30)
    assert _growth_lots(mid) == []
    assert json.loads(_account(mid).recent) == {"2026-03-01": 150}
    order = api.ok("GET", "/v1/orders/o1?merchant_id=m1")
    assert order["earned"]["growth"][0]["points"] == 120 and order["earned"]["growth"][0]["recorded_at"]
    clock.freeze(T0 + timedelta(days=8))                         # 2026-03-09: 03-01 is more than 7 days back
    earn(api, mid, "o3", 5)
    assert json.loads(_account(mid).recent) == {"2026-03-09": 5}
    assert balanced(mid, "growth")["available"] == 155
    assert api.ok("GET", f"/v1/members/{mid}/points")["accounts"]["growth"]["balance"] == 155


def test_a_refund_claws_the_order_share_from_the_balance_and_owes_only_what_it_lacks(api, ladder):  # noqa: F811
    mid = api.member("13800504002")
    earn(api, mid, "a", 100)
    status, _ = _adjust(api, mid, -80)                           # 20 left
    assert status == 201
    earn(api, mid, "b", 50)                                      # 70
    reply = _refund(api, "a", 10_000, "ra")                      # a's 100 back: 70 taken, 30 owed
    assert (reply["clawed_back"]["growth"], reply["debt_added"], reply["already_expired"]) == (100, 30, 0)
    account = balanced(mid, "growth")
    assert (account["available"], account["debt"], account["clawed_back"]) == (0, 30, 100)
    earn(api, mid, "c", 40)                                      # repays the 30 first
    account = balanced(mid, "growth")
    assert (account["available"], account["debt"]) == (10, 0)
    status, problem = _adjust(api, mid, -11)                     # beyond the balance: refused, nothing changes
    assert status == 409 and problem["type"].endswith("/insufficient-points")
    assert balanced(mid, "growth")["version"] == account["version"]


def test_a_reset_expires_what_was_recorded_before_the_period_and_its_orders_refund_nothing(api, ladder):  # noqa: F811
    mid = _silver_then_a_first_day_order(api, ladder, "13800504003")
    result = api.run_job("tier-review")
    deliver()
    assert result["growth_reset"] == 1_200
    assert tier(api, mid)["growth"] == 300
    account = _account(mid)
    assert account.reset_cut == "2027-02-28T16:00:00.000Z" and int(account.expired) == 1_200
    again = api.run_job("tier-review")                           # nothing due, nothing expired twice
    assert again.get("growth_reset", 0) == 0 and balanced(mid, "growth")["available"] == 300
    reply = _refund(api, "o1", 120_000, "r1")                     # recorded before the cut: expired already
    assert (reply["clawed_back"].get("growth", 0), reply["debt_added"]) == (0, 0)
    assert api.ok("GET", "/v1/orders/o1?merchant_id=m1")["already_expired"] == {"growth": 1_200, "points": 1_200}
    assert reply["already_expired"] == 2_400                     # its points had ended too (the year's end)
    reply = _refund(api, "o2", 15_000, "r2")                      # half of o2: 150 from the balance
    assert reply["clawed_back"]["growth"] == 150 and reply["debt_added"] == 0
    assert balanced(mid, "growth")["available"] == 150


def test_a_review_later_than_the_days_kept_counts_only_those_days_as_recorded_since(api, ladder):  # noqa: F811
    mid = _silver_then_a_first_day_order(api, ladder, "13800504004")
    clock.freeze(NEXT_PERIOD + timedelta(days=8))
    _earn_undelivered(api, mid, "o3", 100)
    clock.freeze(NEXT_PERIOD + timedelta(days=10))               # 2027-03-11: the days kept are 03-04 on
    assert api.run_job("tier-review")["growth_reset"] == 1_500   # o2's day is past them: expired with o1
    deliver()
    assert balanced(mid, "growth")["available"] == 100
    reply = _refund(api, "o2", 30_000, "r2")                     # reset with o1 (attack H F3): nothing taken again
    assert (reply["clawed_back"].get("growth", 0), reply["debt_added"]) == (0, 0)
    assert _refund(api, "o3", 10_000, "r3")["clawed_back"]["growth"] == 100      # after the 7 days' start
    assert balanced(mid, "growth")["available"] == 0


def test_an_account_from_before_is_seeded_from_its_newest_lots_at_its_next_change(api, ladder):  # noqa: F811
    mid = _silver_then_a_first_day_order(api, ladder, "13800504005")
    as_before(mid, recent=None)                                  # as stored before 2026-12-06: a lot an order
    uow = UnitOfWork("test")
    week_before = datetime(2027, 2, 22, 4, 0, tzinfo=UTC)       # the 7th day back: a day kept
    for order, growth, at in (("o1", 1_200, T0), ("o2", 300, NEXT_PERIOD), (None, 50, week_before)):
        lot_id = (json.loads(repository.of(uow).order("m1", order).earned)["growth"][0]["lot_id"] if order
                  else "0000000000-01")
        key = LotItem.live_key(mid, "growth", None, lot_id)
        uow.save(LotItem(*key, lot_id=lot_id, member_id=mid, point_type="growth", original=growth, remaining=growth,
                         expires_on=None, earned_at=clock.iso(at), source=f"order:m1:{order}" if order else None))
    uow.commit()
    assert api.run_job("tier-review")["growth_reset"] == 1_200   # o2's lot is recent: it stays
    converted = _account(mid)
    assert json.loads(converted.recent) == {"2027-02-22": 50, "2027-03-01": 300}
    assert int(converted.available) == 300
    assert balanced(mid, "growth")["available"] == 300            # the lots left are read by nothing
    assert len(_growth_lots(mid)) == 3


def test_an_order_a_reset_from_before_expired_is_not_clawed_back(api, ladder):  # noqa: F811
    mid = api.member("13800504006")
    earn(api, mid, "o1", 500)
    earn(api, mid, "o2", 200)
    uow = UnitOfWork("test")                                     # a reset before lots went expired o1's lot and said
    order = repository.of(uow).order("m1", "o1")                 # so on the order; the account holds o2's only
    lot_id = json.loads(order.earned)["growth"][0]["lot_id"]
    order.expired = json.dumps({f"growth:{lot_id}": 500})
    uow.save(order)
    uow.commit()
    as_before(mid, available=200, expired=500, recent=None)
    reply = _refund(api, "o1", 50_000, "r1")
    assert (reply["clawed_back"].get("growth", 0), reply["already_expired"], reply["debt_added"]) == (0, 500, 0)
    assert int(_account(mid).available) == 200
    assert api.ok("GET", "/v1/orders/o1?merchant_id=m1")["already_expired"] == {"growth": 500}
