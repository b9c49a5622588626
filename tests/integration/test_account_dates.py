"""An account's next date (points/dates.py): one index entry per account stands for every live
lot's expiry and reminders, where each lot had two (an expiry on ``due2``, a reminder on ``keys1``).
An earn whose points end after the account's next date writes no index at all; the reminders go
out once for each last day (the points of every lot ending that day); lots of before keep their
own entries until due. On moto, with the emulator's trace of index writes; figures by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.db.uow import UnitOfWork
from chalicelib.points import dates
from chalicelib.points.tables import AccountItem, LotItem, RemindedItem
from chalicelib.shared import clock
from chalicelib.shared.errors import ConcurrentUpdate
from devstack import emulator
from tests.integration.conftest import AppClient
from tests.integration.test_points_features import balanced, earn, rules
from tests.outbox import outbox_events

NOV_1 = datetime(2026, 11, 1, 4, tzinfo=UTC)          # 12:00 in Shanghai
DEC_1 = datetime(2026, 12, 1, 4, tzinfo=UTC)          # the year's lots end on 31 December: reminded 1 Dec (30 days)


def _items(mid: str) -> list:
    uow = UnitOfWork("test")
    return list(uow.query(LotItem, f"MEMBER#{mid}", None, consistent=True))


def _lots(mid: str) -> list[LotItem]:
    return [x for x in _items(mid) if "#LOT#" in x.sk and x.point_type == "points"]


def _account(mid: str) -> AccountItem:
    found = UnitOfWork("test").get(AccountItem, AccountItem.key(mid, "points"), consistent=True)
    assert found is not None
    return found


def _entry(mid: str) -> tuple[str, str] | None:
    now = dates.current(_account(mid))
    return (now[0].isoformat(), now[1]) if now else None


def _index_writes(call) -> dict[str, list[dict]]:
    """Index units written, by the kind of item (``lot``, ``account``, ``other``)."""
    emulator.trace(True)
    call()
    found: dict[str, list[dict]] = {"lot": [], "account": [], "other": []}
    for e in emulator.trace(False):
        sk = e["key"].get("sk", "")
        kind = "lot" if "#LOT#" in sk or "#PEND#" in sk else "account" if sk.startswith("PTS#") and sk.endswith("#LOT") else "other"
        found[kind].append(e["index_wcu"])
    return found


def _reminders(mid: str) -> list[tuple[int, str, int]]:
    return [(e.data["points"], e.data["expires_on"], e.data["days_left"])
            for e in outbox_events(None, kind="points.expiring") if e.data["member_id"] == mid]


def _adjust(mid: str, points: int) -> None:
    """An adjustment of ``points`` under the rules in force, committed by another unit."""
    from chalicelib.points import accounts
    from chalicelib.points.schemas import Adjust
    from chalicelib.shared.principal import Principal
    other = UnitOfWork("other")
    accounts.adjust(mid, Adjust(points=points, reason="goodwill"), Principal("staff", "ops", "super_admin"), other, None)
    other.commit()


def _after_the_first_visit_reads(monkeypatch, meanwhile) -> None:
    """Run ``meanwhile`` once, between the first job visit's read of an account and its writes."""
    real, raced = dates.Visit.read, []

    def read(cls, *args, **kwargs):
        visit = real.__func__(cls, *args, **kwargs)
        if not raced:
            raced.append(1)
            meanwhile()
        return visit
    monkeypatch.setattr(dates.Visit, "read", classmethod(read))


def test_an_earn_writes_no_index_once_the_account_has_a_sooner_date(aws):
    api = AppClient()
    clock.freeze(NOV_1)
    mid = api.member("13800503001")
    rules(api, reminder_days=[30, 3])
    first = _index_writes(lambda: earn(api, mid, "o1", 10_000))          # 100 points, last day 31 Dec
    assert first["lot"] == [{}]                                          # the lot: no entry of its own
    assert first["account"] == [{"keys1": 1, "due2": 1}]                 # listed once; its next date: 1 Dec
    assert _entry(mid) == ("2026-12-01", "remind")
    lot = _lots(mid)[0]
    assert (lot.duepk, lot.k1pk, lot.gsi1pk) == (None, None, None)
    again = _index_writes(lambda: earn(api, mid, "o2", 5_000))          # same last day: entry unchanged
    assert again["lot"] == [{}] and again["account"] == [{}]
    spent = _index_writes(lambda: api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 40, "reward": "mug"}))
    assert spent["lot"] == [{}] and spent["account"] == [{}]
    assert _entry(mid) == ("2026-12-01", "remind")


def test_one_reminder_a_last_day_each_sent_once_then_the_expiry(aws):
    api = AppClient()
    clock.freeze(NOV_1)
    mid = api.member("13800503002")
    rules(api, reminder_days=[30, 3])
    earn(api, mid, "o1", 10_000)
    earn(api, mid, "o2", 5_000)                                          # two lots ending 31 Dec: 150 points
    api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 40, "reward": "mug"})
    assert api.run_job("points-expiry")["items_read"] == 0               # nothing due on 1 Nov
    clock.freeze(DEC_1)
    assert api.run_job("points-expiry")["items_read"] == 0               # a reminder's day: passed over unread
    assert api.run_job("points-reminders")["reminders_sent"] == 1
    assert api.run_job("points-reminders")["reminders_sent"] == 0        # moved on: not sent twice
    assert _reminders(mid) == [(110, "2026-12-31", 30)]
    assert _entry(mid) == ("2026-12-28", "remind")
    assert UnitOfWork("test").get(RemindedItem, RemindedItem.key(mid, "points"), consistent=True).sent == '{"2026-12-31":30}'
    clock.freeze(datetime(2026, 12, 29, 4, tzinfo=UTC))                  # a day late: still sent, once
    assert api.run_job("points-reminders")["reminders_sent"] == 1
    assert _reminders(mid)[-1] == (110, "2026-12-31", 2)
    assert _entry(mid) == ("2027-01-01", "expiry")
    clock.freeze(datetime(2027, 1, 1, 4, tzinfo=UTC))
    result = api.run_job("points-expiry")
    assert (result["points_expired"], result["items_read"]) == (110, 1)
    assert _lots(mid) == [] and _entry(mid) is None
    assert balanced(mid)["available"] == 0
    expired = [e.data for e in outbox_events(None, kind="points.expired") if e.data["member_id"] == mid]
    assert [x["amount"] for x in expired] == [100 - 40, 50]              # one posting a lot, as before
    assert api.run_job("points-expiry")["points_expired"] == 0


def test_a_sooner_lot_brings_the_date_forward_and_a_later_one_follows_the_first(aws):
    api = AppClient()
    clock.freeze(NOV_1)
    mid = api.member("13800503003")
    rules(api, reminder_days=[3], expiry={"policy": "days", "days": 60})
    earn(api, mid, "o1", 10_000)                                         # last day 31 Dec
    assert _entry(mid) == ("2026-12-28", "remind")
    rules(api, reminder_days=[3], expiry={"policy": "days", "days": 10})
    earn(api, mid, "o2", 5_000)                                          # last day 11 Nov: sooner
    assert _entry(mid) == ("2026-11-08", "remind")
    clock.freeze(datetime(2026, 11, 8, 4, tzinfo=UTC))
    assert api.run_job("points-expiry")["items_read"] == 0               # a reminder's entry, due today: not the expiry job's
    clock.freeze(datetime(2026, 11, 12, 4, tzinfo=UTC))                  # no reminders run since: the expiry is due behind it
    assert api.run_job("points-expiry")["points_expired"] == 50
    assert _entry(mid) == ("2026-12-28", "remind")                       # the first lot's reminder next
    assert [lot.expires_on for lot in _lots(mid)] == ["2026-12-31"]


def test_a_visit_that_finds_the_lot_spent_moves_on_without_a_reminder(aws):
    api = AppClient()
    clock.freeze(NOV_1)
    mid = api.member("13800503004")
    rules(api, reminder_days=[30])
    earn(api, mid, "o1", 10_000)
    api.ok("POST", f"/v1/members/{mid}/points/redeem", {"points": 100, "reward": "mug"})
    assert _lots(mid) == [] and _entry(mid) == ("2026-12-01", "remind")     # early now: harmless
    clock.freeze(DEC_1)
    assert api.run_job("points-reminders")["reminders_sent"] == 0
    assert _reminders(mid) == [] and _entry(mid) is None


def test_an_entry_put_back_by_a_change_read_before_the_visit_sends_nothing_twice(aws):
    api = AppClient()
    clock.freeze(NOV_1)
    mid = api.member("13800503005")
    rules(api, reminder_days=[30, 3])
    earn(api, mid, "o1", 10_000)
    stale = _account(mid)                                                 # read before the visit
    clock.freeze(DEC_1)
    assert api.run_job("points-reminders")["reminders_sent"] == 1
    uow = UnitOfWork("test")                                              # its put, later: the entry of before
    uow.save(stale)
    uow.commit()
    assert _entry(mid) == ("2026-12-01", "remind")
    assert api.run_job("points-reminders")["reminders_sent"] == 0
    assert _reminders(mid) == [(100, "2026-12-31", 30)]
    assert _entry(mid) == ("2026-12-28", "remind")


def test_a_lot_of_before_is_reminded_through_its_account_once_and_leaves_the_index(aws):
    api = AppClient()
    clock.freeze(NOV_1)
    mid = api.member("13800503006")
    rules(api, reminder_days=[30, 3])
    earn(api, mid, "o1", 10_000)
    uow = UnitOfWork("test")                                               # as written before 2026-12-06
    lot, account = _lots(mid)[0], _account(mid)
    lot.duepk, lot.duesk = "DUE#points-lot#3", f"2027-01-01#{mid}#{lot.sk}"
    lot.gsi1pk, lot.gsi1sk = "DUE#points-remind#5", f"2026-12-01#{mid}#{lot.sk}"    # listed on gsi1 before keys1
    account.duepk = account.duesk = None
    uow.save(lot)
    uow.save(account)
    uow.commit()
    clock.freeze(datetime(2026, 12, 2, 4, tzinfo=UTC))                    # its day, 1 Dec, missed: sent a day late
    assert api.run_job("points-reminders")["reminders_sent"] == 1
    assert api.run_job("points-reminders")["reminders_sent"] == 0
    assert _reminders(mid) == [(100, "2026-12-31", 29)]
    moved = _lots(mid)[0]
    assert (moved.gsi1pk, moved.k1pk, moved.duesk.split("#", 1)[0]) == (None, None, "2027-01-01")
    assert _entry(mid) == ("2026-12-28", "remind")                        # the account carries it on
    clock.freeze(datetime(2027, 1, 1, 4, tzinfo=UTC))
    assert api.run_job("points-reminders")["reminders_sent"] == 0         # 28 Dec passed: too late for it
    result = api.run_job("points-expiry")                                  # both entries due: expired once
    assert result["points_expired"] == 100 and _lots(mid) == []
    assert balanced(mid)["expired"] == 100


def test_rolling_expiry_reminds_of_the_windows_end_and_a_purchase_moves_it(aws):
    api = AppClient()
    clock.freeze(NOV_1)
    mid = api.member("13800503007")
    rules(api, reminder_days=[7], expiry={"policy": "rolling", "days": 30})
    earn(api, mid, "o1", 10_000)                                            # window to 1 Dec
    assert _entry(mid) == ("2026-11-24", "remind")
    clock.freeze(datetime(2026, 11, 10, 4, tzinfo=UTC))
    earn(api, mid, "o2", 5_000)                                             # window to 10 Dec: entry stays early
    assert _entry(mid) == ("2026-11-24", "remind")
    clock.freeze(datetime(2026, 11, 24, 4, tzinfo=UTC))
    assert api.run_job("points-reminders")["reminders_sent"] == 0
    assert _entry(mid) == ("2026-12-03", "remind")
    clock.freeze(datetime(2026, 12, 3, 4, tzinfo=UTC))
    assert api.run_job("points-reminders")["reminders_sent"] == 1
    assert _reminders(mid) == [(150, "2026-12-10", 7)]
    assert _entry(mid) == ("2026-12-11", "expiry")
    clock.freeze(datetime(2026, 12, 11, 4, tzinfo=UTC))
    assert api.run_job("points-expiry")["points_expired"] == 150
    assert _entry(mid) is None and _account(mid).rolling_until is None


def test_bring_forward_keeps_the_soonest_and_moves_an_entry_of_before_to_its_kind():
    account = AccountItem(*AccountItem.key("m1", "points"), member_id="m1", point_type="points")
    dates.bring_forward(account, "2026-12-31", [30, 3], date(2026, 11, 1))
    assert dates.current(account) == (date(2026, 12, 1), "remind") and "points-dates" in account.duepk
    dates.bring_forward(account, "2027-12-31", [30, 3], date(2026, 11, 1))
    assert dates.current(account) == (date(2026, 12, 1), "remind")
    dates.bring_forward(account, "2026-11-02", [30, 3], date(2026, 11, 1))       # reminders passed: its expiry
    assert dates.current(account) == (date(2026, 11, 3), "expiry")
    dates.bring_forward(account, "2026-11-03", [1], date(2026, 11, 1))            # a tie: the expiry wins
    assert dates.current(account) == (date(2026, 11, 2), "remind")
    dates.bring_forward(account, "2026-11-01", [], date(2026, 11, 1))
    assert dates.current(account) == (date(2026, 11, 2), "expiry")
    account.duepk, account.duesk = "DUE#points-rolling#1", "2026-11-02#m1#points"
    dates.bring_forward(account, "2027-01-01", [], date(2026, 11, 1))
    assert "points-dates" in account.duepk and dates.current(account) == (date(2026, 11, 2), "expiry")


def test_a_visit_racing_a_change_that_makes_a_sooner_lot_reads_again_and_keeps_its_date(api, monkeypatch):
    """A reminders visit reads the account; before it writes, an adjustment makes a lot ending 10
    December (its entry stays at the visit's day, 1 December: sooner). The visit's write of the
    entry (on the account's version as read) fails, it reads again, and the entry is the new
    lot's expiry, not the first lot's; the reminder goes out once."""
    clock.freeze(NOV_1)
    mid = api.member("13800503008")
    rules(api, reminder_days=[30], expiry={"policy": "days", "days": 60})
    earn(api, mid, "o1", 10_000)                                           # last day 31 Dec: reminded 1 Dec
    clock.freeze(DEC_1)
    rules(api, reminder_days=[30], expiry={"policy": "days", "days": 9})
    _after_the_first_visit_reads(monkeypatch, lambda: _adjust(mid, 50))
    assert api.run_job("points-reminders")["reminders_sent"] == 1
    monkeypatch.undo()
    assert _reminders(mid) == [(100, "2026-12-31", 30)]
    assert _entry(mid) == ("2026-12-11", "expiry")                         # the adjustment's lot ends 10 Dec
    clock.freeze(datetime(2026, 12, 11, 4, tzinfo=UTC))
    assert api.run_job("points-expiry")["points_expired"] == 50
    assert _entry(mid) == ("2027-01-01", "expiry")


def test_last_days_reminded_on_neighbouring_days_are_each_reminded_once_a_reminder_day(aws):
    """Two last days (31 Dec and 5 Dec, reminders 30 and 3 days before): reminded 5 Nov (5 Dec),
    1 Dec (31 Dec), 2 Dec (5 Dec), 28 Dec (31 Dec): each visit sends the reminders of the days after
    the last one sent, never one sent the day before."""
    api = AppClient()
    clock.freeze(NOV_1)
    mid = api.member("13800503009")
    rules(api, reminder_days=[30, 3], expiry={"policy": "days", "days": 60})
    earn(api, mid, "o1", 10_000)                                           # last day 31 Dec
    rules(api, reminder_days=[30, 3], expiry={"policy": "days", "days": 34})
    earn(api, mid, "o2", 5_000)                                            # last day 5 Dec
    assert _entry(mid) == ("2026-11-05", "remind")
    sent = []
    for day in (5, 6):
        clock.freeze(datetime(2026, 11, day, 4, tzinfo=UTC))
        sent.append(api.run_job("points-reminders")["reminders_sent"])
    for day in (1, 2, 3, 28, 29):
        clock.freeze(datetime(2026, 12, day, 4, tzinfo=UTC))
        sent.append(api.run_job("points-reminders")["reminders_sent"])
    assert sent == [1, 0, 1, 1, 0, 1, 0]
    assert _reminders(mid) == [(50, "2026-12-05", 30), (100, "2026-12-31", 30), (50, "2026-12-05", 3),
                               (100, "2026-12-31", 3)]


def test_two_overlapping_reminder_visits_of_one_account_send_its_reminder_once(api, monkeypatch):
    """Two runs visit one account at once: the second to commit finds the REMINDED item moved on
    since it read it, reads again, and sends nothing."""
    clock.freeze(NOV_1)
    mid = api.member("13800503010")
    rules(api, reminder_days=[30])
    earn(api, mid, "o1", 10_000)
    clock.freeze(DEC_1)
    _after_the_first_visit_reads(                    # the other run's visit, whole, in between
        monkeypatch, lambda: dates.remind(UnitOfWork("other"), mid, "points", date(2026, 12, 1), [30]))
    assert api.run_job("points-reminders")["reminders_sent"] == 0
    monkeypatch.undo()
    assert _reminders(mid) == [(100, "2026-12-31", 30)]


def test_a_lot_made_after_its_first_reminder_day_is_not_reminded_of_that_day_later(aws):
    """Reminders 30 and 3 days before. 5 Dec's points are reminded on 5 Nov; 10 Dec's, earned on 20
    Nov, after their 30 days' day (10 Nov), are reminded on 7 Dec only: the visit of 2 Dec (5 Dec's
    3 days) sends 5 Dec's alone, though the last reminder sent (5 Nov) is before 10 Nov."""
    api = AppClient()
    clock.freeze(NOV_1)
    mid = api.member("13800503011")
    rules(api, reminder_days=[30, 3], expiry={"policy": "days", "days": 34})
    earn(api, mid, "o1", 10_000)                                           # last day 5 Dec
    clock.freeze(datetime(2026, 11, 5, 4, tzinfo=UTC))
    assert api.run_job("points-reminders")["reminders_sent"] == 1
    clock.freeze(datetime(2026, 11, 20, 4, tzinfo=UTC))
    rules(api, reminder_days=[30, 3], expiry={"policy": "days", "days": 20})
    earn(api, mid, "o2", 5_000)                                            # last day 10 Dec
    for day in (2, 7):
        clock.freeze(datetime(2026, 12, day, 4, tzinfo=UTC))
        assert api.run_job("points-reminders")["reminders_sent"] == 1
    assert _reminders(mid) == [(100, "2026-12-05", 30), (100, "2026-12-05", 3), (50, "2026-12-10", 3)]


def test_pending_points_take_the_accounts_date_when_they_unlock_not_before(aws):
    """Under a 7-day return window the earn's lot is pending: it has its unlock entry of its own,
    the account none (pending points are neither reminded of nor expired); the unlock makes the
    lot live and brings the account's date forward to its dates."""
    api = AppClient()
    clock.freeze(NOV_1)
    mid = api.member("13800503012")
    rules(api, reminder_days=[30], pending_days=7)
    made = _index_writes(lambda: earn(api, mid, "o1", 10_000))            # last day 31 Dec, unlocks 8 Nov
    assert made["lot"] == [{"due2": 1}] and made["account"] == [{"keys1": 1}]
    assert _entry(mid) is None
    clock.freeze(datetime(2026, 11, 8, 4, tzinfo=UTC))
    assert api.run_job("points-expiry")["points_unlocked"] == 100
    assert _entry(mid) == ("2026-12-01", "remind")
    clock.freeze(DEC_1)
    assert api.run_job("points-reminders")["reminders_sent"] == 1
    assert _reminders(mid) == [(100, "2026-12-31", 30)]


def test_an_expiry_visit_racing_a_change_that_makes_a_sooner_lot_reads_again(api, monkeypatch):
    """The expiry job's visit reads the account (a lot ended 31 Dec; the next ends 31 Dec 2027);
    before its expiry commits, an adjustment makes a lot ending 10 Jan. The visit's last expiry
    would have moved the entry to the next year's date: it finds the account's version moved on,
    reads again, and the entry is the new lot's."""
    clock.freeze(NOV_1)
    mid = api.member("13800503013")
    rules(api, reminder_days=[])
    earn(api, mid, "o1", 10_000)                                           # year end: 31 Dec 2026
    clock.freeze(datetime(2026, 12, 30, 4, tzinfo=UTC))
    rules(api, reminder_days=[], expiry={"policy": "days", "days": 366})
    earn(api, mid, "o2", 5_000)                                            # last day 31 Dec 2027
    clock.freeze(datetime(2027, 1, 1, 4, tzinfo=UTC))
    rules(api, reminder_days=[], expiry={"policy": "days", "days": 9})
    _after_the_first_visit_reads(monkeypatch, lambda: _adjust(mid, 20))
    assert api.run_job("points-expiry")["points_expired"] == 100
    monkeypatch.undo()
    assert _entry(mid) == ("2027-01-11", "expiry")                         # the adjustment's lot, not 2028's
    clock.freeze(datetime(2027, 1, 11, 4, tzinfo=UTC))
    assert api.run_job("points-expiry")["points_expired"] == 20
    assert _entry(mid) == ("2028-01-01", "expiry")


def test_reminder_days_made_longer_after_the_points_were_earned_still_remind(aws):
    """Attack J, F6: earned under reminders [1] (the account's date: the day before the last), then
    the program changes to [5, 3]. The visit on that date finds both points passed unsent and
    reminds once, of the nearest; a second last day earned after the change gets both."""
    api = AppClient()
    clock.freeze(NOV_1)
    mid = api.member("13800503014")
    rules(api, reminder_days=[1], expiry={"policy": "days", "days": 20})
    earn(api, mid, "o1", 10_000)                                           # last day 21 Nov: date 20 Nov
    assert _entry(mid) == ("2026-11-20", "remind")
    rules(api, reminder_days=[5, 3], expiry={"policy": "days", "days": 25})
    earn(api, mid, "o2", 5_000)                                            # last day 26 Nov: 21 and 23 Nov
    sent = []
    for day in range(15, 27):
        clock.freeze(datetime(2026, 11, day, 4, tzinfo=UTC))
        sent.append((day, api.run_job("points-reminders")["reminders_sent"]))
    assert [s for s in sent if s[1]] == [(20, 1), (21, 1), (23, 1)]
    assert _reminders(mid) == [(100, "2026-11-21", 1), (50, "2026-11-26", 5), (50, "2026-11-26", 3)]


def test_a_member_busy_during_the_reminders_visit_is_reminded_all_the_same(api, monkeypatch):
    """Attack J, F2: the reminder went with the entry's move, on the account's version, so a member
    written meanwhile (every try) got no reminder that day. The reminder is its own write now; only
    the entry's move waits (left early: the next visit sends nothing again)."""
    clock.freeze(NOV_1)
    mid = api.member("13800503015")
    rules(api, reminder_days=[30])
    earn(api, mid, "o1", 10_000)

    def busy(self, entry):
        raise ConcurrentUpdate("points account changed")
    monkeypatch.setattr(dates.Visit, "move", busy)
    clock.freeze(DEC_1)
    result = api.run_job("points-reminders")
    assert result["reminders_sent"] == 1 and "gave_up" not in result
    assert _entry(mid) == ("2026-12-01", "remind")                         # left: moved by a later visit
    monkeypatch.undo()
    assert api.run_job("points-reminders")["reminders_sent"] == 0
    assert _reminders(mid) == [(100, "2026-12-31", 30)]
    assert _entry(mid) == ("2027-01-01", "expiry")


@pytest.mark.parametrize("days", [[True], ["3"], [3.0], [0], [366], "3"])
def test_reminder_days_must_be_whole_days_written_as_numbers(api, days):
    """Attack J, F5: ``[true]`` was stored as [1] and ``["3"]`` as [3], each a new rules version."""
    clock.freeze(NOV_1)
    before = api.ok("GET", "/v1/points/rules")
    status, problem = api.call("PUT", "/v1/points/rules", {"rules": {"reminder_days": days}})
    assert status == 422 and problem["status"] == 422, (days, problem)
    assert api.ok("GET", "/v1/points/rules") == before


def test_a_lot_of_before_whose_first_reminder_went_out_a_lot_at_a_time_is_not_reminded_of_it_again(aws):
    """A lot of before ending 20 Dec was reminded 30 days ahead (20 Nov) by its own entry, which
    now waits for 15 days ahead (5 Dec). A newer lot's reminder visits the account on 25 Nov: the
    old lot's 30 days are not sent again; its 15 days are, on 5 Dec, once."""
    api = AppClient()
    clock.freeze(NOV_1)
    mid = api.member("13800503016")
    rules(api, reminder_days=[30, 15, 3], expiry={"policy": "days", "days": 49})
    earn(api, mid, "o1", 10_000)                                           # last day 20 Dec
    uow = UnitOfWork("test")                                               # as written before 2026-12-06
    lot, account = _lots(mid)[0], _account(mid)
    lot.duepk, lot.duesk = "DUE#points-lot#3", f"2026-12-21#{mid}#{lot.sk}"
    lot.k1pk, lot.k1sk = "DUE#points-reminder#5", f"2026-12-05#{mid}#{lot.sk}"
    account.duepk = account.duesk = None
    uow.save(lot)
    uow.save(account)
    uow.commit()
    clock.freeze(datetime(2026, 11, 20, 4, tzinfo=UTC))
    rules(api, reminder_days=[30, 15, 3], expiry={"policy": "days", "days": 20})
    earn(api, mid, "o2", 5_000)                                            # last day 10 Dec: 25 Nov, 7 Dec
    for day in (25, 35, 37):                                               # 25 Nov, 5 Dec, 7 Dec
        clock.freeze(datetime(2026, 11, 1, 4, tzinfo=UTC) + timedelta(days=day - 1))
        assert api.run_job("points-reminders")["reminders_sent"] == 1, day
    assert _reminders(mid) == [(50, "2026-12-10", 15), (100, "2026-12-20", 15), (50, "2026-12-10", 3)]


def test_reminders_on_the_last_day_itself_go_once_however_often_the_job_runs(aws):
    api = AppClient()
    clock.freeze(NOV_1)
    mid = api.member("13800503017")
    rules(api, reminder_days=[3])
    earn(api, mid, "o1", 10_000)                                           # last day 31 Dec: 28 Dec
    clock.freeze(datetime(2026, 12, 31, 4, tzinfo=UTC))                    # the jobs missed it: the last day
    assert [api.run_job("points-reminders")["reminders_sent"] for _ in range(2)] == [1, 0]
    assert _reminders(mid) == [(100, "2026-12-31", 0)]


def test_an_expiry_visit_leaves_a_reminder_not_sent_yet_due(aws):
    """The account's date holds an expiry (30 Nov's lot) and a reminder (31 Dec's, 30 days ahead)
    on 1 Dec; the reminders job has not been by when the expiry job visits on 2 Dec: it expires
    the lot and leaves the reminder due, not skipped."""
    api = AppClient()
    clock.freeze(NOV_1)
    mid = api.member("13800503018")
    rules(api, reminder_days=[30])
    earn(api, mid, "o1", 10_000)                                           # last day 31 Dec: 1 Dec
    rules(api, reminder_days=[30], expiry={"policy": "days", "days": 29})
    earn(api, mid, "o2", 5_000)                                            # last day 30 Nov: expires 1 Dec
    assert _entry(mid) == ("2026-12-01", "expiry")
    clock.freeze(datetime(2026, 12, 2, 4, tzinfo=UTC))
    assert api.run_job("points-expiry")["points_expired"] == 50
    assert _entry(mid) == ("2026-12-01", "remind")
    assert api.run_job("points-reminders")["reminders_sent"] == 1
    assert _reminders(mid) == [(100, "2026-12-31", 29)]


def test_a_rolling_windows_end_expires_its_own_points_and_leaves_a_dated_lot_its_last_day(aws):
    """Attack J, F4 (in part): the program moves from rolling expiry to `days`; the member's window
    ends 4 Nov. Its expiry took every live lot, the one earned under `days` (last day 21 Nov) too.
    Now it takes the window's points only; the dated lot expires after its own last day."""
    api = AppClient()
    clock.freeze(NOV_1)
    mid = api.member("13800503019")
    rules(api, reminder_days=[], expiry={"policy": "rolling", "days": 3})
    earn(api, mid, "o1", 10_000)                                           # the window: to 4 Nov
    rules(api, reminder_days=[], expiry={"policy": "days", "days": 20})
    assert earn(api, mid, "o2", 5_000)["expires_on"] == "2026-11-21"
    clock.freeze(datetime(2026, 11, 5, 4, tzinfo=UTC))
    assert api.run_job("points-expiry")["points_expired"] == 100
    assert balanced(mid)["available"] == 50 and [lot.expires_on for lot in _lots(mid)] == ["2026-11-21"]
    assert _entry(mid) == ("2026-11-22", "expiry")
    assert api.ok("GET", f"/v1/members/{mid}/points")["accounts"]["points"]["balance"] == 50
    clock.freeze(datetime(2026, 11, 22, 4, tzinfo=UTC))
    assert api.run_job("points-expiry")["points_expired"] == 50
    assert balanced(mid)["expired"] == 150 and _entry(mid) is None


def test_a_rolling_windows_reminder_counts_the_windows_points_not_a_dated_lots(aws):
    """Attack J, F4 (in part): year-end points (31 Dec), then the program moves to rolling expiry:
    the window's reminder says its own 50 points, not the dated 100 too; its end takes the 50."""
    api = AppClient()
    clock.freeze(NOV_1)
    mid = api.member("13800503020")
    rules(api, reminder_days=[1])
    earn(api, mid, "o1", 10_000)                                           # last day 31 Dec
    rules(api, reminder_days=[1], expiry={"policy": "rolling", "days": 5})
    earn(api, mid, "o2", 5_000)                                            # the window: to 6 Nov
    clock.freeze(datetime(2026, 11, 5, 4, tzinfo=UTC))
    assert api.run_job("points-reminders")["reminders_sent"] == 1
    assert [e.data for e in outbox_events(None, kind="points.expiring") if e.data["member_id"] == mid] == [
        {"member_id": mid, "point_type": "points", "points": 50, "expires_on": "2026-11-06", "days_left": 1}]
    clock.freeze(datetime(2026, 11, 7, 4, tzinfo=UTC))
    assert api.run_job("points-expiry")["points_expired"] == 50
    assert balanced(mid)["available"] == 100
