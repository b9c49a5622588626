"""A card as its holder presents it: its state, and the check of its secret with the locks that
stop guessing.

States: ``issued`` (generated, not sold) → ``sold`` (in a sale not activated) → ``activated`` →
``partially_used`` → ``exhausted``, or ``redeemed`` (its balance moved into a member's stored
value); ``voided`` at any point; ``expired`` after the batch's last day (or the card's own, once
extended). A sale of a range writes one range item (``SALERANGE#<first>``), not its cards, so
"sold" and "activated by the sale" are found by one Query of that range (:func:`resolve`) and
kept on the card (``sold_in``, ``sold_activated``) with its first change: a sale is never undone
or changed, so what the card keeps cannot go stale, and its later uses need no query. A card's
own item records what happens to that card alone.

Guessing: :data:`CARD_TRIES` wrong secrets in a row on one card lock it for :data:`CARD_LOCK`,
doubled at each further lock (at most a day), when they came from more than one caller. One
caller's :data:`CARD_TRIES` wrong secrets at one number lock that caller instead, as long as the
card would have been (its own lock doubling): a till key must not lock other people's cards, and a
guesser still gets no more tries at a card than the card's lock allows. The caller's count is kept
per number whether or not a card has it (:data:`STREAKS` numbers), so when a lock comes tells
nothing about which numbers exist. :data:`CALLER_TRIES` wrong secrets within
:data:`CALLER_WINDOW` lock the caller (a till's key, a member) likewise, whatever cards it named.
Every wrong secret is recorded and announced (``gift_card.secret_rejected``), with the card
number and the caller, never the secret. A wrong number and a wrong secret get the same answer
after the same work (one scrypt hash).
"""

from __future__ import annotations

import json
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from pynamodb.expressions.condition import Condition

from chalicelib.db.uow import UnitOfWork
from chalicelib.gift_cards import keys, repository
from chalicelib.gift_cards.tables import GiftCardBatchItem, GiftCardItem, GuardItem
from chalicelib.ledger.lockout import Lockout, locked, seconds_left
from chalicelib.shared import clock
from chalicelib.shared.errors import ConcurrentUpdate, Conflict, Problem
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import Principal

CARD_TRIES, CARD_LOCK = 5, timedelta(minutes=30)
CALLER_TRIES, CALLER_WINDOW, CALLER_LOCK = 20, timedelta(minutes=15), timedelta(minutes=30)
MAX_LOCK = timedelta(days=1)
CARD_LOCKOUT = Lockout(CARD_TRIES, CARD_LOCK, MAX_LOCK)
CALLER_LOCKOUT = Lockout(CALLER_TRIES, CALLER_LOCK, MAX_LOCK)
SEVERAL = "*"                  # a card's wrong secrets in a row came from more than one caller
STREAKS = 20                   # numbers whose wrong secrets a caller's guard counts (the latest)
USABLE = ("activated", "partially_used")


class CardRejected(Problem):
    status, slug, title = 422, "gift-card-rejected", "The card number or its secret is wrong"


class CardLocked(Problem):
    status, slug, title = 423, "gift-card-locked", "The card is locked after wrong secrets"
    remembered = False


class CallerLocked(Problem):
    status, slug, title = 429, "too-many-wrong-secrets", "Too many wrong card secrets; try again later"
    remembered = False


class CardNotUsable(Conflict):
    slug, title = "gift-card-not-usable", "The card cannot be used in its state"


def batch_id_of(number: str) -> str:
    """The id of the batch a card number belongs to."""
    return f"B{keys.batch_no_of(number):06d}"


CLOSED = ("voided", "redeemed", "exhausted")     # states a card's own item says outright


def _keep(card: GiftCardItem, sale: dict[str, Any] | None) -> None:
    """Put the sale holding the card on it (kept with its next write)."""
    if sale is not None:
        card.sold_in, card.sold_activated = sale["invoice"], bool(sale["activated"])


def resolve(uow: UnitOfWork, card: GiftCardItem, batch: GiftCardBatchItem) -> None:
    """Find the sale holding the card unless the card knows it already (or is closed): in the
    batch's frozen list of a batch sold before #24 item 6, else one Query of its sale ranges.
    Every reader of one card calls this before :func:`state`."""
    if card.sold_in is not None or card.state in CLOSED:
        return
    serial = int(card.serial)
    sale = next((s for s in batch.legacy_sales() if s["first"] <= serial <= s["last"]), None)
    if sale is None:
        found = repository.of(uow).sale_range_at(str(card.batch_id), serial)
        sale = found.view() if found is not None and int(found.last) >= serial else None
    _keep(card, sale)


class Ranges:
    """Every sale range of one batch, read once, for the readers of all its cards (reports,
    reconciliation, the expiry announcement)."""

    def __init__(self, uow: UnitOfWork, batch: GiftCardBatchItem, read: list[dict[str, Any]] | None = None) -> None:
        """The batch's ranges (``read``: those a reader of some of its cards read itself)."""
        ranges = read if read is not None else [*batch.legacy_sales(),
                                                *(r.view() for r in repository.of(uow).sale_ranges(batch.batch_id))]
        self.sales = sorted(ranges, key=lambda s: int(s["first"]))
        self._firsts = [int(s["first"]) for s in self.sales]

    def covering(self, serial: int) -> dict[str, Any] | None:
        """The sale whose range holds ``serial``, if any."""
        at = bisect_right(self._firsts, serial) - 1
        return self.sales[at] if at >= 0 and int(self.sales[at]["last"]) >= serial else None

    def resolve(self, card: GiftCardItem) -> GiftCardItem:
        """The card with the sale holding it known (as :func:`resolve`, without a request)."""
        if card.sold_in is None and card.state not in CLOSED:
            _keep(card, self.covering(int(card.serial)))
        return card


def state(card: GiftCardItem, batch: GiftCardBatchItem, today: date) -> str:
    """The card's state today (its sale found: :func:`resolve` or :meth:`Ranges.resolve`)."""
    if card.state in CLOSED:
        return str(card.state)
    if card.sold_in is None:                     # an unsold card voided is ``voided`` on its item
        return "issued"
    if today > last_day(card, batch):
        return "expired"
    if card.state == "partially_used":
        return "partially_used"
    return "activated" if card.sold_activated or card.activated_at else "sold"


def last_day(card: GiftCardItem, batch: GiftCardBatchItem) -> date:
    """The card's last day of use: its batch's, or its own once extended."""
    return date.fromisoformat(card.valid_until or batch.valid_until)


def balance(card: GiftCardItem) -> int:
    """What is left on the card."""
    return int(card.face_value_fen) - int(card.used or 0)


def view(card: GiftCardItem, batch: GiftCardBatchItem, today: date) -> dict[str, Any]:
    """The card as HQ or its holder sees it (never its secret or hash)."""
    return {"card_number": card.number, "batch_id": card.batch_id, "state": state(card, batch, today),
            "face_value_fen": int(card.face_value_fen), "balance_fen": balance(card),
            "valid_until": last_day(card, batch).isoformat(), "merchant_ids": batch.scope(), "member_id": card.member_id,
            "activated_at": card.activated_at, "locked_until": card.locked_until, "held_fen": int(card.held or 0)}


@dataclass
class Presented:
    """A card whose secret was right, with its batch."""

    card: GiftCardItem
    batch: GiftCardBatchItem
    state: str


def guard_of(by: Principal) -> str:
    """Whose wrong secrets count together: the caller's credential."""
    return by.scope


def wanted(number: str, by: Principal) -> list[tuple[type, tuple[str, str]]]:
    """The keys :func:`present` reads, for a prefetch with the operation's own."""
    return [(GiftCardItem, GiftCardItem.key(number)), (GuardItem, GuardItem.key(guard_of(by)))]


def unlocked_caller(uow: UnitOfWork, by: Principal, now: datetime) -> GuardItem | None:
    """The caller's guard (None: never refused); 429 while the caller is locked."""
    guard = repository.of(uow).guard(guard_of(by))
    if guard is not None and locked(guard.locked_until, now):
        raise CallerLocked("too many wrong card secrets from these credentials", locked_until=guard.locked_until,
                           retry_after=seconds_left(str(guard.locked_until), now))
    return guard


def present(uow: UnitOfWork, number: str, secret: str, by: Principal) -> Presented:
    """Check a card number and secret; a wrong one is recorded (and may lock) before it is refused."""
    now = clock.now()
    guard = unlocked_caller(uow, by, now)
    if not keys.valid_number(number):
        raise CardRejected("the card number's check digit is wrong")
    card = repository.of(uow).card(number)
    if card is not None and locked(card.locked_until, now):
        raise CardLocked("the card is locked after wrong secrets", locked_until=card.locked_until,
                         retry_after=seconds_left(str(card.locked_until), now))
    batch = repository.of(uow).batch_metadata(card.batch_id) if card is not None else None
    if not keys.verify(secret, card.secret_hash if card is not None and batch is not None else None) or batch is None:
        _reject(uow, number, card, guard, by, now)
        raise CardRejected("the card number or its secret is wrong")
    assert card is not None
    card.failures, card.failed_by = 0, None
    resolve(uow, card, batch)
    streaks = json.loads(guard.streaks or "{}") if guard is not None else {}
    if guard is not None and streaks.pop(number, None) is not None:    # the right secret ends the caller's run
        guard.streaks = json.dumps(streaks, separators=(",", ":"))
        uow.save(guard, _as_read(guard),
                 on_conflict=lambda: ConcurrentUpdate("another wrong secret was counted meanwhile"))
    return Presented(card, batch, state(card, batch, clock.program_date(now)))


def check_balance(uow: UnitOfWork, number: str, secret: str, by: Principal) -> dict[str, Any]:
    """A card's balance to a till that has the card in hand: its number and its secret, checked as
    every use checks them (:func:`present`: a wrong one is counted on the card and the caller and
    may lock either; an unknown number is refused the same way, after the same work), so a till
    cannot read balances by trying sequential numbers. The right secret ends the card's run of
    wrong ones, as a use would. Nothing else changes."""
    uow.prefetch(wanted(number, by))
    read = repository.of(uow).card(number) if keys.valid_number(number) else None
    failures = int(read.failures or 0) if read is not None else 0
    shown = present(uow, number, secret, by)
    card, batch = shown.card, shown.batch
    if failures:
        uow.save(card, (GiftCardItem.version == int(card.version or 0)) & (GiftCardItem.failures == failures),
                 on_conflict=lambda: ConcurrentUpdate("the card changed meanwhile"))
    scope = batch.scope()
    return {"card_number": number[:4] + "*" * 8 + number[-4:], "state": shown.state, "balance_fen": balance(card),
            "held_fen": int(card.held or 0), "face_value_fen": int(card.face_value_fen),
            "valid_until": last_day(card, batch).isoformat(), "merchant_ids": scope,
            "accepted_here": None if by.merchant_id is None else scope is None or by.merchant_id in scope}


def _reject(uow: UnitOfWork, number: str, card: GiftCardItem | None, guard: GuardItem | None, by: Principal,
            now: datetime) -> None:
    """Count a wrong secret on the card and the caller (locking either at its limit), committed
    on a unit of its own: the refusal that follows changes nothing else."""
    work = UnitOfWork(uow.actor, uow.correlation_id, program=uow.program)
    caller = guard_of(by)
    update = _counted(guard, caller, now)
    failures = int(update.failures)
    data: dict[str, Any] = {"card_number": number, "caller": by.ref,
                            "caller_failures": failures}
    lock_caller = "secrets" if failures >= CALLER_TRIES else None
    streaks = json.loads(guard.streaks or "{}") if guard is not None else {}
    at_number = int(streaks.pop(number, 0)) + 1
    if at_number >= CARD_TRIES:                  # one caller's guesses at one number: lock the guesser
        lock_caller = "card"
    else:
        streaks[number] = at_number              # (re-inserted last: the oldest number is dropped first)
    update.streaks = json.dumps(dict(list(streaks.items())[-STREAKS:]), separators=(",", ":"))
    if card is not None:
        read = int(card.failures or 0)
        card.failures = read + 1
        card.failed_by = caller if read == 0 or card.failed_by == caller else SEVERAL
        data["card_failures"] = card.failures
        if lock_caller == "card" and card.failed_by == caller:
            card.failures, card.failed_by = 0, None          # its guesser is locked: the card owes it nothing
        elif card.failures >= CARD_TRIES and card.failed_by == SEVERAL:
            card.locked_until = CARD_LOCKOUT.until(now, int(card.locks or 0))
            card.locks, card.failures, card.failed_by = int(card.locks or 0) + 1, 0, None
            work.emit(DomainEvent("gift_card.locked", f"gift_card:{card.number}", {
                "card_number": card.number, "locked_until": card.locked_until, "locks": card.locks}))
        work.save(card, (GiftCardItem.version == int(card.version or 0)) & (GiftCardItem.failures == read),
                  on_conflict=lambda: ConcurrentUpdate("the card changed meanwhile"))
    _save_guard(work, guard, update, by, now, lock_caller)
    if card is None:       # the same transaction of two items as for a real card: the same time taken
        work.check(GiftCardItem(*GiftCardItem.key(number)), GiftCardItem.pk.does_not_exist(),
                   on_conflict=lambda: ConcurrentUpdate("the card appeared meanwhile"))
    work.emit(DomainEvent("gift_card.secret_rejected", f"gift_card:{number}", data,
                          merchant_id=by.merchant_id))
    work.commit()


def _counted(guard: GuardItem | None, caller: str, now: datetime) -> GuardItem:
    """The caller's guard with one more refusal counted in its window (a new window once it passed)."""
    fresh_window = guard is None or clock.parse_iso(guard.window_start) + CALLER_WINDOW <= now
    return GuardItem(*GuardItem.key(caller), failures=1 if fresh_window else int(guard.failures) + 1,  # type: ignore[union-attr]
                     window_start=clock.iso(now) if fresh_window else guard.window_start,  # type: ignore[union-attr]
                     locks=int(guard.locks or 0) if guard is not None else 0,
                     locked_until=guard.locked_until if guard is not None else None,
                     streaks=guard.streaks if guard is not None else None)


def _save_guard(work: UnitOfWork, guard: GuardItem | None, update: GuardItem, by: Principal, now: datetime,
                lock_caller: str | None) -> None:
    """Stage the caller's counted guard, locked (for ``lock_caller``'s reason) when it is due."""
    if lock_caller:
        locks = int(update.locks)
        update.locks, update.failures = locks + 1, 0
        update.locked_until = (CARD_LOCKOUT if lock_caller == "card" else CALLER_LOCKOUT).until(now, locks)
        work.emit(DomainEvent("gift_card.caller_locked", f"caller:{guard_of(by)}", {
            "caller": by.ref, "locked_until": update.locked_until, "because": lock_caller},
            merchant_id=by.merchant_id))
    work.save(update, _as_read(guard) if guard is not None else GuardItem.pk.does_not_exist(),
              on_conflict=lambda: ConcurrentUpdate("another wrong secret was counted meanwhile"))


def _as_read(guard: GuardItem) -> Condition:
    """The condition that the caller's guard is still as read: its count, and its locks (a lock
    sets the count to 0, which a guard read just after an earlier lock ran out has too)."""
    return (GuardItem.failures == int(guard.failures)) & (GuardItem.locks == int(guard.locks or 0))


def refused_probe(uow: UnitOfWork, guard: GuardItem | None, number: str, by: Principal, now: datetime) -> None:
    """Count a number the caller named that it may not use (an activation a till may not make) as
    a wrong try of its credential, committed on a unit of its own: numbers are sequential, so
    probing them is guessing too, and it locks the caller at :data:`CALLER_TRIES` in a window."""
    work = UnitOfWork(uow.actor, uow.correlation_id, program=uow.program)
    update = _counted(guard, guard_of(by), now)
    _save_guard(work, guard, update, by, now, "secrets" if int(update.failures) >= CALLER_TRIES else None)
    work.emit(DomainEvent("gift_card.probe_refused", f"gift_card:{number}", {
        "card_number": number, "caller": by.ref, "caller_failures": int(update.failures)},
        merchant_id=by.merchant_id))
    work.commit()
