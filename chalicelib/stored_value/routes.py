"""Stored value over HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib.api.auth import ANY_STAFF, HQ, HQ_ROLES, MEMBER, MERCHANT, TILL, staff
from chalicelib.api.configs import config_endpoints
from chalicelib.api.endpoint import Call, endpoint
from chalicelib.shared import clock, lazy
from chalicelib.stored_value import rules as R

if TYPE_CHECKING:
    from chalicelib.stored_value import cash_outs, figures, holds, reconcile, service
else:
    cash_outs = lazy.module("chalicelib.stored_value.cash_outs")
    figures = lazy.module("chalicelib.stored_value.figures")
    holds = lazy.module("chalicelib.stored_value.holds")
    reconcile = lazy.module("chalicelib.stored_value.reconcile")
    service = lazy.module("chalicelib.stored_value.service")

bp = Blueprint(__name__)
TAGS = ("stored value",)


config_endpoints(bp, "/v1/stored-value/rules", R.RULES, "rules", R.StoredValueRules, put_id="putTopUpBonusRules",
                 get_id="getTopUpBonusRules", noun="the stored value rules: top-up bonuses, spend order, limits",
                 tags=TAGS, put_allow=(HQ,), get_allow=(MEMBER, MERCHANT, ANY_STAFF), exclude_none=True)


@endpoint(bp, "/v1/members/{member_id}/stored-value/top-ups", "POST", "topUpStoredValue", tags=TAGS, status=201,
          errors=(404, 409), summary="Add paid principal (applied once per payment_ref) and the best top-up bonus",
          allow=(MERCHANT, HQ), body="chalicelib.stored_value.schemas:TopUp",
          response="chalicelib.stored_value.replies:SvTopUpOut")
def top_up(call: Call):
    return service.top_up(call.params["member_id"], call.body, call.caller, call.uow, call.idempotency_key)


@endpoint(bp, "/v1/members/{member_id}/stored-value/payments", "POST", "payWithStoredValue", tags=TAGS,
          status=201, errors=(404, 409), summary="Pay for an order with stored value (principal and bonus by the "
          "configured order)", allow=TILL, body="chalicelib.stored_value.schemas:Pay",
          response="chalicelib.stored_value.replies:SvPaymentOut")
def pay(call: Call):
    return service.pay(call.params["member_id"], call.body, call.caller, call.uow, call.idempotency_key)


@endpoint(bp, "/v1/stored-value/payments/{order_id}/refunds", "POST", "refundStoredValuePayment", tags=TAGS,
          status=201, errors=(404, 409), summary="Refund part or all of a stored value payment, to the same split",
          allow=(MERCHANT, staff(*HQ_ROLES, "merchant_admin", "store_manager")), body="chalicelib.stored_value.schemas:RefundPayment",
          response="chalicelib.stored_value.replies:SvRefundOut")
def refund(call: Call):
    return service.refund(call.params["order_id"], call.body, call.caller, call.uow, call.idempotency_key)


@endpoint(bp, "/v1/members/{member_id}/stored-value/cash-out", "POST", "cashOutStoredValue", tags=TAGS,
          errors=(403, 404, 409), summary="Refund the remaining principal, the bonus forfeited (HQ); above the "
          "approval amount the principal is held, pending another HQ staff member's approval",
          allow=(HQ,), body="chalicelib.stored_value.schemas:CashOut",
          response="chalicelib.stored_value.replies:SvCashOutOut")
def cash_out(call: Call):
    return cash_outs.request(call.params["member_id"], call.body, call.caller, call.uow, call.idempotency_key)


@endpoint(bp, "/v1/members/{member_id}/stored-value/cash-outs/{cash_out_id}/approve", "POST",
          "approveStoredValueCashOut", tags=TAGS, errors=(403, 404, 409),
          summary="Approve a pending cash-out (HQ staff other than its requester): the held principal is paid out",
          allow=(HQ,), body="chalicelib.stored_value.schemas:CashOutDecision",
          response="chalicelib.stored_value.replies:SvCashOutApprovedOut")
def approve_cash_out(call: Call):
    return cash_outs.approve(call.params["member_id"], call.params["cash_out_id"], call.body, call.caller, call.uow,
                             call.idempotency_key)


@endpoint(bp, "/v1/members/{member_id}/stored-value/cash-outs/{cash_out_id}/reject", "POST",
          "rejectStoredValueCashOut", tags=TAGS, errors=(403, 404, 409),
          summary="Reject a pending cash-out (HQ staff other than its requester): the held principal is released",
          allow=(HQ,), body="chalicelib.stored_value.schemas:CashOutDecision",
          response="chalicelib.stored_value.replies:SvCashOutRejectedOut")
def reject_cash_out(call: Call):
    return cash_outs.reject(call.params["member_id"], call.params["cash_out_id"], call.body, call.caller, call.uow,
                            call.idempotency_key)


@endpoint(bp, "/v1/members/{member_id}/stored-value/cash-outs/{cash_out_id}", "GET", "getStoredValueCashOut",
          tags=TAGS, errors=(404,), summary="A cash-out: status, who requested it and who decided", allow=(HQ,),
          response="chalicelib.stored_value.replies:SvCashOutRecord")
def get_cash_out(call: Call):
    return cash_outs.get(call.params["member_id"], call.params["cash_out_id"], call.caller, call.uow)


@endpoint(bp, "/v1/members/{member_id}/stored-value", "GET", "getStoredValueAccount", tags=TAGS, errors=(404,),
          summary="The member's prepaid balances (principal and bonus) and totals",
          allow=(MEMBER, MERCHANT, ANY_STAFF),
          response="chalicelib.stored_value.replies:StoredValueAccountOut")
def get_account(call: Call):
    return service.get_account(call.uow, call.params["member_id"], call.caller)


@endpoint(bp, "/v1/members/{member_id}/stored-value/ledger", "GET", "listStoredValueLedger", tags=TAGS,
          errors=(404,), summary="Every movement with its double-entry lines, newest first",
          allow=(MEMBER, MERCHANT, ANY_STAFF), query="chalicelib.stored_value.schemas:LedgerQuery",
          response="chalicelib.stored_value.replies:SvLedgerOut")
def list_ledger(call: Call):
    return service.ledger(call.uow, call.params["member_id"], call.caller, call.query.before, call.query.limit)


@endpoint(bp, "/v1/stored-value/reconciliation", "GET", "getStoredValueReconciliation", tags=TAGS, errors=(404,),
          summary="Prove balances = postings = double-entry lines, for one member or every account",
          allow=(HQ,), query="chalicelib.stored_value.schemas:ReconcileQuery",
          response="chalicelib.stored_value.figure_replies:SvReconciliationOut")
def get_reconciliation(call: Call):
    q = call.query
    if q.member_id:
        return reconcile.account(call.uow, service.member(call.uow, q.member_id, call.caller))
    return reconcile.everything(call.uow, q.limit)


@endpoint(bp, "/v1/members/{member_id}/stored-value/holds", "POST", "holdStoredValue", tags=TAGS, status=201,
          errors=(404, 409), summary="Reserve stored value for a checkout; confirm or cancel it, or it lapses",
          allow=TILL, body="chalicelib.stored_value.schemas:HoldRequest",
          response="chalicelib.stored_value.replies:SvHoldOut")
def hold(call: Call):
    return holds.hold(call.params["member_id"], call.body, call.caller, call.uow, call.idempotency_key)


@endpoint(bp, "/v1/members/{member_id}/stored-value/holds/{hold_id}/confirm", "POST", "confirmStoredValueHold",
          tags=TAGS, errors=(404, 409), summary="Spend the held amount: the order is paid", allow=TILL,
          response="chalicelib.stored_value.replies:SvHoldConfirmedOut")
def confirm_hold(call: Call):
    return holds.confirm(call.params["member_id"], call.params["hold_id"], call.caller, call.uow, call.idempotency_key)


@endpoint(bp, "/v1/members/{member_id}/stored-value/holds/{hold_id}/cancel", "POST", "cancelStoredValueHold",
          tags=TAGS, errors=(404, 409), summary="Give the held amount back", allow=TILL,
          response="chalicelib.stored_value.replies:SvHoldReleasedOut")
def cancel_hold(call: Call):
    return holds.release(call.params["member_id"], call.params["hold_id"], call.caller, call.uow, call.idempotency_key)


@endpoint(bp, "/v1/stored-value/liability", "GET", "getStoredValueLiability", tags=TAGS,
          summary="Prepaid money owed: members' principal and bonus, gift cards by issuer, settlements by merchant",
          allow=(HQ,),
          response="chalicelib.stored_value.figure_replies:SvLiabilityOut")
def get_liability(call: Call):
    return figures.liability(call.uow)


@endpoint(bp, "/v1/stored-value/movements", "GET", "getStoredValueMovements", tags=TAGS,
          summary="A day's debits and credits per journal account, with opening and closing balances",
          allow=(HQ,), query="chalicelib.stored_value.schemas:DayQuery",
          response="chalicelib.stored_value.figure_replies:SvMovementsOut")
def get_movements(call: Call):
    return figures.movements(call.uow, call.query.day or clock.program_date())


@endpoint(bp, "/v1/stored-value/supervision", "GET", "getFundSupervisionStatement", tags=TAGS,
          summary="The custodian bank's statement: per issuer, prepaid money held, the reserve and its change",
          allow=(HQ,), query="chalicelib.stored_value.schemas:DayQuery",
          response="chalicelib.stored_value.figure_replies:SvSupervisionOut")
def get_supervision(call: Call):
    _, rules = R.RULES.at(call.uow, clock.now())
    return figures.supervision(call.uow, call.query.day or clock.program_date(), rules.reserve_percent,
                               rules.issuance_limits_fen)
