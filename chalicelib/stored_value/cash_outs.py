"""Cash-out of a member's principal: back to its payment route, the bonus forfeited, and (the
rules' ``cash_out_deducts_spent_bonus``, 退卡 practice) the bonus already spent taken back from the
principal first: the account's running totals say how much (:attr:`SvChange.spent_bonus_owed`).

Up to the rules' ``cash_out_approval_above_fen`` an HQ staff member cashes out at once. Above it
the request only opens a pending cash-out: the principal is held on the account at once (the
checkout hold's move: still the member's money and the issuer's liability, but not spendable,
so nothing can be paid with it meanwhile), and a *different* HQ staff member, authenticated,
approves it (the held principal is paid out and whatever bonus is left is forfeited, exactly
once: the record's status is the condition) or rejects it (the principal is given back). Who
requested and who decided are on the record, the postings and the events.
"""

from __future__ import annotations

from typing import Any

from chalicelib.db.uow import UnitOfWork
from chalicelib.members import service as members
from chalicelib.shared import clock
from chalicelib.shared.errors import Conflict, Forbidden, NotFound, ValidationProblem
from chalicelib.shared.ids import new_id
from chalicelib.shared.principal import Principal
from chalicelib.stored_value import rules as R
from chalicelib.stored_value.account import SvChange
from chalicelib.stored_value.schemas import CashOut, CashOutDecision
from chalicelib.stored_value.tables import SvCashOutItem


class NothingToCashOut(Conflict):
    slug, title = "nothing-to-cash-out", "There is no principal to cash out"


class CashOutNotPending(Conflict):
    slug, title = "cash-out-not-pending", "The cash-out was decided already"


def _view(change: SvChange) -> dict[str, Any]:
    return {"member_id": change.member_id, "principal": change.principal, "bonus": change.bonus,
            "balance_fen": change.principal + change.bonus}


def request(member_id: str, cmd: CashOut, by: Principal, uow: UnitOfWork, key: str | None) -> dict[str, Any]:
    """Cash out the remaining principal now, or (above the approval amount) hold it for a second
    HQ staff member's approval."""
    member_id = members.acting_on(uow, member_id, by).member_id
    _, rules = R.RULES.at(uow, clock.now())
    change = SvChange(uow, member_id)
    if change.principal <= 0:
        raise NothingToCashOut("only principal is cashed out; this account holds none"
                               + (f" ({change.bonus} fen of bonus)" if change.bonus else "")
                               + ("; a cash-out is waiting for approval" if change.account.held_principal else ""))
    principal = change.principal
    limit = rules.cash_out_approval_above_fen
    if limit is None or principal <= limit:
        paid, bonus, deducted = change.cash_out(deduct_spent_bonus=rules.cash_out_deducts_spent_bonus)
        posting = change.stage("cash_out", paid, ref=cmd.refund_ref,
                               event_type="stored_value.cashed_out", reason=cmd.reason,
                               data={"principal_fen": paid, "bonus_forfeited_fen": bonus,
                                     "spent_bonus_deducted_fen": deducted,
                                     "requested_by": by.ref, "approved_by": None})
        return {**_view(change), "status": "paid", "cashed_out_fen": paid, "bonus_forfeited_fen": bonus,
                "spent_bonus_deducted_fen": deducted, "posting_id": posting.posting_id}
    cash_out_id, now = new_id(), clock.iso(clock.now())
    change.hold(principal, 0)
    uow.create(SvCashOutItem(*SvCashOutItem.key(member_id, cash_out_id), cash_out_id=cash_out_id,
                             member_id=member_id, principal=principal, status="pending", reason=cmd.reason,
                             refund_ref=cmd.refund_ref, requested_by=by.ref, requested_at=now))
    change.stage("cash_out_held", principal, ref=f"cash_out:{cash_out_id}",
                 event_type="stored_value.cash_out_requested", reason=cmd.reason,
                 data={"cash_out_id": cash_out_id, "principal_fen": principal, "requested_by": by.ref,
                       "approval_above_fen": limit})
    return {**_view(change), "status": "pending", "cash_out_id": cash_out_id, "principal_fen": principal,
            "requested_by": by.ref, "cashed_out_fen": 0, "bonus_forfeited_fen": 0, "spent_bonus_deducted_fen": 0}


def _pending(uow: UnitOfWork, member_id: str, cash_out_id: str, by: Principal) -> SvCashOutItem:
    found = uow.get(SvCashOutItem, SvCashOutItem.key(member_id, cash_out_id), consistent=True)
    if found is None:
        raise NotFound(f"no cash-out {cash_out_id[:64]}")
    if found.status != "pending":
        raise CashOutNotPending(f"cash-out {cash_out_id} is {found.status}", state=found.status)
    if found.requested_by == by.ref:
        raise Forbidden("a cash-out is approved or rejected by another HQ staff member than its requester")
    return found


def _decide(uow: UnitOfWork, record: SvCashOutItem, status: str, by: Principal, reason: str | None) -> None:
    record.status, record.decided_by, record.decided_at = status, by.ref, clock.iso(clock.now())
    record.decision_reason = reason
    uow.save(record, SvCashOutItem.status == "pending",
             on_conflict=lambda: CashOutNotPending(f"cash-out {record.cash_out_id} was decided meanwhile"))


def approve(member_id: str, cash_out_id: str, cmd: CashOutDecision, by: Principal, uow: UnitOfWork,
            key: str | None) -> dict[str, Any]:
    """Pay out a pending cash-out's held principal (once) and forfeit the bonus left."""
    member_id = members.acting_on(uow, member_id, by).member_id
    record = _pending(uow, member_id, cash_out_id, by)
    change = SvChange(uow, member_id)
    _, rules = R.RULES.at(uow, clock.now())
    paid, bonus, deducted = change.cash_out(held=int(record.principal),
                                            deduct_spent_bonus=rules.cash_out_deducts_spent_bonus)
    record.bonus_forfeited, record.spent_bonus_deducted = bonus, deducted
    _decide(uow, record, "paid", by, cmd.reason)
    posting = change.stage("cash_out", paid, ref=record.refund_ref,
                           event_type="stored_value.cashed_out", reason=record.reason,
                           data={"cash_out_id": cash_out_id, "principal_fen": paid, "bonus_forfeited_fen": bonus,
                                 "spent_bonus_deducted_fen": deducted,
                                 "requested_by": record.requested_by, "approved_by": by.ref})
    return {**_view(change), **view(record), "cashed_out_fen": paid, "bonus_forfeited_fen": bonus,
            "posting_id": posting.posting_id}


def reject(member_id: str, cash_out_id: str, cmd: CashOutDecision, by: Principal, uow: UnitOfWork,
           key: str | None) -> dict[str, Any]:
    """Refuse a pending cash-out: its held principal is the member's to spend again."""
    if not cmd.reason:
        raise ValidationProblem("a rejection says why (reason)")
    member_id = members.acting_on(uow, member_id, by).member_id
    record = _pending(uow, member_id, cash_out_id, by)
    change = SvChange(uow, member_id)
    change.release(int(record.principal), 0)
    _decide(uow, record, "rejected", by, cmd.reason)
    change.stage("cash_out_released", int(record.principal), ref=f"cash_out:{cash_out_id}",
                 event_type="stored_value.cash_out_rejected", reason=cmd.reason,
                 data={"cash_out_id": cash_out_id, "requested_by": record.requested_by, "rejected_by": by.ref})
    return {**_view(change), **view(record)}


def get(member_id: str, cash_out_id: str, by: Principal, uow: UnitOfWork) -> dict[str, Any]:
    """A cash-out as HQ sees it."""
    member_id = members.acting_on(uow, member_id, by).member_id
    found = uow.get(SvCashOutItem, SvCashOutItem.key(member_id, cash_out_id), consistent=True)
    if found is None:
        raise NotFound(f"no cash-out {cash_out_id[:64]}")
    return view(found)


def view(record: SvCashOutItem) -> dict[str, Any]:
    """The record: what, its status, who requested and who decided."""
    return {"cash_out_id": record.cash_out_id, "member_id": record.member_id, "principal_fen": int(record.principal),
            "status": record.status, "reason": record.reason, "refund_ref": record.refund_ref,
            "requested_by": record.requested_by, "requested_at": record.requested_at,
            "decided_by": record.decided_by, "decided_at": record.decided_at,
            "decision_reason": record.decision_reason,
            "bonus_forfeited_fen": int(record.bonus_forfeited) if record.bonus_forfeited is not None else None,
            "spent_bonus_deducted_fen": None if record.status != "paid" else int(record.spent_bonus_deducted or 0)}
