"""Proof that gift cards add up to the fen: per card, per batch and per issuer.

For a card: what was used equals the sum of its postings (the shared ledger check: gap-free, one
per version, nothing negative), never more than its face value, and equals spent - refunded +
redeemed + voided + breakage + held (what open holds reserve, which equals its hold postings less
those confirmed or released), and what was paid out of a void never passes it; every posting's lines balance and move exactly what the posting took. For a batch: the
face value of the cards sold equals the sales' face value, and what its sold cards still hold
is its outstanding value. In total, per issuer: the outstanding value of every batch equals
the issuer's liability account in the prepaid figures, and what its voided cards still owe their
buyers its ``gift_cards_voided:<issuer>`` account, and what open holds reserve on its cards its
``gift_cards_held:<issuer>`` account (once the stream has folded the day's
movements in). Reading every card is O(cards): an audit (a job and an HQ endpoint). The index
listings only name the batches and cards: each is read by key, consistently, since an index copy
may lag what the postings already show.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.db.uow import UnitOfWork
from chalicelib.gift_cards import cards as C
from chalicelib.gift_cards import repository
from chalicelib.gift_cards.holds import held
from chalicelib.gift_cards.service import liability, voided
from chalicelib.gift_cards.tables import GiftCardBatchItem, GiftCardItem
from chalicelib.ledger.account import reconcile
from chalicelib.ledger.journal import balanced
from chalicelib.shared import clock
from chalicelib.stored_value import service as stored_value

MISMATCHES_REPORTED = 50
HOLD_KINDS = {"hold": 1, "hold_confirmed": -1, "hold_released": -1}       # what each posting does to ``held``


def card(uow: UnitOfWork, item: GiftCardItem) -> dict[str, Any]:
    """Every check of one card."""
    postings = list(repository.of(uow).postings(item.number))
    state = {"used": int(item.used or 0), "version": int(item.version or 0)}
    ledger = reconcile(state, postings, ("used",))
    lines = [json.loads(p.entries) for p in postings]
    held_fen = int(item.held or 0)
    checks = {**ledger["checks"],
              "used <= face value": state["used"] <= int(item.face_value_fen),
              "used = spent - refunded + redeemed + voided + breakage + held": state["used"] == int(item.spent or 0)
              - int(item.refunded or 0) + int(item.redeemed or 0) + int(item.voided_fen or 0)
              + int(item.breakage or 0) + held_fen,
              "held = holds posted": held_fen == sum(HOLD_KINDS.get(p.kind, 0) * int(p.amount) for p in postings),
              "voided paid out <= voided": 0 <= int(item.voided_paid or 0) <= int(item.voided_fen or 0),
              "every posting balances": all(balanced(x) for x in lines),
              "lines = what was taken": all(sum(int(e["fen"]) for e in x if int(e["fen"]) > 0) == int(p.amount)
                                            for x, p in zip(lines, postings, strict=True))}
    return {"card_number": item.number, "used": state["used"], "balanced": all(checks.values()), "checks": checks}


def batch(uow: UnitOfWork, b: GiftCardBatchItem) -> dict[str, Any]:
    """Every card of a batch, and the batch's sales against its cards."""
    today = clock.program_date()
    checked, outstanding, owed, reserved, sold_face, mismatches = 0, 0, 0, 0, 0, []
    ranges = C.Ranges(uow, b)
    unsold_voids = b.legacy_voided() | {int(v.serial) for v in repository.of(uow).voids(b.batch_id)}
    for item in map(ranges.resolve, repository.of(uow).cards_as_stored(b.batch_id)):
        checked += 1
        result = card(uow, item)
        if not result["balanced"]:
            mismatches.append(result)
        state = C.state(item, b, today)
        if ranges.covering(int(item.serial)) is not None and int(item.serial) not in unsold_voids:
            sold_face += int(item.face_value_fen)
            if state != "voided":
                outstanding += C.balance(item)
        owed += int(item.voided_fen or 0) - int(item.voided_paid or 0)
        reserved += int(item.held or 0)
    checks = {"sold cards = sales": sold_face == int(b.sold_fen or 0), "every card balances": not mismatches}
    return {"batch_id": b.batch_id, "issuer": liability(b), "cards_checked": checked, "outstanding_fen": outstanding,
            "voided_account": voided(b), "voided_owed_fen": owed, "held_account": held(b), "held_fen": reserved,
            "balanced": all(checks.values()), "checks": checks, "mismatches": mismatches[:MISMATCHES_REPORTED]}


def everything(uow: UnitOfWork, limit: int = 1000) -> dict[str, Any]:
    """Every batch (up to ``limit``), and per issuer the batches' outstanding value against the
    liability in the prepaid figures."""
    repo = repository.of(uow)
    stored = (repo.batch(listed.batch_id) for listed in repo.batches(limit))      # the index names them
    batches = [batch(uow, b) for b in stored if b is not None]
    by_issuer: dict[str, int] = {}
    for result in batches:
        by_issuer[result["issuer"]] = by_issuer.get(result["issuer"], 0) + result["outstanding_fen"]
        if result["voided_owed_fen"]:                # voided cards' balances still owed to their buyers
            by_issuer[result["voided_account"]] = by_issuer.get(result["voided_account"], 0) + result["voided_owed_fen"]
        if result["held_fen"]:                       # reserved by open holds
            by_issuer[result["held_account"]] = by_issuer.get(result["held_account"], 0) + result["held_fen"]
    figures = stored_value.figure_balances(uow)
    issuers = {account: {"cards_fen": fen, "figures_fen": -figures.get(account, 0),
                         "agree": fen == -figures.get(account, 0)} for account, fen in sorted(by_issuer.items())}
    return {"batches_checked": len(batches), "cards_checked": sum(b["cards_checked"] for b in batches),
            "balanced": all(b["balanced"] for b in batches), "issuers": issuers,
            "figures_agree": all(i["agree"] for i in issuers.values()),
            "mismatches": [b for b in batches if not b["balanced"]][:MISMATCHES_REPORTED]}
