"""The program's prepaid money as a trial balance, projected from events exactly once: every
stored value and gift card movement carries its double-entry lines, and this folds them into a
running balance per journal account and its debits and credits per day. Reads never touch a
member's account, so the liability, the day's movements and the custodian's statement cost a
few small queries whatever the number of members or cards.

Accounts (debit +, credit −): ``member:principal`` / ``member:bonus`` and their held parts (the
members' prepaid balances, liabilities of the program), ``gift_cards:<issuer>`` (cards sold and
not yet used, liabilities of their issuing merchant or of the program), ``settlement:<merchant>``
(what the program owes a merchant for stored value and cards spent there), ``cash_clearing``,
``bonus_expense``, ``bonus_forfeited``, ``bonus_recovered`` (spent bonus a cash-out kept back), ``gift_card_discount``, ``gift_cards_voided:<issuer>`` (sold cards
voided, owed back to their buyers until paid out: still held), ``gift_cards_held:<issuer>`` (reserved on
cards by open holds: still held), ``gift_card_breakage``.

The figures trail the movements by the stream's delay (under a second locally): they are
reports, and the account-by-account reconciliation is the proof.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from chalicelib.db.uow import UnitOfWork
from chalicelib.events.folding import Deltas, folds
from chalicelib.shared import clock
from chalicelib.shared.events import DomainEvent
from chalicelib.stored_value import counters, repository
from chalicelib.stored_value.tables import PrepaidAccountItem, PrepaidDayItem

CONSUMER = "prepaid-figures"
MEMBER_PRINCIPAL = ("member:principal", "member:held_principal")
MEMBER_BONUS = ("member:bonus", "member:held_bonus")
ISSUER = "issuer:"                 # day rows of an issuer's net receipts and releases (no account of the balances)


@folds(CONSUMER, "stored_value.topped_up", "stored_value.paid", "stored_value.refunded",
           "stored_value.cashed_out", "stored_value.held", "stored_value.cash_out_requested",
           "stored_value.cash_out_rejected", "stored_value.card_payment_refunded", "gift_card.voided_paid_out",
           "gift_card.breakage", "stored_value.hold_released",
           "stored_value.card_redeemed", "stored_value.bonus_expired", "gift_card.sold", "gift_card.paid", "gift_card.payment_refunded",
           "gift_card.voided", "gift_card.held", "gift_card.hold_released")
def project(event: DomainEvent) -> Deltas:
    """What one movement's lines add to the accounts and the day. (A redemption's lines are on
    both the card's event and the account's: only the account's is counted.)"""
    deltas = Deltas()
    lines = event.data.get("entries") or []
    if not lines:
        return deltas
    day = clock.program_date(clock.parse_iso(event.occurred_at)).isoformat()
    net: dict[str, tuple[int, int]] = {}
    for line in lines:
        fen = int(line["fen"])
        debit, credit = net.get(line["account"], (0, 0))
        net[line["account"]] = (debit + max(fen, 0), credit + max(-fen, 0))
    held: dict[str, int] = {}         # per issuer, what the movement added to the money it holds
    for account, (debit, credit) in net.items():
        deltas.add(PrepaidAccountItem, PrepaidAccountItem.key(account), {"balance": debit - credit}, account=account)
        _add_day(deltas, account, day, debit, credit)
        if (issuer := counters.issuer_of(account)) is not None:
            held[issuer] = held.get(issuer, 0) + credit - debit
    # A custodian counts money received and released by an issuer, not its moves between its own
    # accounts (a hold, a cash-out awaiting approval): the movement's net per issuer.
    for issuer, fen in held.items():
        if fen:
            _add_day(deltas, ISSUER + issuer, day, max(-fen, 0), max(fen, 0))
    return deltas


def _add_day(deltas: Deltas, account: str, day: str, debit: int, credit: int) -> None:
    deltas.add(PrepaidDayItem, PrepaidDayItem.key(account, day), {"debit": debit, "credit": credit}, day=day)


def balances(uow: UnitOfWork) -> dict[str, int]:
    """Every journal account's balance (debit +, credit −)."""
    return {row.account: int(row.balance or 0) for row in repository.of(uow).prepaid_accounts()}


def liability(uow: UnitOfWork) -> dict[str, Any]:
    """What the program owes: members' principal and bonus, gift cards by issuer (an expired
    card's balance among them until extended or recognised as breakage), voided cards' balances
    owed back to their buyers by issuer, merchants' settlements; with cash collected, breakage
    recognised and the check that every line balances."""
    b = balances(uow)
    owed = lambda prefix: {a.split(":", 1)[1]: -v for a, v in sorted(b.items()) if a.startswith(prefix)}  # noqa: E731
    principal = -sum(b.get(a, 0) for a in MEMBER_PRINCIPAL)
    bonus = -sum(b.get(a, 0) for a in MEMBER_BONUS)
    cards = owed("gift_cards:")
    voided = owed("gift_cards_voided:")
    return {"as_of": clock.iso(clock.now()),
            "members": {"principal_fen": principal, "bonus_fen": bonus,
                        "held_principal_fen": -b.get("member:held_principal", 0),
                        "held_bonus_fen": -b.get("member:held_bonus", 0)},
            "gift_cards_by_issuer": cards, "gift_cards_voided_by_issuer": voided,
            "breakage_fen": -b.get("gift_card_breakage", 0), "settlement_by_merchant": owed("settlement:"),
            "cash_collected_fen": b.get("cash_clearing", 0), "accounts": b,
            "lines_balance": sum(b.values()) == 0}


def movements(uow: UnitOfWork, day: date) -> dict[str, Any]:
    """Each account's debits, credits, opening and closing on ``day``."""
    b = balances(uow)
    rows = {}
    for account, balance in sorted(b.items()):
        later = list(repository.of(uow).prepaid_days(account, day))
        on_day = next((r for r in later if r.day == day.isoformat()), None)
        closing = balance - sum(int(r.debit or 0) - int(r.credit or 0) for r in later if r.day > day.isoformat())
        debit, credit = (int(on_day.debit or 0), int(on_day.credit or 0)) if on_day else (0, 0)
        rows[account] = {"opening_fen": closing - debit + credit, "debit_fen": debit, "credit_fen": credit,
                         "closing_fen": closing}
    return {"day": day.isoformat(), "accounts": rows,
            "balanced": sum(r["debit_fen"] - r["credit_fen"] for r in rows.values()) == 0}


def supervision(uow: UnitOfWork, day: date, reserve_percent: int, limits: dict[str, int]) -> dict[str, Any]:
    """The custodian's statement for ``day``: per issuer (the program for members' stored value,
    each merchant for its gift cards), the prepaid money held (cards voided but still owed to
    their buyers, and expired cards' balances not yet extended or recognised as breakage, included) at the day's close and the day
    before, the reserve to keep deposited (``reserve_percent`` of it: the measures set a floor, so a
    part of a fen rounds up) and its change."""
    day_rows = movements(uow, day)["accounts"]
    issuers: dict[str, list[str]] = {"program": [*MEMBER_PRINCIPAL, "gift_cards:program"],
                                     **{m: [f"gift_cards:{m}"] for m in limits if m != "program"}}
    for account in day_rows:                 # cards voided but owed to their buyers are still held
        if (issuer := counters.issuer_of(account)) is not None and account not in issuers.setdefault(issuer, []):
            issuers[issuer].append(account)
    statement = []
    for issuer, accounts in sorted(issuers.items()):
        closing = -sum(day_rows[a]["closing_fen"] for a in accounts if a in day_rows)
        opening = -sum(day_rows[a]["opening_fen"] for a in accounts if a in day_rows)
        reserve, before = -(-closing * reserve_percent // 100), -(-opening * reserve_percent // 100)
        flow = next((r for r in repository.of(uow).prepaid_days(ISSUER + issuer, day) if r.day == day.isoformat()), None)
        received, released = (int(flow.credit or 0), int(flow.debit or 0)) if flow is not None else (0, 0)
        statement.append({"issuer": issuer, "opening_fen": opening, "received_fen": received,
                          "released_fen": released, "closing_fen": closing,
            "reserve_percent": reserve_percent, "reserve_fen": reserve, "reserve_change_fen": reserve - before,
            "issuance_limit_fen": limits.get(issuer)})
    return {"day": day.isoformat(), "previous_day": (day - timedelta(days=1)).isoformat(), "issuers": statement}


def issuance(uow: UnitOfWork, limits: dict[str, int]) -> dict[str, Any]:
    """Per issuer, the outstanding prepaid money on its counter (kept in the issuing transactions,
    what the limit is held against) and in the figures (the stream's projection): equal once the
    stream has caught up."""
    b = balances(uow)
    issuers = {counters.PROGRAM_ISSUER, *limits, *(i for a in b if (i := counters.issuer_of(a)) is not None)}
    rows = {}
    for issuer in sorted(issuers):
        counted = counters.outstanding(uow, issuer)
        projected = -sum(v for a, v in b.items() if counters.issuer_of(a) == issuer)
        rows[issuer] = {"counter_fen": counted, "figures_fen": projected, "limit_fen": limits.get(issuer),
                        "agree": counted == projected}
    return {"issuers": rows, "agree": all(r["agree"] for r in rows.values())}
