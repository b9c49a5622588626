"""What happens to value a sold card can no longer be used for, each an explicit posting (the
single-purpose prepaid card measures: the issuer stays liable for a card's balance until it is
paid back, extended or, by an explicit decision, recognised as breakage).

* A voided sold card's balance is owed to its buyer (``gift_cards_voided:<issuer>``, still the
  issuer's prepaid money held, in the custodian's statement and the issuance counter) until
  :func:`pay_out_voided` pays it back (to ``cash_clearing``), once.
* An expired card keeps its balance on ``gift_cards:<issuer>``: still held, shown in the
  statement with the rest, until the issuer extends the card (:func:`extend`: the holder asked
  for it, a new last day; no money moves) or recognises the balance as breakage
  (:func:`recognise_breakage`: to ``gift_card_breakage``, the issuer's income; only for an
  expired card, by HQ, with the decision's reason).
"""

from __future__ import annotations

from typing import Any

from chalicelib.db.uow import UnitOfWork
from chalicelib.gift_cards import cards as C
from chalicelib.gift_cards.schemas import ExtendCard, PayOutVoided, RecogniseBreakage
from chalicelib.gift_cards.service import CASH, CardChange, find_card, liability, voided
from chalicelib.shared import clock
from chalicelib.shared.errors import Conflict, ValidationProblem
from chalicelib.shared.principal import Principal

BREAKAGE = "gift_card_breakage"


class NothingOwed(Conflict):
    slug, title = "nothing-owed", "Nothing is owed on this card"


def pay_out_voided(number: str, cmd: PayOutVoided, by: Principal, uow: UnitOfWork, key: str | None) -> dict[str, Any]:
    """Pay a voided card's balance back to its buyer: the issuer's liability ends."""
    card, batch = find_card(uow, number)
    owed = int(card.voided_fen or 0) - int(card.voided_paid or 0)
    if C.state(card, batch, clock.program_date()) != "voided" or owed <= 0:
        raise NothingOwed("only a voided card's balance is paid out, once")
    change = CardChange(uow, card)
    change.state.count("voided_paid", owed)
    change.journal.move(voided(batch), CASH, owed)
    change.stage("void_paid_out", owed, "gift_card.voided_paid_out", ref=cmd.refund_ref, reason=cmd.reason,
                 data={"paid_out_fen": owed})
    return {**C.view(card, batch, clock.program_date()), "paid_out_fen": owed, "refund_ref": cmd.refund_ref}


def extend(number: str, cmd: ExtendCard, by: Principal, uow: UnitOfWork, key: str | None) -> dict[str, Any]:
    """A new last day for a card that holds value (expired or not): the holder's money is usable
    again; nothing moves."""
    card, batch = find_card(uow, number)
    now_state = C.state(card, batch, clock.program_date())
    if now_state not in (*C.USABLE, "sold", "expired") or C.balance(card) <= 0:
        raise C.CardNotUsable(f"the card is {now_state} with {C.balance(card)} fen: nothing to extend",
                              state=now_state)
    if cmd.valid_until <= max(C.last_day(card, batch), clock.program_date()):
        raise ValidationProblem("valid_until must be after the card's last day and today")
    before = C.last_day(card, batch).isoformat()
    card.valid_until = cmd.valid_until.isoformat()
    CardChange(uow, card).stage("extension", 0, "gift_card.extended", reason=cmd.reason,
                                data={"valid_until": card.valid_until, "was_until": before})
    return C.view(card, batch, clock.program_date())


def recognise_breakage(number: str, cmd: RecogniseBreakage, by: Principal, uow: UnitOfWork,
                       key: str | None) -> dict[str, Any]:
    """An expired card's balance becomes the issuer's income, by an explicit decision."""
    card, batch = find_card(uow, number)
    now_state = C.state(card, batch, clock.program_date())
    fen = C.balance(card)
    if now_state != "expired" or fen <= 0:
        raise C.CardNotUsable(f"breakage is recognised on an expired card with a balance; this one is {now_state} "
                              f"with {fen} fen", state=now_state)
    change = CardChange(uow, card)
    change.take(fen, "breakage")
    change.journal.move(liability(batch), BREAKAGE, fen)
    change.stage("breakage", fen, "gift_card.breakage", reason=cmd.reason, data={"breakage_fen": fen})
    return {**C.view(card, batch, clock.program_date()), "breakage_fen": fen}
