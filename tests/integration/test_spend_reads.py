"""Issue #10 item 13: a spend on no order reads the account and its first lots in one Query and
checks the member in its transaction instead of reading it. What that must not change: a member
that does not exist is a 404, one merged away is followed to its survivor, and a refused spend
leaves nothing behind. On every backend (moto, the fake, DynamoDB Local)."""

import json

from chalicelib.db.uow import UnitOfWork
from chalicelib.members.tables import MemberItem
from chalicelib.points import reconcile
from chalicelib.points.tables import AccountItem, LotItem
from chalicelib.points.tables import PointsOrderItem as OrderItem
from tests.integration.conftest import AppClient


def _balance(api, mid):
    return api.ok("GET", f"/v1/members/{mid}/points")["accounts"]["points"]["available"]


def _with_points(api, phone, points):
    mid = api.member(phone)
    api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": points, "reason": "test"})
    return mid


def test_the_account_sorts_just_before_its_lots_and_after_everything_else_of_its_type():
    account = AccountItem.key("m", "points")[1]
    lots = [LotItem.live_key("m", "points", e, "L1")[1] for e in (None, "2026-01-01", "2999-12-31")]
    assert all(account < lot <= f"{account}#~" for lot in lots)
    others = [LotItem.pending_key("m", "points", "L1")[1], "PTS#points#HOLD#H1", "PTS#points#CAP#2026-11",
              AccountItem.key("m", "growth")[1], LotItem.live_key("m", "growth", None, "L1")[1]]
    assert not any(account <= other <= f"{account}#~" for other in others)


def test_a_spend_for_a_member_that_does_not_exist_is_a_404(db):
    api = AppClient()
    status, problem = api.call("POST", "/v1/members/01NOSUCHMEMBER0000000000000/points/redeem",
                               {"points": 1, "reward": "pin"})
    assert status == 404 and "no member" in problem["detail"]


def test_a_member_whose_record_is_gone_spends_nothing(db):
    """The account is there, the member is not (as after an erasure): the check in the
    transaction refuses, and nothing of the spend is written."""
    api = AppClient()
    mid = _with_points(api, "13800137701", 50)
    uow = UnitOfWork("test")
    uow.delete(uow.get(MemberItem, MemberItem.key(mid), consistent=True))
    uow.commit()
    status, problem = api.call("POST", f"/v1/members/{mid}/points/redeem", {"points": 10, "reward": "pin"})
    assert status == 404 and "no member" in problem["detail"], problem
    result = reconcile.account(UnitOfWork(), mid, "points")
    assert result["balanced"] and result["account"]["available"] == 50 and result["account"]["redeemed"] == 0


def test_a_spend_on_a_member_merged_away_is_made_from_the_survivor(db):
    api = AppClient()
    old = _with_points(api, "13800137702", 40)
    survivor = _with_points(api, "13800137703", 100)
    uow = UnitOfWork("test")
    item = uow.get(MemberItem, MemberItem.key(old), consistent=True)
    item.status, item.merged_into = "merged", survivor
    uow.save(item)
    uow.commit()
    for n in range(2):          # the first learns of the merge from the failed check; the second knows it
        spent = api.ok("POST", f"/v1/members/{old}/points/redeem", {"points": 10, "reward": f"pin{n}"})
        assert spent["member_id"] == survivor and spent["balance"] == 90 - 10 * n
    assert _balance(api, survivor) == 80
    assert reconcile.account(UnitOfWork(), old, "points")["account"]["available"] == 40


def test_a_spend_larger_than_the_first_page_of_lots_reads_on(db):
    """Twenty-five lots: the Query's page holds the account and twenty; the spend reads the rest."""
    api = AppClient()
    mid = api.member("13800137704")
    for i in range(25):
        api.ok("POST", f"/v1/members/{mid}/points/adjustments", {"points": 2, "reason": f"lot {i}"})
    spent = api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 47, "reward": "tv"})
    assert spent["balance"] == 3 and len(spent["lots"]) == 24
    result = reconcile.account(UnitOfWork(), mid, "points")
    assert result["balanced"] and result["account"]["available"] == 3
    status, _ = api.call("POST", f"/v1/members/{mid}/points/redeem", {"points": 4, "reward": "tv"})
    assert status == 409 and _balance(api, mid) == 3


def _on_order(mid, points, order="O1", amount=10_000, **more):
    return (f"/v1/members/{mid}/points/redeem",
            {"points": points, "order_id": order, "order_amount_fen": amount, "merchant_id": "m1", **more})


def test_a_spend_on_an_order_checks_the_order_in_its_write(db):
    """The order is no longer read before a spend: the update that records the spend carries
    what was checked before (the member's own order, the same amount, room under the share cap),
    and a refusal reads the order only to say why. Each refusal changes nothing."""
    api = AppClient()
    mid = _with_points(api, "13800137710", 9_000)
    other = _with_points(api, "13800137711", 9_000)
    first = api.ok("POST", *_on_order(mid, 1_000))               # a new order: made by the spend
    listed = api.ok("GET", f"/v1/members/{mid}/orders")["orders"]
    assert [(o["order_id"], o["amount_fen"], o["spent_points"]) for o in listed] == [("O1", 10_000, 1_000)]
    assert listed[0]["created_at"] and listed[0]["spent"] == first["lots"]
    status, problem = api.call("POST", *_on_order(other, 10))
    assert status == 409 and "another member" in problem["detail"]
    status, problem = api.call("POST", *_on_order(mid, 10, amount=20_000))
    assert status == 422 and problem["order_amount_fen"] == 10_000
    status, problem = api.call("POST", *_on_order(mid, 4_001))   # 50% of 100 yuan is 5,000 points
    assert status == 422 and (problem["limit_points"], problem["spent_points"]) == (5_000, 1_000)
    status, _ = api.call("POST", f"/v1/members/{mid}/points/holds",
                         {"points": 4_001, "order_id": "O1", "order_amount_fen": 10_000, "merchant_id": "m1"})
    assert status == 422
    api.ok("POST", *_on_order(mid, 4_000))                       # exactly to the cap
    assert (_balance(api, mid), _balance(api, other)) == (4_000, 9_000)
    order = api.ok("GET", "/v1/orders/O1?merchant_id=m1")
    assert order["spent_points"] == 5_000 and sum(lot["points"] for lot in order["spent"]) == 5_000
    for who in (mid, other):
        assert reconcile.account(UnitOfWork(), who, "points")["balanced"]


def test_an_order_spent_on_before_spent_points_is_refused_until_migrated(db):
    """An order written by the old code (its lots in ``spent``, no ``spent_points``) cannot be
    checked by a condition: a spend on it is a clear 409 that changes nothing, never a spend
    past its share. The migration counts it; then the old spend counts toward the cap."""
    api = AppClient()
    mid = _with_points(api, "13800137713", 9_000)
    uow = UnitOfWork("test")
    old = OrderItem(*OrderItem.key("m1", "O3"), merchant_id="m1", order_id="O3", member_id=mid, amount_fen=10_000,
                    spent=json.dumps([{"lot_id": "L0", "expires_on": None, "points": 4_000}]), version=1)
    uow.save(old)
    uow.commit()
    status, problem = api.call("POST", *_on_order(mid, 100, order="O3"))
    assert status == 409 and problem["type"].endswith("order-not-migrated"), problem
    assert _balance(api, mid) == 9_000
    uow = UnitOfWork("test")                       # what the migration does to it (tested on its own too)
    item = uow.get(OrderItem, OrderItem.key("m1", "O3"), consistent=True)
    item.spent_points = 4_000
    uow.save(item)
    uow.commit()
    status, problem = api.call("POST", *_on_order(mid, 1_001, order="O3"))
    assert status == 422 and problem["spent_points"] == 4_000
    api.ok("POST", *_on_order(mid, 1_000, order="O3"))
    order = api.ok("GET", "/v1/orders/O3?merchant_id=m1")
    assert order["spent_points"] == 5_000 and [lot["points"] for lot in order["spent"]] == [4_000, 1_000]
