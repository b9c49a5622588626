"""Third-party codes through the app in process, on moto and on the fake (issue #26): a batch is
imported as keyed hashes with its duplicates counted; a crash between chunks leaves whole chunks
and a retry under the same key completes the batch; a code is then written off at a till (walk-in
or a member), once, and undone within its window only."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.coupons import third_party
from chalicelib.coupons.tables import CouponItem, TemplateItem
from chalicelib.ledger.stock import StockShard
from chalicelib.shared import clock
from chalicelib.shared.credentials import mint_token
from tests.integration.conftest import scan

TPL = "/v1/coupon-templates"
DOUYIN = {"kind": "third_party", "title": "抖音团购 30元", "platform": "douyin", "amount_off_fen": 3_000,
          "undo_window_minutes": 60, "validity": {"days_after_claim": 30}}


def _till():
    return mint_token("staff", "clerk-1", 60, role="clerk", merchant_id="m1", store_id="s1")


def _douyin(api, **settings):
    return api.ok("POST", TPL, {"terms": DOUYIN, "stock": 0, "state": "active", "merchant_id": "m1", **settings})


def _stored():
    return [x for x in scan(third_party.CodeItem) if "COUPONTP#" in x.pk]


def _coupons():
    return [x for x in scan(CouponItem) if "MEMBER#" in x.pk and x.sk.startswith("COUPON#")]


def _codes(n, start=0):
    return [f"DY{i:010d}" for i in range(start, start + n)]


def test_a_batch_is_stored_as_hashes_with_duplicates_counted(api):
    t = _douyin(api)
    tid = t["template_id"]
    assert t["stock"] == {"total": 0, "left": 0, "taken": 0}
    first = api.ok("POST", f"{TPL}/{tid}/codes", {"codes": _codes(3) + ["dy-0000000000"]}, key="imp-1")
    assert (first["imported"], first["duplicates"], first["stock"]["left"]) == (3, 1, 3)     # typed twice in one batch
    second = api.ok("POST", f"{TPL}/{tid}/codes", {"codes": _codes(4, 1)}, key="imp-2")       # 1 and 2 stored already
    assert (second["imported"], second["duplicates"], second["stock"]["total"]) == (2, 2, 5)
    assert api.call("POST", f"{TPL}/{tid}/codes", {"codes": _codes(4, 1)}, key="imp-2") == (201, second)   # a replay
    stored = _stored()
    assert len(stored) == 5 and not any("DY00000000" in x.pk or "DY00000000" in str(x.attribute_values) for x in stored)
    assert api.ok("GET", f"{TPL}/{tid}")["stock"] == {"total": 5, "left": 5, "taken": 0}
    head = [x for x in scan(TemplateItem) if (x.pk, x.sk) == TemplateItem.key(tid)][0]
    assert int(head.stock) == 5
    bad = api.call("POST", f"{TPL}/{tid}/codes", {"codes": ["ok123456", "no!"]}, key="imp-3")
    assert bad[0] == 422 and "[1]" in bad[1]["detail"]
    plain = api.ok("POST", TPL, {"terms": {**DOUYIN, "kind": "no_threshold", "platform": None,
                                           "undo_window_minutes": 60}, "stock": 5, "state": "active"})
    refused = api.call("POST", f"{TPL}/{plain['template_id']}/codes", {"codes": _codes(1, 50)}, key="imp-4")
    assert refused[0] == 409 and refused[1]["type"].endswith("coupon-codes-not-importable")
    zero = api.call("POST", TPL, {"terms": {**DOUYIN, "kind": "no_threshold", "platform": None}, "stock": 0})
    assert zero[0] == 422


def test_a_crash_between_chunks_leaves_whole_chunks_and_a_retry_completes_the_batch(api, monkeypatch):
    tid = _douyin(api)["template_id"]
    codes = _codes(250)                                  # 1 shard: chunks of 95, 95 and 60
    real = third_party.UnitOfWork
    commits = []

    class Crashing(real):
        def commit(self, claim=None):
            if commits:
                raise RuntimeError("the process died")
            commits.append(1)
            super().commit(claim)
    monkeypatch.setattr(third_party, "UnitOfWork", Crashing)
    assert api.call("POST", f"{TPL}/{tid}/codes", {"codes": codes}, key="big-1")[0] == 500
    assert len(_stored()) == 95                       # one whole chunk, its stock with it
    assert api.ok("GET", f"{TPL}/{tid}")["stock"]["total"] == 95
    monkeypatch.setattr(third_party, "UnitOfWork", real)
    done = api.ok("POST", f"{TPL}/{tid}/codes", {"codes": codes}, key="big-1")
    assert (done["imported"], done["duplicates"], done["stock"]["total"]) == (250, 0, 250)
    assert len(_stored()) == 250
    shards = [x for x in scan(StockShard) if x.sk == "STOCK"]
    assert sum(int(s.left) for s in shards) == 250
    other = api.ok("POST", f"{TPL}/{tid}/codes", {"codes": codes[:10]}, key="big-2")   # another batch: duplicates
    assert (other["imported"], other["duplicates"]) == (0, 10)


def test_a_code_is_written_off_once_at_a_till_and_undone_within_its_window(api):
    tid = _douyin(api, budget_fen=100_000)["template_id"]
    api.ok("POST", f"{TPL}/{tid}/codes", {"codes": ["8801 2345 6789"]}, key="one")
    cart = {"code": "880123456789", "order_id": "o-1", "order_amount_fen": 8_800}
    checked = api.ok("POST", "/v1/coupons/validate", cart, token=_till())
    assert checked["usable"] and checked["saving"]["fen"] == 3_000 and not _coupons()  # nothing changed
    used = api.call("POST", "/v1/coupons/write-offs", cart, token=_till(), key="w-1")
    assert used[0] == 201, used
    assert used[1]["coupon"]["state"] == "used" and used[1]["coupon"]["source"] == "third_party"
    assert api.call("POST", "/v1/coupons/write-offs", cart, token=_till(), key="w-1") == used         # a replay
    again = api.call("POST", "/v1/coupons/write-offs", {**cart, "order_id": "o-2"}, token=_till(), key="w-2")
    assert again[0] == 409 and again[1]["type"].endswith("coupon-used")
    assert api.ok("GET", f"{TPL}/{tid}")["stock"] == {"total": 1, "left": 0, "taken": 1}
    late = clock.now() + timedelta(minutes=61)
    clock.freeze(late)
    refused = api.call("POST", "/v1/coupons/write-offs/undo", {"code": cart["code"], "order_id": "o-1"}, token=_till())
    assert refused[0] == 409 and "60 minutes" in refused[1]["detail"]
    clock.freeze(late - timedelta(minutes=2))
    undone = api.ok("POST", "/v1/coupons/write-offs/undo", {"code": cart["code"], "order_id": "o-1"}, token=_till())
    assert undone["restored"] and undone["coupon"]["state"] == "unused"
    member = api.member("13800300001")
    second = api.call("POST", "/v1/coupons/write-offs", {**cart, "order_id": "o-3", "member_id": member},
                      token=_till(), key="w-3")
    assert second[0] == 201 and second[1]["coupon"]["coupon_id"] == used[1]["coupon"]["coupon_id"]
    assert [c.member_id for c in _coupons()] == [member]              # moved to its new holder: one coupon
    assert [c["state"] for c in api.ok("GET", f"/v1/members/{member}/coupons", token=_till())["coupons"]] == ["used"]
    assert api.ok("GET", f"{TPL}/{tid}")["stock"] == {"total": 1, "left": 0, "taken": 1}   # issued once
    unknown = api.call("POST", "/v1/coupons/validate", {**cart, "code": "880123456780"}, token=_till())
    assert unknown[0] == 422 and unknown[1]["type"].endswith("coupon-code-rejected")


def test_a_members_first_use_puts_the_coupon_in_their_list(api):
    tid = _douyin(api)["template_id"]
    api.ok("POST", f"{TPL}/{tid}/codes", {"codes": ["MT77665544"]}, key="m")
    member = api.member("13800300002")
    api.ok("POST", "/v1/coupons/write-offs", {"code": "mt77665544", "order_id": "o-m", "order_amount_fen": 5_000,
                                              "member_id": member}, token=_till())
    listed = api.ok("GET", f"/v1/members/{member}/coupons", token=_till())["coupons"]
    assert [c["state"] for c in listed] == ["used"] and listed[0]["saving_fen"] == 3_000


def test_a_code_undone_and_shown_by_another_member_moves_to_their_list(api):
    tid = _douyin(api)["template_id"]
    api.ok("POST", f"{TPL}/{tid}/codes", {"codes": ["KS1234567890"]}, key="k")
    m1, m2 = api.member("13800300011"), api.member("13800300012")
    cart = {"code": "KS1234567890", "order_amount_fen": 5_000}
    api.ok("POST", "/v1/coupons/write-offs", {**cart, "order_id": "o1", "member_id": m1}, token=_till())
    api.ok("POST", "/v1/coupons/write-offs/undo", {"code": cart["code"], "order_id": "o1"}, token=_till())
    api.ok("POST", "/v1/coupons/write-offs", {**cart, "order_id": "o2", "member_id": m2}, token=_till())
    assert api.ok("GET", f"/v1/members/{m1}/coupons", token=_till())["coupons"] == []
    [theirs] = api.ok("GET", f"/v1/members/{m2}/coupons", token=_till())["coupons"]
    assert theirs["state"] == "used" and theirs["source"] == "third_party"
    assert api.ok("GET", f"/v1/members/{m2}/coupons/{theirs['coupon_id']}", token=_till())["state"] == "used"


def test_a_platforms_codes_are_never_claimed_issued_or_bought_and_a_paused_template_takes_none(api):
    t = _douyin(api, claimable=True)
    tid = t["template_id"]
    api.ok("POST", f"{TPL}/{tid}/codes", {"codes": ["PAID000001", "PAID000002"]}, key="p")
    member = api.member("13800300021")
    claimed = api.call("POST", f"/v1/members/{member}/coupons", {"template_id": tid})
    assert claimed[0] == 409 and claimed[1]["type"].endswith("coupon-not-claimable"), claimed
    assert api.ok("GET", f"{TPL}/{tid}")["stock"] == {"total": 2, "left": 2, "taken": 0}     # nothing taken
    assert not _coupons()
    stocked = api.call("POST", TPL, {"terms": DOUYIN, "stock": 5, "state": "active", "merchant_id": "m1"})
    assert stocked[0] == 422 and "stock 0" in str(stocked[1])       # imported codes are its only stock
    priced = api.call("POST", TPL, {"terms": {**DOUYIN, "points_price": 100}, "stock": 0, "merchant_id": "m1"})
    assert priced[0] == 422 and "points_price" in str(priced[1])
    api.ok("POST", f"{TPL}/{tid}/state", {"state": "paused"})
    paused = api.call("POST", "/v1/coupons/write-offs", {"code": "PAID000001", "order_id": "o-p",
                                                         "order_amount_fen": 5_000}, token=_till())
    assert paused[0] == 409 and "paused" in paused[1]["detail"], paused
    assert not _coupons() and api.ok("GET", f"{TPL}/{tid}")["stock"]["taken"] == 0
