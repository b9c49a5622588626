"""One change to a member's prepaid account: the shared versioned account (its version is the
lock, one posting per version) with principal and bonus kept apart, and the double-entry lines
of the movement on the posting. Invariants the reconciliation checks:

* ``principal`` / ``bonus`` = the sum of the postings' deltas = minus the sum of their lines on
  ``member:principal`` / ``member:bonus`` (liabilities are credits); each posting's lines sum to 0;
* held principal / bonus likewise on ``member:held_principal`` / ``member:held_bonus``;
* principal + held = topped_up + card_redeemed − spent_principal + refunded_principal − cashed_out
  − spent_bonus_deducted, and
  bonus + held = bonus_granted − spent_bonus + refunded_bonus − bonus_forfeited − bonus_expired;
  nothing negative; the expiring bonus's lots never hold more than bonus + held.

Bonus past its lot's last day has lapsed (``bonus_lots``): :attr:`SvChange.bonus` leaves it out,
so no payment, hold, balance cap or reply counts it, while the ``bonus`` bucket keeps it until
the expiry job (or a cash-out) posts it to ``bonus_expired``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from chalicelib.db.due import due_keys
from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger.account import JournalAccount
from chalicelib.shared import clock
from chalicelib.shared.errors import Conflict, changed
from chalicelib.stored_value import bonus_lots, counters, repository
from chalicelib.stored_value import rules as R
from chalicelib.stored_value.tables import BUCKETS, TOTALS, SvAccountItem, SvPostingItem

PRINCIPAL, BONUS = "member:principal", "member:bonus"
HELD_PRINCIPAL, HELD_BONUS = "member:held_principal", "member:held_bonus"
CASH, BONUS_EXPENSE, FORFEITED, EXPIRED = "cash_clearing", "bonus_expense", "bonus_forfeited", "bonus_expired"
RECOVERED = "bonus_recovered"      # spent bonus a cash-out took back from the principal (the program's again)


UNLIMITED = ("refund", "card_refund")      # owed back: counted in the issuer's money, never refused by its limit


def settlement(merchant_id: str) -> str:
    """The account of what the program owes a merchant for stored value spent there."""
    return f"settlement:{merchant_id}"


class InsufficientBalance(Conflict):
    slug, title = "insufficient-balance", "Not enough stored value"


class SvChange:
    """Balances as this change leaves them; :meth:`stage` writes the account, posting and event."""

    def __init__(self, uow: UnitOfWork, member_id: str, today: date | None = None) -> None:
        self.uow, self.member_id = uow, member_id
        self.today = today or clock.program_date()        # which bonus lots have lapsed
        item = repository.of(uow).account(member_id)
        self.state = JournalAccount(uow, item, BUCKETS, TOTALS, on_conflict=changed("the stored value account"))
        self.journal = self.state.journal
        self.lots = bonus_lots.load(item.bonus_lots)
        self.taken: bonus_lots.Lots = []                   # expiring bonus this change spent

    @property
    def account(self) -> SvAccountItem:
        """The account item as read (deltas are applied when staged)."""
        return self.state.item

    @property
    def principal(self) -> int:
        """Principal as this change leaves it."""
        return self.state.balance("principal")

    @property
    def bonus(self) -> int:
        """Bonus the member may spend as this change leaves it: the bonus bucket less what has
        lapsed (:attr:`lapsed_bonus`)."""
        return self.state.balance("bonus") - self.lapsed_bonus

    @property
    def lapsed_bonus(self) -> int:
        """Bonus past its lot's last day, not the member's any more, that is still in the bucket
        (the expiry job has not taken it yet): exactly what the job would take now."""
        return bonus_lots.lapse(self.lots, self.today, self.state.balance("bonus"))[0]

    @property
    def _unlotted(self) -> int:
        """Bonus (available or held) in no lot: it never expires."""
        return self.state.balance("bonus") + self.state.balance("held_bonus") - sum(int(lot["fen"]) for lot in self.lots)

    def top_up(self, principal: int, bonus: int, bonus_until: date | None = None) -> None:
        """Paid money in (cash clearing to principal) and a bonus granted (expense to bonus),
        usable until ``bonus_until`` if it expires."""
        if bonus_until is not None:
            self.lots = bonus_lots.add(self.lots, bonus_until, bonus)
        self.state.move("principal", principal)
        self.state.move("bonus", bonus)
        self.state.count("topped_up", principal)
        self.state.count("bonus_granted", bonus)
        self.journal.move(CASH, PRINCIPAL, principal)
        self.journal.move(BONUS_EXPENSE, BONUS, bonus)

    def from_card(self, fen: int, card_account: str) -> None:
        """A gift card's balance moved in as principal (the card's liability becomes the member's)."""
        self.state.move("principal", fen)
        self.state.count("card_redeemed", fen)
        self.journal.move(card_account, PRINCIPAL, fen)

    def refund_card_payment(self, fen: int, merchant_id: str) -> None:
        """A refund of a payment made with a gift card since redeemed into this account: principal
        back from the merchant's settlement (counted with the refunds of payments)."""
        self.state.move("principal", fen)
        self.state.count("refunded_principal", fen)
        self.journal.move(settlement(merchant_id), PRINCIPAL, fen)

    def spend(self, principal: int, bonus: int, merchant_id: str) -> None:
        """A payment at ``merchant_id``: both parts go to its settlement; never below zero."""
        if principal > self.principal or bonus > self.bonus:
            raise InsufficientBalance(f"{principal + bonus} fen needed, {self.principal + self.bonus} held",
                                      balance_fen=self.principal + self.bonus)
        self.lots, self.taken = bonus_lots.take(self.lots, bonus, self.today, self._unlotted)
        self.state.move("principal", -principal)
        self.state.move("bonus", -bonus)
        self.state.count("spent_principal", principal)
        self.state.count("spent_bonus", bonus)
        self.journal.move(PRINCIPAL, settlement(merchant_id), principal)
        self.journal.move(BONUS, settlement(merchant_id), bonus)

    def hold(self, principal: int, bonus: int) -> None:
        """Reserve for a checkout: still the member's (a liability), not spendable."""
        if principal > self.principal or bonus > self.bonus:
            raise InsufficientBalance(f"{principal + bonus} fen needed, {self.principal + self.bonus} held",
                                      balance_fen=self.principal + self.bonus)
        self._shift(principal, bonus, -1)

    def release(self, principal: int, bonus: int) -> None:
        """A hold given back (cancelled or lapsed)."""
        self._shift(principal, bonus, 1)

    def _shift(self, principal: int, bonus: int, sign: int) -> None:
        for bucket, held, fen, account, held_account in (("principal", "held_principal", principal, PRINCIPAL,
                                                         HELD_PRINCIPAL),
                                                        ("bonus", "held_bonus", bonus, BONUS, HELD_BONUS)):
            self.state.move(bucket, sign * fen)
            self.state.move(held, -sign * fen)
            if sign < 0:
                self.journal.move(account, held_account, fen)
            else:
                self.journal.move(held_account, account, fen)

    def spend_held(self, principal: int, bonus: int, merchant_id: str) -> None:
        """A confirmed hold: the reserved parts go to the merchant's settlement."""
        self.lots, self.taken = bonus_lots.take(self.lots, bonus, self.today, self._unlotted)
        self.state.move("held_principal", -principal)
        self.state.move("held_bonus", -bonus)
        self.state.count("spent_principal", principal)
        self.state.count("spent_bonus", bonus)
        self.journal.move(HELD_PRINCIPAL, settlement(merchant_id), principal)
        self.journal.move(HELD_BONUS, settlement(merchant_id), bonus)

    def give_back(self, principal: int, bonus: int, merchant_id: str, taken: bonus_lots.Lots) -> bonus_lots.Lots:
        """A refund of a payment at ``merchant_id``, to the parts (and bonus lots) it was taken
        from; what of ``taken`` is still not given back."""
        self.lots, still = bonus_lots.give_back(self.lots, taken, bonus)
        self.state.move("principal", principal)
        self.state.move("bonus", bonus)
        self.state.count("refunded_principal", principal)
        self.state.count("refunded_bonus", bonus)
        self.journal.move(settlement(merchant_id), PRINCIPAL, principal)
        self.journal.move(settlement(merchant_id), BONUS, bonus)
        return still

    @property
    def spent_bonus_owed(self) -> int:
        """Bonus spent (net of refunds) that no cash-out has taken back yet: what the next cash-out
        deducts when the rules say so. From the running totals, whatever the history's length; never
        negative (a refund, after a cash-out, of a payment made before it gives its bonus back as
        bonus, and that deduction stays)."""
        def total(name: str) -> int:
            return int(getattr(self.account, name) or 0) + self.state.totals[name]
        return max(0, total("spent_bonus") - total("refunded_bonus") - total("spent_bonus_deducted"))

    def cash_out(self, held: int | None = None, deduct_spent_bonus: bool = False) -> tuple[int, int, int]:
        """All principal out (or, for an approved cash-out, the principal ``held`` for it), all bonus
        forfeited; with ``deduct_spent_bonus``, the bonus spent and not yet taken back
        (:attr:`spent_bonus_owed`, up to the principal) is taken from it (to ``bonus_recovered``) and
        the rest paid back in cash. The three amounts: paid back, forfeited, deducted. Bonus that has
        lapsed was not the member's to forfeit: it expires in the same posting, as the expiry job
        would have posted it."""
        self.expire_bonus(self.today)
        bucket, account = ("principal", PRINCIPAL) if held is None else ("held_principal", HELD_PRINCIPAL)
        principal, bonus = self.principal if held is None else held, self.bonus
        deducted = min(self.spent_bonus_owed, principal) if deduct_spent_bonus else 0
        self.lots = []
        self.state.move(bucket, -principal)
        self.state.move("bonus", -bonus)
        self.state.count("cashed_out", principal - deducted)
        self.state.count("spent_bonus_deducted", deducted)
        self.state.count("bonus_forfeited", bonus)
        self.journal.move(account, CASH, principal - deducted)
        self.journal.move(account, RECOVERED, deducted)
        self.journal.move(BONUS, FORFEITED, bonus)
        return principal - deducted, bonus, deducted

    def expire_bonus(self, today: date) -> int:
        """Take the bonus whose lots' last day is before ``today`` (what is held by an open
        checkout waits for it: ``bonus_lots.lapse``); the amount expired."""
        fen, self.lots = bonus_lots.lapse(self.lots, today, self.state.balance("bonus"))
        if fen == 0:
            return 0
        self.state.move("bonus", -fen)
        self.state.count("bonus_expired", fen)
        self.journal.move(BONUS, EXPIRED, fen)
        return fen

    def stage(self, kind: str, amount: int, *, ref: str | None, event_type: str, data: dict[str, Any] | None = None,
              merchant_id: str | None = None, store_id: str | None = None, reason: str | None = None) -> SvPostingItem:
        """Stage the account, one posting (with its journal lines), one event (:meth:`JournalAccount.post`:
        who and under which key are the unit's), and what the lines change in the issuer's
        outstanding prepaid money (bounded by its limit, but for a refund)."""
        self.account.listed()          # on keys1: an account still on gsi1 (or on no listing) moves in this write
        state, version, delta = self.state, self.state.next_version, self.state.delta
        self.account.bonus_lots = bonus_lots.dump(self.lots)
        due = bonus_lots.next_due(self.lots)
        self.account.duepk, self.account.duesk = due_keys("sv-bonus", due, self.member_id) if due else (None, None)
        bonus = self.state.balance("bonus")               # the bucket, lapsed bonus included: the journal's
        posting = state.post(SvPostingItem, SvPostingItem.key(self.member_id, version), kind, amount,
                             balance_after=self.principal + bonus, event_type=event_type,
                             subject=f"member:{self.member_id}", data={
                                 "member_id": self.member_id, "kind": kind, "amount_fen": amount,
                                 "posting_id": state.posting_id, "sequence": version,
                                 "principal_delta": delta["principal"], "bonus_delta": delta["bonus"],
                                 "principal": self.principal, "bonus": bonus, "entries": self.journal.lines,
                                 "ref": ref, **(data or {})},
                             reason=reason, merchant_id=merchant_id, store_id=store_id, member_id=self.member_id,
                             sequence=version, entries=self.journal.dump(), ref=ref)
        _, rules = R.RULES.at(self.uow, clock.now())
        counters.count_issued(self.uow, self.journal.lines, rules.issuance_limits_fen, limited=kind not in UNLIMITED,
                              spread=self.member_id)
        return posting
