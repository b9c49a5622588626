"""Attack F finding 7: ``getPointsAccount`` of a member with 1,000 live lots answered after 35-111 s
(a 5-lot member's in 0.1 s): it read every lot ending within 30 days, six a Query page, and listed
each. It now reads 6 lots, then at most ``READ_LOTS`` + 1 more and, when those all end within the
30 days, at most ``READ_LOTS`` more (those ending after), whatever the member holds; the points of the lots not
read are summed from the account, and ``expiring_soon`` is by last day. Through the app on every
backend; the lots are written through the ledger (a thousand earnings over the API take minutes)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from chalicelib.db.uow import UnitOfWork
from chalicelib.points import accounts, program
from chalicelib.points.repository import PointsRepository
from chalicelib.shared import clock

NOW = datetime(2026, 12, 6, 4, 0, tzinfo=UTC)          # 6 December: lots ending 31 December end within 30 days
YEAR_END, LATER = date(2026, 12, 31), date(2027, 6, 30)


def lots(mid: str, n: int, points: int, expires_on: date) -> None:
    """``n`` lots of ``points`` on the member's account, 40 a transaction (as an adjustment adds each)."""
    while n:
        uow = UnitOfWork("test")
        _, rules = program.rules_at(uow, clock.now())
        ledger = program.ledger(uow, mid, "points", rules, program.today())
        k = min(40, n)
        for _ in range(k):
            ledger.add_lot(points, expires_on, source="adjustment")
        ledger.stage("adjust", points * k, reason="lots", source="adjustment", event_type="points.adjusted",
                     event_data={"points": points * k, "reason": "lots"})
        uow.commit()
        n -= k


def counted(monkeypatch) -> list[int]:
    """The lots each Query of live lots yields, one entry a Query."""
    reads: list[int] = []
    live_lots, lots_after = PointsRepository.live_lots, PointsRepository.lots_after

    def counting(self, *args, **kwargs):
        reads.append(0)
        for lot in live_lots(self, *args, **kwargs):
            reads[-1] += 1
            yield lot

    def counting_after(self, *args, **kwargs):
        found = lots_after(self, *args, **kwargs)
        reads.append(len(found))
        return found
    monkeypatch.setattr(PointsRepository, "live_lots", counting)
    monkeypatch.setattr(PointsRepository, "lots_after", counting_after)
    return reads


def test_an_account_read_takes_the_same_lots_whatever_the_number_the_member_holds(api, monkeypatch):
    clock.freeze(NOW)
    mid = api.member("13800299201")
    lots(mid, 3, 50, LATER)
    lots(mid, 300, 13, YEAR_END)
    reads = counted(monkeypatch)
    view = api.ok("GET", f"/v1/members/{mid}/points")["accounts"]["points"]
    assert reads == [6, accounts.READ_LOTS + 1, 3]    # three Queries: 6, then 101 more of the 300, then the 3 after
    assert view["expiring_soon"] == [{"expires_on": "2026-12-31", "points": 3_900}]     # all 300, summed
    assert view["next_lots"] == [{"expires_on": "2026-12-31", "points": 13}] * 5
    assert (view["available"], view["balance"], view["spendable"], view["lapsed"]) == (4_050, 4_050, 4_050, 0)
    lots(mid, 300, 13, YEAR_END)                                  # twice the lots: the same reads
    reads.clear()
    view = api.ok("GET", f"/v1/members/{mid}/points")["accounts"]["points"]
    assert reads == [6, accounts.READ_LOTS + 1, 3]
    assert view["expiring_soon"] == [{"expires_on": "2026-12-31", "points": 7_800}]
    assert (view["available"], view["balance"]) == (7_950, 7_950)
    clock.freeze(None)


DEC_20 = date(2026, 12, 20)


def soon(*entries: tuple[date, int]) -> list[dict]:
    return [{"expires_on": day.isoformat(), "points": points} for day, points in entries]


@pytest.mark.parametrize(("held", "queries", "expiring", "next_lots"), [
    # a few lots: 6, then the rest; each date's lots summed
    ([(2, 50, LATER), (4, 10, DEC_20), (3, 7, YEAR_END)], [6, 3], soon((DEC_20, 40), (YEAR_END, 21)),
     soon(*[(DEC_20, 10)] * 4, (YEAR_END, 7))),
    # the usual: one Query of 6, however many lots end later
    ([(20, 5, LATER), (2, 10, DEC_20)], [6], soon((DEC_20, 20)), soon(*[(DEC_20, 10)] * 2, *[(LATER, 5)] * 3)),
])
def test_a_few_lots_are_read_whole_and_the_usual_account_in_one_query(api, monkeypatch, held, queries, expiring,
                                                                      next_lots):
    clock.freeze(NOW)
    mid = api.member("13800299202")
    for n, points, day in held:
        lots(mid, n, points, day)
    reads = counted(monkeypatch)
    view = api.ok("GET", f"/v1/members/{mid}/points")["accounts"]["points"]
    assert (reads, view["expiring_soon"], view["next_lots"]) == (queries, expiring, next_lots)
    assert view["balance"] == sum(n * points for n, points, _ in held)
    clock.freeze(None)
