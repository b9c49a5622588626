"""Points over HTTP on the local stack: a POS checkout, concurrency, replays, the liability report."""

import threading

import pytest

from chalicelib.db.uow import UnitOfWork
from chalicelib.points import reconcile
from tests.e2e.conftest import fresh_phone, stored_items


@pytest.fixture(autouse=True, scope="module")
def default_program(api):
    """Other tests (the fuzzer among them) may have saved any program: pin the defaults."""
    r = api.call("PUT", "/v1/points/rules", {"rules": {}}, headers=api.staff(), key=f"pin-{fresh_phone()}")
    assert r.status_code == 201, r.text


def test_timestamps_out_of_range_are_refused_not_crashed(api):
    for bad in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "2026-01-01T00:00:00"):
        r = api.call("PUT", "/v1/points/rules", {"rules": {}, "effective_from": bad}, headers=api.staff(),
                     key=f"bad-{bad}")
        assert r.status_code == 422, (bad, r.text)
        r = api.call("POST", "/v1/jobs/points-expiry/runs", {"as_of": bad}, headers=api.staff("platform_admin"))
        assert r.status_code == 422, (bad, r.text)


def member(api):
    return api.call("POST", "/v1/members", {"phone": fresh_phone()}, key=fresh_phone(), pos=True).json()["member_id"]


def earn(api, mid, order, amount):
    r = api.call("POST", f"/v1/members/{mid}/points/earn", {"order_id": order, "amount_fen": amount},
                 key=f"earn-{order}", pos=True)
    assert r.status_code == 201, r.text
    return r.json()


def test_pos_checkout_hold_confirm_then_refund(api):
    mid = member(api)
    earn(api, mid, f"{mid}-1", 50_000)                       # 500 points
    hold = api.call("POST", f"/v1/members/{mid}/points/holds",
                    {"points": 300, "order_id": f"{mid}-2", "order_amount_fen": 80_000}, key=f"h-{mid}", pos=True)
    assert hold.status_code == 201, hold.text
    confirm = api.call("POST", f"/v1/members/{mid}/points/holds/{hold.json()['hold_id']}/confirm", {},
                       key=f"c-{mid}", pos=True)
    assert confirm.status_code == 200 and confirm.json()["balance"] == 200
    earn(api, mid, f"{mid}-2", 80_000)                       # earns on what was paid, not the 300 fen of points
    refund = api.call("POST", f"/v1/orders/{mid}-2/refunds", {"refund_id": "r1", "amount_fen": 80_000},
                      key=f"r-{mid}", pos=True)
    assert refund.status_code == 201, refund.text
    assert refund.json()["restored"] == 300 and refund.json()["clawed_back"]["points"] == 797
    view = api.call("GET", f"/v1/members/{mid}/points", pos=True).json()["accounts"]["points"]
    assert view["balance"] == 500 and view["held"] == 0
    assert reconcile.account(UnitOfWork(), mid, "points")["balanced"]


def test_thirty_two_concurrent_redemptions_never_overdraw(api):
    mid = member(api)
    earn(api, mid, f"{mid}-c", 10_000)                       # 100 points
    replies = []

    def spend(i):
        replies.append(api.call("POST", f"/v1/members/{mid}/points/redeem", {"points": 5, "reward": "gift"}, key=f"s-{mid}-{i}",
                                pos=True))

    threads = [threading.Thread(target=spend, args=(i,)) for i in range(32)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    statuses = [r.status_code for r in replies]
    assert set(statuses) <= {200, 409, 503}
    ok = statuses.count(200)
    assert 0 < ok <= 20
    refused = [r.json()["type"] for r in replies if r.status_code != 200]
    assert all(t.endswith(("/insufficient-points", "/busy")) for t in refused)
    result = reconcile.account(UnitOfWork(), mid, "points")
    assert result["balanced"] and result["account"]["available"] == 100 - 5 * ok
    assert result["postings"] == 1 + ok


def test_ten_concurrent_replays_of_one_key_post_once(api):
    mid = member(api)
    earn(api, mid, f"{mid}-r", 10_000)
    replies = []

    def send():
        replies.append(api.call("POST", f"/v1/members/{mid}/points/redeem", {"points": 7, "reward": "gift"}, key=f"same-{mid}", pos=True))

    threads = [threading.Thread(target=send) for _ in range(10)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert [r.status_code for r in replies] == [200] * 10
    assert len({r.text for r in replies}) == 1
    result = reconcile.account(UnitOfWork(), mid, "points")
    assert result["account"]["available"] == 93 and result["postings"] == 2


def test_member_sees_own_points_and_ledger_only(api):
    mid, other = member(api), member(api)
    earn(api, mid, f"{mid}-m", 2_000)
    token = api.call("POST", "/v1/auth/member-tokens", {"member_id": mid, "verified_by": "sms_otp"},
                     login=True).json()["token"]
    me = api.bearer(token)
    assert api.call("GET", "/v1/members/me/points", headers=me).json()["accounts"]["points"]["available"] == 20
    ledger = api.call("GET", "/v1/members/me/points/ledger", headers=me).json()
    assert [p["kind"] for p in ledger["postings"]] == ["earn"]
    assert api.call("GET", f"/v1/members/{other}/points", headers=me).status_code == 403
    r = api.call("POST", f"/v1/members/{mid}/points/adjustments", {"points": 5, "reason": "x!!"}, headers=me, key="a")
    assert r.status_code == 403


def test_liability_report_follows_the_stream(api, stack):
    stack.drain()
    before = api.call("GET", "/v1/points/liability", headers=api.staff("ops_manager")).json()["outstanding_points"]
    mid = member(api)
    earn(api, mid, f"{mid}-l", 12_345)
    stack.drain()
    after = api.call("GET", "/v1/points/liability", headers=api.staff("ops_manager")).json()
    assert after["outstanding_points"] == before + 123
    assert api.call("GET", "/v1/points/liability", headers=api.staff("clerk")).status_code == 403


def test_reconciliation_endpoint_for_all_accounts(api):
    r = api.call("GET", "/v1/points/reconciliation", headers=api.staff())
    assert r.status_code == 200 and r.json()["balanced"] is True and r.json()["accounts_checked"] > 0


@pytest.mark.parametrize("spend", ["holds", "redeem"])
def test_a_spend_replayed_after_a_hold_lapsed_changes_nothing(api, stack, spend):
    """A retry posts nothing twice: a spend on an order gives back the account's lapsed holds first
    (as the holds job would); its replay under the same key is answered before anything runs."""
    mid = member(api)
    earn(api, mid, f"{mid}-e", 100_000)                      # 1,000 points
    lapsing = api.call("POST", f"/v1/members/{mid}/points/holds",
                       {"points": 100, "order_id": f"{mid}-x", "order_amount_fen": 1_000}, key=f"a-{mid}", pos=True)
    assert lapsing.status_code == 201, lapsing.text
    path, body = f"/v1/members/{mid}/points/{spend}", {"points": 200, "order_id": f"{mid}-y", "order_amount_fen": 1_000}
    first = api.call("POST", path, body, key=f"K-{mid}", pos=True)
    assert first.status_code in (200, 201), first.text

    def mine():     # the member's items, its orders' and the key's (not what the stream's consumers derive)
        return stored_items(stack, lambda pk, _: mid in pk and pk.split("/")[-1].startswith(("MEMBER#", "ORDER#", "IDEMP")))
    (table, pk, sk), = [k for k, item in mine().items() if item.get("hold_id", {}).get("S") == lapsing.json()["hold_id"]]
    stack.client("dynamodb").update_item(                    # its time passed (no job has run)
        TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}},
        UpdateExpression="SET hold_expires_at = :past", ExpressionAttributeValues={":past": {"S": "2026-01-01T00:00:00Z"}})
    before = mine()
    assert api.call("GET", f"{path.rsplit('/', 1)[0]}/holds/{lapsing.json()['hold_id']}", pos=True).json()["status"] == "expired"
    again = api.call("POST", path, body, key=f"K-{mid}", pos=True)
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert mine() == before                                  # nothing stored changed: no posting, no version
    reused = api.call("POST", path, {**body, "points": 201}, key=f"K-{mid}", pos=True)
    assert reused.status_code == 422 and reused.json()["type"].endswith("/idempotency-key-reused")
    assert mine() == before


def test_thirty_two_concurrent_growth_and_points_changes_of_one_member_all_land(api):
    """Points and growth share one item (points/folded.py): 16 growth adjustments and 16
    redemptions of one member at once each land once or are refused whole (a 503 to retry),
    and neither ledger's put loses the other's change."""
    mid = member(api)
    earn(api, mid, f"{mid}-g", 10_000)                       # 100 points, 100 growth
    replies: list[tuple[str, object]] = []

    def change(i):
        if i % 2:
            replies.append(("points", api.call("POST", f"/v1/members/{mid}/points/redeem",
                                               {"points": 5, "reward": "gift"}, key=f"gp-{mid}-{i}", pos=True)))
        else:
            replies.append(("growth", api.call("POST", f"/v1/members/{mid}/points/adjustments",
                                               {"points": 3, "point_type": "growth", "reason": "race"},
                                               headers=api.staff(), key=f"gg-{mid}-{i}")))

    threads = [threading.Thread(target=change, args=(i,)) for i in range(32)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert {r.status_code for _, r in replies} <= {200, 201, 503}, [r.text for _, r in replies]
    spent = sum(r.status_code == 200 for kind, r in replies if kind == "points")
    grown = sum(r.status_code == 201 for kind, r in replies if kind == "growth")
    assert spent and grown
    points, growth = (reconcile.account(UnitOfWork(), mid, t) for t in ("points", "growth"))
    assert points["balanced"] and points["account"]["available"] == 100 - 5 * spent
    assert growth["balanced"] and growth["account"]["available"] == 100 + 3 * grown
    assert (points["postings"], growth["postings"]) == (1 + spent, 1 + grown)
