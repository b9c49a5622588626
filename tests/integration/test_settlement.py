"""Mall settlement on the store (moto), issue #29 item 4: the issue's scenario across three
merchants A, B, C and the program, netted by hand to the fen; a redelivered batch adds nothing; a
closed period is immutable; a late line is an adjustment in the next period; the close racing a
line; refused closes are audited; the statements reconcile to their lines and the journal."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import pytest

from chalicelib.db.audit import AuditItem
from chalicelib.db.uow import UnitOfWork
from chalicelib.events import dispatch
from chalicelib.merchants.tables import MerchantItem
from chalicelib.reports.valuation import VALUATION, PointsValuation
from chalicelib.settlement import projection, service, store  # noqa: F401  (projection: its subscriber)
from chalicelib.shared import clock
from chalicelib.shared.errors import ValidationProblem
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import Principal
from tests.integration.conftest import scan

NOV = "2026-11-10T04:00:00.000Z"          # noon in Shanghai
LATE_NOV = "2026-11-28T04:00:00.000Z"
DEC = "2026-12-10T04:00:00.000Z"
FINANCE = Principal("staff", "fin-1", "finance")
HQ = Principal("staff", "hq-1", "super_admin")
N = 0


def ev(kind: str, data: dict, merchant: str | None, at: str = NOV, member: str = "m1") -> DomainEvent:
    global N
    N += 1
    return DomainEvent(kind, f"member:{member}", {"member_id": member, **data}, id=f"stl{N:05d}", occurred_at=at,
                       program_id="default", merchant_id=merchant)


def records(events: list[DomainEvent]) -> list[dict]:
    return [{"eventName": "INSERT", "dynamodb": {"SequenceNumber": f"{n:021d}", "NewImage": {
        "payload": {"S": json.dumps(e.as_dict())}}}} for n, e in enumerate(events)]


def deliver(events: list[DomainEvent]) -> None:
    assert dispatch.handle_records(records(events)) == {"batchItemFailures": []}


def sv_paid(merchant: str, principal: int, bonus: int = 0, at: str = NOV) -> DomainEvent:
    entries = [{"account": "member:principal", "fen": principal}, {"account": "settlement:" + merchant,
                                                                   "fen": -(principal + bonus)}]
    if bonus:
        entries.insert(1, {"account": "member:bonus", "fen": bonus})
    return ev("stored_value.paid", {"kind": "payment", "amount_fen": principal + bonus, "entries": entries}, merchant, at)


def sv_refunded(merchant: str, fen: int) -> DomainEvent:
    return ev("stored_value.refunded", {"kind": "refund", "amount_fen": fen, "entries": [
        {"account": "settlement:" + merchant, "fen": fen}, {"account": "member:principal", "fen": -fen}]}, merchant)


def card_paid(issuer: str, merchant: str, fen: int) -> DomainEvent:
    return ev("gift_card.paid", {"amount_fen": fen, "entries": [
        {"account": f"gift_cards:{issuer}", "fen": fen}, {"account": "settlement:" + merchant, "fen": -fen}]}, merchant,
        member="card")


def points(kind: str, merchant: str, n: int, at: str = NOV, **more) -> DomainEvent:
    event_type = {"redeem": "points.redeemed", "hold_confirmed": "points.hold_confirmed", "refund": "points.refunded"}
    return ev(event_type[kind], {"kind": kind, "amount": n, "point_type": "points", "lots": [], "consumed": [],
                                 **more}, merchant, at)


def coupon(merchant: str, cost: dict, owner: str | None = None, undo: bool = False) -> DomainEvent:
    data = {"coupon_id": f"c{N}", "template_id": "t1", "order_id": f"o{N}", "saving_fen": sum(cost.values()),
            "cost": cost, "store_id": None}
    if undo:
        return ev("coupon.write_off_undone", {**data, "used_merchant_id": merchant}, owner)
    return ev("coupon.used", data, merchant)


def statement(period: str, x: str, y: str) -> dict:
    return service.get_statement(UnitOfWork(), HQ, period, x, y, None, 500)


def close(period: str) -> dict:
    uow = UnitOfWork("staff:fin-1")
    closed = service.close_period(uow, FINANCE, period)
    uow.commit()
    return closed


@pytest.fixture
def valued(db):
    """A point is worth half a fen from 2026-01-01; the clock in late November 2026."""
    clock.freeze(datetime(2026, 11, 20, 4, tzinfo=UTC))
    uow = UnitOfWork("test")
    VALUATION.put(uow, PointsValuation(fen_per_point="0.5"), datetime(2026, 1, 1, tzinfo=UTC), HQ)
    for merchant in ("A", "B", "C"):                      # the parties: merchants of the program
        uow.put(MerchantItem(*MerchantItem.key(merchant), merchant_id=merchant, name=merchant, created_at="2026-01-01"))
    uow.commit()
    yield
    clock.freeze(None)


def scenario() -> list[DomainEvent]:
    mall_coupon = coupon("B", {"mall": 1_200, "merchant": 800})           # 20 yuan, the mall bears 60 %
    return [
        mall_coupon,
        coupon("A", {"brand": 500, "merchant": 500}),                         # A's own template, half the brand's
        coupon("B", {"merchant": 900}),                                        # borne by B where used: no line
        points("redeem", "C", 333),                                            # 166.5 fen -> 167
        points("hold_confirmed", "C", 1_000),                                  # 500
        points("redeem", None, 50),                                            # a reward at the program: no line
        sv_paid("A", 10_000, 1_500),                                           # principal and bonus: 11,500
        sv_paid("B", 5_000),
        card_paid("C", "B", 4_000),                                            # C's card spent at B
        card_paid("B", "B", 3_000),                                            # B's own card: no line
        sv_refunded("A", 2_000),
        points("refund", "C", 0, restored=333, clawed_back=0),                 # -167
        coupon("B", {"mall": 1_200, "merchant": 800}, undo=True),              # the mall coupon's use undone
    ]


def test_the_scenario_nets_by_hand_and_a_redelivery_adds_nothing(valued):
    batch = scenario()
    deliver(batch)
    # A~program: the program owes A 500 (the brand's half of A's coupon) + 11,500 - 2,000 stored value
    a = statement("2026-11", "program", "A")
    assert (a["party_a"], a["party_b"]) == ("A", "program")
    assert a["b_owes_a"] == {"points_fen": 0, "coupon_fen": 500, "stored_value_fen": 9_500, "gift_card_fen": 0,
                             "total_fen": 10_000}
    assert a["a_owes_b"]["total_fen"] == 0 and a["net_fen"] == -10_000
    assert a["net_position"] == {"debtor": "program", "creditor": "A", "fen": 10_000}
    # B~program: coupon 1,200 - 1,200 (undone) = 0; stored value 5,000
    b = statement("2026-11", "B", "program")
    assert b["b_owes_a"] == {"points_fen": 0, "coupon_fen": 0, "stored_value_fen": 5_000, "gift_card_fen": 0,
                             "total_fen": 5_000}
    assert [line["fen"] for line in b["lines"]] == [1_200, 5_000, -1_200]
    # C~program: points 167 + 500 - 167 = 500, each line rounded on its own
    c = statement("2026-11", "C", "program")
    assert c["b_owes_a"]["points_fen"] == 500 and c["line_count"] == 3
    assert [(line["points"], line["fen"], line["fen_per_point"]) for line in c["lines"]] == [
        (333, 167, "0.5"), (1_000, 500, "0.5"), (-333, -167, "0.5")]
    # B~C: C's card at B, 4,000 owed by C
    bc = statement("2026-11", "C", "B")
    assert bc["a_owes_b"]["total_fen"] == 0 and bc["b_owes_a"]["gift_card_fen"] == 4_000
    assert bc["net_position"] == {"debtor": "C", "creditor": "B", "fen": 4_000}
    listed = service.list_statements(UnitOfWork(), HQ, "2026-11", None)
    assert [(s["party_a"], s["party_b"], s["net_fen"]) for s in listed["statements"]] == [
        ("A", "program", -10_000), ("B", "C", -4_000), ("B", "program", -5_000), ("C", "program", -500)]
    # a merchant's admin: its own statements only
    admin_b = Principal("staff", "ma-b", "merchant_admin", "B")
    assert [s["party_a"] + "~" + s["party_b"] for s in
            service.list_statements(UnitOfWork(), admin_b, "2026-11", None)["statements"]] == ["B~C", "B~program"]
    with pytest.raises(Exception) as refused:
        service.get_statement(UnitOfWork(), admin_b, "2026-11", "A", "program", None, 10)
    assert refused.value.status == 403

    first = service.list_statements(UnitOfWork(), HQ, "2026-11", None)
    deliver(batch)                                    # redelivered whole
    deliver(batch[3:9])                               # and in part
    assert service.list_statements(UnitOfWork(), HQ, "2026-11", None) == first

    check = service.reconcile(UnitOfWork(), "2026-11")
    assert check["balanced"], check
    assert check["lines_checked"] == 10
    merchants = {m["merchant_id"]: m for m in check["merchants"]}
    # the journal's settlement:B holds B's own card too (3,000, no line)
    assert (merchants["B"]["journal_fen"], merchants["B"]["own_money_fen"], merchants["B"]["lined_fen"]) == \
        (12_000, 3_000, 9_000)
    assert merchants["A"]["journal_fen"] == 9_500


def test_a_closed_period_is_immutable_and_a_late_line_is_an_adjustment(valued):
    deliver([sv_paid("A", 1_000)])
    with pytest.raises(service.PeriodNotEnded):
        close("2026-11")                              # not ended on 2026-11-20
    clock.freeze(datetime(2026, 12, 2, 4, tzinfo=UTC))
    closed = close("2026-11")
    assert closed["closed"] and closed["closed_by"] == "staff:fin-1"
    before = statement("2026-11", "A", "program")
    assert before["closed"] and before["b_owes_a"]["stored_value_fen"] == 1_000

    late = sv_paid("A", 700, at=LATE_NOV)              # a November payment delivered after the close
    deliver([late, sv_paid("A", 300, at=DEC)])
    deliver([late])                                    # and again
    assert statement("2026-11", "A", "program") == before
    dec = statement("2026-12", "A", "program")
    assert dec["b_owes_a"]["stored_value_fen"] == 1_000 and not dec["closed"]
    assert (dec["adjustment_lines"], dec["adjustment_fen"]) == (1, -700)
    assert [(line["fen"], line["adjustment"], line["original_period"]) for line in dec["lines"]] == [
        (700, True, "2026-11"), (300, False, "2026-12")]

    with pytest.raises(store.PeriodClosed):
        close("2026-11")                              # twice: 409
    for bad in ("2026-12", "2027-03", "2026-13", "nov"):
        with pytest.raises((service.PeriodNotEnded, ValidationProblem)):
            close(bad)
    refused = [a for a in scan(AuditItem) if a.action == "settlement.close_refused" and a.pk.startswith("AUDITLOG#")]
    assert len(refused) == 6                           # each refused attempt once (and the first, not ended)
    assert sorted(a.detail for a in refused)[-1] == "period 2027-03: settlement-period-not-ended"
    assert sum("(not a period)" in a.detail for a in refused) == 2
    assert service.reconcile(UnitOfWork(), "2026-12")["balanced"]


def test_the_close_racing_a_line_leaves_it_either_before_or_in_the_next_period(valued, monkeypatch):
    clock.freeze(datetime(2026, 12, 2, 4, tzinfo=UTC))
    found = store.open_period_from
    raced = []

    def close_meanwhile(uow, period):
        chosen = found(uow, period)
        if not raced:                                  # the line read November open; then it closes
            raced.append(close("2026-11"))
        return chosen

    monkeypatch.setattr(store, "open_period_from", close_meanwhile)
    deliver([sv_paid("A", 2_500, at=LATE_NOV)])
    assert raced and statement("2026-11", "A", "program")["line_count"] == 0
    dec = statement("2026-12", "A", "program")
    assert (dec["b_owes_a"]["stored_value_fen"], dec["adjustment_lines"]) == (2_500, 1)
    assert service.reconcile(UnitOfWork(), "2026-12")["balanced"]


def test_many_deliveries_at_once_count_each_line_once(valued):
    events = [sv_paid("A", 100 + i) for i in range(12)] + [points("redeem", "C", 10 + i) for i in range(12)]
    threads = [threading.Thread(target=deliver, args=(events,)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    a = statement("2026-11", "A", "program")
    assert a["b_owes_a"]["stored_value_fen"] == sum(100 + i for i in range(12)) and a["line_count"] == 12
    c = statement("2026-11", "C", "program")
    assert c["b_owes_a"]["points_fen"] == sum((10 + i) * 5 // 10 + ((10 + i) % 2) for i in range(12))
    assert service.reconcile(UnitOfWork(), "2026-11")["balanced"]


def test_the_lines_reader_pages_a_period_for_an_export(valued):
    deliver([sv_paid("A", 100 + i) for i in range(5)] + [card_paid("C", "B", 50 + i) for i in range(4)])
    seen, cursor = [], None
    while True:
        page = store.lines(UnitOfWork(), "default", "2026-11", None, cursor, limit=3)
        seen += [(r.party_a, r.party_b, int(r.fen)) for r in page.rows]
        if page.cursor is None:
            break
        cursor = page.cursor
    assert sorted(seen) == sorted([("A", "program", 100 + i) for i in range(5)] + [("B", "C", 50 + i) for i in range(4)])
    only_b = store.lines(UnitOfWork(), "default", "2026-11", "B", None, limit=100)
    assert [int(r.fen) for r in only_b.rows] == [50, 51, 52, 53] and only_b.cursor is None


def test_a_refund_corrects_its_redemption_at_its_rate_as_an_adjustment_of_its_period(valued):
    """Found from outside (F3, F5): a refund was valued at the rate in force at the refund, and a
    refund of a closed month's redemption was an ordinary line of the next, tied to nothing."""
    deliver([points("redeem", "C", 1_001, order_id="o-f3"),                   # 500.5 -> 501 fen at 0.5
             ev("stored_value.paid", {"order_id": "o-sv", "amount_fen": 900, "entries": [
                 {"account": "member:principal", "fen": 900}, {"account": "settlement:A", "fen": -900}]}, "A")])
    uow = UnitOfWork("test")                                                   # a point is worth 1 fen from December
    VALUATION.put(uow, PointsValuation(fen_per_point="1"), datetime(2026, 12, 1, tzinfo=UTC), HQ)
    uow.commit()
    clock.freeze(datetime(2026, 12, 2, 4, tzinfo=UTC))
    close("2026-11")
    nov_c = statement("2026-11", "C", "program")

    deliver([points("refund", "C", 0, DEC, restored=1_001, clawed_back=0, order_id="o-f3"),
             ev("stored_value.refunded", {"order_id": "o-sv", "amount_fen": 400, "entries": [
                 {"account": "settlement:A", "fen": 400}, {"account": "member:principal", "fen": -400}]}, "A", at=DEC),
             points("redeem", "C", 10, DEC, order_id="o-dec")])
    deliver([points("refund", "C", 0, DEC, restored=10, clawed_back=0, order_id="o-dec")])
    assert statement("2026-11", "C", "program") == nov_c                      # the closed month is untouched
    dec_c = statement("2026-12", "C", "program")
    got = [(line["fen"], line["fen_per_point"], line["adjustment"], line["original_period"], line["reference"])
           for line in dec_c["lines"]]
    assert sorted(got, key=lambda x: (x[0], x[4])) == sorted([
        (-501, "0.5", True, "2026-11", "points:C:o-f3"),       # at the redemption's rate, not December's 1 fen
        (10, "1", False, "2026-12", "points:C:o-dec"),
        (-10, "1", False, "2026-12", "points:C:o-dec")], key=lambda x: (x[0], x[4]))
    assert nov_c["b_owes_a"]["points_fen"] + dec_c["b_owes_a"]["points_fen"] == 0   # refunded in full: nets to 0
    assert (dec_c["adjustment_lines"], dec_c["adjustment_fen"]) == (1, 501)
    dec_a = statement("2026-12", "A", "program")
    assert [(x["fen"], x["adjustment"], x["original_period"], x["reference"]) for x in dec_a["lines"]] == [
        (-400, True, "2026-11", "prepaid:A:o-sv")]
    assert service.reconcile(UnitOfWork(), "2026-12")["balanced"]


def test_a_line_whose_payer_is_the_lower_party_is_on_the_right_side(valued):
    """Found by mutation testing: every line of the other tests was owed by the statement's second
    party (``program`` sorts after merchant ids), so the side of a line owed by the first went
    unchecked, and so did an adjustment's sign on that side."""
    deliver([card_paid("A", "B", 900)])                        # A's card spent at B: A owes B
    ab = statement("2026-11", "B", "A")
    assert (ab["party_a"], ab["a_owes_b"]["gift_card_fen"], ab["b_owes_a"]["total_fen"], ab["net_fen"]) == ("A", 900, 0, 900)
    clock.freeze(datetime(2026, 12, 2, 4, tzinfo=UTC))
    close("2026-11")
    deliver([card_paid("A", "B", 250)])                        # a November line after the close: December's
    dec = statement("2026-12", "A", "B")
    assert (dec["a_owes_b"]["gift_card_fen"], dec["adjustment_lines"], dec["adjustment_fen"]) == (250, 1, 250)


def test_a_pair_without_lines_is_a_statement_of_zeros_and_a_close_racing_a_close_is_refused(valued):
    empty = statement("2026-11", "A", "C")
    assert empty["a_owes_b"]["total_fen"] == empty["b_owes_a"]["total_fen"] == empty["net_fen"] == 0
    clock.freeze(datetime(2026, 12, 2, 4, tzinfo=UTC))
    first, second = UnitOfWork("staff:fin-1"), UnitOfWork("staff:fin-2")
    store.stage_close(first, "2026-11", clock.iso(clock.now()), "staff:fin-1")
    store.stage_close(second, "2026-11", clock.iso(clock.now()), "staff:fin-2")
    first.commit()
    with pytest.raises(store.PeriodClosed):
        second.commit()                                        # both read it open; the second's write is refused
    assert store.head(UnitOfWork(), "2026-11").closed_by == "staff:fin-1"


def test_the_lines_reader_keeps_each_statement_from_its_start_and_its_pages_to_the_limit(valued):
    deliver([card_paid("C", "B", 60 + i) for i in range(3)])                    # B~C first, older lines
    deliver([sv_paid("A", 100 + i, at=LATE_NOV) for i in range(4)])             # A~program: later lines
    deliver([card_paid("C", "B", 70, ) for _ in range(1)])
    seen, cursor, sizes = [], None, []
    while True:
        page = store.lines(UnitOfWork(), "default", "2026-11", None, cursor, limit=2)
        sizes.append(len(page.rows))
        seen += [int(r.fen) for r in page.rows]
        if page.cursor is None:
            break
        cursor = page.cursor
    assert sorted(seen) == sorted([60, 61, 62, 70, 100, 101, 102, 103]) and max(sizes) <= 2
    with pytest.raises(ValueError):
        store.lines(UnitOfWork(program="other"), "default", "2026-11", None, None)


def test_a_page_of_lines_never_holds_more_than_its_limit(valued):
    """Found by mutation testing: a statement after one that gave part of a page was asked for
    the whole limit again (a page could then hold up to twice its limit)."""
    deliver([sv_paid("A", 10)] + [card_paid("C", "B", 20 + i) for i in range(3)])     # A~program: 1, B~C: 3
    first = store.lines(UnitOfWork(), "default", "2026-11", None, None, limit=2)
    assert [int(r.fen) for r in first.rows] == [10, 20] and first.cursor is not None
    rest = store.lines(UnitOfWork(), "default", "2026-11", None, first.cursor, limit=2)
    assert [int(r.fen) for r in rest.rows] == [21, 22]
