"""Rolling expiry: every purchase restarts the window of all the member's points, so the last
day is the account's (``rolling_until``), not each lot's (their ``expires_on`` stays null).

From the day after that last day every live lot has lapsed: out of the balance and never spent,
whether or not the expiry job has run (the job only makes it permanent, with a posting). A
purchase made after the window ended opens a new window for its own points only: the lapsed
points are expired first (:func:`expire`), so they never come back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta

from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger import lots as L
from chalicelib.points import dates, orders, program, repository
from chalicelib.points import ledger as budget
from chalicelib.points.ledger import Ledger
from chalicelib.points.tables import AccountItem, LotItem
from chalicelib.shared import clock


def lapsed(account: AccountItem, today: date) -> bool:
    """Whether the account's rolling window ended before ``today``."""
    return L.is_expired(account.rolling_until, today)


def last_day(account: AccountItem, today: date) -> str | None:
    """The last day of the account's live rolling points (ISO), None when there is no open window."""
    return account.rolling_until if account.rolling_until and not lapsed(account, today) else None


def window_end(account: AccountItem, paid_on: date, days: int) -> date:
    """The last day of points for a purchase paid on ``paid_on``: its own window, or the account's
    when a newer purchase set it later (a back-dated one never pulls it back)."""
    own = paid_on + timedelta(days=days)
    return max(own, date.fromisoformat(account.rolling_until)) if account.rolling_until else own


def ended_before(account: AccountItem, paid_on: date, today: date) -> bool:
    """Whether a purchase paid on ``paid_on`` came after the window had ended (by ``today``):
    the points of that window lapsed before it, and it cannot renew them."""
    return lapsed(account, today) and account.rolling_until < paid_on.isoformat()


def push(ledger: Ledger, until: date, reminder_days: list[int]) -> None:
    """Every purchase pushes the expiry of all the member's points out again; a back-dated one
    never pulls it back in (a newer purchase already set it later). The account's next date comes
    forward to the window's when sooner (:mod:`.dates`: its reminders count down to the window's end)."""
    if ledger.account.rolling_until and ledger.account.rolling_until >= until.isoformat():
        return
    ledger.account.rolling_until = until.isoformat()
    dates.bring_forward(ledger.account, ledger.account.rolling_until, reminder_days, ledger.today)


def expire(program_id: str, member_id: str, point_type: str, today: date, as_of: datetime, actor: str) -> Counter:
    """Expire every live lot without a last day of its own of an account past its rolling date
    (a lot earned under a dated policy, before or after a switch of the program's policy, keeps
    its own: attack J F4), each noted on the order that earned it so that a refund of the order
    does not claw them back again (as debt): at most ``MAX_LOTS`` lots and orders per transaction
    (one posting each); the date is cleared with the last chunk, so a run that stops midway is
    finished by the next. The account's next date stays where it is: the visit that called this
    moves it on (to the dated lots' days), and if none does it is visited again."""
    expired = 0
    while True:
        uow = UnitOfWork(actor, program=program_id)
        rules = program.rules_at(uow, as_of)[1]
        account = repository.of(uow).account(member_id, point_type)
        if not lapsed(account, today):
            return Counter(expired=expired)
        ledger = Ledger(account.member_id, account.point_type, uow, today, rules.reminder_days)
        undated = (lot for lot in ledger.live_lots() if not lot.expires_on)     # they sort last
        chunk, last = _chunk(undated, budget.MAX_LOTS)      # MAX_LOTS read when run: tests shrink it
        total = 0
        for lot in chunk:
            if n := ledger.expire(lot):
                orders.record_expired(uow, lot.source, member_id, lot.lot_id, n, point_type)
            total += n
        if last:                          # points held meanwhile expire on their way back (ledger.window_ended)
            ledger.account.rolling_until = None
            ledger.account.rolling_expired_at = clock.iso(clock.now())
        ledger.stage("expire", total, reason="no purchase within the rolling window", source="expiry",
                     event_type="points.expired")
        uow.commit()
        expired += total
        if last:
            return Counter(expired=expired)


def _chunk(lots: Iterator[LotItem], room: int) -> tuple[list[LotItem], bool]:
    """The next lots whose expiry fits ``room`` items (a lot, and the order that earned it if any),
    and whether they are the last."""
    chunk: list[LotItem] = []
    used = 0
    for lot in lots:
        used += 2 if (lot.source or "").startswith("order:") else 1
        if used > room and chunk:
            return chunk, False
        chunk.append(lot)
    return chunk, True
